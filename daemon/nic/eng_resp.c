// SPDX-License-Identifier: MIT
/*
 * Responder: executes a request packet on the destination QP and answers
 * with an ACK, a NAK (AETH syndrome), or data (read / atomic response,
 * written straight into the requester's landing zone: same-host delivery
 * needs no response packet payload).
 *
 * Steps: check (QP state, transport, qkey, PSN) -> receive WQE for
 * sends/write-with-imm (none: RNR NAK on RC, drop otherwise) -> rkey and
 * access for RDMA/atomics -> move the data -> receive completion -> ACK.
 * Runs under dev->lock (see engine.h).
 */
#include <string.h>

#include "engine.h"

#define RWQE_MAX (sizeof(struct sv_recv_wqe) + ENG_MAX_SGE * sizeof(struct sv_sge))

/* Where a QP takes receive WQEs from: its RQ or an SRQ. */
struct rq_ref {
	const struct svd_umem *ring, *dbrec;
	uint64_t dboff; /* offset of the sv_dbrec */
	uint32_t entries, stride, max_sge;
	uint32_t *cons; /* RQ: engine copy; SRQ: NULL (dbrec cons) */
	struct svd_srq *srq;
};

struct rwqe {
	union {
		struct sv_recv_wqe w;
		uint8_t raw[RWQE_MAX];
	};
	uint32_t cons;
	bool have;
};

struct resp_ctx {
	struct svd_engine *e;
	struct svd_qp *qp;
	struct eng_qp *eq;
	const struct eng_pkt *pkt;
	struct rq_ref rq;
	struct rwqe rw;
	struct eng_seg rseg; /* the rkey'd region */
};

static bool rq_ref_init(struct resp_ctx *c)
{
	struct svd_qp *qp = c->qp;
	struct rq_ref *r = &c->rq;
	struct svd_srq *srq = qp->srq;

	memset(r, 0, sizeof(*r));
	if (qp->qp_type == SVD_QPT_XRC_TGT) {
		srq = svd_dev_srq_find(qp->uctx->dev, c->pkt->xrc_srqn);
		if (!srq || srq->srq_type != IB_UVERBS_SRQT_XRC)
			return false;
	}
	if (srq) {
		r->ring = srq->ring;
		r->dbrec = srq->dbrec;
		r->entries = srq->entries;
		r->stride = srq->wqe_size;
		r->max_sge = srq->max_sge;
		r->srq = srq;
	} else {
		r->ring = qp->rq;
		r->dbrec = qp->dbrec;
		r->dboff = sizeof(struct sv_dbrec);
		r->entries = qp->rq_entries;
		r->stride = qp->rq_wqe_size;
		r->max_sge = qp->max_recv_sge;
		r->cons = &c->eq->rq_cons;
	}
	return r->ring && r->dbrec && svd_is_pow2(r->entries) &&
	       r->stride >= sizeof(struct sv_recv_wqe) &&
	       (uint64_t)r->entries * r->stride <= r->ring->length;
}

static uint64_t rq_cons_off(const struct rq_ref *r)
{
	return r->dboff + offsetof(struct sv_dbrec, cons);
}

/* 0: a WQE; -EAGAIN: none; > 0: a broken WQE (IBV_WC_* status). */
static int rq_get(struct rq_ref *r, struct rwqe *rw)
{
	uint32_t prod, cons;
	size_t len = r->stride < RWQE_MAX ? r->stride : RWQE_MAX;

	if (svd_mem_load32(r->dbrec, r->dboff + offsetof(struct sv_dbrec, prod),
			   &prod))
		return -EAGAIN;
	if (r->cons)
		cons = *r->cons;
	else if (svd_mem_load32(r->dbrec, rq_cons_off(r), &cons))
		return -EAGAIN;
	if (prod == cons || prod - cons > r->entries)
		return -EAGAIN;
	memset(rw->raw, 0, sizeof(rw->raw));
	if (svd_mem_read(r->ring,
			 (uint64_t)(cons & (r->entries - 1)) * r->stride,
			 rw->raw, len))
		return -EAGAIN;
	rw->cons = cons;
	rw->have = true;
	if (rw->w.num_sge > r->max_sge || rw->w.num_sge > ENG_MAX_SGE ||
	    sizeof(rw->w) + rw->w.num_sge * sizeof(struct sv_sge) > len)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

static void srq_limit_check(struct svd_srq *srq, uint32_t prod, uint32_t cons)
{
	if (!srq->limit || prod - cons >= srq->limit)
		return;
	srq->limit = 0; /* the event disarms the limit */
	srq->events_reported++;
	svd_uctx_async_event(srq->uctx, srq->user_handle,
			     IBV_EVENT_SRQ_LIMIT_REACHED);
}

static void rq_pop(struct rq_ref *r, struct rwqe *rw)
{
	uint32_t prod = 0;

	if (!rw->have)
		return;
	rw->have = false;
	if (r->cons)
		*r->cons = rw->cons + 1;
	svd_mem_store32(r->dbrec, rq_cons_off(r), rw->cons + 1);
	if (r->srq &&
	    !svd_mem_load32(r->dbrec, offsetof(struct sv_dbrec, prod), &prod))
		srq_limit_check(r->srq, prod, rw->cons + 1);
}

static struct svd_cq *resp_cq(struct resp_ctx *c)
{
	if (c->qp->qp_type == SVD_QPT_XRC_TGT && c->rq.srq && c->rq.srq->cq)
		return c->rq.srq->cq;
	return c->qp->recv_cq;
}

/* Complete the receive WQE (any status) and consume it. */
static void resp_rcqe(struct resp_ctx *c, uint32_t status, uint32_t opcode,
		      uint64_t byte_len)
{
	const struct eng_pkt *p = c->pkt;
	struct sv_cqe cqe = {
		.wr_id = c->rw.w.wr_id,
		.status = status,
		.opcode = opcode,
		.byte_len = (uint32_t)byte_len,
		.qp_num = c->qp->qpn,
		.src_qp = p->src_qpn,
		.slid = p->slid,
		.sl = p->sl,
	};

	if (p->mask & ENG_IMMDT) {
		cqe.imm_data = p->imm;
		cqe.wc_flags |= IBV_WC_WITH_IMM;
	}
	if (p->mask & ENG_IETH) {
		cqe.imm_data = p->imm;
		cqe.wc_flags |= IBV_WC_WITH_INV;
	}
	if (p->has_grh)
		cqe.wc_flags |= IBV_WC_GRH;
	rq_pop(&c->rq, &c->rw);
	eng_cqe_push(resp_cq(c), &cqe, p->solicited);
}

/* A responder-side error on RC/UC: receive CQE, QP to ERROR. */
static uint8_t resp_fail(struct resp_ctx *c, uint32_t status, uint8_t nak)
{
	if (c->rw.have)
		resp_rcqe(c, status, IBV_WC_RECV, 0);
	if (c->qp->qp_type != SVD_QPT_UD)
		eng_qp_error(c->eq);
	return nak;
}

static bool transport_ok(const struct svd_qp *qp, uint8_t opcode)
{
	uint8_t tr = opcode & 0xe0;

	if (qp->qp_type == SVD_QPT_XRC_TGT)
		return tr == ENG_TR_XRC;
	return tr == eng_transport_bits(qp->qp_type) && tr != ENG_TR_XRC;
}

static uint32_t access_needed(uint32_t mask)
{
	if (mask & ENG_READ)
		return IBV_ACCESS_REMOTE_READ;
	if (mask & ENG_ATOMIC)
		return IBV_ACCESS_REMOTE_ATOMIC;
	return IBV_ACCESS_REMOTE_WRITE;
}

/* rkey + bounds + QP access flags for RDMA and atomics. */
static int resp_rkey_at(struct resp_ctx *c, uint32_t rkey, uint64_t va,
		       uint64_t len)
{
	uint32_t need = access_needed(c->pkt->mask);
	const struct svd_umem *umem;
	uint64_t off;

	if (!(c->qp->attr.qp_access_flags & need))
		return -EACCES;
	if (!len)
		return 0; /* zero-length RDMA names no memory */
	if (svd_mem_resolve(c->qp->uctx->dev, c->qp->pd, rkey, true, va,
			    len, need, &umem, &off))
		return -EACCES;
	c->rseg = (struct eng_seg){ .umem = umem, .off = off,
				    .len = (uint32_t)len };
	return 0;
}

static int resp_rkey(struct resp_ctx *c, uint64_t len)
{
	return resp_rkey_at(c, c->pkt->rkey, c->pkt->va, len);
}

/*
 * Where this WRITE packet lands. FIRST/ONLY: the RETH, checked for the
 * whole message; a FIRST opens the write for the pieces that follow.
 * MIDDLE/LAST: the open write, re-resolved per piece (the region may be
 * gone since: every piece is checked).
 */
static int resp_write_target(struct resp_ctx *c)
{
	const struct eng_pkt *p = c->pkt;
	struct eng_qp *eq = c->eq;

	if (p->mask & ENG_FIRST) {
		if (resp_rkey(c, p->total))
			return -EACCES;
		c->rseg.len = (uint32_t)p->length;
		eq->wr_open = !(p->mask & ENG_LAST);
		eq->wr_va = p->va + p->length;
		eq->wr_rkey = p->rkey;
		eq->wr_left = p->total - p->length;
		return 0;
	}
	if (!eq->wr_open || p->length > eq->wr_left ||
	    ((p->mask & ENG_LAST) && p->length != eq->wr_left))
		return -EINVAL;
	if (resp_rkey_at(c, eq->wr_rkey, eq->wr_va, p->length))
		return -EACCES;
	eq->wr_va += p->length;
	eq->wr_left -= p->length;
	eq->wr_open = !(p->mask & ENG_LAST);
	return 0;
}

/* SEND / WRITE_WITH_IMM: land the data and complete the receive. */
/*
 * A failed copy: if the requester's memory failed (it was the side named
 * by req_side), that is the requester's local error and this QP is
 * untouched; otherwise the responder's own memory failed.
 */
static uint8_t resp_copy_fail(struct resp_ctx *c, int ret, int req_side)
{
	if (ret == req_side)
		return ENG_AETH_LOCAL;
	return resp_fail(c, IBV_WC_LOC_PROT_ERR, ENG_AETH_NAK_OP);
}

/*
 * The same for RDMA WRITE/READ/atomics, where the responder's side is the
 * rkey's memory: when it fails (an ODP page unmapped at access time) the
 * requester sees a remote access error, as rxe's rkey violation and
 * mlx5's failed ODP fault give.
 */
static uint8_t resp_rkey_copy_fail(struct resp_ctx *c, int ret, int req_side)
{
	if (ret == req_side)
		return ENG_AETH_LOCAL;
	return resp_fail(c, IBV_WC_REM_ACCESS_ERR, ENG_AETH_NAK_ACC);
}

/* SEND_WITH_INV: the rkey must name a bound type 2 MW of our PD. */
static int resp_invalidate(struct resp_ctx *c, uint32_t rkey)
{
	struct svd_mr *mw = svd_dev_key_find(c->qp->uctx->dev, rkey);

	if (!mw || !mw->is_mw || mw->mw_type != IBV_MW_TYPE_2 ||
	    mw->pd != c->qp->pd)
		return -EINVAL;
	return svd_mw_invalidate(mw, rkey);
}

static uint8_t resp_send(struct resp_ctx *c)
{
	const struct eng_pkt *p = c->pkt;
	static __thread struct eng_sgl dst;
	struct eng_sgl grh = { .n = 1 };
	/* UD receive buffers always reserve the GRH's 40 bytes. */
	uint64_t skip = c->qp->qp_type == SVD_QPT_UD ? ENG_GRH_LEN : 0;
	int status, ret;

	status = eng_wqe_sgl(c->qp, (const struct sv_sge *)(&c->rw.w + 1),
			     c->rw.w.num_sge, true, &dst);
	if (status)
		return resp_fail(c, IBV_WC_LOC_PROT_ERR, ENG_AETH_NAK_OP);
	if (p->length + skip > dst.total)
		return resp_fail(c, IBV_WC_LOC_LEN_ERR, ENG_AETH_NAK_INV);
	if (p->has_grh) {
		grh.seg[0] = (struct eng_seg){ .buf = (uint8_t *)p->grh,
					       .len = ENG_GRH_LEN };
		grh.total = ENG_GRH_LEN;
		if (eng_sgl_copy(&dst, 0, &grh, ENG_GRH_LEN))
			return resp_fail(c, IBV_WC_LOC_PROT_ERR,
					 ENG_AETH_NAK_OP);
	}
	ret = eng_sgl_copy(&dst, skip, p->data, p->length);
	if (ret)
		return resp_copy_fail(c, ret, ENG_COPY_ESRC);
	if ((p->mask & ENG_IETH) && resp_invalidate(c, p->imm))
		return resp_fail(c, IBV_WC_LOC_QP_OP_ERR, ENG_AETH_NAK_INV);
	resp_rcqe(c, IBV_WC_SUCCESS, IBV_WC_RECV, p->length + skip);
	return ENG_AETH_ACK;
}

static struct eng_sgl *one_seg(struct eng_sgl *l, const struct eng_seg *s)
{
	l->n = s->len ? 1 : 0;
	l->seg[0] = *s;
	l->total = s->len;
	return l;
}

static uint8_t resp_write(struct resp_ctx *c)
{
	const struct eng_pkt *p = c->pkt;
	static __thread struct eng_sgl dst;
	int ret;

	ret = resp_write_target(c);
	if (ret == -EINVAL)
		return resp_fail(c, IBV_WC_REM_INV_REQ_ERR, ENG_AETH_NAK_INV);
	if (ret)
		return resp_fail(c, IBV_WC_REM_ACCESS_ERR, ENG_AETH_NAK_ACC);
	ret = p->length ? eng_sgl_copy_off(one_seg(&dst, &c->rseg), 0,
					   p->data, p->data_off, p->length) :
			  0;
	if (ret)
		return resp_rkey_copy_fail(c, ret, ENG_COPY_ESRC);
	if (p->mask & ENG_IMMDT)
		resp_rcqe(c, IBV_WC_SUCCESS, IBV_WC_RECV_RDMA_WITH_IMM,
			  p->total);
	return ENG_AETH_ACK;
}

static uint8_t resp_read(struct resp_ctx *c)
{
	const struct eng_pkt *p = c->pkt;
	static __thread struct eng_sgl src;
	int ret;

	if (resp_rkey(c, p->length))
		return resp_fail(c, IBV_WC_REM_ACCESS_ERR, ENG_AETH_NAK_ACC);
	ret = p->length ? eng_sgl_copy(p->data, 0, one_seg(&src, &c->rseg),
				       p->length) :
			  0;
	if (ret)
		return resp_rkey_copy_fail(c, ret, ENG_COPY_EDST);
	return ENG_AETH_ACK;
}

/* Atomics: 8 bytes, aligned; mem.c serializes them with every other. */
static uint8_t resp_atomic(struct resp_ctx *c, struct eng_ack *ack)
{
	const struct eng_pkt *p = c->pkt;
	enum svd_mem_atomic_op op = SVD_MEM_FETCH_ADD;
	struct eng_sgl l = { .n = 1, .total = 8 };
	uint64_t a = p->compare_add;
	uint8_t buf[8];
	int ret = 0;

	if (p->va & 7)
		return resp_fail(c, IBV_WC_REM_INV_REQ_ERR, ENG_AETH_NAK_INV);
	if (resp_rkey(c, 8))
		return resp_fail(c, IBV_WC_REM_ACCESS_ERR, ENG_AETH_NAK_ACC);
	l.seg[0] = (struct eng_seg){.buf = buf, .len = 8};
	if (p->mask & ENG_ATOMIC_WRITE) {
		op = SVD_MEM_STORE;
		ret = eng_sgl_copy(&l, 0, p->data, 8);
		if (ret)
			return resp_rkey_copy_fail(c, ret, ENG_COPY_ESRC);
		memcpy(&a, buf, 8);
	} else if ((p->opcode & 0x1f) == ENG_OP_CMP_SWAP) {
		op = SVD_MEM_CMP_SWP; /* compare_add is the compare */
	}
	if (!ret)
		ret = svd_mem_atomic(c->rseg.umem, c->rseg.off, op, a, p->swap,
				     &ack->atomic_orig);
	if (!ret && !(p->mask & ENG_ATOMIC_WRITE)) {
		memcpy(buf, &ack->atomic_orig, 8);
		ret = eng_sgl_copy(p->data, 0, &l, 8);
		if (ret)
			return resp_rkey_copy_fail(c, ret, ENG_COPY_EDST);
	}
	if (ret)
		return resp_rkey_copy_fail(c, ret, ENG_COPY_ESRC);
	return ENG_AETH_ACK;
}

/* Receive WQE for ops that consume one; the syndrome when there is none. */
static int resp_need_rwqe(struct resp_ctx *c, bool rc, uint8_t *syn)
{
	int ret;

	if (!rq_ref_init(c)) {
		*syn = rc ? ENG_AETH_NAK_INV : ENG_AETH_DROPPED;
		return -1;
	}
	ret = rq_get(&c->rq, &c->rw);
	if (ret == -EAGAIN) {
		*syn = rc ? (uint8_t)(ENG_AETH_RNR |
				      (c->qp->attr.min_rnr_timer & 0x1f)) :
			    ENG_AETH_DROPPED;
		return -1;
	}
	if (ret) {
		*syn = resp_fail(c, (uint32_t)ret, ENG_AETH_NAK_OP);
		return -1;
	}
	return 0;
}

/* Not for this QP: dropped and counted; the QP's state is untouched. */
static bool resp_foreign(struct resp_ctx *c)
{
	c->eq->foreign_drops++;
	return false;
}

static bool resp_check(struct resp_ctx *c)
{
	const struct eng_pkt *p = c->pkt;
	struct svd_qp *qp = c->qp;

	if (!c->eq || (qp->state != SVD_QPS_RTR && qp->state != SVD_QPS_RTS &&
		       qp->state != SVD_QPS_SQD))
		return false;
	if (!transport_ok(qp, p->opcode))
		return false;
	if (qp->qp_type == SVD_QPT_UD && p->qkey != qp->attr.qkey)
		return resp_foreign(c);
	/* A connection takes packets only from the QP it is connected to. */
	if (qp->qp_type != SVD_QPT_UD &&
	    p->src_qpn != (qp->attr.dest_qp_num & 0xffffff))
		return resp_foreign(c);
	return true;
}

void eng_resp_recv(struct svd_engine *e, struct svd_qp *qp,
		   const struct eng_pkt *pkt, struct eng_ack *ack)
{
	static __thread struct resp_ctx c;
	bool rc = qp->qp_type == SVD_QPT_RC || qp->qp_type == SVD_QPT_XRC_TGT;
	uint8_t syn;

	memset(&c, 0, sizeof(c));
	c.e = e;
	c.qp = qp;
	c.eq = qp->eng;
	c.pkt = pkt;
	ack->syndrome = ENG_AETH_DROPPED;
	if (!resp_check(&c))
		return;
	if (rc && pkt->psn != c.eq->epsn) {
		ack->syndrome = ENG_AETH_NAK_SEQ;
		return;
	}
	if ((pkt->mask & ENG_SEND) && resp_need_rwqe(&c, rc, &syn)) {
		ack->syndrome = rc ? syn : ENG_AETH_DROPPED;
		return;
	}
	if (pkt->mask & ENG_WRITE)
		syn = resp_write(&c);
	else if (pkt->mask & ENG_SEND)
		syn = resp_send(&c);
	else if (pkt->mask & ENG_READ)
		syn = resp_read(&c);
	else
		syn = resp_atomic(&c, ack);
	if (syn == ENG_AETH_ACK)
		c.eq->epsn = (c.eq->epsn + eng_npsn(qp, pkt->length)) &
			     0xffffff;
	/* UC/UD: the requester completes regardless (no ACKs)... */
	ack->syndrome = rc ? syn : ENG_AETH_DROPPED;
	/* ...unless its own memory failed. */
	if (syn == ENG_AETH_LOCAL)
		ack->syndrome = syn;
}
