// SPDX-License-Identifier: MIT
/*
 * The data-direct DMA engine (svd_dd.h): a worker thread that shares large
 * copies with the engine thread that asked for them.
 *
 * A copy of at least DD_SPLIT_MIN bytes becomes a job of chunks. One 64-bit
 * word says which chunks are left: generation (32 bits) | first left (16)
 * | end of those left (16). The caller takes chunks from the front, the
 * worker from the back, so from one transfer to the next each thread
 * copies the same half and finds it in its own CPU's cache. Whoever wins a
 * compare-and-swap on the word owns that chunk, so the two never copy the
 * same bytes, and a worker that wakes late finds the word of a finished
 * job empty (or of a newer generation) and takes nothing. The caller
 * publishes the job parameters before the word (release); a claimant reads
 * them after its CAS (acquire), and the caller changes them only once
 * every chunk is done.
 *
 * The worker polls for a new job for DD_SPIN_NS after finishing one (so a
 * stream of transfers finds it awake, at the price of a short spin; see
 * dd_poll()), then sleeps on a futex; the caller wakes it only when it
 * sleeps. On a loaded machine where the worker gets no CPU, the caller
 * simply copies every chunk itself. The one cost is a worker preempted in
 * the middle of a chunk, which the caller must wait for (it may not copy
 * those bytes itself: a late write by the worker could land after the
 * completion); when such waits eat what splitting saved, the path copies
 * alone for a while (dd_judge()).
 *
 * What the engine hands it: one copy per step of a QP, up to ENG_CHUNK
 * (1 MiB) for any transfer whose local or remote memory is a data-direct
 * region, in either role (source or destination), and up to DD_BURST
 * when the local memory is (eng_dd.c), so a large transfer is a few large
 * jobs, each split between two threads. (At the engine's former 64 KiB
 * step no job reached DD_SPLIT_MIN and the worker never ran: dma-buf /
 * data-direct 0.95-1.02 at 1 and 8 MiB.)
 *
 * The worker is real-time while it copies (SCHED_FIFO where the daemon
 * may) and between jobs in the class its caller, the engine thread, had
 * at the last job (eng_prio.c: real-time for the first ms of each burst,
 * then nice -10; dd_work()): it is the device's second DMA engine, and in
 * the fair class on a loaded machine it gets a CPU only after the job is
 * over. The engine keeps it off its own CPU (dd_steer()).
 *
 * Copy method: jobs of DD_STREAM_MIN bytes and more, and those that
 * continue where the previous one ended (the bursts of a transfer larger
 * than one), are a long transfer's: they are copied with memcpy or with
 * streaming stores (dd_copy.c), whichever measured faster lately
 * (dd_pick.c; dd_long()). Shorter jobs stay in the caches: memcpy.
 *
 * Faults: chunks are copied by mem.c (svd_mem_copy_direct/_stream), whose
 * SIGBUS guard is per thread, so a truncated memfd fails the chunk (and
 * the job) with -EFAULT on whichever thread touched it.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dd_pick.h"
#include "eng_idle.h"
#include "svd_dd.h"
#include "svd_mem.h"

#define DD_CHUNK (64 * 1024)
#define DD_SPLIT_MIN (256 * 1024) /* below this one thread is faster */
#define DD_STREAM_MIN (4 << 20)	  /* a long transfer from here */
#define DD_BURST (1ULL << 20)	  /* engine step on a data-direct region */
#define DD_MAX_CHUNKS 0xffffU	  /* front and back are 16 bits */
#define DD_SPIN_NS 200000ULL
#define DD_RT_POLL_NS 50000ULL /* real-time polling between jobs */
#define DD_WAIT_YIELD 4096	     /* pause loops before yielding the CPU */
#define DD_BACKOFF_MIN_NS 10000000L  /* after a late worker, copy alone */
#define DD_BACKOFF_MAX_NS 640000000L /* for 10 ms, doubling up to 0.64 s */
#define DD_CREDIT_MAX_NS 2000000L    /* gains kept to pay for stalls */

struct dd_job {
	const struct svd_umem *dst, *src;
	uint64_t dst_off, src_off, len, chunk;
	bool stream; /* a large job: streaming stores (dd_copy.c) */
	bool rt;     /* the caller is real-time (eng_prio.c) */
};

struct svd_dd_dma {
	pthread_mutex_t lock; /* one job at a time; start/stop */
	pthread_t thread;
	atomic_bool running; /* the worker exists */
	atomic_bool stop;
	_Atomic uint64_t claim; /* gen << 32 | front << 16 | back */
	uint32_t gen;		/* last generation (under lock) */
	_Atomic uint32_t seq;	/* futex word: bumped per job and at stop */
	_Atomic uint32_t sleeping;
	_Atomic uint32_t done; /* chunks of the current job finished */
	_Atomic int err;       /* first chunk error of the current job */
	struct dd_job job;
	_Atomic uint64_t copies, bytes, splits, worker_bytes, stalls, stall_ns;
	_Atomic uint64_t alone_until; /* CLOCK_MONOTONIC ns: no splitting */
	uint64_t backoff;	      /* next copy-alone period (under lock) */
	int64_t credit;		      /* ns splitting saved lately (lock) */
	_Atomic pid_t worker_tid;     /* for dd_steer(); 0 until it runs */
	_Atomic bool job_rt;	      /* job.rt, for the worker */
	_Atomic uintptr_t last_dst;   /* where the last copy ended: */
	_Atomic uint64_t last_end;    /* dd_long()'s hint */
	_Atomic int steer_cpu;	      /* the caller's CPU it was kept off */
	struct dd_pick pick;	   /* a long transfer's method (lock) */
	struct dd_pick pick_alone; /* the same, copied without the worker */
	_Atomic uint64_t long_jobs, long_streamed;
};

static inline uint64_t claim_word(uint32_t gen, uint32_t front, uint32_t back)
{
	return (uint64_t)gen << 32 | (uint64_t)front << 16 | back;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Take one chunk (the first or the last left); false when none is. */
static bool dd_claim(struct svd_dd_dma *d, bool back, uint32_t *idx)
{
	uint64_t c = atomic_load_explicit(&d->claim, memory_order_acquire);
	uint32_t front, end;
	uint64_t n;

	do {
		front = (uint32_t)(c >> 16) & DD_MAX_CHUNKS;
		end = (uint32_t)c & DD_MAX_CHUNKS;
		if (front >= end)
			return false;
		n = back ? claim_word((uint32_t)(c >> 32), front, end - 1)
			 : claim_word((uint32_t)(c >> 32), front + 1, end);
	} while (!atomic_compare_exchange_weak_explicit(
	    &d->claim, &c, n, memory_order_acq_rel, memory_order_acquire));
	*idx = back ? end - 1 : front;
	return true;
}

static uint64_t dd_copy_chunk(struct svd_dd_dma *d, uint32_t idx)
{
	const struct dd_job *j = &d->job;
	uint64_t off = (uint64_t)idx * j->chunk;
	uint64_t n = j->len - off < j->chunk ? j->len - off : j->chunk;
	int ret, none = 0;

	ret = j->stream ? svd_mem_copy_stream(j->dst, j->dst_off + off, j->src,
					      j->src_off + off, n)
			: svd_mem_copy_direct(j->dst, j->dst_off + off, j->src,
					      j->src_off + off, n);
	if (ret)
		atomic_compare_exchange_strong(&d->err, &none, ret);
	atomic_fetch_add_explicit(&d->done, 1, memory_order_release);
	return n;
}

/* Copy chunks until none is left; returns the bytes this thread moved. */
static uint64_t dd_help(struct svd_dd_dma *d, bool back)
{
	uint64_t bytes = 0;
	uint32_t idx;

	while (dd_claim(d, back, &idx))
		bytes += dd_copy_chunk(d, idx);
	return bytes;
}

/*
 * Poll seq for DD_SPIN_NS; the new value, or seen if none came. A pause
 * loop, not sched_yield(): in the fair class a yield hands the CPU to any
 * runnable thread for its whole slice (milliseconds on a loaded machine),
 * and the jobs of a stream, tens of microseconds apart, would go by
 * without the worker (measured: it moved 32% of the bytes instead of
 * half). It yields only on the caller's own CPU (dd_steer() moves it off
 * at the next job), where spinning would hold up the engine itself.
 */
static uint32_t dd_poll(struct svd_dd_dma *d, uint32_t seen,
		       struct eng_prio *prio)
{
	uint64_t t0 = now_ns(), t;
	unsigned int spins = 0;
	uint32_t s;

	for (;;) {
		s = atomic_load_explicit(&d->seq, memory_order_acquire);
		if (s != seen)
			return s;
		cpu_relax();
		if (++spins % 64)
			continue;
		t = now_ns();
		if (t - t0 > DD_SPIN_NS)
			return seen;
		if (t - t0 > DD_RT_POLL_NS)
			eng_prio_drop(prio); /* no stream: not real-time */
		if (sched_getcpu() == atomic_load(&d->steer_cpu))
			sched_yield();
	}
}

/*
 * Sleep on seq until it moves from seen (the caller polled already);
 * returns the new value.
 */
static uint32_t dd_sleep(struct svd_dd_dma *d, uint32_t seen)
{
	atomic_store(&d->sleeping, 1);
	/* Re-check after announcing: a kick in between is not lost. */
	if (atomic_load(&d->seq) == seen)
		futex(&d->seq, FUTEX_WAIT_PRIVATE, seen, NULL);
	atomic_store(&d->sleeping, 0);
	return atomic_load_explicit(&d->seq, memory_order_acquire);
}

/*
 * The worker's share of the current job: real-time while it holds chunks,
 * then in its caller's scheduling class (job_rt: the engine thread is
 * real-time for the first ms of a burst, eng_prio.c) while it polls for
 * the next job.
 *
 * While it copies: the caller may not copy a chunk the worker claimed
 * (a late write could land after the completion), so a worker preempted
 * in the middle of one holds the engine up until the scheduler gives it
 * a CPU again. In the fair class at load 10-20 such waits averaged
 * 0.5 ms (up to 23 ms), 1-5 s in a 25 s benchmark run, and sent the path
 * copying alone for tens of ms (dd_judge()); real-time, 0.3-1 ms in all.
 * When the caller is fair too this costs two class changes per job
 * (1.5 us each here), off the caller's path: the first delays the
 * worker's start, the second comes after its last chunk.
 *
 * Between jobs: the worker follows the engine rather than keeping a
 * budget of its own. It polls between the jobs of a stream and so never
 * slept, and with its own budget it stayed in the fair class while the
 * engine, woken for each batch of requests, was real-time again -- and
 * in the fair class, where the daemon's threads share one autogroup's
 * weight, a second thread adds little CPU time (measured: the worker
 * moved 12-32% of the bytes of 1 MiB transfers at load 10, not half;
 * following the engine, 40-49%). Following costs a class change per
 * burst of the engine, not per job.
 */
static void dd_work(struct svd_dd_dma *d, struct eng_prio *prio)
{
	uint64_t c = atomic_load_explicit(&d->claim, memory_order_acquire);
	bool rt = atomic_load(&d->job_rt); /* stale: picks the class */

	if (((uint32_t)(c >> 16) & DD_MAX_CHUNKS) >=
	    ((uint32_t)c & DD_MAX_CHUNKS))
		return; /* nothing left */
	eng_prio_sleeping(prio); /* real time again, if it was fair */
	atomic_fetch_add(&d->worker_bytes, dd_help(d, true));
	if (!rt)
		eng_prio_drop(prio);
}

static void *dd_worker(void *arg)
{
	struct svd_dd_dma *d = arg;
	uint32_t seen = atomic_load(&d->seq);
	struct eng_prio prio;
	sigset_t set;

	/* Signals belong to the main loop; a SIGBUS is our own fault. */
	sigfillset(&set);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/*
	 * The engine thread's scheduling class (eng_prio.c): the device is a
	 * second DMA engine, not a background helper; in the fair class on
	 * a busy machine it would get a CPU too late to take any chunk.
	 * Real time while it copies, and between jobs exactly when the
	 * engine is (dd_work()).
	 */
	eng_prio_setup(&prio);
	atomic_store(&d->worker_tid, (pid_t)syscall(SYS_gettid));
	/*
	 * Between jobs of a stream it polls (a futex wake-up across CPUs
	 * costs about 20 us here, more than half a split 1 MiB copy), in
	 * the class of the last job for DD_RT_POLL_NS, then in the fair
	 * class (no stream is coming: a real-time spin would only keep
	 * others off the CPU), and it sleeps after DD_SPIN_NS, real-time
	 * so that the next job's wake-up preempts at once.
	 */
	while (!atomic_load(&d->stop)) {
		uint32_t s;

		dd_work(d, &prio);
		s = dd_poll(d, seen, &prio);
		if (s == seen) {
			eng_prio_sleeping(&prio); /* the wake-up preempts */
			s = dd_sleep(d, seen);
		}
		seen = s;
	}
	return NULL;
}

static void dd_kick(struct svd_dd_dma *d)
{
	atomic_fetch_add(&d->seq, 1); /* seq_cst: pairs with sleeping */
	if (atomic_load(&d->sleeping))
		futex(&d->seq, FUTEX_WAKE_PRIVATE, 1, NULL);
}

struct svd_dd_dma *svd_dd_dma_new(void)
{
	struct svd_dd_dma *d = calloc(1, sizeof(*d));

	if (d) {
		pthread_mutex_init(&d->lock, NULL);
		dd_pick_init(&d->pick);
		dd_pick_init(&d->pick_alone);
		d->backoff = DD_BACKOFF_MIN_NS;
		d->steer_cpu = -1;
	}
	return d;
}

void svd_dd_dma_free(struct svd_dd_dma *d)
{
	if (!d)
		return;
	svd_dd_dma_stop(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int svd_dd_dma_start(struct svd_dd_dma *d)
{
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (!atomic_load(&d->running)) {
		atomic_store(&d->stop, false);
		ret = -pthread_create(&d->thread, NULL, dd_worker, d);
		atomic_store(&d->running, ret == 0);
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* Under the lock no job is running, so the worker holds no chunk. */
void svd_dd_dma_stop(struct svd_dd_dma *d)
{
	pthread_mutex_lock(&d->lock);
	if (atomic_load(&d->running)) {
		atomic_store(&d->running, false);
		atomic_store(&d->worker_tid, 0);
		d->steer_cpu = -1;
		atomic_store(&d->stop, true);
		dd_kick(d);
		futex(&d->seq, FUTEX_WAKE_PRIVATE, 1, NULL);
		pthread_join(d->thread, NULL);
	}
	pthread_mutex_unlock(&d->lock);
}

/*
 * Keep the worker off the caller's CPU (d->lock held). The caller is the
 * engine thread, which drops to the fair class during a long burst
 * (eng_prio.c) while the worker wakes real-time for every job: woken on
 * the engine's CPU it would preempt the very thread it should copy beside
 * (measured: data direct 0.85x the default path at 1 MiB). One
 * sched_setaffinity() when the caller moved, none otherwise.
 */
static void dd_steer(struct svd_dd_dma *d)
{
	pid_t tid = atomic_load(&d->worker_tid);
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (!tid || cpu < 0 || cpu == d->steer_cpu ||
	    sched_getaffinity(0, sizeof(set), &set))
		return;
	CPU_CLR(cpu, &set);
	if (CPU_COUNT(&set) && !sched_setaffinity(tid, sizeof(set), &set))
		d->steer_cpu = cpu;
}

/* Publish a job of len bytes; returns its chunk count. */
static uint32_t dd_publish(struct svd_dd_dma *d, const struct dd_job *job)
{
	uint64_t chunk = DD_CHUNK;
	uint32_t count;

	if (job->len > (uint64_t)DD_MAX_CHUNKS * chunk)
		chunk = (job->len + DD_MAX_CHUNKS - 1) / DD_MAX_CHUNKS;
	count = (uint32_t)((job->len + chunk - 1) / chunk);
	d->job = *job;
	d->job.chunk = chunk;
	atomic_store(&d->job_rt, job->rt);
	atomic_store(&d->done, 0);
	atomic_store(&d->err, 0);
	atomic_store_explicit(&d->claim, claim_word(++d->gen, 0, count),
			      memory_order_release);
	dd_kick(d);
	return count;
}

/* Wait for the chunks the worker still copies (at most one). */
static void dd_wait_done(struct svd_dd_dma *d, uint32_t count)
{
	unsigned int spins = 0;

	while (atomic_load_explicit(&d->done, memory_order_acquire) < count) {
		if (++spins % DD_WAIT_YIELD)
			cpu_relax();
		else
			sched_yield();
	}
}

/*
 * Was splitting worth it? The worker's bytes saved the caller the time it
 * would have spent on them (at the caller's own pace: (t1 - t0) for mine
 * bytes); waiting for a worker that came late or lost its CPU in the
 * middle of a chunk (t2 - t1) costs. The balance is kept over recent
 * copies (capped at DD_CREDIT_MAX_NS), so a stall now and then on a busy
 * machine is paid from the gains around it; only when waiting eats the
 * gains does the path copy alone for a while, twice as long each time in
 * a row. (Backing off after every stall instead cost more than the
 * stalls: measured, 8 stalls of 85 us on average made 440 of 768 1 MiB
 * copies go alone, in periods of 10 ms and more.)
 */
static void dd_judge(struct svd_dd_dma *d, uint64_t mine, uint64_t len,
		     uint64_t t0, uint64_t t1, uint64_t t2)
{
	int64_t gain = mine ? (int64_t)((t1 - t0) * (len - mine) / mine) : 0;

	if (t2 - t1 > (t1 - t0) / 2) {
		atomic_fetch_add(&d->stalls, 1);
		atomic_fetch_add(&d->stall_ns, t2 - t1);
	}
	d->credit += gain - (int64_t)(t2 - t1);
	if (d->credit > DD_CREDIT_MAX_NS)
		d->credit = DD_CREDIT_MAX_NS;
	if (d->credit >= 0) {
		if (t2 - t1 <= (t1 - t0) / 2)
			d->backoff = DD_BACKOFF_MIN_NS;
		return;
	}
	d->credit = 0;
	atomic_store(&d->alone_until, t2 + d->backoff);
	if (d->backoff < DD_BACKOFF_MAX_NS)
		d->backoff *= 2;
}

/*
 * Overlapping ranges of one mapping (a region written onto itself) keep
 * memmove's meaning: chunks copied in parallel would not.
 */
static bool dd_overlap(const struct svd_umem *dst, uint64_t dst_off,
		       const struct svd_umem *src, uint64_t src_off,
		       uint64_t len)
{
	uintptr_t a = (uintptr_t)dst->map + dst_off;
	uintptr_t b = (uintptr_t)src->map + src_off;

	return dst->kind == SVD_UMEM_MAPPED && src->kind == SVD_UMEM_MAPPED &&
	       a < b + len && b < a + len;
}

/* Without the worker: the path's copy method on this thread alone. */
static int dd_copy_alone(const struct dd_job *j)
{
	if (j->stream)
		return svd_mem_copy_stream(j->dst, j->dst_off, j->src,
					   j->src_off, j->len);
	return svd_mem_copy_direct(j->dst, j->dst_off, j->src, j->src_off,
				   j->len);
}

/*
 * Is the job part of a long transfer: a large one, or one that continues
 * where the last one ended (the engine moves a transfer in bursts of
 * 1 MiB, so an 8 MiB WRITE is eight copies end to end)? Its method is
 * measured (dd_pick.h): streaming stores pay where such a transfer is
 * larger than the caches' share it gets (measured under load 10-15:
 * 8 MiB in 1.1-1.6 ms against 2.0-3.3 with memcpy), memcpy between two
 * CPUs where it fits. A 1 MiB transfer repeated into the same place stays
 * in the caches, where memcpy is faster. The last end is a hint only
 * (read and written without the lock: a stale one costs speed, never
 * bytes).
 */
static bool dd_long(struct svd_dd_dma *d, const struct dd_job *j)
{
	bool cont = atomic_load_explicit(&d->last_dst, memory_order_relaxed) ==
			(uintptr_t)j->dst &&
		    atomic_load_explicit(&d->last_end, memory_order_relaxed) ==
			j->dst_off;

	atomic_store_explicit(&d->last_dst, (uintptr_t)j->dst,
			      memory_order_relaxed);
	atomic_store_explicit(&d->last_end, j->dst_off + j->len,
			      memory_order_relaxed);
	return j->len >= DD_STREAM_MIN || (cont && j->len >= DD_SPLIT_MIN);
}

static bool dd_worth_splitting(struct svd_dd_dma *d, const struct svd_umem *dst,
			       uint64_t dst_off, const struct svd_umem *src,
			       uint64_t src_off, uint64_t len)
{
	return len >= DD_SPLIT_MIN && atomic_load(&d->running) &&
	       !dd_overlap(dst, dst_off, src, src_off, len) &&
	       now_ns() >= atomic_load(&d->alone_until);
}

/* A job of a long transfer: what its method cost (d->lock). */
static void dd_pick_long(struct svd_dd_dma *d, struct dd_pick *p, bool stream,
			 uint64_t ns, uint64_t len)
{
	atomic_fetch_add(&d->long_jobs, 1);
	if (stream)
		atomic_fetch_add(&d->long_streamed, 1);
	dd_pick_note(p, stream, ns, len);
}

/*
 * Without the worker (it is starved, stopped, or the job is small). A
 * long transfer's job still has a method to pick, measured apart from
 * the split jobs (one CPU's costs are not two CPUs'): when another
 * program keeps the other CPU, streaming stores alone may still beat
 * memcpy alone. Noted only if the lock is free at once.
 */
static int dd_alone(struct svd_dd_dma *d, struct dd_job *j, bool lng)
{
	uint64_t t0;
	int ret;

	if (!lng)
		return dd_copy_alone(j);
	j->stream = dd_pick_stream(&d->pick_alone);
	t0 = now_ns();
	ret = dd_copy_alone(j);
	if (!pthread_mutex_trylock(&d->lock)) {
		dd_pick_long(d, &d->pick_alone, j->stream, now_ns() - t0,
			     j->len);
		pthread_mutex_unlock(&d->lock);
	}
	return ret;
}

int svd_dd_copy(struct svd_dd_dma *d, const struct svd_umem *dst,
		uint64_t dst_off, const struct svd_umem *src, uint64_t src_off,
		uint64_t len)
{
	struct dd_job job = {dst, src, dst_off, src_off, len, 0, false,
			     eng_prio_rt_now()};
	uint64_t t0, t1, t2, mine;
	bool lng = dd_long(d, &job);
	uint32_t count;
	int ret;

	atomic_fetch_add(&d->copies, 1);
	atomic_fetch_add(&d->bytes, len);
	if (!dd_worth_splitting(d, dst, dst_off, src, src_off, len) ||
	    pthread_mutex_trylock(&d->lock))
		return dd_alone(d, &job, lng);
	if (!atomic_load(&d->running)) {
		pthread_mutex_unlock(&d->lock);
		return dd_alone(d, &job, lng);
	}
	dd_steer(d);
	atomic_fetch_add(&d->splits, 1);
	job.stream = lng && dd_pick_stream(&d->pick); /* as measured */
	t0 = now_ns();
	count = dd_publish(d, &job);
	mine = dd_help(d, false);
	t1 = now_ns();
	dd_wait_done(d, count);
	t2 = now_ns();
	dd_judge(d, mine, len, t0, t1, t2);
	if (lng)
		dd_pick_long(d, &d->pick, job.stream, t2 - t0, len);
	ret = atomic_load(&d->err);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static uint64_t dd_burst = DD_BURST;
static pthread_once_t dd_burst_once = PTHREAD_ONCE_INIT;

/* SOFTVERBS_DD_BURST_KIB (64 .. 8192) for measurements: 64 is the old
 * engine-sized step, where the worker never runs. */
static void dd_burst_read(void)
{
	const char *env = getenv("SOFTVERBS_DD_BURST_KIB");
	long kib = env ? atol(env) : 0;

	if (kib >= 64 && kib <= 8192)
		dd_burst = (uint64_t)kib << 10;
}

uint64_t svd_dd_burst(void)
{
	pthread_once(&dd_burst_once, dd_burst_read);
	return dd_burst;
}

void svd_dd_dma_stats(struct svd_dd_dma *d, struct svd_dd_stats *st)
{
	st->copies = atomic_load(&d->copies);
	st->bytes = atomic_load(&d->bytes);
	st->splits = atomic_load(&d->splits);
	st->worker_bytes = atomic_load(&d->worker_bytes);
	st->stalls = atomic_load(&d->stalls);
	st->stall_ns = atomic_load(&d->stall_ns);
	st->long_jobs = atomic_load(&d->long_jobs);
	st->long_streamed = atomic_load(&d->long_streamed);
}
