// SPDX-License-Identifier: MIT
/*
 * The engine thread and its scheduler.
 *
 * A QP is looked at only when something gave it work: a doorbell naming
 * its slot (eng_db.c), a state change (eng_qp.c), an error that must be
 * flushed, or its timer (RNR / retry) expiring. Such QPs wait on the run
 * queue; a QP whose timer runs waits on the timer queue; every other QP
 * costs nothing per pass. A pass takes the rung doorbells, moves expired
 * timers, then gives each queued QP a bounded number of steps (fairness)
 * and queues it again only if it still has work.
 *
 * After work the thread keeps polling only while a core is free
 * (eng_idle.c); otherwise, and after ENG_SPIN_NS without work, it sleeps
 * on the doorbell pages (futex_waitv) until a ring or the next timer.
 * With no timer due and no QP on the poll list it sleeps with no timeout
 * at all: arming and cancelling the hrtimer cost 0.27 us of each 5.4 us
 * half round trip of a daemon-path ping-pong on the 2-core VM. Whatever
 * else gives it work from another thread kicks it (eng_poke, the wire and
 * switch transports, the waiter threads).
 */
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eng_idle.h"
#include "engine.h"

#define ENG_POLL_SLEEP_NS 10000000L /* sleep bound while a QP is polled */
#define ENG_WAITV_MAX 128 /* FUTEX_WAITV_MAX */
#define ENG_BUDGET 16 /* steps per QP per pass */

/* ---------------------------------------------------------------------- */
/* Queues                                                                  */
/* ---------------------------------------------------------------------- */

void eng_list_init(struct eng_link *l)
{
	l->prev = l->next = l;
}

static void link_del(struct eng_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static void link_add_tail(struct eng_link *head, struct eng_link *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static struct eng_qp *run_qp(struct eng_link *l)
{
	return (struct eng_qp *)((char *)l - offsetof(struct eng_qp, run));
}

static struct eng_qp *poll_qp(struct eng_link *l)
{
	return (struct eng_qp *)((char *)l - offsetof(struct eng_qp, poll));
}

void eng_activate(struct svd_engine *e, struct eng_qp *eq)
{
	if (eq->where == ENG_ACTIVE)
		return;
	if (eq->where == ENG_TIMER)
		link_del(&eq->run);
	link_add_tail(&e->runq, &eq->run);
	eq->where = ENG_ACTIVE;
}

static void timer_add(struct svd_engine *e, struct eng_qp *eq)
{
	if (eq->where != ENG_IDLE)
		link_del(&eq->run);
	link_add_tail(&e->timerq, &eq->run);
	eq->where = ENG_TIMER;
}

void eng_sched_forget(struct svd_engine *e, struct eng_qp *eq)
{
	(void)e;
	if (eq->where != ENG_IDLE)
		link_del(&eq->run);
	eq->where = ENG_IDLE;
}

/* ---------------------------------------------------------------------- */
/* A pass                                                                  */
/* ---------------------------------------------------------------------- */

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}


/* One step of a QP (eng_qp.c): true if it did work. */
static bool eng_qp_step(struct svd_engine *e, struct eng_qp *eq)
{
	return eng_qp_work(e, eq);
}

/* Run a QP for a bounded number of steps and queue it where it belongs. */
static bool eng_qp_run(struct svd_engine *e, struct eng_qp *eq)
{
	int budget;

	eq->yield = false;
	for (budget = 0; budget < ENG_BUDGET && !eq->yield; budget++)
		if (!eng_qp_step(e, eq))
			break;
	if (budget == ENG_BUDGET || eq->yield)
		eng_activate(e, eq); /* more to do: after the others */
	else if (eng_qp_timer_armed(eq))
		timer_add(e, eq);
	return budget > 0;
}

/* Expired timers go to the run queue; *deadline gets the next one. */
static void eng_timers(struct svd_engine *e, int64_t *deadline)
{
	struct eng_link *l, *n;
	int64_t now;

	if (e->timerq.next == &e->timerq)
		return;
	now = eng_now_ns();
	for (l = e->timerq.next; l != &e->timerq; l = n) {
		struct eng_qp *eq = run_qp(l);
		int64_t t = ts_ns(&eq->wait_until);

		n = l->next;
		if (t <= now)
			eng_activate(e, eq);
		else if (t < *deadline)
			*deadline = t;
	}
}

/* One pass; called with e->lock held. */
static bool eng_pass(struct svd_engine *e, int64_t *deadline)
{
	struct eng_link batch, *l;
	bool work = false;

	eng_db_harvest(e);
	eng_xport_poll(e, deadline);
	/* Take the queue: QPs queued while we run wait for the next pass. */
	eng_list_init(&batch);
	if (e->runq.next != &e->runq) {
		batch.next = e->runq.next;
		batch.prev = e->runq.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		eng_list_init(&e->runq);
	}
	while ((l = batch.next) != &batch) {
		struct eng_qp *eq = run_qp(l);

		link_del(l);
		eq->where = ENG_IDLE;
		work |= eng_qp_run(e, eq);
	}
	for (l = e->pollq.next; l != &e->pollq; l = l->next)
		if (poll_qp(l)->where == ENG_IDLE)
			work |= eng_qp_run(e, poll_qp(l));
	/*
	 * Timers last: *deadline must count those this pass armed, since the
	 * engine may sleep on it with no other bound. Expired ones run next.
	 */
	eng_timers(e, deadline);
	if (e->runq.next != &e->runq)
		*deadline = 0; /* more queued: no sleeping */
	eng_xport_flush(e);
	return work;
}

void svd_engine_quiesce(struct svd_device *dev)
{
	struct svd_engine *e = eng_of(dev);

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	pthread_mutex_unlock(&e->lock);
}

/*
 * Run the engine from the caller's thread until nothing is runnable, so a
 * command that must see every posted WQE processed (CQ resize checks the
 * pending CQEs) does not race the engine thread's next pass. Bounded, so a
 * client posting without pause cannot stall the command loop.
 */
void svd_engine_drain(struct svd_device *dev)
{
	struct svd_engine *e = eng_of(dev);
	int64_t deadline = INT64_MAX;
	int i;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < 64 && eng_pass(e, &deadline); i++)
		;
	if (e->runq.next != &e->runq)
		eng_poke(e); /* what is left is the engine thread's */
	pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------------- */
/* The thread                                                              */
/* ---------------------------------------------------------------------- */

/*
 * The words to sleep on: the users' wake words (eng_wake.c), the kick
 * word, and the ring word of each page whose ringers have no wake page.
 * Whole entries: __reserved must be 0.
 */
static unsigned int eng_waitv_fill(struct svd_engine *e,
				   struct futex_waitv *w)
{
	uint32_t i, nw = atomic_load(&e->nwakes);
	unsigned int n = 0;

	for (i = 0; i < nw; i++) /* shared futexes: the pages are memfds */
		w[n++] = (struct futex_waitv){
			.uaddr = (uintptr_t)e->wakes[i].word,
			.val = atomic_load(e->wakes[i].word),
			.flags = FUTEX_32 };
	w[n++] = (struct futex_waitv){ .uaddr = (uintptr_t)&e->kick,
				       .val = atomic_load(&e->kick),
				       .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG };
	for (i = 0; i < e->pages_hi && i < ENG_PAGES_PER_WAITER; i++) {
		struct sv_db_page *p = e->pages[i].page;

		if (!p || e->pages[i].woken)
			continue;
		if (n == ENG_WAITV_MAX)
			return ENG_WAITV_MAX + 1; /* no room: sleep bounded */
		/* Shared futexes: the page is a memfd. */
		w[n++] = (struct futex_waitv){
			.uaddr = (uintptr_t)&p->ring,
			.val = atomic_load((_Atomic uint32_t *)&p->ring),
			.flags = FUTEX_32 };
	}
	return n;
}

/*
 * One user's wake word and the kick word, nothing else: a plain FUTEX_WAIT
 * on the wake word (a kick moves it too), cheaper than futex_waitv.
 */
static void eng_futex_sleep(struct svd_engine *e, struct futex_waitv *w,
			    unsigned int n, const struct timespec *abs)
{
	if (n == 2 && atomic_load(&e->nwakes) == 1)
		syscall(SYS_futex, (void *)(uintptr_t)w[0].uaddr,
			FUTEX_WAIT_BITSET, (uint32_t)w[0].val, abs, NULL,
			FUTEX_BITSET_MATCH_ANY);
	else
		syscall(SYS_futex_waitv, w, n, 0, abs, CLOCK_MONOTONIC);
}

/* A sleep nothing may announce ends within ENG_POLL_SLEEP_NS. */
static void deadline_bound(int64_t *deadline)
{
	int64_t now = eng_now_ns();

	if (*deadline - now > ENG_POLL_SLEEP_NS)
		*deadline = now + ENG_POLL_SLEEP_NS;
}

/*
 * Under e->lock, the pages armed: may the engine sleep until deadline (the
 * last pass's)? A ring since that pass left a summary bit; a command's
 * work is on the run queue. A polled QP or a transport with packets of its
 * own need a whole pass, and a bound on the sleep: what they hold is not
 * announced by a kick (the test transport's delays, the wire's).
 */
static bool eng_sleep_check(struct svd_engine *e, int64_t *deadline)
{
	bool work;

	if (e->pollq.next == &e->pollq && eng_xport_plain(e))
		return e->runq.next != &e->runq || eng_db_rung(e);
	work = eng_pass(e, deadline);
	deadline_bound(deadline);
	return work;
}

/*
 * Arm every page, re-check for work, then sleep until a ring, a kick or
 * the deadline (none: INT64_MAX). False if it found work and did not sleep.
 */
static bool eng_sleep(struct svd_engine *e, int64_t deadline)
{
	struct futex_waitv w[ENG_WAITV_MAX];
	struct timespec ts;
	unsigned int n;
	bool work;

	pthread_mutex_lock(&e->lock);
	eng_db_set_sleeping(e, 1);
	atomic_store(&e->asleep, true);
	atomic_thread_fence(memory_order_seq_cst);
	n = eng_waitv_fill(e, w);
	work = eng_sleep_check(e, &deadline);
	if (n > ENG_WAITV_MAX) { /* more than 8 users and old libraries */
		n = ENG_WAITV_MAX;
		deadline_bound(&deadline);
	}
	pthread_mutex_unlock(&e->lock);
	work = work || atomic_load(&e->stop) ||
	       (deadline != INT64_MAX && deadline <= eng_now_ns());
	if (!work) {
		ts.tv_sec = deadline / 1000000000LL;
		ts.tv_nsec = deadline % 1000000000LL;
		eng_futex_sleep(e, w, n, deadline == INT64_MAX ? NULL : &ts);
	}
	pthread_mutex_lock(&e->lock);
	atomic_store(&e->asleep, false);
	eng_db_set_sleeping(e, 0);
	pthread_mutex_unlock(&e->lock);
	return !work;
}

static void eng_thread_setup(struct eng_prio *prio)
{
	static _Atomic int logged;
	sigset_t set;

	/* Signals belong to the main loop; SIGBUS is synchronous anyway. */
	sigfillset(&set);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	eng_prio_setup(prio);
	if (!logged++)
		fprintf(stderr, "softverbsd: engine thread: %s\n",
			eng_prio_name(prio->mode));
}

static void eng_thread_sleep(struct svd_engine *e, struct eng_prio *prio,
			     int64_t deadline)
{
	eng_prio_sleeping(prio);
	if (eng_sleep(e, deadline))
		eng_prio_woke(prio, eng_now_ns());
}

static void *eng_thread(void *arg)
{
	struct svd_engine *e = arg;
	struct eng_idle idle = { .last_work = eng_now_ns() };
	struct eng_steer steer;
	struct eng_prio prio;

	eng_thread_setup(&prio);
	eng_steer_init(&steer);
	eng_prio_woke(&prio, idle.last_work);
	while (!atomic_load(&e->stop)) {
		int64_t deadline = INT64_MAX, now;
		bool work;

		pthread_mutex_lock(&e->lock);
		work = eng_pass(e, &deadline);
		pthread_mutex_unlock(&e->lock);
		now = eng_now_ns();
		if (work) {
			eng_idle_work(&idle, now);
			eng_steer_rang(&steer, e->ring_cpu);
			eng_idle_reply(&idle, e->ring_cpu ==
						      (uint32_t)sched_getcpu());
			eng_prio_worked(&prio, now);
			/*
			 * Neither a reply to wait for nor a free core: sleep
			 * now. eng_sleep's own pass takes what came meanwhile,
			 * so the empty pass that used to come first (0.2 us)
			 * no longer delays the process this engine preempted.
			 */
			if (deadline && !eng_idle_may_spin(&idle, now, deadline))
				eng_thread_sleep(e, &prio, deadline);
		} else if (eng_idle_may_spin(&idle, now, deadline)) {
			eng_idle_relax();
		} else {
			eng_thread_sleep(e, &prio, deadline);
		}
	}
	return NULL;
}

static void eng_free(struct svd_engine *e)
{
	struct eng_qp *eq;

	while ((eq = e->qps)) {
		e->qps = eq->next;
		eq->qp->eng = NULL;
		free(eq);
	}
	if (e->slots)
		eng_db_fini(e);
	eng_xport_fini(e);
	eng_wake_fini(e);
	pthread_mutex_destroy(&e->lock);
	free(e->pages);
	free(e);
}

int svd_engine_start(struct svd_device *dev)
{
	struct svd_engine *e;
	int ret;

	if (!dev->max_db_pages)
		dev->max_db_pages = ENG_MAX_DB_PAGES_DEFAULT;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->dev = dev;
	pthread_mutex_init(&e->lock, NULL);
	atomic_init(&e->stop, false);
	eng_list_init(&e->runq);
	eng_list_init(&e->timerq);
	eng_list_init(&e->pollq);
	e->pages = calloc(dev->max_db_pages, sizeof(*e->pages));
	if (!e->pages || eng_db_init(e)) {
		eng_free(e);
		return -ENOMEM;
	}
	ret = eng_xport_init(e);
	if (ret) {
		eng_free(e);
		return ret;
	}
	dev->engine = e;
	if (pthread_create(&e->thread, NULL, eng_thread, e)) {
		dev->engine = NULL;
		eng_free(e);
		return -EAGAIN;
	}
	e->running = true;
	return 0;
}

void svd_engine_stop(struct svd_device *dev)
{
	struct svd_engine *e = eng_of(dev);

	if (!e)
		return;
	atomic_store(&e->stop, true);
	eng_kick(e);
	if (e->running)
		pthread_join(e->thread, NULL);
	eng_waiters_stop(e);
	dev->engine = NULL;
	eng_free(e);
}
