// SPDX-License-Identifier: MIT
/*
 * The posting fast path: ibv_post_send / ibv_post_recv /
 * ibv_post_srq_recv write WQEs into the shared rings without a syscall.
 *
 * A WQE is fully written before prod moves past it (release store), and
 * the engine is woken once per call through the context's doorbell page.
 */
#include <stdatomic.h>
#include <string.h>

#include "direct.h"
#include "ring.h"
#include "svl_mr.h"
#include "svl_prov.h"
#include "svl_qp.h"

static bool ring_full(struct svl_ring *r, uint32_t prod)
{
	return prod - svl_load_acquire(&r->db->cons) >= r->entries;
}

static void ring_publish(struct svl_ring *r)
{
	svl_store_release(&r->db->prod, r->prod);
}

void svl_qp_kick(struct svl_qp *q)
{
	svl_doorbell_ring_qp(to_svl_ctx(q->qp.context), q->db_page_index,
			     q->qp.qp_num);
}

/* Opcodes each QP type accepts on the send queue. */
static bool opcode_ok(enum ibv_qp_type t, enum ibv_wr_opcode op)
{
	switch (op) {
	case IBV_WR_SEND:
		return t != IBV_QPT_XRC_RECV;
	case IBV_WR_SEND_WITH_IMM: /* an Ethernet frame has no immediate */
		return t != IBV_QPT_XRC_RECV && t != IBV_QPT_RAW_PACKET;
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_LOCAL_INV:
	case IBV_WR_BIND_MW:
	case IBV_WR_SEND_WITH_INV:
		return t == IBV_QPT_RC || t == IBV_QPT_UC ||
		       t == IBV_QPT_XRC_SEND;
	case IBV_WR_RDMA_READ:
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
	case IBV_WR_ATOMIC_WRITE:
		return t == IBV_QPT_RC || t == IBV_QPT_XRC_SEND;
	default:
		return false;
	}
}

static bool opcode_reads(enum ibv_wr_opcode op)
{
	return op == IBV_WR_RDMA_READ || op == IBV_WR_ATOMIC_CMP_AND_SWP ||
	       op == IBV_WR_ATOMIC_FETCH_AND_ADD;
}

/* Payload-carrying opcodes whose bytes may be captured at post. */
static bool opcode_captures(uint32_t op)
{
	return op == IBV_WR_SEND || op == IBV_WR_SEND_WITH_IMM ||
	       op == IBV_WR_SEND_WITH_INV || op == IBV_WR_RDMA_WRITE ||
	       op == IBV_WR_RDMA_WRITE_WITH_IMM;
}

/*
 * A small payload from private VA regions goes into the WQE after its
 * SGEs (SV_WQE_CAPTURED, mr_keys.c): the engine then reads no memory of
 * ours, a system call per message saved. Only on the daemon path (a QP
 * the direct path serves reads the SGEs itself) and where the slot has
 * room; anything else stays as it is.
 */
void svl_wqe_capture(struct svl_qp *q, struct sv_send_wqe *w,
		     const struct ibv_sge *sg, int n)
{
	size_t head = sizeof(*w) + (size_t)n * sizeof(struct sv_sge);
	uint64_t total = 0;
	int i;

	if (q->dq || n <= 0 || head >= q->sq.stride ||
	    (w->flags & SV_WQE_INLINE) ||
	    !opcode_captures(w->opcode) ||
	    (q->qp.qp_type != IBV_QPT_RC && q->qp.qp_type != IBV_QPT_UC &&
	     q->qp.qp_type != IBV_QPT_UD && q->qp.qp_type != IBV_QPT_XRC_SEND))
		return;
	for (i = 0; i < n; i++)
		total += sg[i].length;
	if (!total || total > SVL_CAPTURE_MAX || total > q->sq.stride - head)
		return;
	if (svl_mr_keys_copy(q->qp.context, sg, n, (uint8_t *)w + head))
		w->flags |= SV_WQE_CAPTURED;
}

static int send_sges(struct svl_qp *q, struct sv_send_wqe *w,
		     const struct ibv_send_wr *wr)
{
	struct sv_sge *s = (struct sv_sge *)(w + 1);
	uint32_t i, total = 0;
	uint8_t *dst;

	if (!(wr->send_flags & IBV_SEND_INLINE) || opcode_reads(wr->opcode)) {
		if ((uint32_t)wr->num_sge > q->max_send_sge || wr->num_sge < 0)
			return EINVAL;
		for (i = 0; i < (uint32_t)wr->num_sge; i++) {
			s[i].addr = wr->sg_list[i].addr;
			s[i].length = wr->sg_list[i].length;
			s[i].lkey = wr->sg_list[i].lkey;
		}
		w->num_sge = (uint32_t)wr->num_sge;
		svl_wqe_capture(q, w, wr->sg_list, wr->num_sge);
		return 0;
	}
	if (wr->num_sge < 0)
		return EINVAL;
	for (i = 0; i < (uint32_t)wr->num_sge; i++) {
		total += wr->sg_list[i].length;
		if (total > q->max_inline)
			return EINVAL;
	}
	dst = (uint8_t *)(w + 1);
	for (i = 0; i < (uint32_t)wr->num_sge; i++) {
		memcpy(dst, (void *)(uintptr_t)wr->sg_list[i].addr,
		       wr->sg_list[i].length);
		dst += wr->sg_list[i].length;
	}
	w->flags |= SV_WQE_INLINE;
	w->num_sge = total;
	return 0;
}

static int send_remote(struct svl_qp *q, struct sv_send_wqe *w,
		       const struct ibv_send_wr *wr)
{
	switch (wr->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
	case IBV_WR_ATOMIC_WRITE:
		w->rdma.remote_addr = wr->wr.rdma.remote_addr;
		w->rdma.rkey = wr->wr.rdma.rkey;
		break;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		w->atomic.remote_addr = wr->wr.atomic.remote_addr;
		w->atomic.compare_add = wr->wr.atomic.compare_add;
		w->atomic.swap = wr->wr.atomic.swap;
		w->atomic.rkey = wr->wr.atomic.rkey;
		break;
	case IBV_WR_BIND_MW:
		if (!wr->bind_mw.mw || !wr->bind_mw.bind_info.mr)
			return EINVAL;
		w->bind.addr = wr->bind_mw.bind_info.addr;
		w->bind.length = wr->bind_mw.bind_info.length;
		w->bind.mw_handle = wr->bind_mw.mw->handle;
		w->bind.mr_lkey = wr->bind_mw.bind_info.mr->lkey;
		w->bind.new_rkey = wr->bind_mw.rkey;
		w->bind.access = wr->bind_mw.bind_info.mw_access_flags;
		break;
	default:
		break;
	}
	if (q->qp.qp_type == IBV_QPT_UD) {
		if (!wr->wr.ud.ah)
			return EINVAL;
		w->ud.ah_handle = wr->wr.ud.ah->handle;
		w->ud.remote_qpn = wr->wr.ud.remote_qpn;
		w->ud.remote_qkey = wr->wr.ud.remote_qkey;
	}
	if (q->qp.qp_type == IBV_QPT_XRC_SEND)
		w->xrc_srqn = wr->qp_type.xrc.remote_srqn;
	return 0;
}

static int build_send(struct svl_qp *q, struct sv_send_wqe *w,
		      const struct ibv_send_wr *wr)
{
	int ret;

	if (!opcode_ok(q->qp.qp_type, wr->opcode))
		return EINVAL;
	memset(w, 0, sizeof(*w));
	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->send_flags = wr->send_flags;
	if (q->sq_sig_all)
		w->send_flags |= IBV_SEND_SIGNALED;
	if (wr->opcode == IBV_WR_SEND_WITH_INV ||
	    wr->opcode == IBV_WR_LOCAL_INV)
		w->imm_data = wr->invalidate_rkey;
	else
		w->imm_data = wr->imm_data;
	ret = send_remote(q, w, wr);
	if (!ret && wr->opcode != IBV_WR_LOCAL_INV &&
	    wr->opcode != IBV_WR_BIND_MW)
		ret = send_sges(q, w, wr);
	return ret;
}

/*
 * The WQEs built at [sq.prod, end) are posted: those the direct path can
 * do run now (direct.c), the others go to the daemon. Published later.
 */
static uint32_t settle(struct svl_qp *q, uint32_t end, bool *posted)
{
	if (end == q->sq.prod)
		return end;
	if (q->dq)
		end = svl_direct_run(q, end);
	if (end != q->sq.prod) {
		q->sq.prod = end;
		*posted = true;
	}
	return end;
}

/*
 * Nothing built yet: wr done by the direct path's hot entry (true), or
 * the direct path's small WRITEs waited for so that wr comes after them.
 * Either may have handed work to the daemon (direct_war.c): *end follows.
 */
static bool direct_head(struct svl_qp *q, const struct ibv_send_wr *wr,
			uint32_t *end)
{
	bool done = !svl_direct_hot_wr(q, wr);

	if (!done)
		svl_dwar_fence(q);
	*end = q->sq.prod;
	return done;
}

/*
 * The list is built into the ring first and settled at the end (or when
 * the ring fills), so that a run of work requests to one VA region can
 * move with one system call (direct_va.c); a WRITE/READ the direct
 * path's hot entry covers, with nothing built ahead of it, is done from
 * wr itself without a WQE (direct_hot.c).
 */
int svl_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
		  struct ibv_send_wr **bad)
{
	struct svl_qp *q = to_svl_qp(qp);
	bool posted = false;
	uint32_t end;
	int ret = 0;

	if (!q->sq.entries || qp->state == IBV_QPS_RESET ||
	    qp->state == IBV_QPS_INIT || qp->state == IBV_QPS_RTR) {
		*bad = wr;
		return EINVAL;
	}
	if (q->dstate != SVL_DIRECT_GRANTED)
		svl_direct_prepare(q);
	svl_ring_lock_post(&q->sq);
	for (end = q->sq.prod; wr; wr = wr->next) {
		if (svl_ctx_dead(qp->context)) {
			ret = EIO; /* the daemon is gone (fate.c) */
			break;
		}
		if (end == q->sq.prod && q->dq && direct_head(q, wr, &end))
			continue;
		if (ring_full(&q->sq, end))
			end = settle(q, end, &posted);
		if (ring_full(&q->sq, end)) {
			ret = ENOMEM;
			break;
		}
		ret = build_send(q, svl_sq_slot(q, end), wr);
		if (ret)
			break;
		svl_stage_wqe(q, end, wr);
		end++;
	}
	settle(q, end, &posted);
	if (posted)
		ring_publish(&q->sq);
	svl_ring_unlock(&q->sq);
	if (posted)
		svl_qp_kick(q);
	if (ret)
		*bad = wr;
	return ret;
}

void svl_post_handover(struct svl_qp *q, struct ibv_send_wr *wr, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (ring_full(&q->sq, q->sq.prod) ||
		    build_send(q, svl_sq_slot(q, q->sq.prod), &wr[i]))
			break; /* cannot happen: the SQ was idle (direct.c) */
		svl_direct_daemon_posted(q, svl_sq_slot(q, q->sq.prod));
		q->sq.prod++;
	}
	ring_publish(&q->sq);
	svl_qp_kick(q);
}

/* Shared by QP receive queues and SRQs: both are sv_recv_wqe rings. */
int svl_ring_post_recv(struct svl_ring *r, uint32_t max_sge,
		       struct ibv_context *ctx, struct ibv_recv_wr *wr,
		       struct ibv_recv_wr **bad)
{
	bool posted = false;
	int ret = 0, i;

	/* Not biased: the library's own threads take receive rings' locks
	 * (the direct path's ring registration and mirror, direct_rx.c), and
	 * a borrow's membarrier can take milliseconds on a loaded VM: long
	 * enough for a direct SEND to miss the receive it waits for. */
	svl_ring_lock(r);
	for (; wr; wr = wr->next) {
		struct sv_recv_wqe *w;
		struct sv_sge *s;

		if (wr->num_sge < 0 || (uint32_t)wr->num_sge > max_sge) {
			ret = EINVAL;
			break;
		}
		if (svl_ctx_dead(ctx)) {
			ret = EIO; /* the daemon is gone (fate.c) */
			break;
		}
		if (ring_full(r, r->prod)) {
			ret = ENOMEM;
			break;
		}
		w = (void *)(r->buf +
			     (size_t)(r->prod & (r->entries - 1)) * r->stride);
		w->wr_id = wr->wr_id;
		w->num_sge = (uint32_t)wr->num_sge;
		/* Our own record, for a payload scattered to the CQ. */
		w->reserved = svl_rrec_put(r, wr, r->prod);
		s = (struct sv_sge *)(w + 1);
		for (i = 0; i < wr->num_sge; i++) {
			s[i].addr = wr->sg_list[i].addr;
			s[i].length = wr->sg_list[i].length;
			s[i].lkey = wr->sg_list[i].lkey;
		}
		r->prod++;
		posted = true;
	}
	if (posted)
		ring_publish(r);
	svl_ring_unlock(r);
	if (ret)
		*bad = wr;
	return ret;
}

/*
 * Wake the engine after posting receives only if it asked (the RQ
 * record's 'want': a message met an empty queue). A wake-up per receive
 * preempted a busy-polling process between its receive and its SEND, an
 * engine round per hop of a ping-pong. The engine sets 'want', fences and
 * reads prod again; we published prod, fence and take 'want': one of the
 * two sees the other. (A requester in RNR wait still retries on its own
 * timer; the wake gives the engine a pass for what it was told to wait.)
 */
static bool rq_wanted(struct svl_ring *r)
{
	_Atomic uint32_t *want = (_Atomic uint32_t *)&r->db->want;
	uint32_t v;

	atomic_thread_fence(memory_order_seq_cst);
	v = atomic_load_explicit(want, memory_order_relaxed);
	if (v == SV_RQ_WANT_ALWAYS)
		return true; /* a peer on the wire (eng_resp_rtr) */
	return v && atomic_exchange(want, 0);
}

int svl_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
		  struct ibv_recv_wr **bad)
{
	struct svl_qp *q = to_svl_qp(qp);
	int ret;

	/* QPs on an SRQ, XRC QPs: no receive queue of their own; a QP in
	 * RESET takes no receives (rdma-core's bad-flow tests expect it). */
	if (!q->rq.entries || qp->state == IBV_QPS_RESET) {
		*bad = wr;
		return EINVAL;
	}
	ret = svl_ring_post_recv(&q->rq, q->max_recv_sge, qp->context, wr,
				 bad);
	/* The direct path's receive ring (made, mirrored) comes first. */
	svl_direct_recv_posted(q);
	if (rq_wanted(&q->rq))
		svl_doorbell_ring(to_svl_ctx(qp->context), q->db_page_index);
	if (qp->state == IBV_QPS_ERR)
		svl_qp_kick(q);
	return ret;
}

int svl_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr,
		      struct ibv_recv_wr **bad)
{
	struct svl_srq *s = to_svl_srq(srq);

	int ret = svl_ring_post_recv(&s->rq, s->max_sge, srq->context, wr,
				     bad);

	svl_doorbell_ring(to_svl_ctx(srq->context), s->db_page_index);
	return ret;
}
