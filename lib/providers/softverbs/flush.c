// SPDX-License-Identifier: MIT
/*
 * Flush a QP whose daemon is gone (fate.c): every WQE the library posted
 * and the engine never consumed completes with IBV_WC_WR_FLUSH_ERR, as the
 * kernel flushes a QP that enters the error state. Nobody else produces
 * into the CQ rings any more, so the library becomes their producer.
 */
#include <string.h>

#include "ring.h"
#include "svl_cq.h"
#include "svl_qp.h"

/* Append one flush CQE; a full CQ drops it (the kernel would overflow). */
static void cq_push_flush(struct ibv_cq *ibcq, uint64_t wr_id,
			  enum ibv_wc_opcode op, uint32_t qp_num)
{
	struct svl_cq *cq = to_svl_cq(ibcq);
	uint32_t prod = svl_load_relaxed(&cq->db->prod);
	struct sv_cqe *e;

	if (prod - svl_load_acquire(&cq->db->cons) >= cq->entries)
		return;
	e = &cq->ring[prod & (cq->entries - 1)];
	memset(e, 0, sizeof(*e));
	e->wr_id = wr_id;
	e->status = IBV_WC_WR_FLUSH_ERR;
	e->opcode = op;
	e->qp_num = qp_num;
	svl_store_release(&cq->db->prod, prod + 1);
}

static const void *ring_entry(const struct svl_ring *r, uint32_t i)
{
	return r->buf + (size_t)(i & (r->entries - 1)) * r->stride;
}

/* Flush [cons, prod) of one ring into cq; the ring is then empty. */
static void ring_flush(struct svl_ring *r, struct ibv_cq *cq, bool send,
		       uint32_t qp_num)
{
	uint32_t i;

	if (!r->entries || !cq)
		return;
	svl_ring_lock(r);
	for (i = svl_load_acquire(&r->db->cons); i != r->prod; i++) {
		const uint64_t *wr_id = ring_entry(r, i); /* first field */

		cq_push_flush(cq, *wr_id, send ? IBV_WC_SEND : IBV_WC_RECV,
			      qp_num);
	}
	svl_store_release(&r->db->cons, r->prod);
	svl_ring_unlock(r);
}

void svl_qp_flush(struct ibv_qp *qp)
{
	struct svl_qp *q = to_svl_qp(qp);

	qp->state = IBV_QPS_ERR;
	ring_flush(&q->sq, qp->send_cq, true, qp->qp_num);
	if (!qp->srq)
		ring_flush(&q->rq, qp->recv_cq, false, qp->qp_num);
}
