// SPDX-License-Identifier: MIT
/*
 * The slow paths of the biased lock (bias_lock.h): claiming a lock,
 * borrowing it from its owner, giving it back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bias_lock.h"

#define SPINS_BEFORE_YIELD 1024

__thread char svl_block_self
	__attribute__((tls_model("initial-exec"), aligned(8)));

static int membarrier(int cmd)
{
	return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

/* Registered for private expedited barriers, in this process (pid). */
static _Atomic pid_t registered;
/* The kernel has no such barriers (or a filter forbids them): no bias. */
static _Atomic bool unavailable;

bool svl_block_register(void)
{
	pid_t me = getpid();
	int cmds;

	if (atomic_load(&registered) == me)
		return true;
	cmds = membarrier(MEMBARRIER_CMD_QUERY);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)) {
		atomic_store(&unavailable, true);
		return false;
	}
	atomic_store(&registered, me);
	return true;
}

/*
 * Every running thread of the process executes a full barrier. A forked
 * child is not registered (the kernel clears it with the new mm): it
 * registers then. A lock is only ever owned after a registration worked,
 * so failing now would leave the owner unfenced: that must not happen.
 */
static void bias_barrier(void)
{
	if (!membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	if (errno == EPERM && svl_block_register() &&
	    !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	abort();
}

void svl_block_init(struct svl_block *l)
{
	atomic_init(&l->state, 0);
	atomic_init(&l->inside, 0);
	l->fast = false;
	l->guests = 0;
	pthread_spin_init(&l->spin, PTHREAD_PROCESS_PRIVATE);
}

void svl_block_destroy(struct svl_block *l)
{
	pthread_spin_destroy(&l->spin);
}

/* Wait until the owner left its fast path. */
static void owner_out(struct svl_block *l)
{
	unsigned int n = 0;

	while (atomic_load_explicit(&l->inside, memory_order_acquire)) {
		if (++n < SPINS_BEFORE_YIELD)
			__builtin_ia32_pause();
		else
			sched_yield(); /* it may be preempted on our CPU */
	}
}

/* Under spin: take the lock from its owner s (a thread, not us). */
static void borrow(struct svl_block *l, uintptr_t s)
{
	uintptr_t to = ++l->guests > SVL_BIAS_GUESTS_MAX ?
			       SVL_BIAS_SHARED :
			       s | SVL_BIAS_GUEST;

	atomic_store(&l->state, to);
	bias_barrier();
	owner_out(l);
}

void svl_block_lock_slow(struct svl_block *l, uintptr_t me, bool claim)
{
	/*
	 * Register before the first claim, not under the lock: in a process
	 * with several threads the kernel waits for an RCU grace period
	 * (milliseconds on a loaded machine). Under the ring's lock that
	 * held the library's thread off a receive ring for 8 ms, and a
	 * direct SEND missed its window (test_direct_chan, 5 of 50 runs
	 * under load).
	 */
	bool may_claim =
		claim && !atomic_load_explicit(&unavailable, memory_order_relaxed) &&
		!atomic_load_explicit(&l->state, memory_order_relaxed) &&
		svl_block_register();
	uintptr_t s;

	pthread_spin_lock(&l->spin);
	s = atomic_load(&l->state);
	if (!s && may_claim) {
		/* The first poster owns it from its next lock on. */
		atomic_store(&l->state, me);
	} else if (s && s != me && s != SVL_BIAS_SHARED) {
		/* Another thread's: wait until it is out. */
		borrow(l, s);
	}
	/* Only now: the owner, inside until now, reads it at its unlock. */
	l->fast = false;
}

void svl_block_unlock_slow(struct svl_block *l)
{
	uintptr_t s = atomic_load_explicit(&l->state, memory_order_relaxed);

	/* A borrower gives it back (release: what it wrote comes along). */
	if (s & SVL_BIAS_GUEST)
		atomic_store_explicit(&l->state, s & ~SVL_BIAS_GUEST,
				      memory_order_release);
	pthread_spin_unlock(&l->spin);
}
