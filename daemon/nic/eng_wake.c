// SPDX-License-Identifier: MIT
/*
 * Wake pages (include/softverbs/abi.h, struct sv_wake_page).
 *
 * A sleeping engine used to wait on the ring word of every doorbell page
 * (futex_waitv), and a page is per context: a ping-pong between two
 * processes made it wait on three words (two pages and its kick word),
 * which cost about 0.5 us per round trip over a plain FUTEX_WAIT on the
 * 2-core VM, a tenth of the daemon path's round trip. Now each user of
 * the device has one wake page that all its contexts map; their ringers
 * move and wake its word, and an engine serving one user sleeps on that
 * word alone. A page is per user, not per device, so one user cannot
 * watch another's ringing through it.
 *
 * Entries are made under e->lock and published through nwakes; they stay
 * until the engine is freed, so eng_kick may read them from any thread.
 * Past ENG_MAX_WAKES users, new users' contexts get no wake page and ring
 * their doorbell pages, which the engine then waits on as before.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"

/* Under e->lock: uid's wake page (made on first use), or -1. */
int eng_wake_of(struct svd_engine *e, uid_t uid)
{
	uint32_t i, n = atomic_load(&e->nwakes);
	struct eng_wake *w;
	void *p;
	int fd;

	for (i = 0; i < n; i++)
		if (e->wakes[i].uid == uid)
			return (int)i;
	if (n == ENG_MAX_WAKES)
		return -1;
	fd = svd_memfd_sealed("softverbs-wake", SV_WAKE_PAGE_SIZE);
	if (fd < 0)
		return -1;
	p = mmap(NULL, SV_WAKE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -1;
	}
	w = &e->wakes[n];
	w->uid = uid;
	w->fd = fd;
	w->word = (_Atomic uint32_t *)&((struct sv_wake_page *)p)->word;
	atomic_store(&e->nwakes, n + 1); /* published whole */
	return (int)n;
}

/* Any thread: move and wake every wake word (part of a kick). */
void eng_wake_all(struct svd_engine *e)
{
	uint32_t i, n = atomic_load(&e->nwakes);

	for (i = 0; i < n; i++) {
		atomic_fetch_add(e->wakes[i].word, 1);
		syscall(SYS_futex, e->wakes[i].word, FUTEX_WAKE, INT_MAX, NULL,
			NULL, 0);
	}
}

/* The engine thread has stopped. */
void eng_wake_fini(struct svd_engine *e)
{
	uint32_t i, n = atomic_load(&e->nwakes);

	for (i = 0; i < n; i++) {
		munmap((void *)e->wakes[i].word, SV_WAKE_PAGE_SIZE);
		close(e->wakes[i].fd);
	}
	atomic_store(&e->nwakes, 0);
}
