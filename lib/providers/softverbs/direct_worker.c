// SPDX-License-Identifier: MIT
/*
 * Large VA transfers split with a copy worker (docs/direct-path.md,
 * "Large transfers on two cores").
 *
 * A direct WRITE or READ of a VA region is one process_vm_writev/readv,
 * and at 1 MiB about half of that call is the kernel pinning the target's
 * 4 KiB pages one by one, the other half the copy: one core's worth,
 * whatever the library does. perftest's ib_write_bw and ib_read_bw leave
 * the other core idle (the passive side waits on its socket), so a large
 * transfer is cut into chunks that the posting thread and one worker
 * thread per process take from a shared counter, each chunk its own
 * checked call (svl_dva_vm_one: the mm handle read, then the pid). The
 * post still returns only when every chunk has landed, so nothing about
 * order, completions or the busy record changes: the caller holds the
 * busy record around the whole transfer, as around one call.
 *
 * The worker stays inside the CPU affinity the application gave the
 * thread that started it (a taskset or a container's cpuset binds the
 * library's threads too: a CPU outside it may not even be allowed), on
 * those CPUs other than the one that thread ran on; an application pinned
 * to one CPU gets a worker that finds no core free and never splits. It
 * never makes the post wait for it: a chunk nobody has taken yet is the
 * poster's, so a worker that is asleep, late or on the poster's own CPU
 * costs at most the chunk it is copying. It is woken only for a large
 * transfer and only when a core is free (the kernel's count of runnable
 * threads, /proc/loadavg, as the daemon's engine decides it), spins after
 * a transfer only while a core is free, never at raised priority, and
 * sleeps on a futex otherwise. One per process, started at the first large
 * transfer; a forked child starts its own; the last ibv_close_device
 * stops and joins it. Off unless SOFTVERBS_DIRECT_SPLIT=1 asks for it:
 * on the quiet 2-core machine it made 1 MiB transfers slower, not faster
 * (docs/direct-path.md, "Large transfers on two cores").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/loadavg.h>

#include "direct.h"
#include "direct_op.h"

#define SPLIT_MIN (256 * 1024)	 /* bytes: below, one call */
#define CHUNK_BYTES (512 * 1024) /* a chunk per this much, 2 at least */
#define CHUNKS_MAX 8
#define SPIN_NS 200000L /* the worker waits this long for the next one */
#define FREE_RECHECK_NS 10000L
#define WAIT_SPINS 4096 /* pauses before the poster yields, about 50 us */
#define IOV_MAXN 320	/* direct_va.c's runs: 256 local, 64 remote */

/* The transfer being split; one at a time (owner), the others go whole. */
struct split {
	int fd;
	pid_t pid;
	bool read;
	_Atomic int cpu; /* the poster's */
	struct iovec local[IOV_MAXN], remote[IOV_MAXN];
	unsigned long nlocal, nremote;
	uint64_t len, chunk;
	/* Generation << 32 | chunks << 16 | next chunk: a worker that saw
	 * an older transfer can take nothing from a newer one. */
	_Atomic uint64_t take;
	_Atomic uint32_t left; /* chunks not yet copied */
	_Atomic bool failed;
};

static struct split job;
static _Atomic bool job_owned;
static uint32_t job_gen;
static _Atomic uint32_t wseq; /* futex word: bumped at each transfer */
static _Atomic bool wsleeping, wstop;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t wthread;
static pid_t wpid; /* the process whose worker runs; 0: none */
static bool wforkable;
static unsigned int wusers; /* open device contexts */

/*
 * SOFTVERBS_DIRECT_SPLIT: 1 on, as described above; 2 (tests) the worker
 * takes its chunks whatever the load; anything else, or unset: off.
 */
static int split_mode(void)
{
	static int mode = -1;

	if (mode < 0) {
		const char *v = getenv("SOFTVERBS_DIRECT_SPLIT");

		mode = v && (v[0] == '1' || v[0] == '2') ? v[0] - '0' : 0;
	}
	return mode;
}

/* Is a core free for one more running thread besides those counted? */
static bool core_free(long extra)
{
	long r = sv_loadavg_running();

	return r > 0 && r + extra <= sv_loadavg_cpus;
}

/* ---------------------------------------------------------------------- */
/* Chunks                                                                  */
/* ---------------------------------------------------------------------- */

/* The ranges of v covering bytes [off, off + len) into out: their count. */
static unsigned long iov_slice(const struct iovec *v, unsigned long n,
			       uint64_t off, uint64_t len, struct iovec *out)
{
	unsigned long i, k = 0;

	for (i = 0; i < n && len; i++) {
		uint64_t l = v[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = l - off < len ? l - off : len;
		out[k++] = (struct iovec){(uint8_t *)v[i].iov_base + off, l};
		len -= l;
		off = 0;
	}
	return k;
}

static void chunk_copy(struct split *s, uint32_t i)
{
	struct iovec l[IOV_MAXN], r[IOV_MAXN];
	uint64_t off = (uint64_t)i * s->chunk;
	uint64_t len = s->len - off < s->chunk ? s->len - off : s->chunk;
	unsigned long nl = iov_slice(s->local, s->nlocal, off, len, l);
	unsigned long nr = iov_slice(s->remote, s->nremote, off, len, r);
	ssize_t n = svl_dva_vm_one(s->fd, s->pid, s->read, l, nl, r, nr);

	if (n < 0 || (uint64_t)n != len)
		atomic_store(&s->failed, true);
}

/* Take the next chunk of generation gen: its index, or -1 (none left). */
static int chunk_take(struct split *s, uint32_t gen)
{
	uint64_t v = atomic_load_explicit(&s->take, memory_order_acquire);

	for (;;) {
		uint32_t i = (uint16_t)v, n = (uint16_t)(v >> 16);

		if ((uint32_t)(v >> 32) != gen || i >= n)
			return -1;
		if (atomic_compare_exchange_weak_explicit(&s->take, &v, v + 1,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return (int)i;
	}
}

/* Copy chunks of gen while there are any. */
static void chunks_run(struct split *s, uint32_t gen)
{
	int i;

	while ((i = chunk_take(s, gen)) >= 0) {
		chunk_copy(s, (uint32_t)i);
		atomic_fetch_sub_explicit(&s->left, 1, memory_order_release);
	}
}

/* ---------------------------------------------------------------------- */
/* The worker                                                              */
/* ---------------------------------------------------------------------- */

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Spinning since start: go on (not on the poster's CPU, a core free)? */
static bool may_spin(int64_t start, int64_t *checked)
{
	int64_t t = svl_now_ns();

	if (t - start >= SPIN_NS || sched_getcpu() == atomic_load(&job.cpu))
		return false;
	if (t - *checked < FREE_RECHECK_NS)
		return true;
	*checked = t;
	return core_free(0);
}

/* Spin for the next transfer while a core is free, then sleep. */
static uint32_t worker_wait(uint32_t seen)
{
	int64_t start = svl_now_ns(), checked = start;
	uint32_t v;

	while ((v = atomic_load(&wseq)) == seen && !atomic_load(&wstop)) {
		if (may_spin(start, &checked)) {
			relax();
			continue;
		}
		atomic_store(&wsleeping, true);
		if (atomic_load(&wseq) == seen && !atomic_load(&wstop))
			futex_wait(&wseq, seen);
		atomic_store(&wsleeping, false);
		start = checked = svl_now_ns();
	}
	return v;
}

static void *worker_main(void *arg)
{
	uint32_t seen = atomic_load(&wseq);

	(void)arg;
	while (!atomic_load(&wstop)) {
		uint64_t v;

		seen = worker_wait(seen);
		v = atomic_load_explicit(&job.take, memory_order_acquire);
		/* On the poster's own CPU a chunk would only wait its turn;
		 * on a CPU others want, the poster might wait for a chunk
		 * of ours while we are preempted: it is quicker alone. */
		if (split_mode() == 1 &&
		    (sched_getcpu() == atomic_load(&job.cpu) || !core_free(0)))
			continue;
		chunks_run(&job, (uint32_t)(v >> 32));
	}
	return NULL;
}

/*
 * The CPUs the starting (posting) thread may use but does not run on now,
 * if there are any, else all of its own: the scheduler wakes a thread on
 * its waker's CPU when it can, where it would only wait for the poster.
 * See the top of the file.
 */
static void worker_cpus(pthread_attr_t *a)
{
	cpu_set_t mine;
	int cpu = sched_getcpu();

	if (sched_getaffinity(0, sizeof(mine), &mine))
		return; /* unknown: the thread inherits the caller's mask */
	if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_COUNT(&mine) > 1)
		CPU_CLR(cpu, &mine);
	pthread_attr_setaffinity_np(a, sizeof(mine), &mine);
}

static void worker_fork_child(void)
{
	wpid = 0; /* the child has no worker: it starts its own */
	atomic_store(&job_owned, false);
	atomic_store(&wsleeping, false);
	pthread_mutex_unlock(&wlock);
}

static void worker_fork_lock(void)
{
	pthread_mutex_lock(&wlock);
}

static void worker_fork_unlock(void)
{
	pthread_mutex_unlock(&wlock);
}

/* Under wlock: the worker of this process runs (started if needed). */
static bool worker_start(void)
{
	pid_t self = getpid();
	sigset_t all, old;
	pthread_attr_t a;
	int ret;

	if (wpid == self)
		return true;
	if (!wforkable) {
		if (pthread_atfork(worker_fork_lock, worker_fork_unlock,
				   worker_fork_child))
			return false;
		wforkable = true;
	}
	if (pthread_attr_init(&a))
		return false;
	worker_cpus(&a);
	atomic_store(&wstop, false);
	sigfillset(&all); /* the application's signals are not for it */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&wthread, &a, worker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (ret)
		return false;
	pthread_setname_np(wthread, "sv-copy"); /* tests look for it */
	__atomic_store_n(&wpid, self, __ATOMIC_RELEASE);
	return true;
}

static bool worker_ready(void)
{
	bool ok;

	if (__atomic_load_n(&wpid, __ATOMIC_ACQUIRE) == getpid())
		return true;
	pthread_mutex_lock(&wlock);
	ok = wusers && worker_start();
	pthread_mutex_unlock(&wlock);
	return ok;
}

void svl_dworker_ctx_open(void)
{
	pthread_mutex_lock(&wlock);
	wusers++;
	pthread_mutex_unlock(&wlock);
}

/* The last context closed: stop and join this process' worker. */
void svl_dworker_ctx_close(void)
{
	pthread_mutex_lock(&wlock);
	if (wusers && !--wusers) {
		if (wpid == getpid()) {
			atomic_store(&wstop, true);
			atomic_fetch_add(&wseq, 1);
			futex_wake(&wseq);
			pthread_join(wthread, NULL);
			wpid = 0;
		}
		svl_dassist_stop(); /* and the peer-assist helper */
	}
	pthread_mutex_unlock(&wlock);
}

/* ---------------------------------------------------------------------- */
/* The poster                                                              */
/* ---------------------------------------------------------------------- */

/* The transfer into job: its chunks, or 0 (too many ranges). */
static uint32_t job_fill(int fd, pid_t pid, bool read,
			 const struct iovec *local, unsigned long nlocal,
			 const struct iovec *remote, unsigned long nremote,
			 uint64_t len)
{
	uint32_t n = (uint32_t)(len / CHUNK_BYTES), chunks;

	if (nlocal > IOV_MAXN || nremote > IOV_MAXN)
		return 0;
	n = n < 2 ? 2 : n > CHUNKS_MAX ? CHUNKS_MAX : n;
	job.fd = fd;
	job.pid = pid;
	job.read = read;
	atomic_store(&job.cpu, sched_getcpu());
	memcpy(job.local, local, nlocal * sizeof(*local));
	memcpy(job.remote, remote, nremote * sizeof(*remote));
	job.nlocal = nlocal;
	job.nremote = nremote;
	job.len = len;
	/* Whole pages per chunk: each pins its own. */
	job.chunk = ((len + n - 1) / n + 4095) & ~(uint64_t)4095;
	chunks = (uint32_t)((len + job.chunk - 1) / job.chunk);
	atomic_store(&job.failed, false);
	atomic_store(&job.left, chunks);
	return chunks;
}

/* Publish the job and wake the worker if it sleeps and a core is free. */
static void job_publish(uint32_t chunks)
{
	job_gen++;
	atomic_store_explicit(&job.take,
			      (uint64_t)job_gen << 32 | (uint64_t)chunks << 16,
			      memory_order_release);
	atomic_fetch_add(&wseq, 1);
	if (atomic_load(&wsleeping))
		futex_wake(&wseq);
}

/* Will the worker be there: awake, or asleep with a core free for it? */
static bool worker_wanted(void)
{
	return !atomic_load(&wsleeping) || split_mode() == 2 || core_free(1);
}

static ssize_t job_finish(void)
{
	unsigned int spins = 0;
	ssize_t n;

	chunks_run(&job, job_gen);
	/* Only a chunk the worker is copying is left: it may have lost its
	 * CPU, so after a while let others have ours. */
	while (atomic_load_explicit(&job.left, memory_order_acquire))
		if (++spins < WAIT_SPINS)
			relax();
		else
			sched_yield();
	n = atomic_load(&job.failed) ? -1 : (ssize_t)job.len;
	atomic_store_explicit(&job_owned, false, memory_order_release);
	return n;
}

static uint64_t iov_len(const struct iovec *v, unsigned long n)
{
	uint64_t len = 0;

	while (n--)
		len += v[n].iov_len;
	return len;
}

ssize_t svl_dva_vm(int fd, pid_t pid, bool read, const struct iovec *local,
		   unsigned long nlocal, const struct iovec *remote,
		   unsigned long nremote)
{
	uint64_t len = iov_len(local, nlocal);
	bool mine = false;
	uint32_t chunks;

	if (len < SPLIT_MIN || !split_mode() || !worker_ready() ||
	    !worker_wanted() ||
	    !atomic_compare_exchange_strong(&job_owned, &mine, true))
		return svl_dva_vm_one(fd, pid, read, local, nlocal, remote,
				      nremote);
	chunks = job_fill(fd, pid, read, local, nlocal, remote, nremote, len);
	if (!chunks) {
		atomic_store(&job_owned, false);
		return svl_dva_vm_one(fd, pid, read, local, nlocal, remote,
				      nremote);
	}
	job_publish(chunks);
	return job_finish();
}
