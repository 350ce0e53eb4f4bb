// SPDX-License-Identifier: MIT
/*
 * The biased lock of the library's QP rings (lib/providers/softverbs/
 * bias_lock.h), on its own: mutual exclusion holds whoever enters and
 * however, the owner keeps its fast path through a few borrows, and a
 * lock borrowed more than SVL_BIAS_GUESTS_MAX times stops being biased.
 *
 * Each critical section does a slow, non-atomic read-modify-write of a
 * counter (a few pauses between the read and the write), so two threads
 * inside at once lose an increment and the final count shows it.
 *   1. the owner alone: the count, and the lock owned by it;
 *   2. the owner posting while another thread borrows 8 times: the
 *      count, and the lock still the owner's;
 *   3. then many borrows while the owner posts: the count, the lock
 *      shared;
 *   4. four threads from a fresh lock at once;
 *   5. a forked child (not registered for membarrier) borrows a lock
 *      owned in the parent.
 * Exits 77 where the kernel has no private expedited membarrier.
 */
#define _GNU_SOURCE
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bias_lock.h"
#include "svt_unit.h"

#define OWNER_ROUNDS 2000000UL

static struct svl_block lk;
static volatile unsigned long count;
static _Atomic int stop;

static void bump(void)
{
	unsigned long c = count;

	for (int i = 0; i < 4; i++)
		__builtin_ia32_pause();
	count = c + 1;
}

static void locked_bump(bool claim)
{
	svl_block_lock_as(&lk, claim);
	bump();
	svl_block_unlock(&lk);
}

static void *owner(void *arg)
{
	unsigned long i, n = (unsigned long)arg;

	for (i = 0; i < n; i++)
		locked_bump(true);
	return NULL;
}

/* Borrow n times (0: until stop), each after the owner went on a bit. */
static void *borrower(void *arg)
{
	unsigned long i, n = (unsigned long)arg, got = 0;

	for (i = 0; !n || i < n; i++) {
		if (!n && atomic_load(&stop))
			break;
		usleep(200);
		locked_bump(false);
		got++;
	}
	return (void *)got;
}

static unsigned long run_pair(unsigned long borrows, unsigned long *done)
{
	pthread_t o, b;
	void *got;

	atomic_store(&stop, 0);
	REQUIRE(!pthread_create(&b, NULL, borrower, (void *)borrows));
	REQUIRE(!pthread_create(&o, NULL, owner, (void *)OWNER_ROUNDS));
	REQUIRE(!pthread_join(o, NULL));
	atomic_store(&stop, 1);
	REQUIRE(!pthread_join(b, &got));
	*done = (unsigned long)got;
	return OWNER_ROUNDS + *done;
}

static void *hammer(void *arg)
{
	for (unsigned long i = 0; i < (unsigned long)arg; i++)
		locked_bump(true);
	return NULL;
}

static void four_threads(void)
{
	pthread_t t[4];
	int i;

	svl_block_init(&lk);
	count = 0;
	for (i = 0; i < 4; i++)
		REQUIRE(!pthread_create(&t[i], NULL, hammer, (void *)200000UL));
	for (i = 0; i < 4; i++)
		REQUIRE(!pthread_join(t[i], NULL));
	REQUIRE(count == 800000);
	printf("four threads: %lu, lock %s\n", count,
	       atomic_load(&lk.state) == SVL_BIAS_SHARED ? "shared" : "owned");
}

/* The parent owns the lock by its thread; a child borrows it. */
static void forked_child(void)
{
	pid_t pid;
	int st;

	svl_block_init(&lk);
	locked_bump(true); /* claim */
	locked_bump(true);
	REQUIRE(atomic_load(&lk.state) == svl_block_me());
	pid = fork();
	REQUIRE(pid >= 0);
	if (!pid) {
		pthread_t t;

		/* Another thread of the child borrows: a barrier in a child
		 * that never registered. */
		if (pthread_create(&t, NULL, borrower, (void *)3UL) ||
		    pthread_join(t, NULL))
			_exit(1);
		_exit(0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  !WEXITSTATUS(st));
	printf("forked child borrowed: ok\n");
}

int main(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	unsigned long want, done;

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
	{
		printf("skip: no private expedited membarrier\n");
		return 77;
	}
	/* 1: the owner alone. */
	svl_block_init(&lk);
	count = 0;
	owner((void *)OWNER_ROUNDS);
	REQUIRE(count == OWNER_ROUNDS);
	REQUIRE(atomic_load(&lk.state) == svl_block_me());
	/* 2: a few borrows: still biased to a thread. */
	svl_block_init(&lk);
	count = 0;
	want = run_pair(SVL_BIAS_GUESTS_MAX, &done);
	REQUIRE(count == want);
	REQUIRE(atomic_load(&lk.state) != SVL_BIAS_SHARED &&
		  !(atomic_load(&lk.state) & SVL_BIAS_GUEST));
	printf("owner with %lu borrows: %lu, lock owned\n", done, count);
	/* 3: many: shared. */
	svl_block_init(&lk);
	count = 0;
	want = run_pair(0, &done);
	REQUIRE(count == want);
	REQUIRE(done <= SVL_BIAS_GUESTS_MAX ||
		  atomic_load(&lk.state) == SVL_BIAS_SHARED);
	printf("owner with %lu borrows: %lu, lock %s\n", done, count,
	       atomic_load(&lk.state) == SVL_BIAS_SHARED ? "shared" : "owned");
	four_threads();
	forked_child();
	return 0;
}
