/* SPDX-License-Identifier: MIT */
/*
 * A lock biased to the one thread that posts (bias_lock.c).
 *
 * A QP's SQ lock is taken on every post. Almost always one
 * thread posts to a QP, so the lock is never contended, yet a spin lock
 * costs a locked instruction, and that drains the store buffer: every
 * store of the post before it must own its cache line first. When a post
 * writes a line another core reads (a small WRITE's record for the
 * receiver's helper, direct_war.c), each post waited for that line to
 * come back: about 70 % of a post's time (perf), 4x its cost.
 *
 * So the first thread that posts owns the lock. It enters with two plain
 * stores and a load: it says it is inside, then checks it still owns the
 * lock. Any other thread (the library's grant thread, or an application
 * posting from two threads) takes the spin lock, marks the lock as
 * borrowed (GUEST), makes every thread of the process execute a full
 * barrier (membarrier: the other half of the owner's compiler-only
 * fence, so the owner either sees GUEST or is seen inside), waits until
 * the owner is out, and gives the lock back at unlock. After
 * SVL_BIAS_GUESTS_MAX borrows the lock stops being biased: a QP posted
 * from several threads pays a plain spin lock, not a barrier each time.
 *
 * Without membarrier (an old kernel, a seccomp filter) nothing is ever
 * biased: the spin lock alone, as before. Receive rings are never biased
 * (post.c): the library's own threads take their locks, and a borrow's
 * membarrier took milliseconds on a loaded VM (test_direct_chan, once in
 * CI).
 */
#ifndef SVL_BIAS_LOCK_H
#define SVL_BIAS_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SVL_BIAS_SHARED ((uintptr_t)1) /* no owner: the spin lock only */
#define SVL_BIAS_GUEST ((uintptr_t)2) /* bit: another thread borrowed it */
#ifndef SVL_BIAS_GUESTS_MAX
#define SVL_BIAS_GUESTS_MAX 8U /* borrows, then shared */
#endif

struct svl_block {
	/* 0: no owner yet; the owner's svl_block_me() [| GUEST]; SHARED */
	_Atomic uintptr_t state;
	/* The owner, between its fast lock and unlock (written by it only) */
	_Atomic uint32_t inside;
	/* The holder came in by the fast path (written by the holder only:
	 * a borrower writes it once the owner is out) */
	bool fast;
	uint32_t guests; /* borrows so far (under spin) */
	pthread_spinlock_t spin;
};

void svl_block_init(struct svl_block *l);
void svl_block_destroy(struct svl_block *l);
/* The slow paths (bias_lock.c). claim: the caller is a poster and may
 * become the owner of a lock nobody owns yet. */
void svl_block_lock_slow(struct svl_block *l, uintptr_t me, bool claim);
void svl_block_unlock_slow(struct svl_block *l);
/* Register this process for the borrows' barriers (once per pid); true
 * if it is. Cheap while the process has one thread: see
 * svl_barriers_register(). */
bool svl_block_register(void);

/*
 * This thread, as a number no other live thread of the process has: the
 * address of a thread-local byte, 8-aligned so the low bits stay free
 * for SHARED and GUEST (initial-exec: one instruction, where
 * pthread_self() is a call through the PLT on every post).
 */
extern __thread char svl_block_self
	__attribute__((tls_model("initial-exec"), aligned(8)));

static inline uintptr_t svl_block_me(void)
{
	return (uintptr_t)&svl_block_self;
}

static inline void svl_block_lock_as(struct svl_block *l, bool claim)
{
	uintptr_t me = svl_block_me();

	if (atomic_load_explicit(&l->state, memory_order_relaxed) == me) {
		atomic_store_explicit(&l->inside, 1, memory_order_relaxed);
		/* Compiler only: a borrower's membarrier is the CPU's fence. */
		atomic_signal_fence(memory_order_seq_cst);
		/* Acquire: what a borrower wrote before it gave the lock back. */
		if (atomic_load_explicit(&l->state, memory_order_acquire) ==
		    me) {
			l->fast = true;
			return;
		}
		atomic_store_explicit(&l->inside, 0, memory_order_release);
	}
	svl_block_lock_slow(l, me, claim);
}

/* Post paths: the first poster becomes the owner. */
static inline void svl_block_lock(struct svl_block *l)
{
	svl_block_lock_as(l, true);
}

/* Everything else (modify, the grant thread, flush): never the owner. */
static inline void svl_block_lock_other(struct svl_block *l)
{
	svl_block_lock_as(l, false);
}

static inline void svl_block_unlock(struct svl_block *l)
{
	if (l->fast) {
		l->fast = false;
		atomic_store_explicit(&l->inside, 0, memory_order_release);
		return;
	}
	svl_block_unlock_slow(l);
}

#endif
