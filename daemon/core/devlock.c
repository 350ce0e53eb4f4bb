// SPDX-License-Identifier: MIT
/*
 * Taking dev->lock while the engine holds it (svd_dev_lock() in svd.h).
 *
 * The engine releases the lock between two units of work and, seeing
 * lock_wanted, waits for the waiter to take it (eng_lock_handoff). A
 * waiter that went to sleep in the mutex must first be woken and then
 * scheduled, which on a loaded machine took milliseconds, longer than the
 * engine may wait. So the waiter first stays on its CPU and retries for a
 * while: it is running when the lock comes free, and takes it at once.
 */
#include <sched.h>
#include <time.h>

#include "svd.h"

#define SPIN_NS 2000000 /* then sleep in the mutex like anyone */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void svd_dev_lock_contended(struct svd_device *dev)
{
	int64_t end = mono_ns() + SPIN_NS;
	int got = 0;

	atomic_fetch_add(&dev->lock_wanted, 1);
	for (int i = 0; !got; i++) {
		got = !pthread_mutex_trylock(&dev->lock);
		if (!got && i % 64 == 63 && mono_ns() > end)
			break;
	}
	if (!got)
		pthread_mutex_lock(&dev->lock);
	atomic_fetch_sub(&dev->lock_wanted, 1);
}
