// SPDX-License-Identifier: MIT
/*
 * The ibv_wr_* API (struct ibv_qp_ex): the same sv_send_wqe ring as
 * ibv_post_send, built one call at a time.
 *
 * wr_start takes the SQ lock and remembers prod; each opcode builder
 * starts a WQE at the local prod, the setters (sge, inline, UD address,
 * XRC SRQN) finish it; wr_complete publishes everything at once (or, if
 * any step failed, drops the whole batch and returns the error, as
 * rdma-core providers do); wr_abort drops the batch.
 */
#include <string.h>

#include "direct.h"
#include "ring.h"
#include "svl_qp.h"

static struct svl_qp *qx(struct ibv_qp_ex *ibqp)
{
	return (struct svl_qp *)ibqp;
}

static uint64_t op_flag(enum ibv_wr_opcode op)
{
	switch (op) {
	case IBV_WR_RDMA_WRITE:
		return IBV_QP_EX_WITH_RDMA_WRITE;
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		return IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM;
	case IBV_WR_SEND:
		return IBV_QP_EX_WITH_SEND;
	case IBV_WR_SEND_WITH_IMM:
		return IBV_QP_EX_WITH_SEND_WITH_IMM;
	case IBV_WR_RDMA_READ:
		return IBV_QP_EX_WITH_RDMA_READ;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
		return IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP;
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		return IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD;
	case IBV_WR_LOCAL_INV:
		return IBV_QP_EX_WITH_LOCAL_INV;
	case IBV_WR_BIND_MW:
		return IBV_QP_EX_WITH_BIND_MW;
	case IBV_WR_SEND_WITH_INV:
		return IBV_QP_EX_WITH_SEND_WITH_INV;
	case IBV_WR_ATOMIC_WRITE:
		return IBV_QP_EX_WITH_ATOMIC_WRITE;
	default:
		return 0;
	}
}

/* Begin a WQE for op at the batch's prod; NULL (and wr_err) if not. */
static struct sv_send_wqe *wqe_begin(struct ibv_qp_ex *ibqp,
				     enum ibv_wr_opcode op)
{
	struct svl_qp *q = qx(ibqp);
	struct sv_send_wqe *w;
	uint32_t cons;

	q->wr_cur = NULL;
	if (q->wr_err)
		return NULL;
	if (!(q->send_ops & op_flag(op))) {
		q->wr_err = EINVAL;
		return NULL;
	}
	cons = svl_load_acquire(&q->sq.db->cons);
	if (q->wr_prod - cons >= q->sq.entries) {
		q->wr_err = ENOMEM;
		return NULL;
	}
	w = (void *)(q->sq.buf +
		     (size_t)(q->wr_prod & (q->sq.entries - 1)) * q->sq.stride);
	memset(w, 0, sizeof(*w));
	w->wr_id = ibqp->wr_id;
	w->opcode = op;
	w->send_flags = ibqp->wr_flags;
	if (q->sq_sig_all)
		w->send_flags |= IBV_SEND_SIGNALED;
	q->wr_prod++;
	q->wr_cur = w;
	return w;
}

static void wr_start(struct ibv_qp_ex *ibqp)
{
	struct svl_qp *q = qx(ibqp);

	svl_direct_prepare(q);
	svl_ring_lock_post(&q->sq);
	svl_dwar_fence(q); /* the direct path's small WRITEs come first */
	q->wr_prod = q->sq.prod;
	q->wr_cur = NULL;
	/* Like ibv_post_send: the SQ takes work from RTS on. */
	q->wr_err = (q->qp.state == IBV_QPS_RESET ||
		     q->qp.state == IBV_QPS_INIT ||
		     q->qp.state == IBV_QPS_RTR) ? EINVAL : 0;
}

static int wr_complete(struct ibv_qp_ex *ibqp)
{
	struct svl_qp *q = qx(ibqp);
	int err = q->wr_err;
	bool posted = false;

	if (!err && svl_ctx_dead(q->qp.context))
		err = EIO; /* the daemon is gone (fate.c) */

	if (!err && q->dq)
		svl_direct_batch(q); /* its head may run directly */
	if (!err && q->wr_prod != q->sq.prod) {
		q->sq.prod = q->wr_prod;
		svl_store_release(&q->sq.db->prod, q->sq.prod);
		posted = true;
	}
	q->wr_cur = NULL;
	svl_ring_unlock(&q->sq);
	if (posted)
		svl_qp_kick(q);
	return err;
}

static void wr_abort(struct ibv_qp_ex *ibqp)
{
	struct svl_qp *q = qx(ibqp);

	q->wr_cur = NULL;
	svl_ring_unlock(&q->sq);
}

/* ---------------------------------------------------------------------- */
/* Opcode builders                                                         */
/* ---------------------------------------------------------------------- */

static void wr_send(struct ibv_qp_ex *ibqp)
{
	wqe_begin(ibqp, IBV_WR_SEND);
}

static void wr_send_imm(struct ibv_qp_ex *ibqp, __be32 imm)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, IBV_WR_SEND_WITH_IMM);

	if (w)
		w->imm_data = imm;
}

static void wr_send_inv(struct ibv_qp_ex *ibqp, uint32_t rkey)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, IBV_WR_SEND_WITH_INV);

	if (w)
		w->imm_data = rkey;
}

static void rdma_op(struct ibv_qp_ex *ibqp, enum ibv_wr_opcode op,
		    uint32_t rkey, uint64_t addr, __be32 imm)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, op);

	if (!w)
		return;
	w->rdma.rkey = rkey;
	w->rdma.remote_addr = addr;
	w->imm_data = imm;
}

static void wr_rdma_write(struct ibv_qp_ex *ibqp, uint32_t rkey, uint64_t a)
{
	rdma_op(ibqp, IBV_WR_RDMA_WRITE, rkey, a, 0);
}

static void wr_rdma_write_imm(struct ibv_qp_ex *ibqp, uint32_t rkey,
			      uint64_t a, __be32 imm)
{
	rdma_op(ibqp, IBV_WR_RDMA_WRITE_WITH_IMM, rkey, a, imm);
}

static void wr_rdma_read(struct ibv_qp_ex *ibqp, uint32_t rkey, uint64_t a)
{
	rdma_op(ibqp, IBV_WR_RDMA_READ, rkey, a, 0);
}

static void atomic_op(struct ibv_qp_ex *ibqp, enum ibv_wr_opcode op,
		      uint32_t rkey, uint64_t addr, uint64_t cmp_add,
		      uint64_t swap)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, op);

	if (!w)
		return;
	w->atomic.rkey = rkey;
	w->atomic.remote_addr = addr;
	w->atomic.compare_add = cmp_add;
	w->atomic.swap = swap;
}

static void wr_atomic_cmp_swp(struct ibv_qp_ex *ibqp, uint32_t rkey,
			      uint64_t addr, uint64_t cmp, uint64_t swap)
{
	atomic_op(ibqp, IBV_WR_ATOMIC_CMP_AND_SWP, rkey, addr, cmp, swap);
}

static void wr_atomic_fetch_add(struct ibv_qp_ex *ibqp, uint32_t rkey,
				uint64_t addr, uint64_t add)
{
	atomic_op(ibqp, IBV_WR_ATOMIC_FETCH_AND_ADD, rkey, addr, add, 0);
}

/* The 8 bytes to write travel inline (the API hands them by pointer). */
static void wr_atomic_write(struct ibv_qp_ex *ibqp, uint32_t rkey,
			    uint64_t addr, const void *data)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, IBV_WR_ATOMIC_WRITE);

	if (!w)
		return;
	w->rdma.rkey = rkey;
	w->rdma.remote_addr = addr;
	memcpy(w + 1, data, 8);
	w->flags |= SV_WQE_INLINE;
	w->num_sge = 8;
}

static void wr_local_inv(struct ibv_qp_ex *ibqp, uint32_t rkey)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, IBV_WR_LOCAL_INV);

	if (w)
		w->imm_data = rkey;
}

static void wr_bind_mw(struct ibv_qp_ex *ibqp, struct ibv_mw *mw,
		       uint32_t rkey, const struct ibv_mw_bind_info *info)
{
	struct sv_send_wqe *w = wqe_begin(ibqp, IBV_WR_BIND_MW);

	if (!w)
		return;
	if (!mw || !info) {
		qx(ibqp)->wr_err = EINVAL;
		return;
	}
	w->bind.mw_handle = mw->handle;
	w->bind.mr_lkey = info->mr ? info->mr->lkey : 0;
	w->bind.new_rkey = rkey;
	w->bind.addr = info->addr;
	w->bind.length = info->length;
	w->bind.access = info->mw_access_flags;
}

/* ---------------------------------------------------------------------- */
/* Setters: they complete the WQE begun last                               */
/* ---------------------------------------------------------------------- */

static struct sv_send_wqe *cur(struct ibv_qp_ex *ibqp)
{
	struct svl_qp *q = qx(ibqp);

	if (!q->wr_cur && !q->wr_err)
		q->wr_err = EINVAL; /* a setter without an opcode */
	return q->wr_cur;
}

static void wr_set_ud_addr(struct ibv_qp_ex *ibqp, struct ibv_ah *ah,
			   uint32_t qpn, uint32_t qkey)
{
	struct sv_send_wqe *w = cur(ibqp);

	if (!w)
		return;
	if (!ah) {
		qx(ibqp)->wr_err = EINVAL;
		return;
	}
	w->ud.ah_handle = ah->handle;
	w->ud.remote_qpn = qpn;
	w->ud.remote_qkey = qkey;
}

static void wr_set_xrc_srqn(struct ibv_qp_ex *ibqp, uint32_t srqn)
{
	struct sv_send_wqe *w = cur(ibqp);

	if (w)
		w->xrc_srqn = srqn;
}

static void wr_set_sge_list(struct ibv_qp_ex *ibqp, size_t n,
			    const struct ibv_sge *sg)
{
	struct sv_send_wqe *w = cur(ibqp);
	struct sv_sge *s;
	size_t i;

	if (!w)
		return;
	if (n > qx(ibqp)->max_send_sge) {
		qx(ibqp)->wr_err = EINVAL;
		return;
	}
	s = (struct sv_sge *)(w + 1);
	for (i = 0; i < n; i++) {
		s[i].addr = sg[i].addr;
		s[i].length = sg[i].length;
		s[i].lkey = sg[i].lkey;
	}
	w->num_sge = (uint32_t)n;
	w->flags &= ~(SV_WQE_INLINE | SV_WQE_CAPTURED);
	svl_wqe_capture(qx(ibqp), w, sg, (int)n); /* small payloads (post.c) */
}

static void wr_set_sge(struct ibv_qp_ex *ibqp, uint32_t lkey, uint64_t addr,
		       uint32_t length)
{
	struct ibv_sge sg = { .addr = addr, .length = length, .lkey = lkey };

	wr_set_sge_list(ibqp, 1, &sg);
}

static void wr_set_inline_data_list(struct ibv_qp_ex *ibqp, size_t n,
				    const struct ibv_data_buf *bufs)
{
	struct sv_send_wqe *w = cur(ibqp);
	size_t i, total = 0;
	uint8_t *dst;

	if (!w)
		return;
	for (i = 0; i < n; i++)
		total += bufs[i].length;
	if (total > qx(ibqp)->max_inline) {
		qx(ibqp)->wr_err = EINVAL;
		return;
	}
	dst = (uint8_t *)(w + 1);
	for (i = 0; i < n; i++) {
		memcpy(dst, bufs[i].addr, bufs[i].length);
		dst += bufs[i].length;
	}
	w->num_sge = (uint32_t)total;
	w->flags &= ~SV_WQE_CAPTURED;
	w->flags |= SV_WQE_INLINE;
}

static void wr_set_inline_data(struct ibv_qp_ex *ibqp, void *addr,
			       size_t length)
{
	struct ibv_data_buf b = { .addr = addr, .length = length };

	wr_set_inline_data_list(ibqp, 1, &b);
}

/* Operations each QP type can post (same rule as post.c). */
static uint64_t type_ops(enum ibv_qp_type t)
{
	uint64_t send = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_SEND_WITH_IMM;
	uint64_t uc = send | IBV_QP_EX_WITH_RDMA_WRITE |
		      IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM |
		      IBV_QP_EX_WITH_LOCAL_INV | IBV_QP_EX_WITH_BIND_MW |
		      IBV_QP_EX_WITH_SEND_WITH_INV;
	uint64_t rc = uc | IBV_QP_EX_WITH_RDMA_READ |
		      IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP |
		      IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD |
		      IBV_QP_EX_WITH_ATOMIC_WRITE;

	switch (t) {
	case IBV_QPT_UD:
		return send;
	case IBV_QPT_RAW_PACKET:
		return IBV_QP_EX_WITH_SEND;
	case IBV_QPT_UC:
		return uc;
	case IBV_QPT_RC:
	case IBV_QPT_XRC_SEND:
		return rc;
	default:
		return 0;
	}
}

int svl_qp_ex_init(struct svl_qp *q, uint64_t flags)
{
	struct ibv_qp_ex *x = &q->qp_ex;

	if (flags & ~type_ops(q->qp.qp_type))
		return EOPNOTSUPP;
	q->send_ops = flags;
	q->is_ex = true;
	x->wr_start = wr_start;
	x->wr_complete = wr_complete;
	x->wr_abort = wr_abort;
	x->wr_send = wr_send;
	x->wr_send_imm = wr_send_imm;
	x->wr_send_inv = wr_send_inv;
	x->wr_rdma_write = wr_rdma_write;
	x->wr_rdma_write_imm = wr_rdma_write_imm;
	x->wr_rdma_read = wr_rdma_read;
	x->wr_atomic_cmp_swp = wr_atomic_cmp_swp;
	x->wr_atomic_fetch_add = wr_atomic_fetch_add;
	x->wr_atomic_write = wr_atomic_write;
	x->wr_local_inv = wr_local_inv;
	x->wr_bind_mw = wr_bind_mw;
	x->wr_set_ud_addr = wr_set_ud_addr;
	x->wr_set_xrc_srqn = wr_set_xrc_srqn;
	x->wr_set_sge = wr_set_sge;
	x->wr_set_sge_list = wr_set_sge_list;
	x->wr_set_inline_data = wr_set_inline_data;
	x->wr_set_inline_data_list = wr_set_inline_data_list;
	return 0;
}
