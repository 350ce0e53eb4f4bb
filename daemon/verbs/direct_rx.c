// SPDX-License-Identifier: MIT
/*
 * Direct SEND, daemon side (docs/direct-path.md, "SEND").
 *
 * An RC QP's owner asks for a receive ring (SV_METHOD_DIRECT_RECV): the
 * daemon creates it as a sealed memfd (nobody can shrink it under a
 * mapping), keeps it with the QP and hands it to the owner, and to a
 * granted initiator connected to that QP (SV_METHOD_DIRECT_PEER_RECV).
 * The initiator's library pushes eager messages; the owner's library
 * drains them in poll_cq, taking the receive WQEs itself.
 *
 * The engine and the owner's library never take receives at the same
 * time: the initiator pushes only when nothing of its is left in the
 * engine, and before the engine runs the initiator's next daemon-path
 * work it drains what is left in the ring itself (svd_direct_sq_hold),
 * under the ring's drainer word, which the owner's library takes too.
 * Between the two, the receive queue's cons moves through the QP's dbrec
 * (svd_direct_rq_sync) and the ring's header (svd_direct_rq_consumed).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "svd.h"
#include "svd_direct.h"
#include "svd_cq.h"
#include "svd_keys.h"
#include "svd_mem.h"
#include "svd_qpn.h"

#define HDR_CONS offsetof(struct sv_direct_rx_hdr, cons)
#define HDR_PROD offsetof(struct sv_direct_rx_hdr, prod)
#define HDR_DRAINER offsetof(struct sv_direct_rx_hdr, drainer)
#define HDR_NOCHAN offsetof(struct sv_direct_rx_hdr, nochan)
/* The RQ's record is the second of a QP's dbrecs. */
#define RQ_DB(f) (sizeof(struct sv_dbrec) + offsetof(struct sv_dbrec, f))

static atomic_uint nrings; /* rings alive: the engine's hold check is free
			    * when there are none */
static atomic_uint gens;

/* ---------------------------------------------------------------------- */
/* The engine's side (dev->lock held)                                      */
/* ---------------------------------------------------------------------- */

/* The drainer word: ours (2) while the engine drains. */
static bool drain_take(const struct svd_drx *x)
{
	uint64_t orig = 1;

	return !svd_mem_atomic(x->umem, HDR_DRAINER, SVD_MEM_CMP_SWP, 0, 2,
			       &orig) &&
	       !orig;
}

static void drain_give(const struct svd_drx *x)
{
	svd_mem_atomic(x->umem, HDR_DRAINER, SVD_MEM_STORE, 0, 0, NULL);
}

/* A receive WQE of nsge SGEs fits its slot and the QP (as rq_get). */
static bool drain_shape_ok(const struct svd_qp *qp, uint32_t nsge)
{
	return nsge <= qp->max_recv_sge &&
	       sizeof(struct sv_recv_wqe) +
			       (uint64_t)nsge * sizeof(struct sv_sge) <=
		       qp->rq_wqe_size;
}

/* Copy len bytes of the ring at src into receive WQE w's buffers. */
static uint32_t drain_scatter(struct svd_qp *qp, uint64_t wqe_off,
			      uint32_t nsge, uint64_t src, uint32_t len)
{
	const struct svd_umem *u;
	struct sv_sge g;
	uint64_t off;
	uint32_t i, n;

	if (!drain_shape_ok(qp, nsge))
		return IBV_WC_LOC_LEN_ERR;
	for (i = 0; i < nsge && len; i++) {
		if (svd_mem_read(qp->rq, wqe_off + sizeof(struct sv_recv_wqe) +
						 i * sizeof(g),
				 &g, sizeof(g)))
			return IBV_WC_LOC_QP_OP_ERR;
		n = g.length < len ? g.length : len;
		if (n && (svd_mem_resolve(qp->uctx->dev, qp->pd, g.lkey, false,
					  g.addr, n, IBV_ACCESS_LOCAL_WRITE,
					  &u, &off) ||
			  svd_mem_copy(u, off, qp->drx->umem, src, n)))
			return IBV_WC_LOC_PROT_ERR;
		src += n;
		len -= n;
	}
	return len ? IBV_WC_LOC_LEN_ERR : IBV_WC_SUCCESS;
}

/* A SEND the initiator wrote into the WQE's first SGE: that buffer is
 * still the QP's and holds it. */
static uint32_t drain_placed(struct svd_qp *qp, uint64_t wqe_off,
			     uint32_t nsge, uint32_t len)
{
	const struct svd_umem *u;
	struct sv_sge g;
	uint64_t off;

	if (!drain_shape_ok(qp, nsge) || !nsge)
		return IBV_WC_LOC_LEN_ERR;
	if (svd_mem_read(qp->rq, wqe_off + sizeof(struct sv_recv_wqe), &g,
			 sizeof(g)))
		return IBV_WC_LOC_QP_OP_ERR;
	if (g.length < len)
		return IBV_WC_LOC_LEN_ERR;
	return svd_mem_resolve(qp->uctx->dev, qp->pd, g.lkey, false, g.addr,
			       len, IBV_ACCESS_LOCAL_WRITE, &u, &off) ?
		       IBV_WC_LOC_PROT_ERR :
		       IBV_WC_SUCCESS;
}

/* The receive completion of message m, as the responder writes it. */
static void drain_cqe(struct svd_qp *qp, const struct sv_direct_rx_msg *m,
		      uint64_t wr_id, uint32_t status)
{
	struct sv_cqe cqe = { .wr_id = wr_id, .status = status,
			      .opcode = IBV_WC_RECV, .byte_len = m->len,
			      .qp_num = qp->qpn,
			      .src_qp = qp->attr.dest_qp_num,
			      .slid = qp->uctx->dev->port.attr.lid };

	if (m->flags & SV_DIRECT_RX_IMM) {
		cqe.imm_data = m->imm;
		cqe.wc_flags = IBV_WC_WITH_IMM;
	}
	if (m->flags & SV_DIRECT_RX_INV) {
		cqe.imm_data = m->imm;
		cqe.wc_flags = IBV_WC_WITH_INV;
	}
	if (m->flags & SV_DIRECT_RX_WRITE)
		cqe.opcode = IBV_WC_RECV_RDMA_WITH_IMM;
	if (qp->recv_cq && !svd_cq_push(qp->recv_cq, &cqe))
		svd_cq_notify(qp->recv_cq, m->flags & SV_DIRECT_RX_SOLICITED);
}

/* One message of qp's ring into its next receive; false if none. */
static bool drain_one(struct svd_qp *qp, uint32_t taken, uint32_t c)
{
	const struct svd_drx *x = qp->drx;
	uint64_t slot = sv_direct_rx_slots_off(x->entries, x->stride) +
			(uint64_t)(taken % SV_DIRECT_RX_SLOTS) *
				SV_DIRECT_RX_SLOT;
	uint64_t wqe_off = (uint64_t)(c & (qp->rq_entries - 1)) *
			   qp->rq_wqe_size;
	struct sv_direct_rx_msg m;
	struct sv_recv_wqe w;
	uint32_t prod, status;

	if (svd_mem_load32(qp->dbrec, RQ_DB(prod), &prod) || prod == c ||
	    prod - c > qp->rq_entries ||
	    svd_mem_read(x->umem, slot, &m, sizeof(m)) ||
	    svd_mem_read(qp->rq, wqe_off, &w, sizeof(w)))
		return false;
	/* WRITE_WITH_IMM: the initiator wrote the data; the receive is
	 * only taken. */
	if (m.flags & SV_DIRECT_RX_WRITE)
		status = drain_shape_ok(qp, w.num_sge) ? IBV_WC_SUCCESS :
							 IBV_WC_LOC_LEN_ERR;
	else if (m.flags & SV_DIRECT_RX_PLACED)
		status = drain_placed(qp, wqe_off, w.num_sge, m.len);
	else if (m.len > SV_DIRECT_RX_EAGER)
		status = IBV_WC_LOC_LEN_ERR;
	else
		status = drain_scatter(qp, wqe_off, w.num_sge,
				       slot + sizeof(m), m.len);
	/* Consumed before the completion shows, as rq_publish does: an
	 * application that polled it may post the receive again at once. */
	svd_mem_store32(qp->dbrec, RQ_DB(cons), c + 1);
	svd_mem_atomic(x->umem, HDR_CONS, SVD_MEM_STORE,
		       (uint64_t)(c + 1) << 32 | (taken + 1), 0, NULL);
	drain_cqe(qp, &m, w.wr_id, status);
	return true;
}

/*
 * Messages pushed and not taken? prod and cons are the initiator's and the
 * receiver's words: anything but prod ahead of cons's low half is none.
 */
static bool ring_pending(const struct svd_drx *x, uint32_t *prod,
			 uint64_t *cons)
{
	return !svd_mem_load32(x->umem, HDR_PROD, prod) &&
	       !svd_mem_read(x->umem, HDR_CONS, cons, sizeof(*cons)) &&
	       (int32_t)(*prod - (uint32_t)*cons) > 0;
}

/* Drain peer's ring in the engine; false if its library is draining. */
static bool drain(struct svd_qp *peer)
{
	uint32_t prod, c;
	uint64_t cons;

	if (!drain_take(peer->drx))
		return false;
	for (;;) {
		if (!ring_pending(peer->drx, &prod, &cons))
			break;
		c = (uint32_t)(cons >> 32);
		svd_direct_rq_sync(peer, &c);
		if (!drain_one(peer, (uint32_t)cons, c))
			break;
	}
	drain_give(peer->drx);
	return true;
}

bool svd_direct_sq_hold(const struct svd_qp *qp)
{
	struct svd_qp *peer;
	uint32_t prod;
	uint64_t cons;

	if (!atomic_load_explicit(&nrings, memory_order_relaxed) ||
	    qp->qp_type != IB_UVERBS_QPT_RC)
		return false;
	peer = svd_dev_qp_find(qp->uctx->dev, qp->attr.dest_qp_num);
	if (!peer || !peer->drx || peer->attr.dest_qp_num != qp->qpn)
		return false;
	if (!ring_pending(peer->drx, &prod, &cons))
		return false;
	/* The direct messages come first: take them into the receiver's
	 * buffers and CQ here; wait only while its library drains. */
	return !drain(peer);
}

void svd_direct_rq_sync(const struct svd_qp *qp, uint32_t *cons)
{
	uint32_t prod, c;

	if (!qp->drx || svd_mem_load32(qp->dbrec, RQ_DB(prod), &prod) ||
	    svd_mem_load32(qp->dbrec, RQ_DB(cons), &c))
		return;
	/* Only forward (by any amount: the owner may have drained many
	 * rounds of the queue meanwhile), and only to a consistent queue:
	 * the owner moves its own receive queue, nobody else's. */
	if (prod - c <= qp->rq_entries && (int32_t)(c - *cons) > 0)
		*cons = c;
}

void svd_direct_rq_consumed(const struct svd_qp *qp, uint32_t next)
{
	uint64_t w;

	if (!qp->drx ||
	    svd_mem_read(qp->drx->umem, HDR_CONS, &w, sizeof(w)))
		return;
	w = (uint64_t)next << 32 | (uint32_t)w;
	svd_mem_atomic(qp->drx->umem, HDR_CONS, SVD_MEM_STORE, w, 0, NULL);
}

/* ---------------------------------------------------------------------- */
/* The ring                                                                */
/* ---------------------------------------------------------------------- */

static void drx_release(struct svd_drx *x)
{
	if (!x)
		return;
	svd_umem_release(x->umem);
	close(x->fd);
	free(x);
	atomic_fetch_sub(&nrings, 1);
}

void svd_direct_rx_free(struct svd_qp *qp)
{
	struct svd_device *dev = qp->uctx->dev;
	struct svd_drx *x;

	pthread_mutex_lock(&dev->lock);
	x = svd_direct_set_rx(qp, NULL);
	pthread_mutex_unlock(&dev->lock);
	drx_release(x);
}

/* A new ring for qp's receive queue, its RQ cons as the engine left it. */
static struct svd_drx *drx_new(struct svd_qp *qp)
{
	struct svd_drx *x = calloc(1, sizeof(*x));
	uint32_t c = 0;

	if (!x)
		return NULL;
	x->entries = qp->rq_entries;
	x->stride = qp->rq_wqe_size;
	x->size = sv_direct_rx_size(x->entries, x->stride);
	x->fd = svd_memfd_sealed("softverbs-direct-rx", x->size);
	if (x->fd < 0) {
		free(x);
		return NULL;
	}
	x->umem = svd_umem_get_mapped(x->fd, 0, x->size);
	if (svd_is_err(x->umem)) {
		close(x->fd);
		free(x);
		return NULL;
	}
	svd_mem_load32(qp->dbrec, RQ_DB(cons), &c);
	svd_mem_atomic(x->umem, HDR_CONS, SVD_MEM_STORE, (uint64_t)c << 32,
		       0, NULL);
	/* The channel of a CQ never changes: said once, for initiators. */
	svd_mem_store32(x->umem, HDR_NOCHAN,
			!qp->recv_cq || !qp->recv_cq->channel);
	x->gen = atomic_fetch_add(&gens, 1) + 1;
	atomic_fetch_add(&nrings, 1);
	return x;
}

/* RC, its own receive queue (an SRQ stays on the daemon path). */
static bool rx_eligible(const struct svd_qp *qp)
{
	return qp->qp_type == IB_UVERBS_QPT_RC && !qp->srq && qp->rq &&
	       qp->dbrec && svd_is_pow2(qp->rq_entries) &&
	       qp->rq_wqe_size >= sizeof(struct sv_recv_wqe) &&
	       (uint64_t)qp->rq_entries * qp->rq_wqe_size <= qp->rq->length;
}

static void resp_fill(struct sv_direct_recv_resp *r, const struct svd_drx *x)
{
	r->rq_entries = x->entries;
	r->rq_stride = x->stride;
	r->size = x->size;
	r->gen = x->gen;
}

/* ioctl: SV_METHOD_DIRECT_RECV */
static int direct_method_recv(struct svd_bundle *b)
{
	struct svd_qp *qp = svd_attr_get_obj(b, SV_ATTR_DIRECT_RECV_QP);
	struct sv_direct_recv_resp resp = {};
	int fd = -1, ret;

	pthread_mutex_lock(&b->dev->lock);
	if (rx_eligible(qp) && !qp->drx)
		svd_direct_set_rx(qp, drx_new(qp));
	if (rx_eligible(qp) && qp->drx) {
		resp_fill(&resp, qp->drx);
		fd = fcntl(qp->drx->fd, F_DUPFD_CLOEXEC, 0);
	}
	pthread_mutex_unlock(&b->dev->lock);
	if (!resp.gen)
		return -EOPNOTSUPP;
	/* Initiators already granted see the ring from now on. */
	svd_direct_qp_modified(qp);
	resp.dev = (uint32_t)svd_direct_tag(b->dev);
	resp.pd = svd_direct_tag(qp->pd);
	ret = svd_attr_fd_out(b, SV_ATTR_DIRECT_RECV_FD, fd);
	if (!ret)
		ret = svd_attr_fd_out(b, SV_ATTR_DIRECT_RECV_TABLE,
					svd_direct_table_fd());
	return ret ? ret :
		     svd_attr_copy_to(b, SV_ATTR_DIRECT_RECV_RESP, &resp,
				      sizeof(resp));
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_RECV, direct_method_recv,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_RECV_QP, &svd_type_qp,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_DIRECT_RECV_RESP,
				    struct sv_direct_recv_resp, SVD_MANDATORY),
		   SVD_ATTR_FD(SV_ATTR_DIRECT_RECV_FD, &svd_type_qp,
			       SVD_ACCESS_NEW, SVD_MANDATORY),
		   SVD_ATTR_FD(SV_ATTR_DIRECT_RECV_TABLE, &svd_type_qp,
			       SVD_ACCESS_NEW, SVD_MANDATORY));

/* The QP qp is connected to, connected back, same user (dev->lock held). */
static struct svd_qp *connected_peer(struct svd_device *dev,
				     const struct svd_qp *qp)
{
	struct svd_qp *p;

	if (qp->qp_type != IB_UVERBS_QPT_RC || qp->state != SVD_QPS_RTS)
		return NULL;
	p = svd_dev_qp_find(dev, qp->attr.dest_qp_num);
	if (!p || p->qp_type != IB_UVERBS_QPT_RC ||
	    p->attr.dest_qp_num != qp->qpn || !svd_direct_peer_ok(qp, p))
		return NULL;
	return p;
}

/* ioctl: SV_METHOD_DIRECT_PEER_RECV */
static int direct_method_peer_recv(struct svd_bundle *b)
{
	struct svd_qp *qp = svd_attr_get_obj(b, SV_ATTR_DIRECT_PEER_QP);
	struct sv_direct_recv_resp resp = {};
	struct svd_qp *peer;
	int fd = -1, ret;

	pthread_mutex_lock(&b->dev->lock);
	peer = connected_peer(b->dev, qp);
	if (peer && peer->drx) {
		resp_fill(&resp, peer->drx);
		resp.pd = svd_direct_tag(peer->pd);
		fd = fcntl(peer->drx->fd, F_DUPFD_CLOEXEC, 0);
	}
	pthread_mutex_unlock(&b->dev->lock);
	if (!resp.gen)
		return -ENOENT;
	resp.dev = (uint32_t)svd_direct_tag(b->dev);
	ret = svd_attr_fd_out(b, SV_ATTR_DIRECT_PEER_FD, fd);
	return ret ? ret :
		     svd_attr_copy_to(b, SV_ATTR_DIRECT_PEER_RESP, &resp,
				      sizeof(resp));
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_PEER_RECV, direct_method_peer_recv,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_PEER_QP, &svd_type_qp,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_DIRECT_PEER_RESP,
				    struct sv_direct_recv_resp, SVD_MANDATORY),
		   SVD_ATTR_FD(SV_ATTR_DIRECT_PEER_FD, &svd_type_qp,
			       SVD_ACCESS_NEW, SVD_MANDATORY));

/* ioctl: SV_METHOD_DIRECT_NOTIFY: a direct message reached an armed CQ */
static int direct_method_notify(struct svd_bundle *b)
{
	struct svd_qp *qp = svd_attr_get_obj(b, SV_ATTR_DIRECT_NOTIFY_QP);
	struct svd_qp *peer;
	uint32_t se = 0;
	int ret = -ENOENT;

	if (svd_attr_get_u32(b, SV_ATTR_DIRECT_NOTIFY_SE, &se))
		return -EINVAL;
	pthread_mutex_lock(&b->dev->lock);
	peer = connected_peer(b->dev, qp);
	if (peer && peer->recv_cq) {
		/* The CQ's own arm state decides, as for a daemon CQE. */
		svd_cq_notify(peer->recv_cq, se != 0);
		ret = 0;
	}
	pthread_mutex_unlock(&b->dev->lock);
	return ret;
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_NOTIFY, direct_method_notify,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_NOTIFY_QP, &svd_type_qp,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_DIRECT_NOTIFY_SE, uint32_t,
				   SVD_MANDATORY));

/*
 * ioctl: SV_METHOD_DIRECT_INV: the invalidation of a direct SEND_WITH_INV,
 * done when the initiator asks, before its message can be seen, with the
 * responder's checks (eng_resp.c resp_invalidate): a bound type 2 window
 * of the peer QP's PD. The initiator could have had the same done by the
 * daemon path; on failure nothing changes and the work request goes there.
 */
static int direct_method_inv(struct svd_bundle *b)
{
	struct svd_qp *qp = svd_attr_get_obj(b, SV_ATTR_DIRECT_INV_QP);
	struct svd_qp *peer;
	struct svd_mr *mw;
	uint32_t rkey = 0;
	int ret = -EINVAL;

	if (svd_attr_get_u32(b, SV_ATTR_DIRECT_INV_RKEY, &rkey))
		return -EINVAL;
	pthread_mutex_lock(&b->dev->lock);
	peer = connected_peer(b->dev, qp);
	mw = peer ? svd_dev_key_find(b->dev, rkey) : NULL;
	if (mw && mw->is_mw && mw->mw_type == IBV_MW_TYPE_2 &&
	    mw->pd == peer->pd)
		ret = svd_mw_invalidate(mw, rkey);
	pthread_mutex_unlock(&b->dev->lock);
	return ret;
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_INV, direct_method_inv,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_INV_QP, &svd_type_qp,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_DIRECT_INV_RKEY, uint32_t,
				   SVD_MANDATORY));

/* ioctl: SV_METHOD_DIRECT_CQ_NOTIFY: a direct completion reached our armed CQ */
static int direct_method_cq_notify(struct svd_bundle *b)
{
	struct svd_cq *cq = svd_attr_get_obj(b, SV_ATTR_DIRECT_CQ_NOTIFY_CQ);

	/* The CQ's own arm decides, as for a daemon CQE (not solicited). */
	svd_cq_notify(cq, false);
	return 0;
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_CQ_NOTIFY, direct_method_cq_notify,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_CQ_NOTIFY_CQ, &svd_type_cq,
				SVD_ACCESS_READ, SVD_MANDATORY));

const struct svd_module svd_mod_direct_rx = {
	.name = "direct_rx",
	SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			       SVD_METHOD_REF(SV_METHOD_DIRECT_RECV),
			       SVD_METHOD_REF(SV_METHOD_DIRECT_PEER_RECV),
			       SVD_METHOD_REF(SV_METHOD_DIRECT_NOTIFY),
			       SVD_METHOD_REF(SV_METHOD_DIRECT_INV),
			       SVD_METHOD_REF(SV_METHOD_DIRECT_CQ_NOTIFY))),
};
