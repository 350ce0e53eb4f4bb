// SPDX-License-Identifier: MIT
/*
 * Waiting on more doorbell pages than futex_waitv takes (128 words).
 *
 * The engine thread waits on the first ENG_PAGES_PER_WAITER pages and on
 * its private 'kick' word. Every further group of pages has a waiter
 * thread that sleeps in futex_waitv on its pages (whose 'sleeping' flag
 * stays set, so their clients always wake) and on 'page_gen' (pages added
 * or removed). A ring it sees makes it bump 'kick' and wake the engine,
 * which then harvests every page. Waiters never spin: each wakes once per
 * ring of its pages.
 */
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"

static void futex_wake_private(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

void eng_kick(struct svd_engine *e)
{
	atomic_fetch_add(&e->kick, 1);
	futex_wake_private(&e->kick);
	/* An engine serving one user sleeps on its wake word alone. */
	eng_wake_all(e);
}

/*
 * From a command thread, e->lock held, after giving the engine work (a QP
 * activated or polled, a page to wait on): wake it if it sleeps. It does
 * not sleep on a timer unless one is due (eng_sched.c).
 */
void eng_poke(struct svd_engine *e)
{
	if (atomic_load(&e->asleep))
		eng_kick(e);
}

/* Pages added or removed: waiters re-read their set. */
void eng_pages_changed(struct svd_engine *e)
{
	atomic_fetch_add(&e->page_gen, 1);
	futex_wake_private(&e->page_gen);
}

struct waiter {
	struct svd_engine *e;
	uint32_t first; /* first page index it covers */
	uint32_t seen[ENG_PAGES_PER_WAITER]; /* ring values already kicked */
};

/* Under e->lock: the waitv set; true if a ring moved since last time. */
static bool waiter_arm(struct waiter *wt, struct futex_waitv *w,
		       unsigned int *n)
{
	struct svd_engine *e = wt->e;
	bool moved = false;
	uint32_t i;

	*n = 0;
	for (i = 0; i < ENG_PAGES_PER_WAITER; i++) {
		uint32_t idx = wt->first + i;
		struct sv_db_page *p;
		uint32_t v;

		if (idx >= e->dev->max_db_pages || !(p = e->pages[idx].page))
			continue;
		atomic_store((_Atomic uint32_t *)&p->sleeping, 1);
		v = atomic_load((_Atomic uint32_t *)&p->ring);
		moved |= v != wt->seen[i];
		wt->seen[i] = v;
		w[*n] = (struct futex_waitv){ .uaddr = (uintptr_t)&p->ring,
					      .val = v, .flags = FUTEX_32 };
		(*n)++;
	}
	w[*n] = (struct futex_waitv){ .uaddr = (uintptr_t)&e->page_gen,
				      .val = atomic_load(&e->page_gen),
				      .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG };
	(*n)++;
	return moved;
}

static void *waiter_thread(void *arg)
{
	struct waiter *wt = arg;
	struct svd_engine *e = wt->e;
	struct futex_waitv w[ENG_PAGES_PER_WAITER + 1];
	sigset_t set;
	unsigned int n;
	bool moved;

	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!atomic_load(&e->stop)) {
		pthread_mutex_lock(&e->lock);
		moved = waiter_arm(wt, w, &n);
		pthread_mutex_unlock(&e->lock);
		if (moved)
			eng_kick(e);
		/* A page unmapped meanwhile only makes this return EFAULT. */
		syscall(SYS_futex_waitv, w, n, 0, NULL, CLOCK_MONOTONIC);
	}
	free(wt);
	return NULL;
}

/* Under e->lock: a waiter for every group of pages up to index idx. */
void eng_waiters_cover(struct svd_engine *e, uint32_t idx)
{
	while (idx / ENG_PAGES_PER_WAITER >= e->nwaiters + 1 &&
	       e->nwaiters < ENG_MAX_WAITERS) {
		struct waiter *wt = calloc(1, sizeof(*wt));
		uint32_t k = e->nwaiters + 1;

		if (!wt)
			return;
		wt->e = e;
		wt->first = k * ENG_PAGES_PER_WAITER;
		if (pthread_create(&e->waiters[e->nwaiters], NULL,
				   waiter_thread, wt)) {
			free(wt);
			return;
		}
		e->nwaiters++;
	}
}

/* e->stop is set: wake and join every waiter. */
void eng_waiters_stop(struct svd_engine *e)
{
	unsigned int i;

	eng_pages_changed(e);
	for (i = 0; i < e->nwaiters; i++)
		pthread_join(e->waiters[i], NULL);
	e->nwaiters = 0;
}
