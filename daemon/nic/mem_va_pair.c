// SPDX-License-Identifier: MIT
/*
 * A second thread for large VA-to-VA copies (mem_va.c).
 *
 * Between two VA regions the daemon makes two copies (process_vm_readv
 * into its own buffer, process_vm_writev out of it), and one thread does
 * about 4.5 GB/s of that per CPU second on the CI VM: a 1 MiB RDMA WRITE
 * stream between two processes keeps the engine's CPU busy while the
 * other CPU runs only the requester's polling loop. So a large copy is
 * cut in two halves and a helper thread copies the second one while the
 * caller copies the first.
 *
 * The helper never spins: it sleeps on a futex until a job is posted, and
 * the caller never waits for a helper that has not started: when its own
 * half is done it takes the other half back unless the helper already
 * claimed it (one compare-and-swap decides). It only waits, asleep, for a
 * half being copied, which the helper started after the caller did. Splitting
 * is tried only while a CPU runs nothing (eng_idle.c: fewer runnable
 * threads, the engine included, than CPUs): on a loaded machine the helper
 * would get its CPU late, and the caller would wait for it; with one CPU
 * per runnable thread (a polling requester and the engine on 2 CPUs) it
 * took turns with the engine on the engine's CPU, 60 us each (perf sched),
 * and a 1 MiB READ ran no faster than alone.
 *
 * One job at a time: a second engine thread (another device) finding the
 * helper busy copies alone.
 *
 * SOFTVERBS_VA_PAIR in the daemon's environment: 0 never splits (no
 * helper), 2 splits whatever the load (for tests), anything else is the
 * default (while a core is free).
 */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eng_idle.h"
#include "mem_va.h"

/* Below this one thread is as fast: the helper's wake-up costs ~20 us. */
#define VA_SPLIT_MIN (512 * 1024)

enum { JOB_IDLE, JOB_POSTED, JOB_TAKEN, JOB_DONE };

struct va_job {
	const struct svd_umem *dst, *src;
	uint64_t dst_off, src_off, len;
};

enum { PAIR_OFF, PAIR_AUTO, PAIR_ALWAYS };

static struct {
	pthread_once_t once;
	int mode; /* PAIR_* */
	bool running; /* the helper exists */
	pthread_mutex_t lock; /* one job at a time */
	_Atomic uint32_t state; /* JOB_*; also the helper's futex word */
	_Atomic int err;
	struct va_job job;
} vp = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER };

static void futex_op(_Atomic uint32_t *w, int op, uint32_t val)
{
	syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void *va_helper(void *arg)
{
	sigset_t set;

	(void)arg;
	/* Signals belong to the main loop. */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* The engine's fair-class priority (eng_prio.c), never real time. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10);
	for (;;) {
		uint32_t want = JOB_POSTED, s = atomic_load(&vp.state);
		struct va_job j;

		if (s != JOB_POSTED) {
			/* Until the state moves on from what we saw. */
			futex_op(&vp.state, FUTEX_WAIT_PRIVATE, s);
			continue;
		}
		if (!atomic_compare_exchange_strong(&vp.state, &want,
						    JOB_TAKEN))
			continue; /* the caller took it back */
		j = vp.job;
		atomic_store(&vp.err, mem_va_copy_alone(j.dst, j.dst_off, j.src,
							j.src_off, j.len));
		atomic_store(&vp.state, JOB_DONE);
		futex_op(&vp.state, FUTEX_WAKE_PRIVATE, 1); /* the caller */
	}
	return NULL;
}

static void va_pair_start(void)
{
	const char *v = getenv("SOFTVERBS_VA_PAIR");
	pthread_t t;

	vp.mode = !v ? PAIR_AUTO : !strcmp(v, "0") ? PAIR_OFF :
		  !strcmp(v, "2") ? PAIR_ALWAYS : PAIR_AUTO;
	if (vp.mode == PAIR_OFF)
		return;
	vp.running = !pthread_create(&t, NULL, va_helper, NULL);
	if (vp.running)
		pthread_detach(t);
}

/*
 * The helper's half is being copied: wait for it asleep. The engine may
 * be real-time (eng_prio.c) and the helper is not: spinning here, even
 * with sched_yield(), would keep a helper queued on this CPU from ever
 * finishing (measured: completions timed out in ctest under load).
 */
static int va_pair_wait(void)
{
	uint32_t s;

	while ((s = atomic_load(&vp.state)) != JOB_DONE)
		futex_op(&vp.state, FUTEX_WAIT_PRIVATE, s);
	return atomic_load(&vp.err);
}

static int va_pair_run(const struct va_job *first, const struct va_job *second)
{
	uint32_t want = JOB_POSTED;
	int ret, ret2;

	vp.job = *second;
	atomic_store(&vp.state, JOB_POSTED); /* seq_cst: publishes the job */
	futex_op(&vp.state, FUTEX_WAKE_PRIVATE, 1);
	ret = mem_va_copy_alone(first->dst, first->dst_off, first->src,
				first->src_off, first->len);
	if (atomic_compare_exchange_strong(&vp.state, &want, JOB_IDLE))
		ret2 = mem_va_copy_alone(second->dst, second->dst_off,
					 second->src, second->src_off,
					 second->len);
	else
		ret2 = va_pair_wait();
	atomic_store(&vp.state, JOB_IDLE);
	return ret ? ret : ret2;
}

int mem_va_copy(const struct svd_umem *dst, uint64_t dst_off,
		const struct svd_umem *src, uint64_t src_off, uint64_t len)
{
	struct va_job a, b;
	uint64_t half;
	int ret;

	if (len < VA_SPLIT_MIN)
		return mem_va_copy_alone(dst, dst_off, src, src_off, len);
	pthread_once(&vp.once, va_pair_start);
	if (!vp.running ||
	    (vp.mode == PAIR_AUTO && !eng_idle_core_spare()) ||
	    pthread_mutex_trylock(&vp.lock))
		return mem_va_copy_alone(dst, dst_off, src, src_off, len);
	/* A page-aligned cut: each half pins only its own pages. */
	half = (len / 2 + 4095) & ~4095ULL;
	a = (struct va_job){ dst, src, dst_off, src_off, half };
	b = (struct va_job){ dst, src, dst_off + half, src_off + half,
			     len - half };
	ret = va_pair_run(&a, &b);
	pthread_mutex_unlock(&vp.lock);
	return ret;
}
