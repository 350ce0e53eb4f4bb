// SPDX-License-Identifier: MIT
/*
 * Responder: executes request packets on the destination QP, as a state
 * machine per packet (one function per state, as rxe_resp.c):
 *
 *   CHECK     QP state, transport, peer (connection) or Q_Key (UD), length
 *   PSN       RC: the expected PSN executes; a duplicate (behind epsn) is
 *             answered again; one ahead gets one NAK-seq, then silence
 *             until epsn arrives. UC: a gap drops to the next FIRST.
 *   DUP       SEND/WRITE re-ACKed, READ re-executed from its PSN, atomic
 *             replayed from the saved results
 *   HOLD      a READ response is being generated: later requests wait in
 *             a queue (owned copies) and run after it, in order
 *   OPCODE    FIRST/MIDDLE/LAST sequence against the open message
 *   RWQE      the receive WQE a SEND / WRITE_WITH_IMM consumes (RNR NAK
 *             if none on RC)
 *   SEND, WRITE, READ, ATOMIC, FLUSH   execution
 *   ACK, NAK, FAIL                     the answer
 *
 * A multi-packet SEND keeps its receive WQE (a copy) and offset in the QP
 * across packets; a WRITE keeps va/rkey/bytes left. A READ response is
 * generated one chunk per engine step (eng_resp_run), so a 1 GiB READ
 * never holds the engine or dev->lock for more than one chunk. Runs with
 * dev->lock held (see engine.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "svd_direct.h"

/* Where a QP takes receive WQEs from: its RQ or an SRQ. */
struct rq_ref {
	const struct svd_umem *ring, *dbrec;
	uint64_t dboff; /* offset of the sv_dbrec */
	uint32_t entries, stride, max_sge;
	uint32_t *cons; /* RQ: engine copy; SRQ: NULL (dbrec cons) */
	struct svd_srq *srq;
};

struct resp_ctx {
	struct svd_engine *e;
	struct svd_qp *qp;
	struct eng_qp *eq;
	struct eng_packet *p;
	struct rq_ref rq;
	struct eng_seg rseg; /* the rkey'd region */
	bool rc; /* acknowledged (RC, XRC) */
	bool queued; /* taken from the held queue: its PSN was accepted */
	bool claimed; /* this packet took the receive WQE */
	uint8_t syn; /* NAK to send (COMP: RESP_NAK) */
	uint32_t status; /* the receive completion's error (RESP_FAIL) */
	int ret;
};

static bool rq_ref_init(struct resp_ctx *c)
{
	struct svd_qp *qp = c->qp;
	struct rq_ref *r = &c->rq;
	struct svd_srq *srq = qp->srq;

	memset(r, 0, sizeof(*r));
	if (qp->qp_type == SVD_QPT_XRC_TGT) {
		srq = svd_dev_srq_find(qp->uctx->dev, c->p->f.xrc_srqn);
		/* Only an SRQ of the target's own XRC domain (IBTA: else
		 * the request is invalid). */
		if (!srq || srq->srq_type != IB_UVERBS_SRQT_XRC ||
		    svd_srq_xrcdn(srq) != svd_qp_xrcdn(qp))
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
		/* Direct SENDs drained by the owner took some receives. */
		svd_direct_rq_sync(qp, r->cons);
	}
	return r->ring && r->dbrec && svd_is_pow2(r->entries) &&
	       r->stride >= sizeof(struct sv_recv_wqe) &&
	       (uint64_t)r->entries * r->stride <= r->ring->length;
}

static uint64_t rq_cons_off(const struct rq_ref *r)
{
	return r->dboff + offsetof(struct sv_dbrec, cons);
}

/*
 * Claim the next receive WQE: 0, -EAGAIN if the queue is empty, or an
 * IBV_WC_* status. Memory of the ring that cannot be read (its owner
 * truncated it) breaks the receive queue: an error, not an empty queue,
 * so the QP fails instead of sending RNR NAKs for ever.
 */
static int rq_prod(const struct rq_ref *r, uint32_t *prod)
{
	return svd_mem_load32(r->dbrec,
			      r->dboff + offsetof(struct sv_dbrec, prod), prod);
}

/*
 * A QP's receive queue is empty: ask its library for a doorbell at the
 * next post ('want'), then look again, so a receive posted meanwhile is
 * either seen here or rings (the library publishes prod, fences, then
 * takes 'want'). Otherwise ibv_post_recv does not wake the engine: that
 * wake-up preempted a busy-polling process between its receive and its
 * SEND on every hop of a ping-pong. SRQs always ring.
 */
static bool rq_want(const struct rq_ref *r, const struct eng_qp *eq,
		    uint32_t cons, uint32_t *prod)
{
	if (!r->cons || eq->rq_always ||
	    svd_mem_store32(r->dbrec, r->dboff +
			    offsetof(struct sv_dbrec, want), 1))
		return false;
	atomic_thread_fence(memory_order_seq_cst);
	return !rq_prod(r, prod) && *prod != cons;
}

/*
 * Receive posts ring only when asked (rq_want), except on UD QPs and on
 * QPs whose peer is not behind the plain same-host transport (the wire,
 * the lossy test transport), which keep a doorbell at every post. The
 * wire_cm failure that first required it was a requester sending before
 * the engine had set its PSNs (eq->rts_seen, docs/datapath.md); without
 * the ring, 24 of 24 wire_cm runs passed, but the guest's wire_netem
 * failed once in 4 CI runs (8 of 8 with it): kept until that is
 * understood.
 */
void eng_resp_rtr(struct svd_engine *e, struct eng_qp *eq)
{
	const struct svd_qp *qp = eq->qp;
	struct eng_packet p;

	if (qp->srq || !qp->rq || !qp->dbrec || !qp->rq_entries)
		return;
	memset(&p.route, 0, sizeof(p.route));
	if (qp->qp_type == SVD_QPT_UD) {
		eq->rq_always = true;
	} else {
		eng_req_route(qp, &p);
		eq->rq_always = !eng_xport_is_sync(e, &p.route);
	}
	svd_mem_store32(qp->dbrec, sizeof(struct sv_dbrec) +
					   offsetof(struct sv_dbrec, want),
			eq->rq_always ? SV_RQ_WANT_ALWAYS : 0);
}

static int rq_get(struct rq_ref *r, struct eng_qp *eq)
{
	uint32_t prod, cons = r->cons ? *r->cons : eq->rcv_cons;
	size_t len = r->stride < ENG_RWQE_MAX ? r->stride : ENG_RWQE_MAX;

	/*
	 * Only called with no message open: eq->rcv is free. Clear the header
	 * only (a stride shorter than it reads as zeros): the SGEs read are
	 * bounded by len below, and clearing all of raw cost a tenth of a
	 * small SEND's responder.
	 */
	memset(&eq->rcv.w, 0, sizeof(eq->rcv.w));
	eq->rcv_cons = cons;
	if (rq_prod(r, &prod))
		return IBV_WC_LOC_QP_OP_ERR;
	if (!r->cons && svd_mem_load32(r->dbrec, rq_cons_off(r), &cons))
		return IBV_WC_LOC_QP_OP_ERR;
	if (prod == cons && !rq_want(r, eq, cons, &prod))
		return -EAGAIN;
	if (prod - cons > r->entries)
		return -EAGAIN;
	eq->rcv_cons = cons;
	if (svd_mem_read(r->ring,
			 (uint64_t)(cons & (r->entries - 1)) * r->stride,
			 eq->rcv.raw, len))
		return IBV_WC_LOC_QP_OP_ERR;
	if (eq->rcv.w.num_sge > r->max_sge || eq->rcv.w.num_sge > ENG_MAX_SGE ||
	    sizeof(eq->rcv.w) + eq->rcv.w.num_sge * sizeof(struct sv_sge) > len)
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

/* Consume the claimed receive WQE in the ring (once). */
static void rq_publish(struct resp_ctx *c)
{
	struct eng_qp *eq = c->eq;
	struct rq_ref *r = &c->rq;
	uint32_t prod = 0, next = eq->rcv_cons + 1;

	if (eq->rcv_published)
		return;
	eq->rcv_published = true;
	if (r->cons)
		*r->cons = next;
	svd_mem_store32(r->dbrec, rq_cons_off(r), next);
	if (r->cons)
		svd_direct_rq_consumed(c->qp, next);
	if (r->srq &&
	    !svd_mem_load32(r->dbrec, offsetof(struct sv_dbrec, prod), &prod))
		srq_limit_check(r->srq, prod, next);
}

static struct svd_cq *resp_cq(struct resp_ctx *c)
{
	/* XRC and TM SRQs complete to their own CQ. */
	if (c->rq.srq && c->rq.srq->cq)
		return c->rq.srq->cq;
	return c->qp->recv_cq;
}

/*
 * A receive WQE the library keeps a record of (SV_RWQE_F_INDEX): its
 * completions say which ring index they consume, so the library can tell
 * which record a scattered payload belongs to and reuse the others. Not
 * for tag matching, whose completions use tm_tag.
 */
static void rcqe_index(const struct eng_qp *eq, const struct svd_srq *srq,
		       struct sv_cqe *cqe)
{
	if (!(eq->rcv.w.reserved & SV_RWQE_F_INDEX) || (srq && srq->tm) ||
	    eq->qp->qp_type == SVD_QPT_XRC_TGT)
		return;
	cqe->reserved |= SV_CQE_F_RIDX;
	cqe->tm_tag = eq->rcv_cons;
}

static void rcqe_push(struct svd_cq *cq, const struct sv_cqe *cqe,
		      const void *data, bool solicited)
{
	if (cq && !svd_cq_push_data(cq, cqe, data))
		svd_cq_notify(cq, solicited);
}

/*
 * Complete the receive WQE (any status) and consume it; data: the
 * payload of a scattered receive (resp_scatter), or NULL.
 */
static void resp_rcqe_data(struct resp_ctx *c, uint32_t status,
			   uint32_t opcode, uint64_t byte_len, const void *data)
{
	const struct eng_packet *p = c->p;
	struct sv_cqe cqe = {
		.wr_id = c->eq->rcv.w.wr_id,
		.status = status,
		.opcode = opcode,
		.byte_len = (uint32_t)byte_len,
		.qp_num = c->qp->qpn,
		.src_qp = p->route.src_qpn,
		.slid = p->route.slid,
		.sl = p->route.sl,
	};

	if (p->mask & ENG_IMMDT) {
		cqe.imm_data = p->f.imm;
		cqe.wc_flags |= IBV_WC_WITH_IMM;
	}
	if (p->mask & ENG_IETH) {
		cqe.imm_data = p->f.imm;
		cqe.wc_flags |= IBV_WC_WITH_INV;
	}
	if (p->route.has_grh)
		cqe.wc_flags |= IBV_WC_GRH;
	rcqe_index(c->eq, c->rq.srq, &cqe);
	if (data)
		cqe.reserved |= SV_CQE_F_SCATTER;
	eng_tm_cqe(c->eq, c->rq.srq, &cqe);
	rq_publish(c);
	c->eq->rcv_open = false;
	rcqe_push(resp_cq(c), &cqe, data, p->f.se);
}

static void resp_rcqe(struct resp_ctx *c, uint32_t status, uint32_t opcode,
		      uint64_t byte_len)
{
	resp_rcqe_data(c, status, opcode, byte_len, NULL);
}

/* ---- answers ---- */

/* An ACK-type packet (ACK, NAK, ATOMIC_ACK) from this QP to its peer. */
static void resp_answer(struct resp_ctx *c, uint8_t base, uint8_t syn,
			uint32_t psn, uint64_t orig)
{
	struct eng_packet a = { .npsn = 1 };
	struct eng_fields f = {
		.opcode = (uint8_t)(eng_transport_bits(c->qp->qp_type) | base),
		.dqpn = c->qp->attr.dest_qp_num & 0xffffff,
		.psn = psn,
		.syndrome = syn,
		.msn = c->eq->msn,
		.orig = orig,
	};

	eng_req_route(c->qp, &a);
	if (!eng_pkt_build(&a, &f))
		eng_xport_send(c->e, &a);
}

static void resp_ack(struct resp_ctx *c, uint32_t psn)
{
	resp_answer(c, ENG_OP_ACK, ENG_AETH_ACK, psn, 0);
}

/* A responder-side error: receive CQE if a WQE is held, QP to ERROR, NAK. */
static void resp_fail(struct resp_ctx *c, uint32_t status, uint8_t nak)
{
	if ((c->eq->rcv_open || c->claimed) && (c->claimed || rq_ref_init(c)))
		resp_rcqe(c, status, IBV_WC_RECV, 0);
	if (c->rc)
		resp_answer(c, ENG_OP_ACK, nak, c->p->f.psn, 0);
	if (c->qp->qp_type != SVD_QPT_UD)
		eng_qp_error(c->eq);
}

/* ---- checks ---- */

static bool transport_ok(const struct svd_qp *qp, uint8_t opcode)
{
	uint8_t tr = opcode & 0xe0;

	if (qp->qp_type == SVD_QPT_XRC_TGT)
		return tr == ENG_TR_XRC;
	return tr == eng_transport_bits(qp->qp_type) && tr != ENG_TR_XRC;
}

/* Not for this QP: dropped and counted; the QP's state is untouched. */
static bool resp_foreign(struct resp_ctx *c)
{
	c->eq->foreign_drops++;
	return false;
}

static bool resp_check(struct resp_ctx *c)
{
	const struct eng_packet *p = c->p;
	struct svd_qp *qp = c->qp;

	if (qp->state != SVD_QPS_RTR && qp->state != SVD_QPS_RTS &&
	    qp->state != SVD_QPS_SQD)
		return false;
	if (!c->eq->rtr_seen) /* epsn not set yet: as if still in INIT */
		return false;
	if (!transport_ok(qp, p->f.opcode))
		return false;
	if (qp->qp_type == SVD_QPT_UD)
		return p->f.qkey == qp->attr.qkey || resp_foreign(c);
	/* A connection takes packets only from the QP it is connected to. */
	if (p->route.src_qpn != (qp->attr.dest_qp_num & 0xffffff))
		return resp_foreign(c);
	return !eng_pkt_check_len(p, eng_mtu(qp));
}

static uint32_t access_needed(uint32_t mask)
{
	if (mask & ENG_READ)
		return IBV_ACCESS_REMOTE_READ;
	if (mask & ENG_ATOMIC)
		return IBV_ACCESS_REMOTE_ATOMIC;
	if (mask & ENG_FLUSH)
		return 0; /* a valid key over the range */
	return IBV_ACCESS_REMOTE_WRITE;
}

/* rkey + bounds + QP access flags for RDMA and atomics. */
static int resp_rkey(struct resp_ctx *c, uint32_t rkey, uint64_t va,
		     uint64_t len, uint32_t mask)
{
	uint32_t need = access_needed(mask);
	const struct svd_umem *umem;
	uint64_t off;

	if (need && !(c->qp->attr.qp_access_flags & need))
		return -EACCES;
	if (!len)
		return 0; /* zero-length RDMA names no memory */
	if (svd_mem_resolve(c->qp->uctx->dev, c->qp->pd, rkey, true, va, len,
			    need, &umem, &off))
		return -EACCES;
	c->rseg = (struct eng_seg){ .umem = umem, .off = off,
				    .len = (uint32_t)len };
	return 0;
}

static struct eng_sgl *one_seg(struct eng_sgl *l, const struct eng_seg *s)
{
	l->n = s->len ? 1 : 0;
	l->seg[0] = *s;
	l->total = s->len;
	return l;
}

/* PSNs a request uses: a READ one per response packet. */
static uint32_t req_span(const struct svd_qp *qp, const struct eng_packet *p)
{
	if (p->mask & ENG_READ)
		return eng_npsn(qp, p->f.dma_len);
	return p->npsn;
}

enum resp_state {
	RESP_CHECK,
	RESP_PSN,
	RESP_DUP,
	RESP_HOLD,
	RESP_OPCODE,
	RESP_RWQE,
	RESP_EXEC,
	RESP_ACCEPT,
	RESP_ACK,
	RESP_RNR,
	RESP_NAK,
	RESP_FAIL,
	RESP_DONE,
};

static enum resp_state resp_psn_uc(struct resp_ctx *c)
{
	struct eng_qp *eq = c->eq;
	const struct eng_packet *p = c->p;

	if (p->f.psn != eq->epsn) {
		if (!(p->mask & ENG_FIRST)) {
			eq->uc_drop = true;
			return RESP_DONE;
		}
		/* A new message after a gap: the broken one is dropped. */
		eq->epsn = p->f.psn;
		eq->rcv_off = 0;
		eq->wr_open = false;
		eq->uc_drop = false;
		if (eq->rcv_open && !eq->rcv_published)
			eq->rcv_open = false;
	}
	if (eq->uc_drop && !(p->mask & ENG_FIRST))
		return RESP_DONE;
	eq->uc_drop = false;
	return RESP_OPCODE;
}

static enum resp_state resp_psn(struct resp_ctx *c)
{
	struct eng_qp *eq = c->eq;
	int32_t d = eng_psn_cmp(c->p->f.psn, eq->epsn);

	if (c->qp->qp_type == SVD_QPT_UD)
		return RESP_OPCODE;
	if (!c->rc)
		return resp_psn_uc(c);
	if (d < 0) {
		eq->rc_dup_psns += c->p->npsn;
		return RESP_DUP;
	}
	if (d > 0) {
		/* Ahead: one NAK-seq, then silence until epsn arrives. */
		if (!eq->nak_sent)
			resp_answer(c, ENG_OP_ACK, ENG_AETH_NAK_SEQ, eq->epsn, 0);
		eq->nak_sent = true;
		return RESP_DONE;
	}
	eq->nak_sent = false;
	if (eq->rd.active || eq->npend)
		return RESP_HOLD;
	return RESP_OPCODE;
}

/* Behind a READ response: an owned copy waits its turn. */
static enum resp_state resp_hold(struct resp_ctx *c)
{
	struct eng_qp *eq = c->eq;
	struct eng_packet *h;

	if (eq->npend >= ENG_PEND_MAX)
		return RESP_DONE; /* the requester will send it again */
	h = eng_pkt_clone(c->p);
	if (!h) {
		c->ret = c->p->sgl ? -EFAULT : 0;
		return RESP_DONE;
	}
	h->route.held = true;
	h->route.src = NULL;
	if (eq->pend_tail)
		eq->pend_tail->next = h;
	else
		eq->pend = h;
	eq->pend_tail = h;
	eq->npend++;
	eq->epsn = eng_psn_add(eq->epsn, req_span(c->qp, c->p));
	return RESP_DONE;
}

/* Does the opcode fit the open message (FIRST/MIDDLE/LAST order)? */
static enum resp_state resp_opcode(struct resp_ctx *c)
{
	uint32_t m = c->p->mask;
	bool open = (m & ENG_WRITE) ? c->eq->wr_open :
		    (m & ENG_SEND)  ? c->eq->rcv_open :
				      false;
	/* While a message is open only its MIDDLE/LAST packets may come. */
	bool other = (c->eq->wr_open && !(m & ENG_WRITE)) ||
		     (c->eq->rcv_open && (!(m & ENG_SEND) || (m & ENG_WRITE)));

	if (other || ((m & ENG_FIRST) ? open : !open)) {
		c->syn = ENG_AETH_NAK_INV;
		c->status = IBV_WC_REM_INV_REQ_ERR;
		return c->rc ? RESP_FAIL : RESP_DONE;
	}
	if ((m & ENG_SEND) && !c->eq->rcv_open &&
	    ((m & ENG_FIRST) || !(m & ENG_WRITE) || (m & ENG_LAST)))
		return RESP_RWQE;
	return RESP_EXEC;
}

/* A TM-SRQ's tagged buffer took the SEND: no SRQ ring slot is consumed. */
static enum resp_state resp_tagged(struct resp_ctx *c, int how)
{
	if (how == ENG_TM_DONE)
		return RESP_ACK;
	if (how == ENG_TM_BUSY)
		return RESP_RNR;
	c->claimed = true;
	c->eq->rcv_published = true;
	c->eq->rcv_off = 0;
	return RESP_EXEC;
}

static enum resp_state resp_rwqe(struct resp_ctx *c)
{
	int ret;

	if (!rq_ref_init(c)) {
		c->syn = ENG_AETH_NAK_INV;
		c->status = IBV_WC_REM_INV_REQ_ERR;
		return c->rc ? RESP_NAK : RESP_DONE;
	}
	ret = eng_tm_rwqe(c->e, c->eq, c->rq.srq, c->p);
	if (ret != ENG_TM_SRQ)
		return resp_tagged(c, ret);
	ret = rq_get(&c->rq, c->eq);
	if (ret == -EAGAIN)
		return c->rc ? RESP_RNR : RESP_DONE;
	c->claimed = true;
	c->eq->rcv_published = false;
	c->eq->rcv_off = 0;
	c->eq->rcv_srqn = c->p->f.xrc_srqn;
	if (ret) {
		c->status = (uint32_t)ret;
		c->syn = ENG_AETH_NAK_OP;
		return RESP_FAIL;
	}
	return RESP_EXEC;
}

/* The request executed: the next PSN is expected, a message counted. */
static void resp_accept(struct resp_ctx *c)
{
	if (!c->queued)
		c->eq->epsn = eng_psn_add(c->eq->epsn, req_span(c->qp, c->p));
	if (c->p->mask & ENG_LAST)
		c->eq->msn = (c->eq->msn + 1) & 0xffffff;
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

/* A failed copy of our own memory (receive buffer, rkey region). */
static enum resp_state resp_own_fault(struct resp_ctx *c, int ret,
				      uint32_t status, uint8_t nak)
{
	if (ret == ENG_COPY_ESRC) {
		c->ret = -EFAULT; /* the sender's memory: its error */
		return RESP_DONE;
	}
	c->status = status;
	c->syn = nak;
	return RESP_FAIL;
}

/*
 * Scatter-to-CQE: a one-packet SEND of at most SV_CQ_SCAT_MAX bytes into
 * private memory of the process whose library asked for a payload area
 * on the receive CQ goes into that area beside its CQE, and the library's
 * poll_cq copies it into the receive buffer (from its own record of the
 * WQE). The system call that would reach that memory (about 1.7 µs, a
 * third of a hop) is not made. The receive SGEs were resolved as always,
 * so a bad one failed as before. Memory the daemon maps (memfd) is
 * written at once: that costs no system call.
 */
static bool scatter_ok(struct resp_ctx *c, const struct eng_sgl *dst)
{
	const struct eng_packet *p = c->p;
	struct svd_cq *cq = resp_cq(c);
	bool va = false;
	unsigned int i;
	pid_t pid;

	if (!(c->eq->rcv.w.reserved & SV_RWQE_F_INDEX) || c->eq->rcv_off ||
	    !(p->mask & ENG_LAST) || !p->len || p->len > SV_CQ_SCAT_MAX ||
	    p->route.has_grh || (c->rq.srq && c->rq.srq->tm) || !cq ||
	    (c->qp->qp_type != SVD_QPT_RC && c->qp->qp_type != SVD_QPT_UC))
		return false;
	pid = svd_cq_scatter_pid(cq);
	for (i = 0; i < dst->n; i++) {
		const struct svd_umem *u = dst->seg[i].umem;

		if (!u || u->kind != SVD_UMEM_VA)
			continue;
		if (!pid || u->pid != pid)
			return false;
		va = true;
	}
	return va;
}

static enum resp_state resp_scatter(struct resp_ctx *c)
{
	struct eng_packet *p = c->p;
	uint8_t data[SV_CQ_SCAT_MAX];
	struct eng_sgl loc;
	int ret;

	eng_sgl_one(&loc, data, p->len);
	ret = eng_pkt_copy_out(p, &loc, 0);
	if (ret)
		return resp_own_fault(c, ret, IBV_WC_LOC_PROT_ERR,
				      ENG_AETH_NAK_OP);
	if ((p->mask & ENG_IETH) && resp_invalidate(c, p->f.imm))
		return resp_own_fault(c, 0, IBV_WC_LOC_QP_OP_ERR,
				      ENG_AETH_NAK_INV);
	c->eq->rcv_off = p->len;
	resp_rcqe_data(c, IBV_WC_SUCCESS, IBV_WC_RECV, p->len, data);
	return RESP_ACK;
}

static enum resp_state exec_send(struct resp_ctx *c)
{
	struct eng_packet *p = c->p;
	struct eng_qp *eq = c->eq;
	struct eng_sgl *dst = &c->e->s_dst, grh;
	/* UD receive buffers always reserve the GRH's 40 bytes. */
	uint64_t skip = c->qp->qp_type == SVD_QPT_UD ? ENG_GRH_LEN : 0;
	int ret;

	if (!c->claimed && !rq_ref_init(c)) {
		c->syn = ENG_AETH_NAK_INV;
		return c->rc ? RESP_NAK : RESP_DONE;
	}
	if (eng_wqe_sgl(c->qp, (const struct sv_sge *)(&eq->rcv.w + 1),
			eq->rcv.w.num_sge, true, dst))
		return resp_own_fault(c, 0, IBV_WC_LOC_PROT_ERR,
				      ENG_AETH_NAK_OP);
	if (eq->rcv_off + p->len + skip > dst->total)
		return resp_own_fault(c, 0, IBV_WC_LOC_LEN_ERR,
				      ENG_AETH_NAK_INV);
	if (p->route.has_grh) {
		eng_sgl_one(&grh, p->route.grh, ENG_GRH_LEN);
		if (eng_sgl_copy(dst, 0, &grh, ENG_GRH_LEN))
			return resp_own_fault(c, 0, IBV_WC_LOC_PROT_ERR,
					      ENG_AETH_NAK_OP);
	}
	if (scatter_ok(c, dst))
		return resp_scatter(c);
	ret = eng_pkt_copy_out(p, dst, skip + eq->rcv_off);
	if (ret)
		return resp_own_fault(c, ret, IBV_WC_LOC_PROT_ERR,
				      ENG_AETH_NAK_OP);
	eq->rcv_off += p->len;
	if (!(p->mask & ENG_LAST)) {
		eq->rcv_open = true;
		if (c->rq.srq)
			rq_publish(c); /* an SRQ WQE is ours once taken */
		return RESP_ACK;
	}
	if ((p->mask & ENG_IETH) && resp_invalidate(c, p->f.imm))
		return resp_own_fault(c, 0, IBV_WC_LOC_QP_OP_ERR,
				      ENG_AETH_NAK_INV);
	resp_rcqe(c, IBV_WC_SUCCESS, IBV_WC_RECV, eq->rcv_off + skip);
	return RESP_ACK;
}

/*
 * Where this WRITE packet lands: FIRST/ONLY by the RETH (checked for the
 * whole message), MIDDLE/LAST where the open write stands (the region is
 * resolved again for every packet: it may be gone since).
 */
static int write_target(struct resp_ctx *c, uint64_t *va, uint32_t *rkey,
			uint64_t *left)
{
	const struct eng_packet *p = c->p;
	struct eng_qp *eq = c->eq;

	if (p->mask & ENG_FIRST) {
		if (p->f.dma_len < p->len ||
		    ((p->mask & ENG_LAST) && p->f.dma_len != p->len))
			return -EINVAL;
		if (resp_rkey(c, p->f.rkey, p->f.va, p->f.dma_len, p->mask))
			return -EACCES;
		*va = p->f.va;
		*rkey = p->f.rkey;
		*left = p->f.dma_len;
		c->rseg.len = p->len;
		return 0;
	}
	if (p->len > eq->wr_left ||
	    ((p->mask & ENG_LAST) && p->len != eq->wr_left))
		return -EINVAL;
	*va = eq->wr_va;
	*rkey = eq->wr_rkey;
	*left = eq->wr_left;
	return resp_rkey(c, eq->wr_rkey, eq->wr_va, p->len, p->mask) ?
		       -EACCES : 0;
}

static enum resp_state exec_write(struct resp_ctx *c)
{
	struct eng_packet *p = c->p;
	struct eng_qp *eq = c->eq;
	uint64_t va, left;
	uint32_t rkey;
	int ret = write_target(c, &va, &rkey, &left);

	if (ret)
		return resp_own_fault(c, 0,
				      ret == -EINVAL ? IBV_WC_REM_INV_REQ_ERR :
						       IBV_WC_REM_ACCESS_ERR,
				      ret == -EINVAL ? ENG_AETH_NAK_INV :
						       ENG_AETH_NAK_ACC);
	ret = p->len ? eng_pkt_copy_out(p, one_seg(&c->e->s_dst, &c->rseg),
					0) :
		       0;
	if (ret)
		return resp_own_fault(c, ret, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	if (p->mask & ENG_FIRST)
		eq->wr_total = left;
	eq->wr_va = va + p->len;
	eq->wr_rkey = rkey;
	eq->wr_left = left - p->len;
	eq->wr_open = !(p->mask & ENG_LAST);
	if ((p->mask & ENG_LAST) && (p->mask & ENG_IMMDT))
		resp_rcqe(c, IBV_WC_SUCCESS, IBV_WC_RECV_RDMA_WITH_IMM,
			  eq->wr_total);
	return RESP_ACK;
}

/* Start a READ response at PSN psn (a duplicate restarts it there). */
static enum resp_state exec_read(struct resp_ctx *c)
{
	const struct eng_packet *p = c->p;
	struct eng_rd_job *rd = &c->eq->rd;

	if (resp_rkey(c, p->f.rkey, p->f.va, p->f.dma_len, p->mask))
		return resp_own_fault(c, 0, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	*rd = (struct eng_rd_job){ .active = true, .va = p->f.va,
				   .left = p->f.dma_len, .rkey = p->f.rkey,
				   .psn = p->f.psn, .first = true };
	eng_activate(c->e, c->eq);
	return RESP_ACCEPT;
}

/* Atomics: 8 bytes, aligned; mem.c serializes them with every other. */
static enum resp_state exec_atomic(struct resp_ctx *c)
{
	struct eng_packet *p = c->p;
	struct eng_qp *eq = c->eq;
	enum svd_mem_atomic_op op = SVD_MEM_FETCH_ADD;
	struct eng_atomic_saved *sv;
	uint64_t orig = 0, a = p->f.swap_add, b = 0;
	int ret;

	if (p->f.va & 7)
		return resp_own_fault(c, 0, IBV_WC_REM_INV_REQ_ERR,
				      ENG_AETH_NAK_INV);
	if (resp_rkey(c, p->f.rkey, p->f.va, 8, p->mask))
		return resp_own_fault(c, 0, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	if ((p->f.opcode & 0x1f) == ENG_OP_CMP_SWAP) {
		op = SVD_MEM_CMP_SWP; /* a is the compare, b the swap */
		a = p->f.compare;
		b = p->f.swap_add;
	}
	ret = svd_mem_atomic(c->rseg.umem, c->rseg.off, op, a, b, &orig);
	if (ret)
		return resp_own_fault(c, 0, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	sv = &eq->atomics[eq->atomic_next++ % ENG_ATOMIC_SAVED];
	*sv = (struct eng_atomic_saved){ p->f.psn, true, orig };
	resp_accept(c);
	resp_answer(c, ENG_OP_ATOMIC_ACK, ENG_AETH_ACK, p->f.psn, orig);
	return RESP_DONE;
}

static enum resp_state exec_atomic_write(struct resp_ctx *c)
{
	struct eng_packet *p = c->p;
	struct eng_sgl buf;
	uint64_t v = 0;
	int ret;

	if (p->f.va & 7 || p->f.dma_len != 8)
		return resp_own_fault(c, 0, IBV_WC_REM_INV_REQ_ERR,
				      ENG_AETH_NAK_INV);
	if (resp_rkey(c, p->f.rkey, p->f.va, 8, p->mask))
		return resp_own_fault(c, 0, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	eng_sgl_one(&buf, &v, 8);
	ret = eng_pkt_copy_out(p, &buf, 0);
	if (ret)
		return resp_own_fault(c, ret == ENG_COPY_EDST ? ENG_COPY_ESRC :
								ret,
				      IBV_WC_REM_ACCESS_ERR, ENG_AETH_NAK_ACC);
	if (svd_mem_atomic(c->rseg.umem, c->rseg.off, SVD_MEM_STORE, v, 0,
			   &v))
		return resp_own_fault(c, 0, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	return RESP_ACK;
}

/*
 * FLUSH: requests execute in order, so every WRITE before it is placed
 * when it runs; the memory of this device is the host's, so placement is
 * persistence as far as it can tell. An ordering point: the key must
 * cover the range, then ACK.
 */
static enum resp_state exec_flush(struct resp_ctx *c)
{
	const struct eng_packet *p = c->p;

	if (p->f.plt == 0 || p->f.plt > 3 || p->f.sel > 1)
		return resp_own_fault(c, 0, IBV_WC_REM_INV_REQ_ERR,
				      ENG_AETH_NAK_INV);
	if (p->f.sel == 0 &&
	    resp_rkey(c, p->f.rkey, p->f.va, p->f.dma_len, p->mask))
		return resp_own_fault(c, 0, IBV_WC_REM_ACCESS_ERR,
				      ENG_AETH_NAK_ACC);
	return RESP_ACK;
}

static enum resp_state resp_exec(struct resp_ctx *c)
{
	uint32_t m = c->p->mask;

	if (m & ENG_WRITE)
		return exec_write(c);
	if (m & ENG_SEND)
		return exec_send(c);
	if (m & ENG_READ)
		return exec_read(c);
	if (m & ENG_ATOMIC)
		return exec_atomic(c);
	if (m & ENG_ATOMIC_WRITE)
		return exec_atomic_write(c);
	return exec_flush(c);
}

/* A duplicate: answered again, never executed again (READ excepted). */
static enum resp_state resp_dup(struct resp_ctx *c)
{
	struct eng_packet *p = c->p;
	struct eng_qp *eq = c->eq;
	unsigned int i;

	/*
	 * Requests accepted but still held have not executed: answering a
	 * duplicate now (a READ above all) would run it ahead of them.
	 */
	if (eq->npend) {
		eq->ack_owed |= !(p->mask & (ENG_READ | ENG_ATOMIC));
		return RESP_DONE;
	}
	if (p->mask & ENG_READ) {
		/* Re-executed from this PSN: the requester lost responses. */
		if (!resp_rkey(c, p->f.rkey, p->f.va, p->f.dma_len, p->mask)) {
			eq->rd = (struct eng_rd_job){
				.active = true, .va = p->f.va,
				.left = p->f.dma_len, .rkey = p->f.rkey,
				.psn = p->f.psn, .first = true };
			eng_activate(c->e, eq);
		}
		return RESP_DONE;
	}
	if (p->mask & ENG_ATOMIC) {
		for (i = 0; i < ENG_ATOMIC_SAVED; i++)
			if (eq->atomics[i].valid &&
			    eq->atomics[i].psn == p->f.psn)
				resp_answer(c, ENG_OP_ATOMIC_ACK, ENG_AETH_ACK,
					    p->f.psn, eq->atomics[i].orig);
		return RESP_DONE;
	}
	/*
	 * SEND, WRITE, ATOMIC_WRITE, FLUSH: all before epsn is done. Behind
	 * a READ response the ACK waits until it is sent (eng_resp_run), as
	 * rxe answers a duplicate in turn: never answering it cost the
	 * requester a timeout, and the ACK was its last one lost.
	 */
	if (!eq->rd.active)
		resp_ack(c, (eq->epsn - 1) & 0xffffff);
	else
		eq->ack_owed = true;
	return RESP_DONE;
}

static enum resp_state resp_ack_state(struct resp_ctx *c)
{
	const struct eng_packet *p = c->p;

	resp_accept(c);
	if (c->rc && (p->f.ackreq || (p->mask & ENG_LAST)))
		resp_ack(c, eng_psn_add(p->f.psn, p->npsn - 1));
	return RESP_DONE;
}

static void pend_drop(struct eng_qp *eq)
{
	struct eng_packet *p;

	while ((p = eq->pend)) {
		eq->pend = p->next;
		eng_pkt_free(p);
	}
	eq->pend_tail = NULL;
	eq->npend = 0;
}

/* A held request failed: what came after it is sent again by the peer. */
static void resp_unwind(struct resp_ctx *c)
{
	if (!c->queued)
		return;
	c->eq->epsn = c->p->f.psn;
	pend_drop(c->eq);
}

static enum resp_state resp_rnr(struct resp_ctx *c)
{
	resp_unwind(c);
	resp_answer(c, ENG_OP_ACK,
		    (uint8_t)(ENG_AETH_RNR | (c->qp->attr.min_rnr_timer & 0x1f)),
		    c->p->f.psn, 0);
	return RESP_DONE;
}

static enum resp_state resp_nak(struct resp_ctx *c)
{
	resp_unwind(c);
	resp_answer(c, ENG_OP_ACK, c->syn, c->p->f.psn, 0);
	return RESP_DONE;
}

static enum resp_state resp_fail_state(struct resp_ctx *c)
{
	resp_unwind(c);
	resp_fail(c, c->status, c->syn);
	return RESP_DONE;
}

static enum resp_state resp_step(struct resp_ctx *c, enum resp_state st)
{
	switch (st) {
	case RESP_CHECK:
		return resp_check(c) ? RESP_PSN : RESP_DONE;
	case RESP_PSN:
		return resp_psn(c);
	case RESP_DUP:
		return resp_dup(c);
	case RESP_HOLD:
		return resp_hold(c);
	case RESP_OPCODE:
		return resp_opcode(c);
	case RESP_RWQE:
		return resp_rwqe(c);
	case RESP_EXEC:
		return resp_exec(c);
	case RESP_ACCEPT:
		resp_accept(c);
		return RESP_DONE;
	case RESP_ACK:
		return resp_ack_state(c);
	case RESP_RNR:
		return resp_rnr(c);
	case RESP_NAK:
		return resp_nak(c);
	case RESP_FAIL:
	default:
		return resp_fail_state(c);
	}
}

static int resp_machine(struct svd_engine *e, struct eng_qp *eq,
			struct eng_packet *p, enum resp_state st, bool queued)
{
	struct resp_ctx c = { .e = e, .qp = eq->qp, .eq = eq, .p = p,
			      .queued = queued };

	c.rc = eq->qp->qp_type == SVD_QPT_RC ||
	       eq->qp->qp_type == SVD_QPT_XRC_TGT;
	while (st != RESP_DONE)
		st = resp_step(&c, st);
	eng_tm_finish(e, eq);
	return c.ret;
}

int eng_resp_recv(struct svd_engine *e, struct eng_qp *eq,
		  struct eng_packet *p)
{
	int ret = resp_machine(e, eq, p, RESP_CHECK, false);

	/* A READ just accepted: its first response goes at once. */
	if (eq->rd.active && eq->rd.first && !eq->npend)
		eng_resp_run(e, eq);
	return ret;
}

/* ---- READ responses, one chunk per step ---- */

static uint8_t rd_opcode(const struct svd_qp *qp, bool first, bool last)
{
	uint8_t base = first && last ? ENG_OP_READ_RESP_ONLY :
		       first	      ? ENG_OP_READ_RESP_FIRST :
		       last	      ? ENG_OP_READ_RESP_LAST :
					ENG_OP_READ_RESP_MIDDLE;

	return (uint8_t)(eng_transport_bits(qp->qp_type) | base);
}

/* Our own region failed under a READ: NAK, and this QP is in error. */
static void rd_abort(struct svd_engine *e, struct eng_qp *eq, uint32_t psn)
{
	struct eng_packet p = { .npsn = 1, .f.psn = psn };
	struct resp_ctx c = { .e = e, .qp = eq->qp, .eq = eq, .p = &p,
			      .rc = true };

	eq->rd.active = false;
	resp_answer(&c, ENG_OP_ACK, ENG_AETH_NAK_ACC, psn, 0);
	eng_qp_error(eq);
}

static void rd_step(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_rd_job *rd = &eq->rd;
	struct svd_qp *qp = eq->qp;
	unsigned int mtu = eng_mtu(qp);
	struct eng_packet p = { .npsn = 1 };
	struct eng_fields f = { .syndrome = ENG_AETH_ACK };
	struct resp_ctx c = { .e = e, .qp = qp, .eq = eq, .p = &p };
	uint64_t chunk;
	bool last;

	eng_req_route(qp, &p);
	chunk = eng_xport_seg(e, &p.route, mtu);
	/* A data-direct source takes bursts (eng_dd.c): look at it first. */
	if (rd->left > chunk &&
	    !resp_rkey(&c, rd->rkey, rd->va, chunk, ENG_READ))
		chunk = eng_dd_seg(e, &p.route, c.rseg.umem, chunk);
	chunk = rd->left < chunk ? rd->left : chunk;
	last = chunk == rd->left;
	p.npsn = chunk ? (uint32_t)((chunk + mtu - 1) / mtu) : 1;
	if (resp_rkey(&c, rd->rkey, rd->va, chunk, ENG_READ)) {
		rd_abort(e, eq, rd->psn);
		return;
	}
	f.opcode = rd_opcode(qp, rd->first, last);
	f.dqpn = qp->attr.dest_qp_num & 0xffffff;
	f.psn = rd->psn;
	f.msn = eq->msn;
	p.len = (uint32_t)chunk;
	p.sgl = one_seg(&e->s_dst, &c.rseg);
	if (eng_pkt_build(&p, &f))
		return;
	rd->va += chunk;
	rd->left -= chunk;
	rd->psn = eng_psn_add(rd->psn, p.npsn);
	rd->first = false;
	rd->active = !last;
	if (chunk >= ENG_CHUNK / 2)
		eq->yield = true;
	if (eng_xport_send(e, &p) == -EFAULT)
		rd_abort(e, eq, f.psn);
}

/* The ACK a duplicate was owed while a READ response went out. */
static void resp_send_owed_ack(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_packet p = { .npsn = 1 };
	struct resp_ctx c = { .e = e, .qp = eq->qp, .eq = eq, .p = &p,
			      .rc = true };

	eq->ack_owed = false;
	resp_ack(&c, (eq->epsn - 1) & 0xffffff);
}

/* Checked on every step of every QP: the packet is built only if owed. */
static bool resp_owed_ack(struct svd_engine *e, struct eng_qp *eq)
{
	if (!eq->ack_owed)
		return false;
	resp_send_owed_ack(e, eq);
	return true;
}

/* One chunk of a READ response, or one held request; dev->lock held. */
bool eng_resp_run(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_packet *p;

	if (eq->rd.active) {
		rd_step(e, eq);
		return true;
	}
	p = eq->pend;
	if (!p)
		return resp_owed_ack(e, eq);
	eq->pend = p->next;
	if (!eq->pend)
		eq->pend_tail = NULL;
	eq->npend--;
	p->next = NULL;
	resp_machine(e, eq, p, RESP_OPCODE, true);
	eng_pkt_free(p);
	return true;
}

void eng_resp_reset(struct eng_qp *eq)
{
	pend_drop(eq);
	memset(&eq->rd, 0, sizeof(eq->rd));
	memset(eq->atomics, 0, sizeof(eq->atomics));
	eq->wr_open = false;
	eq->rcv_open = false;
	eq->uc_drop = false;
	eq->nak_sent = false;
	eq->ack_owed = false;
	eq->msn = 0;
	memset(&eq->tm, 0, sizeof(eq->tm)); /* FINs of the old connection */
}

/* ERROR: a receive WQE an SRQ gave to an unfinished message is flushed. */
bool eng_resp_flush(struct eng_qp *eq)
{
	struct svd_qp *qp = eq->qp;
	struct sv_cqe cqe = { .wr_id = eq->rcv.w.wr_id,
			      .status = IBV_WC_WR_FLUSH_ERR,
			      .opcode = IBV_WC_RECV,
			      .qp_num = qp->qpn };
	bool work = eq->rcv_open && eq->rcv_published;

	pend_drop(eq);
	eq->rd.active = false;
	if (work)
		rcqe_index(eq, qp->srq, &cqe);
	eng_tm_cqe(eq, qp->srq, &cqe); /* a TM-SRQ's: its opcode and CQ */
	if (work && qp->qp_type != SVD_QPT_XRC_TGT)
		eng_cqe_push(qp->srq && qp->srq->cq ? qp->srq->cq : qp->recv_cq,
			     &cqe, false);
	eq->rcv_open = false;
	eq->wr_open = false;
	return eng_tm_flush(eq) || work;
}
