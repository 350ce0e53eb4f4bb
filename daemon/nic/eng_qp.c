// SPDX-License-Identifier: MIT
/*
 * QP hooks the verbs layer calls (through its NIC ops): a QP registers
 * with the engine on its first modify, binds to its doorbell slot, and is
 * put on the run queue whenever a state change may give it work (RTS with
 * WQEs already posted, ERROR with WQEs to flush). Destroy unlinks it from
 * every queue before std_qp.c frees it.
 */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "eng_raw.h"
#include "engine.h"

static struct eng_qp *eng_qp_get(struct svd_engine *e, struct svd_qp *qp)
{
	struct eng_qp *eq = qp->eng;

	if (eq)
		return eq;
	eq = calloc(1, sizeof(*eq));
	if (!eq)
		return NULL;
	eq->qp = qp;
	eq->db_page = -1;
	eq->next = e->qps;
	e->qps = eq;
	qp->eng = eq;
	eng_db_bind(e, eq);
	return eq;
}

static void eng_qp_reset(struct eng_qp *eq)
{
	/* The library restarts its rings at 0 after a reset. */
	eq->sq_cons = 0;
	eq->sq_next = 0;
	eq->sq_sent = 0;
	eq->rq_cons = 0;
	eq->rtr_seen = false;
	eq->rts_seen = false;
	eq->req_state = ENG_REQ_IDLE;
	eq->timer = ENG_T_NONE;
	eq->req_off = 0;
	eng_resp_reset(eq);
	eq->flushed_last_wqe = false;
	eq->fatal_reported = false;
}

/* The requester starts sending at sq_psn; answers are judged from there. */
static void eng_qp_rts(struct eng_qp *eq)
{
	struct svd_qp *qp = eq->qp;

	eq->psn = qp->attr.sq_psn & 0xffffff;
	eq->una = eq->psn;
	eq->psn_end = eq->psn;
	eq->ack_mark = eq->psn;
	eng_cwnd_init(eq);
	eq->retry_left = qp->attr.retry_cnt & 7;
	eq->rnr_left = qp->attr.rnr_retry & 7;
	eq->req_state = ENG_REQ_IDLE;
	eq->timer = ENG_T_NONE;
	eq->rts_seen = true;
}

bool eng_qp_timer_armed(const struct eng_qp *eq)
{
	return eq->timer != ENG_T_NONE && eq->qp->state != SVD_QPS_ERR;
}

#define HANDOFF_WINDOW_NS 10000000 /* the budget renews every 10 ms */
#define HANDOFF_BUDGET_NS 2000000 /* of which hand-overs may take 2 ms */

/*
 * Just after the engine released dev->lock: if a command waits for it
 * (svd_dev_lock), let it in before the next unit takes the lock again.
 * The waits share a budget of a fifth of the engine's time, so a stream of
 * commands cannot slow the data path by more, while a command that needs
 * the lock several times (reg_mr, dereg_mr) gets it each time at once.
 */
static void eng_lock_handoff(struct svd_device *dev)
{
	static __thread int64_t window, spent;
	int64_t now, t;

	if (!atomic_load_explicit(&dev->lock_wanted, memory_order_relaxed))
		return;
	now = eng_now_ns();
	if (now - window > HANDOFF_WINDOW_NS) {
		window = now;
		spent = 0;
	}
	t = now;
	while (atomic_load(&dev->lock_wanted) && spent + (t - now) <
	       HANDOFF_BUDGET_NS) {
		sched_yield(); /* the waiter spins on its CPU (devlock.c) */
		t = eng_now_ns();
	}
	spent += t - now;
}

/*
 * One unit of a QP's work for the scheduler: its timer, then a chunk of
 * a READ response or a held request (responder), then one packet of the
 * requester. Keys resolved in a unit stay valid while dev->lock is held.
 */
bool eng_qp_work(struct svd_engine *e, struct eng_qp *eq)
{
	struct svd_qp *qp = eq->qp;
	bool work = false;

	if (qp->state == SVD_QPS_ERR)
		return eng_flush(eq);
	if (qp->state != SVD_QPS_RTR && qp->state != SVD_QPS_RTS &&
	    qp->state != SVD_QPS_SQD)
		return false;
	if (!eq->rtr_seen) /* the modify is still on its way to us */
		return false;
	/* Ethernet frames, no transport (takes dev->lock itself). */
	if (qp->qp_type == SVD_QPT_RAW_PACKET)
		return qp->state != SVD_QPS_RTR && eng_raw_run(e, eq);
	pthread_mutex_lock(&e->dev->lock);
	work |= eng_comp_timer(eq);
	work |= eng_resp_run(e, eq);
	if ((qp->state == SVD_QPS_RTS || qp->state == SVD_QPS_SQD) &&
	    eq->rts_seen)
		work |= eng_req_run(e, eq);
	if (eq->tm.nfin || eq->tm.rd.pending)
		work |= eng_tm_run(e, eq);
	pthread_mutex_unlock(&e->dev->lock);
	eng_lock_handoff(e->dev);
	return work;
}

/* WQEs posted already, or a ring the engine must look at (-EFAULT). */
static bool rts_has_work(struct eng_qp *eq)
{
	uint32_t prod;
	int ret = eng_sq_peek(eq, &prod);

	return ret != -EAGAIN && ret != -EINVAL;
}

void svd_engine_qp_modified(struct svd_qp *qp, uint32_t old_state)
{
	struct svd_engine *e = eng_of(qp->uctx->dev);
	struct eng_qp *eq;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	eq = eng_qp_get(e, qp);
	if (!eq)
		goto out;
	if (qp->state == SVD_QPS_RESET)
		eng_qp_reset(eq);
	if (qp->state == SVD_QPS_RTR && old_state != SVD_QPS_RTR) {
		eq->epsn = qp->attr.rq_psn & 0xffffff;
		eng_resp_rtr(e, eq);
		eq->rtr_seen = true;
	}
	if (qp->state == SVD_QPS_RTS && old_state != SVD_QPS_RTS &&
	    old_state != SVD_QPS_SQD)
		eng_qp_rts(eq);
	/* A user-requested ERROR is not fatal: no QP_FATAL event. */
	if (qp->state == SVD_QPS_ERR)
		eq->fatal_reported = true;
	/*
	 * Wake a sleeping engine only for what it must act on: a QP in ERR,
	 * one it must poll, or one that reached RTS with WQEs already posted
	 * (their doorbell rang while it could not send). A plain connect
	 * (INIT, RTR, RTS on an empty SQ) costs it no context switch: those
	 * were a tenth of bench_qp_rate's time.
	 */
	if (qp->state == SVD_QPS_RTS || qp->state == SVD_QPS_ERR)
		eng_activate(e, eq);
	if (qp->state == SVD_QPS_ERR || eq->polled ||
	    (qp->state == SVD_QPS_RTS && rts_has_work(eq)))
		eng_poke(e);
out:
	pthread_mutex_unlock(&e->lock);
}

/* Requester steps run before a QP or AH goes (a UC message of many
 * packets takes one each). */
#define ENG_SEND_OUT_MAX 65536U

/*
 * What a UD or UC QP posted goes out now, from the caller's thread:
 * bounded, as each WQE goes out without waiting for a peer. Called with
 * e->lock held; takes dev->lock as a unit of eng_qp_work does.
 */
static void send_out(struct svd_engine *e, struct eng_qp *eq)
{
	const struct svd_qp *qp = eq->qp;
	unsigned int i;

	if ((qp->qp_type != SVD_QPT_UD && qp->qp_type != SVD_QPT_UC) ||
	    qp->state != SVD_QPS_RTS || !eq->rts_seen)
		return;
	pthread_mutex_lock(&e->dev->lock);
	for (i = 0; i < ENG_SEND_OUT_MAX && eng_req_run(e, eq); i++)
		;
	pthread_mutex_unlock(&e->dev->lock);
}

/*
 * A UD or UC QP destroyed right after its last post would lose what the
 * engine had not reached yet; a NIC has sent it within microseconds of
 * the doorbell. RC is not drained: its sends wait for ACKs, and a
 * destroyed RC QP's work may land or not, as in IB.
 */
void svd_engine_qp_send_out(struct svd_qp *qp)
{
	struct svd_engine *e = eng_of(qp->uctx->dev);

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	if (qp->eng)
		send_out(e, qp->eng);
	eng_xport_flush(e);
	pthread_mutex_unlock(&e->lock);
}

/*
 * The same before an AH goes: a UD WQE names its AH by handle, and
 * mckey's sender posts its datagrams unsignaled, then destroys the AH
 * and the QP at once (under load it lost some: 3 of 10 runs). A NIC
 * copied the address at post time; here the context's UD QPs send what
 * they posted while the AH is still readable (dying_ah).
 */
void svd_engine_ah_send_out(struct svd_ucontext *uctx, uint32_t handle,
			    const struct ib_uverbs_ah_attr *attr)
{
	struct svd_engine *e = eng_of(uctx->dev);
	struct eng_qp *eq;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->dying_ah.uctx = uctx;
	e->dying_ah.handle = handle;
	e->dying_ah.attr = attr;
	for (eq = e->qps; eq; eq = eq->next)
		if (eq->qp->uctx == uctx)
			send_out(e, eq);
	e->dying_ah.uctx = NULL;
	eng_xport_flush(e);
	pthread_mutex_unlock(&e->lock);
}

void svd_engine_qp_destroy(struct svd_qp *qp)
{
	struct svd_engine *e = eng_of(qp->uctx->dev);
	struct eng_qp **pp, *eq = qp->eng;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	for (pp = &e->qps; eq && *pp; pp = &(*pp)->next) {
		if (*pp == eq) {
			eng_ghost_keep(e, eq);
			*pp = eq->next;
			eng_sched_forget(e, eq);
			eng_db_unbind(e, eq);
			eng_resp_reset(eq);
			free(eq);
			break;
		}
	}
	qp->eng = NULL;
	pthread_mutex_unlock(&e->lock);
}

void svd_engine_srq_destroy(struct svd_srq *srq)
{
	svd_engine_quiesce(srq->uctx->dev);
}
