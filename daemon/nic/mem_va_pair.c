// SPDX-License-Identifier: MIT
/*
 * A second thread for large VA-to-VA copies (mem_va.c).
 *
 * Between two VA regions the daemon makes two copies (process_vm_readv
 * into its own buffer, process_vm_writev out of it), and a 1 MiB RDMA
 * WRITE stream between two processes keeps the engine's CPU busy making
 * both while the other CPU runs only the requester's polling loop. So a
 * large copy is cut into pieces of VA_SPLIT_PIECE, and the caller and a
 * helper thread each take the next piece until none is left: whoever
 * starts late or runs slower simply takes fewer.
 *
 * Where the helper runs decides whether this pays (docs/datapath.md,
 * "The copy helper"):
 * - never on the caller's CPU: there the two would take turns (measured
 *   with the helper free to go anywhere: 60 us each, no faster than one
 *   thread). Before each job the helper's affinity leaves out the CPU the
 *   caller is on (one sched_setaffinity, only when that CPU changed);
 * - at once: the other CPU usually runs the polling requester, which a
 *   fair-class helper preempts only when the scheduler judges it owed time
 *   (with autogroups its nice value counts only inside the daemon): it
 *   then joined a third of the jobs, late. So the helper takes the
 *   engine's scheduling class (eng_prio.c): SCHED_FIFO at the lowest
 *   priority when the daemon may, for at most 1 ms per job, then nice -10.
 *   Real time buys the start, never the CPU: the helper never polls; it
 *   sleeps on a futex between jobs, and a job is one message's copy.
 *
 * Splitting is tried while a CPU runs nothing (eng_idle.c), or whatever
 * the load when the helper is real-time: the other CPU then gives up the
 * time of half a copy, which on the daemon path is usually the requester
 * waiting for that very copy. A fair-class helper on a machine with no
 * idle CPU would join late or not at all, so the caller copies alone.
 *
 * The caller waits for the helper's last piece spinning while the helper
 * is real-time on another CPU (sleeping on the futex cost the engine a
 * wake-up of 20-40 us on this VM per job), and asleep otherwise: a
 * spinning caller could keep a fair-class helper queued behind it.
 *
 * One job at a time: a second engine thread (another device) finding the
 * helper busy copies alone.
 *
 * SOFTVERBS_VA_PAIR in the daemon's environment: 0 never splits (no
 * helper), 2 splits whatever the load and the class (for tests), anything
 * else is the default.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "eng_idle.h"
#include "mem_va.h"

/*
 * A piece: two copies through a bounce buffer that stays in the cache.
 * Copies below SVD_MEM_SPLIT_MIN stay on one thread: waking the helper
 * costs ~15-30 us.
 */
#define VA_SPLIT_PIECE (256 * 1024)
/* The longest the caller spins for a real-time helper's last piece. */
#define VA_SPIN_NS (1000 * 1000)

enum { JOB_IDLE, JOB_POSTED, JOB_JOINED, JOB_DONE };

struct va_job {
	const struct svd_umem *dst, *src;
	uint64_t dst_off, src_off, len;
};

enum { PAIR_OFF, PAIR_AUTO, PAIR_ALWAYS };

static struct {
	pthread_once_t once;
	int mode; /* PAIR_* */
	bool running; /* the helper exists */
	_Atomic bool rt; /* the helper starts its jobs in real time */
	_Atomic pid_t tid; /* the helper's, once it runs */
	cpu_set_t cpus; /* the daemon's CPUs when the helper started */
	int left_out; /* the CPU left out of the helper's affinity, -1 */
	pthread_mutex_t lock; /* one job at a time; guards left_out */
	_Atomic uint32_t state; /* JOB_*; also the helper's futex word */
	_Atomic uint64_t next; /* offset of the next piece to take */
	_Atomic int err; /* the first piece that failed */
	struct va_job job;
	/* Counters (svd_mem_describe). */
	_Atomic uint64_t splits, joined, staged, staged_skipped;
} vp = { .once = PTHREAD_ONCE_INIT, .left_out = -1,
	 .lock = PTHREAD_MUTEX_INITIALIZER };

static void futex_op(_Atomic uint32_t *w, int op, uint32_t val)
{
	syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * Take pieces of the posted job until none is left. The helper passes its
 * class (p) so that a long job drops out of real time after 1 ms.
 */
static void va_pieces(struct eng_prio *p)
{
	const struct va_job *j = &vp.job;
	uint64_t off;

	while ((off = atomic_fetch_add(&vp.next, VA_SPLIT_PIECE)) < j->len) {
		uint64_t n = j->len - off < VA_SPLIT_PIECE ? j->len - off :
							     VA_SPLIT_PIECE;
		int ret = mem_va_copy_alone(j->dst, j->dst_off + off, j->src,
					    j->src_off + off, n);

		if (ret) {
			int none = 0;

			/* The first error is the job's; stop taking more. */
			atomic_compare_exchange_strong(&vp.err, &none, ret);
			atomic_store(&vp.next, j->len);
		}
		if (p)
			eng_prio_worked(p, now_ns());
	}
}

static void *va_helper(void *arg)
{
	struct eng_prio prio;
	sigset_t set;

	(void)arg;
	/* Signals belong to the main loop. */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	eng_prio_setup(&prio);
	atomic_store(&vp.rt, prio.mode == ENG_PRIO_RT);
	atomic_store(&vp.tid, (pid_t)syscall(SYS_gettid));
	for (;;) {
		uint32_t want = JOB_POSTED, s = atomic_load(&vp.state);

		if (s != JOB_POSTED) {
			/* Until the state moves on from what we saw. */
			futex_op(&vp.state, FUTEX_WAIT_PRIVATE, s);
			continue;
		}
		if (!atomic_compare_exchange_strong(&vp.state, &want,
						    JOB_JOINED))
			continue; /* the caller finished it alone */
		eng_prio_woke(&prio, now_ns());
		va_pieces(&prio);
		eng_prio_sleeping(&prio);
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
	/*
	 * The main thread's CPUs (its tid is the pid), not the caller's: the
	 * engine thread's own mask may already leave out a streamer's CPU
	 * (eng_steer.c), which is where the helper is wanted.
	 */
	if (vp.mode == PAIR_OFF ||
	    sched_getaffinity(getpid(), sizeof(vp.cpus), &vp.cpus) ||
	    CPU_COUNT(&vp.cpus) < 2)
		return;
	vp.running = !pthread_create(&t, NULL, va_helper, NULL);
	if (vp.running)
		pthread_detach(t);
}

/*
 * Keep the helper off the caller's CPU. Under vp.lock. False: no other
 * CPU for it (or the helper has not started yet).
 */
static bool va_place(void)
{
	pid_t tid = atomic_load(&vp.tid);
	int cpu = sched_getcpu();
	cpu_set_t m;

	if (!tid || cpu < 0)
		return false;
	if (cpu == vp.left_out)
		return true;
	m = vp.cpus;
	CPU_CLR(cpu, &m);
	if (!CPU_COUNT(&m) || sched_setaffinity(tid, sizeof(m), &m))
		return false;
	vp.left_out = cpu;
	return true;
}

/* The helper joined: wait for its last piece (see the top comment). */
static void va_pair_wait(void)
{
	int64_t until = 0;
	uint32_t s;

	if (atomic_load(&vp.rt)) {
		while (atomic_load(&vp.state) != JOB_DONE) {
			int64_t t = now_ns();

			if (!until)
				until = t + VA_SPIN_NS;
			else if (t > until)
				break;
			eng_idle_relax();
		}
	}
	while ((s = atomic_load(&vp.state)) != JOB_DONE)
		futex_op(&vp.state, FUTEX_WAIT_PRIVATE, s);
}

static int va_pair_run(const struct va_job *j)
{
	uint32_t want = JOB_POSTED;

	vp.job = *j;
	atomic_store(&vp.next, 0);
	atomic_store(&vp.err, 0);
	atomic_store(&vp.state, JOB_POSTED); /* seq_cst: publishes the job */
	futex_op(&vp.state, FUTEX_WAKE_PRIVATE, 1);
	va_pieces(NULL);
	/* Every piece is taken: did the helper join (and is it copying)? */
	atomic_fetch_add_explicit(&vp.splits, 1, memory_order_relaxed);
	if (!atomic_compare_exchange_strong(&vp.state, &want, JOB_IDLE)) {
		va_pair_wait();
		atomic_fetch_add_explicit(&vp.joined, 1, memory_order_relaxed);
	}
	atomic_store(&vp.state, JOB_IDLE);
	return atomic_load(&vp.err);
}

bool svd_mem_split_ready(uint64_t len)
{
	if (len < SVD_MEM_SPLIT_MIN)
		return false;
	pthread_once(&vp.once, va_pair_start);
	if (!vp.running || !atomic_load(&vp.tid))
		return false;
	return vp.mode == PAIR_ALWAYS || atomic_load(&vp.rt) ||
	       eng_idle_core_spare();
}

int mem_va_copy(const struct svd_umem *dst, uint64_t dst_off,
		const struct svd_umem *src, uint64_t src_off, uint64_t len)
{
	struct va_job j = { dst, src, dst_off, src_off, len };
	int ret;

	if (!svd_mem_split_ready(len) || pthread_mutex_trylock(&vp.lock))
		return mem_va_copy_alone(dst, dst_off, src, src_off, len);
	if (!va_place()) {
		pthread_mutex_unlock(&vp.lock);
		return mem_va_copy_alone(dst, dst_off, src, src_off, len);
	}
	ret = va_pair_run(&j);
	pthread_mutex_unlock(&vp.lock);
	return ret;
}

void svd_mem_count_staged(bool used)
{
	atomic_fetch_add_explicit(used ? &vp.staged : &vp.staged_skipped, 1,
				  memory_order_relaxed);
}

void svd_mem_describe(char *buf, size_t len)
{
	snprintf(buf, len, "va_splits=%llu va_joined=%llu staged=%llu "
			   "staged_skipped=%llu",
		 (unsigned long long)atomic_load(&vp.splits),
		 (unsigned long long)atomic_load(&vp.joined),
		 (unsigned long long)atomic_load(&vp.staged),
		 (unsigned long long)atomic_load(&vp.staged_skipped));
}
