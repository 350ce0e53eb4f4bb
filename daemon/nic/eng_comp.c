// SPDX-License-Identifier: MIT
/*
 * Completer: takes the answers to a QP's requests (ACK, NAK, READ
 * response, atomic ACK) as a state machine (one function per state, as
 * rxe_comp.c): an ACK for PSN n completes every WQE up to n (coalesced
 * ACKs), a READ response is placed in the head WQE's landing zone (a READ
 * interrupted by loss resumes from the first missing PSN), a sequence NAK
 * or a missing response goes back N (eng_req_rewind), an RNR NAK waits
 * min_rnr_timer (rnr_retry, 7 = forever), silence past the local ACK
 * timeout retries (retry_cnt, then IBV_WC_RETRY_EXC_ERR), and a NAK ends
 * the WQE with its remote error class. WQEs complete in order, the QP goes
 * to ERROR on an error completion, and its outstanding WQEs are flushed
 * with IBV_WC_WR_FLUSH_ERR.
 */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "svd_direct.h"
#include "svd_qp_share.h"

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
	bool was_err = qp->state == SVD_QPS_ERR;

	qp->state = SVD_QPS_ERR;
	qp->attr.qp_state = SVD_QPS_ERR;
	eq->req_state = ENG_REQ_ERROR;
	eq->timer = ENG_T_NONE;
	/* Its outstanding work is flushed by the scheduler. */
	eng_activate(eng_of(qp->uctx->dev), eq);
	/* A direct-path peer must stop seeing it live (lock order: dev, dlock). */
	if (!was_err)
		svd_direct_qp_modified(qp);
	if (eq->fatal_reported)
		return;
	eq->fatal_reported = true;
	svd_qp_async_event(qp, IBV_EVENT_QP_FATAL);
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

/* ---------------------------------------------------------------------- */
/* Completing the window's head                                           */
/* ---------------------------------------------------------------------- */

static uint32_t slot_last(const struct eng_slot *sl)
{
	return eng_psn_add(sl->first_psn, sl->npsn - 1);
}

static struct eng_slot *head_slot(struct eng_qp *eq)
{
	return &eq->win[eq->sq_cons % ENG_WIN];
}

/* WQEs sent, fully or in part, and not completed. */
static bool outstanding(const struct eng_qp *eq)
{
	return eq->sq_cons != eq->sq_sent;
}

/* Complete the head WQE: CQE after the consumer index moves. */
static void comp_wqe(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_slot *sl = head_slot(eq);
	struct eng_scratch *s = &e->s_comp;
	uint32_t status = sl->status;

	memset(s->raw, 0, sizeof(struct sv_send_wqe));
	eng_sq_read(eq, eq->sq_cons, s->raw, sizeof(struct sv_send_wqe));
	/* Unsignaled or not: no direct work request may follow this one. */
	if (status != IBV_WC_SUCCESS)
		svd_direct_qp_failing(eq->qp);
	/*
	 * The consumer index moves before the CQE is visible: an application
	 * that polled the completion of its last WQE may post at once.
	 */
	eng_sq_consume(eq);
	/*
	 * Answered while going back N had not resent it all: the requester
	 * goes on after it, at the PSN that follows it.
	 */
	if (eq->sq_next - eq->sq_cons > eq->sq_sent - eq->sq_cons) {
		eq->sq_next = eq->sq_cons;
		eq->req_off = 0;
		if (sl->kind != ENG_K_LOCAL &&
		    eng_psn_cmp(eq->psn, slot_last(sl)) <= 0)
			eq->psn = eng_psn_add(slot_last(sl), 1);
	}
	eng_send_cqe(eq, &s->w, status, sl->len);
	if (status != IBV_WC_SUCCESS)
		eng_qp_error(eq);
}

bool eng_comp_done(struct eng_qp *eq)
{
	struct svd_engine *e = eng_of(eq->qp->uctx->dev);
	bool work = false;

	while (outstanding(eq) && head_slot(eq)->done &&
	       eq->qp->state != SVD_QPS_ERR) {
		comp_wqe(e, eq);
		work = true;
	}
	return work;
}

/* ---------------------------------------------------------------------- */
/* Timers                                                                  */
/* ---------------------------------------------------------------------- */

static bool conn_rc(const struct svd_qp *qp)
{
	return qp->qp_type == SVD_QPT_RC || qp->qp_type == SVD_QPT_XRC_INI;
}

/* PSNs sent and not acknowledged: answers are awaited. */
static bool unacked(const struct eng_qp *eq)
{
	return conn_rc(eq->qp) && outstanding(eq) &&
	       eng_psn_cmp(eq->psn, eq->una) > 0;
}

/* (Re)start the ACK timer while answers are awaited; stop it otherwise. */
static void comp_restart(struct eng_qp *eq)
{
	if (eq->timer == ENG_T_RNR)
		return;
	if (!unacked(eq)) {
		eq->timer = ENG_T_NONE;
		eq->req_state = ENG_REQ_IDLE;
		return;
	}
	eq->timer = ENG_T_ACK;
	eng_timeout_deadline(&eq->wait_until, eq->qp->attr.timeout);
}

void eng_comp_arm(struct eng_qp *eq)
{
	if (eq->timer == ENG_T_NONE || !unacked(eq))
		comp_restart(eq);
}

/* Progress: everything before psn is acknowledged. */
static void comp_progress(struct eng_qp *eq, uint32_t psn)
{
	if (eng_psn_cmp(psn, eq->una) <= 0)
		return;
	eng_cwnd_acked(eq, (uint32_t)eng_psn_cmp(psn, eq->una));
	eq->una = psn;
	eq->retry_started = false;
	eq->retry_left = eq->qp->attr.retry_cnt & 7;
	eq->rnr_left = eq->qp->attr.rnr_retry & 7;
	if (eq->timer == ENG_T_ACK)
		comp_restart(eq);
}

/* The head WQE ends with a status; the QP goes to ERROR if it failed. */
static void comp_fail_head(struct eng_qp *eq, uint32_t status)
{
	if (eq->sq_cons == eq->sq_next) { /* the head is being sent */
		eq->sq_next++;
		eq->req_off = 0;
	}
	if (eq->sq_sent == eq->sq_cons)
		eq->sq_sent++;
	head_slot(eq)->done = true;
	head_slot(eq)->status = status;
	eq->req_state = ENG_REQ_ERROR;
	eng_comp_done(eq);
}

/* Rare and fatal for the QP: the daemon's log says where both ends were. */
static void retry_exc_log(const struct eng_qp *eq)
{
	const struct svd_qp *qp = eq->qp;

	fprintf(stderr,
		"softverbsd: qp %#x: retry count exceeded: una %#x psn %#x "
		"wqe %u/%u/%u cwnd %u; as responder epsn %#x; timeout %u "
		"retry_cnt %u\n",
		qp->qpn, eq->una, eq->psn, eq->sq_cons, eq->sq_next,
		eq->sq_sent, eq->cwnd, eq->epsn, qp->attr.timeout,
		qp->attr.retry_cnt);
}

bool eng_comp_timer(struct eng_qp *eq)
{
	struct timespec now;

	if (eq->timer == ENG_T_NONE)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < eq->wait_until.tv_sec ||
	    (now.tv_sec == eq->wait_until.tv_sec &&
	     now.tv_nsec < eq->wait_until.tv_nsec))
		return false;
	if (eq->timer == ENG_T_RNR) {
		eq->timer = ENG_T_NONE;
		eq->req_state = ENG_REQ_IDLE;
		comp_restart(eq);
		return true;
	}
	if (!unacked(eq)) {
		comp_restart(eq);
		return false;
	}
	if (!eq->retry_left) {
		retry_exc_log(eq);
		comp_fail_head(eq, IBV_WC_RETRY_EXC_ERR);
		return true;
	}
	eq->retry_left--;
	eq->retry_started = false;
	eng_cwnd_timeout(eq);
	eng_req_rewind(eq, eq->una);
	comp_restart(eq);
	return true;
}

/* ---------------------------------------------------------------------- */
/* Answers: a state machine per packet                                     */
/* ---------------------------------------------------------------------- */

enum comp_state {
	COMP_GET_WQE,
	COMP_CHECK_PSN,
	COMP_CHECK_ACK,
	COMP_READ,
	COMP_ATOMIC,
	COMP_ACK,
	COMP_COMPLETE,
	COMP_RETRY,
	COMP_RNR,
	COMP_ERROR,
	COMP_DONE,
};

struct comp_ctx {
	struct svd_engine *e;
	struct eng_qp *eq;
	struct eng_packet *p;
	struct eng_slot *sl;
	uint32_t status; /* COMP_ERROR */
	bool consumed; /* the packet has been used up */
	int ret; /* -EFAULT: the packet's payload source failed */
};


static enum comp_state comp_get_wqe(struct comp_ctx *c)
{
	struct eng_qp *eq = c->eq;

	if (c->consumed)
		return COMP_DONE;
	if (!outstanding(eq))
		return COMP_DONE; /* nothing awaits an answer: stale */
	c->sl = head_slot(eq);
	if (c->sl->done)
		return COMP_COMPLETE;
	return COMP_CHECK_PSN;
}

static enum comp_state comp_check_psn(struct comp_ctx *c)
{
	struct eng_slot *sl = c->sl;
	uint32_t psn = c->p->f.psn;

	if (eng_psn_cmp(psn, sl->first_psn) < 0)
		return COMP_DONE; /* older than anything in flight */
	/*
	 * A PSN never sent: a ghost (a peer that expects other PSNs, a stale
	 * QP), dropped as IBTA says; taken for progress it completed WQEs
	 * that never arrived, or went back N without spending a retry.
	 */
	if (eng_psn_cmp(psn, c->eq->psn_end) >= 0)
		return COMP_DONE;
	if (eng_psn_cmp(psn, slot_last(sl)) <= 0)
		return COMP_CHECK_ACK;
	/* Beyond the head: it is implicitly acknowledged... */
	if (sl->kind == ENG_K_SEND) {
		sl->done = true;
		sl->status = IBV_WC_SUCCESS;
		comp_progress(c->eq, eng_psn_add(slot_last(sl), 1));
		return COMP_COMPLETE;
	}
	/* ...unless it needed a response that never came. */
	return COMP_RETRY;
}

static uint32_t nak_status(uint8_t syn)
{
	switch (syn) {
	case ENG_AETH_NAK_ACC:
		return IBV_WC_REM_ACCESS_ERR;
	case ENG_AETH_NAK_OP:
		return IBV_WC_REM_OP_ERR;
	case ENG_AETH_NAK_INV_RD:
		return IBV_WC_REM_INV_RD_REQ_ERR;
	default:
		return IBV_WC_REM_INV_REQ_ERR;
	}
}

/* An AETH that is not a plain ACK. */
static enum comp_state comp_nak(struct comp_ctx *c)
{
	uint8_t syn = c->p->f.syndrome;

	c->consumed = true;
	if ((syn & 0xe0) == ENG_AETH_RNR)
		return COMP_RNR;
	if (syn == ENG_AETH_NAK_SEQ) {
		/* Everything before the PSN it wants has arrived. */
		comp_progress(c->eq, c->p->f.psn);
		return COMP_RETRY;
	}
	c->status = nak_status(syn);
	return COMP_ERROR;
}

static enum comp_state comp_check_ack(struct comp_ctx *c)
{
	struct eng_packet *p = c->p;
	uint8_t base = p->f.opcode & 0x1f;

	if (p->mask & ENG_AETH && (p->f.syndrome & 0xe0) != 0)
		return comp_nak(c);
	if (p->mask & ENG_READ) {
		if (c->sl->kind != ENG_K_READ)
			return COMP_DONE;
		if (eng_psn_cmp(p->f.psn, c->eq->una) > 0)
			return COMP_RETRY; /* a response went missing */
		return p->f.psn == c->eq->una ? COMP_READ : COMP_DONE;
	}
	if (base == ENG_OP_ATOMIC_ACK)
		return c->sl->kind == ENG_K_ATOMIC ? COMP_ATOMIC : COMP_DONE;
	return c->sl->kind == ENG_K_SEND ? COMP_ACK : COMP_DONE;
}

/* Place a READ response in the WQE's landing zone (re-read, re-checked). */
static enum comp_state comp_read(struct comp_ctx *c)
{
	struct eng_qp *eq = c->eq;
	struct eng_packet *p = c->p;
	struct eng_scratch *s = &c->e->s_comp;
	uint64_t off = (uint64_t)eng_psn_cmp(p->f.psn, c->sl->first_psn) *
		       eng_mtu(eq->qp);
	int ret;

	c->consumed = true;
	if (eng_pkt_check_len(p, eng_mtu(eq->qp)) ||
	    eng_req_wqe(eq, eq->sq_cons, s) || eng_req_data(eq, s) ||
	    s->sgl.total != c->sl->len || off + p->len > s->sgl.total) {
		c->status = IBV_WC_LOC_QP_OP_ERR;
		return COMP_ERROR;
	}
	ret = eng_pkt_copy_out(p, &s->sgl, off);
	if (ret == ENG_COPY_ESRC) {
		c->ret = -EFAULT; /* the responder's memory: its error */
		return COMP_DONE;
	}
	if (ret) {
		c->status = IBV_WC_LOC_PROT_ERR;
		return COMP_ERROR;
	}
	comp_progress(eq, eng_psn_add(p->f.psn, p->npsn));
	if (!(p->mask & ENG_LAST))
		return COMP_DONE;
	c->sl->done = true;
	c->sl->status = IBV_WC_SUCCESS;
	return COMP_COMPLETE;
}

/* The original value of an atomic lands in the WQE's 8-byte buffer. */
static enum comp_state comp_atomic(struct comp_ctx *c)
{
	struct eng_scratch *s = &c->e->s_comp;
	uint8_t buf[8];
	struct eng_sgl src;

	c->consumed = true;
	memcpy(buf, &c->p->f.orig, 8);
	eng_sgl_one(&src, buf, 8);
	if (eng_req_wqe(c->eq, c->eq->sq_cons, s) || eng_req_data(c->eq, s)) {
		c->status = IBV_WC_LOC_QP_OP_ERR;
		return COMP_ERROR;
	}
	if (eng_sgl_copy(&s->sgl, 0, &src, 8)) {
		c->status = IBV_WC_LOC_PROT_ERR;
		return COMP_ERROR;
	}
	comp_progress(c->eq, eng_psn_add(c->p->f.psn, 1));
	c->sl->done = true;
	c->sl->status = IBV_WC_SUCCESS;
	return COMP_COMPLETE;
}

/* A plain ACK within the head SEND/WRITE: up to its PSN is done. */
static enum comp_state comp_ack(struct comp_ctx *c)
{
	c->consumed = true;
	comp_progress(c->eq, eng_psn_add(c->p->f.psn, 1));
	if (c->p->f.psn != slot_last(c->sl))
		return COMP_DONE;
	c->sl->done = true;
	c->sl->status = IBV_WC_SUCCESS;
	return COMP_COMPLETE;
}

static enum comp_state comp_complete(struct comp_ctx *c)
{
	eng_comp_done(c->eq);
	if (c->eq->qp->state == SVD_QPS_ERR)
		return COMP_DONE;
	return COMP_GET_WQE;
}

/* Go back N: resend from the oldest unacknowledged PSN, once per loss. */
static enum comp_state comp_retry(struct comp_ctx *c)
{
	struct eng_qp *eq = c->eq;

	c->consumed = true;
	if (eq->retry_started || eq->timer == ENG_T_RNR)
		return COMP_DONE;
	eq->retry_started = true;
	eng_cwnd_loss(eq);
	eng_req_rewind(eq, eq->una);
	return COMP_DONE;
}

static enum comp_state comp_rnr(struct comp_ctx *c)
{
	struct eng_qp *eq = c->eq;

	if (eq->qp->attr.rnr_retry != 7) { /* 7 means retry forever */
		if (!eq->rnr_left) {
			c->status = IBV_WC_RNR_RETRY_EXC_ERR;
			return COMP_ERROR;
		}
		eq->rnr_left--;
	}
	eng_req_rewind(eq, c->p->f.psn);
	eq->timer = ENG_T_RNR;
	eq->req_state = ENG_REQ_WAIT;
	eng_rnr_deadline(&eq->wait_until, c->p->f.syndrome & 0x1f);
	return COMP_DONE;
}

static enum comp_state comp_error(struct comp_ctx *c)
{
	comp_fail_head(c->eq, c->status);
	return COMP_DONE;
}

static enum comp_state comp_step(struct comp_ctx *c, enum comp_state st)
{
	switch (st) {
	case COMP_GET_WQE:
		return comp_get_wqe(c);
	case COMP_CHECK_PSN:
		return comp_check_psn(c);
	case COMP_CHECK_ACK:
		return comp_check_ack(c);
	case COMP_READ:
		return comp_read(c);
	case COMP_ATOMIC:
		return comp_atomic(c);
	case COMP_ACK:
		return comp_ack(c);
	case COMP_COMPLETE:
		return comp_complete(c);
	case COMP_RETRY:
		return comp_retry(c);
	case COMP_RNR:
		return comp_rnr(c);
	case COMP_ERROR:
	default:
		return comp_error(c);
	}
}

/* An answer (ACK, NAK, READ response, atomic ACK) for eq's requests. */
int eng_comp_recv(struct svd_engine *e, struct eng_qp *eq,
		  struct eng_packet *p)
{
	struct comp_ctx c = { .e = e, .eq = eq, .p = p };
	enum comp_state st = COMP_GET_WQE;
	uint32_t state = eq->qp->state;

	if (!conn_rc(eq->qp) || (state != SVD_QPS_RTS && state != SVD_QPS_SQD))
		return 0;
	if ((p->f.opcode & 0xe0) != eng_transport_bits(eq->qp->qp_type) ||
	    p->route.src_qpn != (eq->qp->attr.dest_qp_num & 0xffffff)) {
		eq->foreign_drops++;
		return 0;
	}
	while (st != COMP_DONE)
		st = comp_step(&c, st);
	eng_comp_arm(eq);
	/* The window may have room, or a go-back-N to send. */
	eng_activate(e, eq);
	return c.ret;
}

/* ---------------------------------------------------------------------- */
/* Flush                                                                   */
/* ---------------------------------------------------------------------- */

#define FLUSH_BUDGET 64

static bool flush_sq(struct eng_qp *eq)
{
	struct eng_scratch *s = &eng_of(eq->qp->uctx->dev)->s_comp;
	const struct sv_send_wqe *w = &s->w;
	uint32_t prod;
	int n = 0;

	while (n < FLUSH_BUDGET && !eng_sq_peek(eq, &prod)) {
		if (eng_sq_read(eq, eq->sq_cons, s->raw, sizeof(*w)))
			break;
		eng_sq_consume(eq);
		eq->sq_next = eq->sq_sent = eq->sq_cons;
		eq->req_off = 0;
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
	svd_direct_rq_sync(qp, &eq->rq_cons); /* receives drained directly */
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
		if (w.reserved & SV_RWQE_F_INDEX) { /* its library's record */
			cqe.reserved = SV_CQE_F_RIDX;
			cqe.tm_tag = eq->rq_cons;
		}
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

	work |= eng_resp_flush(eq);
	eq->req_state = ENG_REQ_ERROR;
	if (qp->srq) {
		if (!eq->flushed_last_wqe) {
			eq->flushed_last_wqe = true;
			svd_qp_async_event(qp, IBV_EVENT_QP_LAST_WQE_REACHED);
		}
	} else if (qp->qp_type != SVD_QPT_XRC_TGT &&
		   qp->qp_type != SVD_QPT_XRC_INI) {
		work |= flush_rq(eq);
	}
	return work;
}
