// SPDX-License-Identifier: MIT
/*
 * Completer: judges the answer to the head SQ WQE (ACK, RNR NAK, NAK,
 * nothing), writes send completions, runs RNR/retry timers, and moves a
 * QP to ERROR (flushing every outstanding WQE with IBV_WC_WR_FLUSH_ERR).
 */
#include <string.h>

#include "engine.h"

void eng_cqe_push(struct svd_cq *cq, const struct sv_cqe *cqe, bool solicited)
{
	if (!cq)
		return;
	if (!svd_cq_push(cq, cqe))
		svd_cq_notify(cq, solicited);
}

static uint32_t wc_opcode(uint32_t wr_opcode)
{
	switch (wr_opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		return IBV_WC_RDMA_WRITE;
	case IBV_WR_RDMA_READ:
		return IBV_WC_RDMA_READ;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
		return IBV_WC_COMP_SWAP;
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		return IBV_WC_FETCH_ADD;
	case IBV_WR_ATOMIC_WRITE:
		return IBV_WC_ATOMIC_WRITE;
	case IBV_WR_LOCAL_INV:
		return IBV_WC_LOCAL_INV;
	case IBV_WR_BIND_MW:
		return IBV_WC_BIND_MW;
	default:
		return IBV_WC_SEND;
	}
}

/* Successful unsignaled WQEs complete silently; errors always report. */
void eng_send_cqe(struct eng_qp *eq, const struct sv_send_wqe *w,
		  uint32_t status, uint64_t byte_len)
{
	struct svd_qp *qp = eq->qp;
	struct sv_cqe cqe = {
		.wr_id = w->wr_id,
		.status = status,
		.opcode = wc_opcode(w->opcode),
		.byte_len = (uint32_t)byte_len,
		.qp_num = qp->qpn,
	};

	if (status == IBV_WC_SUCCESS && !qp->sq_sig_all &&
	    !(w->send_flags & IBV_SEND_SIGNALED))
		return;
	eng_cqe_push(qp->send_cq, &cqe, false);
}

void eng_qp_error(struct eng_qp *eq)
{
	struct svd_qp *qp = eq->qp;

	qp->state = SVD_QPS_ERR;
	qp->attr.qp_state = SVD_QPS_ERR;
	eq->req_state = ENG_REQ_ERROR;
	/* Its outstanding work is flushed by the scheduler. */
	eng_activate(eng_of(qp->uctx->dev), eq);
	if (eq->fatal_reported)
		return;
	eq->fatal_reported = true;
	qp->events_reported++;
	svd_uctx_async_event(qp->uctx, qp->user_handle, IBV_EVENT_QP_FATAL);
}

/* IBTA RNR timer encodings, in units of 10 us (0 is the longest). */
static const uint32_t rnr_10us[32] = {
	65536, 1,    2,	   3,	 4,    6,    8,	    12,	   16,	  24,	32,
	48,    64,   96,   128,	 192,  256,  384,   512,   768,	  1024, 1536,
	2048,  3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152,
};

static void deadline_ns(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000ULL);
	ts->tv_nsec = (long)(ns % 1000000000ULL);
}

void eng_rnr_deadline(struct timespec *ts, unsigned int timer)
{
	deadline_ns(ts, (uint64_t)rnr_10us[timer & 31] * 10000ULL);
}

/* Local ACK timeout: 4.096 us << timeout; 0 (infinite) retries at 10 ms. */
void eng_timeout_deadline(struct timespec *ts, unsigned int timeout)
{
	uint64_t ns = timeout ? 4096ULL << (timeout > 31 ? 31 : timeout) :
				10000000ULL;

	deadline_ns(ts, ns);
}

static int comp_error(struct eng_qp *eq, uint32_t status)
{
	eq->retrying = false;
	return (int)status;
}

static void comp_arm_retry(struct eng_qp *eq)
{
	if (eq->retrying)
		return;
	eq->retrying = true;
	eq->rnr_left = eq->qp->attr.rnr_retry & 7;
	eq->retry_left = eq->qp->attr.retry_cnt & 7;
}

static int comp_rnr(struct eng_qp *eq, uint8_t syndrome)
{
	comp_arm_retry(eq);
	if (eq->qp->attr.rnr_retry != 7) { /* 7 means retry forever */
		if (!eq->rnr_left)
			return comp_error(eq, IBV_WC_RNR_RETRY_EXC_ERR);
		eq->rnr_left--;
	}
	eng_rnr_deadline(&eq->wait_until, syndrome & 0x1f);
	eq->req_state = ENG_REQ_WAIT;
	return -1;
}

static int comp_retry(struct eng_qp *eq)
{
	comp_arm_retry(eq);
	if (!eq->retry_left)
		return comp_error(eq, IBV_WC_RETRY_EXC_ERR);
	eq->retry_left--;
	eng_timeout_deadline(&eq->wait_until, eq->qp->attr.timeout);
	eq->req_state = ENG_REQ_WAIT;
	return -1;
}

int eng_comp_handle(struct eng_qp *eq, const struct eng_ack *ack)
{
	uint32_t t = eq->qp->qp_type;
	uint8_t s = ack->syndrome;

	if (s == ENG_AETH_LOCAL)
		return comp_error(eq, IBV_WC_LOC_PROT_ERR);
	/* UC and UD are unacknowledged: done once sent. */
	if (t == SVD_QPT_UC || t == SVD_QPT_UD || s == ENG_AETH_ACK) {
		eq->retrying = false;
		eq->req_state = ENG_REQ_IDLE;
		return IBV_WC_SUCCESS;
	}
	if ((s & 0xe0) == ENG_AETH_RNR)
		return comp_rnr(eq, s);
	switch (s) {
	case ENG_AETH_NAK_SEQ:
	case ENG_AETH_DROPPED:
		return comp_retry(eq);
	case ENG_AETH_NAK_ACC:
		return comp_error(eq, IBV_WC_REM_ACCESS_ERR);
	case ENG_AETH_NAK_OP:
		return comp_error(eq, IBV_WC_REM_OP_ERR);
	case ENG_AETH_NAK_INV_RD:
		return comp_error(eq, IBV_WC_REM_INV_RD_REQ_ERR);
	default:
		return comp_error(eq, IBV_WC_REM_INV_REQ_ERR);
	}
}

/* ---------------------------------------------------------------------- */
/* Flush                                                                   */
/* ---------------------------------------------------------------------- */

#define FLUSH_BUDGET 64

static bool flush_sq(struct eng_qp *eq)
{
	static __thread uint8_t buf[ENG_WQE_MAX];
	const struct sv_send_wqe *w = (const void *)buf;
	uint32_t prod;
	int n = 0;

	while (n < FLUSH_BUDGET && !eng_sq_peek(eq, &prod)) {
		if (eng_sq_read(eq, eq->sq_cons, buf, sizeof(*w)))
			break;
		eng_sq_consume(eq);
		eng_send_cqe(eq, w, IBV_WC_WR_FLUSH_ERR, 0);
		n++;
	}
	return n > 0;
}

static bool flush_rq(struct eng_qp *eq)
{
	struct svd_qp *qp = eq->qp;
	uint64_t prod_off = sizeof(struct sv_dbrec) +
			    offsetof(struct sv_dbrec, prod);
	struct sv_recv_wqe w;
	uint32_t prod;
	int n = 0;

	if (!qp->rq || !qp->dbrec || !svd_is_pow2(qp->rq_entries) ||
	    qp->rq_wqe_size < sizeof(w) ||
	    (uint64_t)qp->rq_entries * qp->rq_wqe_size > qp->rq->length)
		return false;
	while (n < FLUSH_BUDGET) {
		struct sv_cqe cqe = { .status = IBV_WC_WR_FLUSH_ERR,
				      .opcode = IBV_WC_RECV,
				      .qp_num = qp->qpn };

		if (svd_mem_load32(qp->dbrec, prod_off, &prod) ||
		    prod == eq->rq_cons || prod - eq->rq_cons > qp->rq_entries)
			break;
		if (svd_mem_read(
			qp->rq,
			(uint64_t)(eq->rq_cons & (qp->rq_entries - 1)) *
			    qp->rq_wqe_size,
			&w, sizeof(w)))
			break;
		cqe.wr_id = w.wr_id;
		eq->rq_cons++;
		svd_mem_store32(qp->dbrec,
				prod_off - offsetof(struct sv_dbrec, prod) +
				    offsetof(struct sv_dbrec, cons),
				eq->rq_cons);
		eng_cqe_push(qp->recv_cq, &cqe, false);
		n++;
	}
	return n > 0;
}

/* An ERROR QP: complete everything posted with FLUSH_ERR. */
bool eng_flush(struct eng_qp *eq)
{
	struct svd_qp *qp = eq->qp;
	bool work = flush_sq(eq);

	eq->req_state = ENG_REQ_ERROR;
	if (qp->srq) {
		if (!eq->flushed_last_wqe) {
			eq->flushed_last_wqe = true;
			qp->events_reported++;
			svd_uctx_async_event(qp->uctx, qp->user_handle,
					     IBV_EVENT_QP_LAST_WQE_REACHED);
		}
	} else if (qp->qp_type != SVD_QPT_XRC_TGT &&
		   qp->qp_type != SVD_QPT_XRC_INI) {
		work |= flush_rq(eq);
	}
	return work;
}
