// SPDX-License-Identifier: MIT
/*
 * The grant asked for ahead of the first post (docs/direct-path.md, "The
 * grant"). An application that times from its first ibv_post_send
 * (perftest) would otherwise count the grant's round trip and the target's
 * probe in its figure. When an RC QP reaches RTS, one thread per process
 * asks for it in the background, under the QP's grant mutex as the first
 * post would (never holding the SQ spinlock across the round trip: a
 * poster spinning on it against a sleeping holder livelocks under
 * SCHED_FIFO); the first post finds it granted, sleeps on the mutex if the
 * ask is under way, or asks itself as before if it never ran. The rules
 * are the daemon's and direct.c's, unchanged: this only moves when they
 * run. QPs without a lock (a thread domain's single-thread contract) are
 * not asked for early: no library thread may touch them beside the
 * application's.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "direct.h"

/* QPs waiting; a full queue leaves the grant to the first post. */
#define EARLY_MAX 64

static pthread_mutex_t early_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t early_cv = PTHREAD_COND_INITIALIZER;
static struct svl_qp *early_q[EARLY_MAX];
static unsigned int early_n;
static struct svl_qp *early_busy; /* being asked for, lock dropped */
/*
 * QPs that reached RTR, each due RTR_WAIT_NS later: then the receive ring
 * of one that has none yet (a passive side: perftest's server stays in
 * RTR and posts no receive) is asked for, so that its initiator finds a
 * peer-assist helper (direct_assist.c). Asking at RTR for every QP took
 * the create-and-connect rate from about 11,000 to about 4,000 QPs per
 * second; the delay and the bucket below bound it. In due order (FIFO).
 */
#define RTR_WAIT_NS 5000000L
/*
 * Except the first few of a burst, asked for at once (a bucket of their
 * own, RTR_FAST_BURST then RTR_FAST_PER_S): a passive side's initiator
 * starts within a millisecond of its RTR (perftest), and until the ring
 * is there each of its small WRITEs is a system call: ib_write_bw -s 8
 * -n 100000 spent the first 5 ms at 0.5 Mmsg/s and measured 4 Mmsg/s
 * instead of 18. A job connecting thousands pays for these few only.
 */
#define RTR_FAST_BURST 4
#define RTR_FAST_PER_S 10
/* And at most RTR_BURST of them at once, RTR_PER_S a second after that:
 * a passive side has few QPs; a job that connects thousands in phases
 * (all to RTR, then all to RTS) must not pay a ring for each. */
#define RTR_BURST 8
#define RTR_PER_S 20
static struct {
	struct svl_qp *q;
	int64_t due;
} rtr_q[EARLY_MAX];
static unsigned int rtr_n;
static int64_t rtr_tokens_at; /* when the bucket was last full */
static int64_t rtr_fast_at; /* the same, for entries due at once */
/*
 * The asks at RTS have a bucket of their own: a process connecting
 * thousands of QPs (bench_qp_rate, a job's all-to-all) had every connect
 * followed by a grant round trip in the background, competing with its
 * next connects for the daemon and the CPUs (its RTS step took 16-35 us
 * against 8 with the direct path off). Beyond the bucket the first post
 * asks, as it did before this thread existed.
 */
#define RTS_BURST 16
#define RTS_PER_S 1000
static int64_t rts_tokens_at;
static pid_t early_pid; /* the process whose thread runs; 0: none */
static bool early_forkable; /* the fork handlers are in place */

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/*
 * Under early_lock: a token of the bucket (RTR_BURST, RTR_PER_S), spent
 * at now. The bucket is a time: it holds (now - rtr_tokens_at) * rate
 * tokens, at most RTR_BURST.
 */
static bool bucket_token(int64_t *at, int64_t burst, int64_t per_s,
			 int64_t now)
{
	const int64_t step = 1000000000L / per_s;

	if (now - *at > burst * step)
		*at = now - burst * step;
	if (now - *at < step)
		return false; /* none left: this QP is not asked for early */
	*at += step;
	return true;
}

static bool rtr_token(int64_t now)
{
	return bucket_token(&rtr_tokens_at, RTR_BURST, RTR_PER_S, now);
}

/* Under early_lock: the first RTR entry if it is due (and a token is
 * left for it), else NULL. */
static struct svl_qp *rtr_due(void)
{
	struct timespec ts;
	struct svl_qp *q;
	int64_t due = rtr_q[0].due;

	if (mono_ns() < due) {
		ts.tv_sec = due / 1000000000;
		ts.tv_nsec = due % 1000000000;
		pthread_cond_clockwait(&early_cv, &early_lock, CLOCK_MONOTONIC,
				       &ts);
		return NULL;
	}
	q = rtr_q[0].q;
	memmove(rtr_q, rtr_q + 1, --rtr_n * sizeof(rtr_q[0]));
	return rtr_token(due) ? q : NULL;
}

/* The next QP to ask for: its grant, or (*rx) its receive ring. */
static struct svl_qp *early_pop(bool *rx)
{
	struct svl_qp *q = NULL;

	pthread_mutex_lock(&early_lock);
	early_busy = NULL;
	pthread_cond_broadcast(&early_cv);
	while (!q) {
		if (early_n) {
			q = early_q[0];
			memmove(early_q, early_q + 1,
				--early_n * sizeof(early_q[0]));
			*rx = false;
		} else if (rtr_n) {
			q = rtr_due();
			*rx = true;
		} else {
			pthread_cond_wait(&early_cv, &early_lock);
		}
	}
	early_busy = q;
	pthread_mutex_unlock(&early_lock);
	return q;
}

static void *early_main(void *arg)
{
	bool rx;

	(void)arg;
	for (;;) {
		struct svl_qp *q = early_pop(&rx);

		if (rx)
			svl_direct_rx_early(q);
		else
			svl_direct_ask_early(q);
	}
	return NULL;
}

/*
 * A child must not inherit a lock taken by a thread it lacks: neither
 * early_lock nor the context's command lock an ask in flight holds (a
 * child that then used the context waited for it for ever: seen in
 * test_ctl_posted once receive rings were asked for at RTR). So the
 * fork waits for the ask under way, if any, to end.
 */
static void early_fork_lock(void)
{
	pthread_mutex_lock(&early_lock);
	while (early_busy && early_pid == getpid())
		pthread_cond_wait(&early_cv, &early_lock);
}

static void early_fork_unlock(void)
{
	pthread_mutex_unlock(&early_lock);
}

/*
 * The child has no worker, but its copy of early_cv still counts the
 * parent's worker as a waiter: a broadcast would wait for it forever
 * (seen as a hang of test_direct_early's child in 2 runs of 5 under
 * ASan). So the child starts with a fresh condvar and an empty queue.
 */
static void early_fork_child(void)
{
	early_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	early_n = 0;
	rtr_n = 0;
	early_busy = NULL;
	pthread_mutex_unlock(&early_lock);
}

/* The thread, once per process (a forked child starts its own). */
static bool early_start(void)
{
	pid_t self = getpid();
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t t;
	int ret;

	if (early_pid == self)
		return true;
	if (!early_forkable) {
		if (pthread_atfork(early_fork_lock, early_fork_unlock,
				   early_fork_child))
			return false;
		early_forkable = true;
	}
	early_n = 0; /* a child's copy of its parent's queue */
	early_busy = NULL;
	if (pthread_attr_init(&a))
		return false;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* The application's signals are not for this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&t, &a, early_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (!ret)
		early_pid = self;
	return !ret;
}

void svl_direct_early(struct svl_qp *q)
{
	if (q->qp.qp_type != IBV_QPT_RC || !svl_direct_on() ||
	    !q->sq.entries || q->sq.no_lock)
		return;
	pthread_mutex_lock(&early_lock);
	if (early_n < EARLY_MAX &&
	    bucket_token(&rts_tokens_at, RTS_BURST, RTS_PER_S, mono_ns()) &&
	    early_start()) {
		early_q[early_n++] = q;
		pthread_cond_broadcast(&early_cv);
	}
	pthread_mutex_unlock(&early_lock);
}

/*
 * Under early_lock, rtr_n < EARLY_MAX: q into the queue, which stays in
 * due order (an entry due at once goes before the waiting ones, ahead of
 * the rtr_due token check of the general bucket, which it also spends).
 * Returns its index: 0 means it is now the first.
 */
static unsigned int rtr_insert(struct svl_qp *q)
{
	int64_t now = mono_ns(), due = now + RTR_WAIT_NS;
	unsigned int i;

	if (bucket_token(&rtr_fast_at, RTR_FAST_BURST, RTR_FAST_PER_S, now))
		due = now;
	for (i = rtr_n; i && rtr_q[i - 1].due > due; i--)
		rtr_q[i] = rtr_q[i - 1];
	rtr_q[i].q = q;
	rtr_q[i].due = due;
	rtr_n++;
	return i;
}

void svl_direct_early_rtr(struct svl_qp *q)
{
	if (q->qp.qp_type != IBV_QPT_RC || !svl_direct_on() ||
	    !q->sq.entries || q->sq.no_lock || q->qp.srq || !q->rq.entries)
		return;
	pthread_mutex_lock(&early_lock);
	if (rtr_n < EARLY_MAX && early_start()) {
		/* Entries after the first are due later than it: the thread
		 * wakes for that one anyway. A wake-up per RTR (each a futex
		 * call, about 20 us across CPUs here) halved the rate at which
		 * bench_qp_rate connects QPs. */
		if (!rtr_insert(q))
			pthread_cond_broadcast(&early_cv);
	}
	pthread_mutex_unlock(&early_lock);
}

/* Take the queued QPs that match off the queue; under early_lock. */
static void early_drop(const struct svl_qp *q, const struct ibv_context *c)
{
	unsigned int i = 0;

	while (i < early_n) {
		if (early_q[i] == q || early_q[i]->qp.context == c) {
			memmove(early_q + i, early_q + i + 1,
				(early_n - i - 1) * sizeof(early_q[0]));
			early_n--;
		} else {
			i++;
		}
	}
	for (i = 0; i < rtr_n;) {
		if (rtr_q[i].q == q || rtr_q[i].q->qp.context == c) {
			memmove(rtr_q + i, rtr_q + i + 1,
				(rtr_n - i - 1) * sizeof(rtr_q[0]));
			rtr_n--;
		} else {
			i++;
		}
	}
	/* An ask under way: wait for it (not in a child: no thread). */
	while (early_busy && early_pid == getpid() &&
	       (early_busy == q || early_busy->qp.context == c))
		pthread_cond_wait(&early_cv, &early_lock);
}

/* Before q's handle goes back to the daemon: nobody asks with it after. */
void svl_direct_early_cancel(struct svl_qp *q)
{
	pthread_mutex_lock(&early_lock);
	early_drop(q, NULL);
	pthread_mutex_unlock(&early_lock);
}

/* Before a context is freed with QPs still alive in it. */
void svl_direct_early_ctx_gone(struct ibv_context *ctx)
{
	pthread_mutex_lock(&early_lock);
	early_drop(NULL, ctx);
	pthread_mutex_unlock(&early_lock);
}
