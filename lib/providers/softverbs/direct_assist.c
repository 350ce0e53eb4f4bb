// SPDX-License-Identifier: MIT
/*
 * Peer assist: the receiver's library copies part of a large direct WRITE
 * or READ (docs/direct-path.md, "Peer assist").
 *
 * A direct WRITE of 1 MiB to a VA region is one process_vm_writev by the
 * initiator, and that call is the kernel's single-copy floor, about
 * 8-10 GB/s here: the same call UCX's tag_bw makes. Two threads writing
 * into one target gain little (both pin the target's pages under its
 * locks), but the target's own thread pulling the other half from the
 * initiator (process_vm_readv, pinning the initiator's pages) does not
 * contend with it: 16-18 GB/s in a two-process probe. perftest and most
 * bulk receivers leave the target idle on its own CPU while the
 * initiator posts, so the target's library lends that CPU.
 *
 * Receiver side: one helper thread per process (named sv-assist, started
 * when the first receive ring of one of our QPs is registered, inside the
 * process's CPU affinity) serves the jobs initiators put in the header of
 * our QPs' receive rings (sv_direct_rx_hdr as_*; only a granted, connected
 * initiator can map that page). It polls while a core is free and for at
 * most ASSIST_SPIN_NS after its last chunk, else sleeps on the rings'
 * as_wake words. Before each chunk it reads the job's token in the
 * initiator (by pid): a process that reused the pid has no such bytes
 * there, so nothing is ever copied in the name of an exited initiator.
 *
 * Initiator side (svl_dassist_io, inside the busy record around the
 * transfer): the job is published, a sleeping helper woken only when a
 * core is free for it, and the poster copies chunks too, taking them
 * from the same counter; it returns only when every chunk has landed, so
 * order, completions and deregistration are those of one call. A helper
 * that fails a chunk (a ptrace policy that forbids the receiver to reach
 * the initiator, say) makes the poster do the whole transfer itself; a
 * receiver that exits mid-chunk is seen through the registrar's mm handle
 * and fails the work request, which the daemon then completes as on the
 * daemon path.
 *
 * Security: the helper copies only between the initiator (whose ptrace
 * rights over the receiver the daemon checked before the grant that gave
 * it the page) and the receiver's own memory, at addresses the initiator
 * checked against the daemon's table; it gives the initiator nothing it
 * could not do with process_vm_* itself, and the kernel checks the
 * receiver's own right to reach the initiator on every call.
 *
 * SOFTVERBS_DIRECT_ASSIST: unset or 1 on; 0 off; 2 (tests) the helper
 * polls and takes chunks whatever the load; 3 (tests) as 2, and the
 * initiator leaves every chunk to the helper.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/loadavg.h>

#include "direct.h"
#include "direct_op.h"

#define ASSIST_MIN (256 * 1024) /* bytes: below, the initiator alone */
#define ASSIST_CHUNK (256 * 1024)
#define ASSIST_CHUNKS_MAX 64 /* longer transfers get longer chunks */
#define ASSIST_SPIN_NS 200000L /* the helper polls this long after work */
#define WAR_SPIN_NS 50000L /* the helper polls this long after a small WRITE */
#define ASSIST_RECHECK_NS 100000L /* a /proc/loadavg read: ~5 us */
#define ASSIST_RINGS 120 /* rings one helper serves (futex_waitv: 128) */
#define ASSIST_NAP_NS 100000000L /* the longest sleep */
#define ASSIST_CHECK_NS 1000000L /* initiator waiting: is the peer alive */

/* ---------------------------------------------------------------------- */
/* Shared words                                                            */
/* ---------------------------------------------------------------------- */

#define A32(p) ((_Atomic uint32_t *)(p))
#define A64(p) ((_Atomic uint64_t *)(p))

static void relax(void)
{
	__builtin_ia32_pause();
}

/* 0 off, 1 on, 2 helper forced, 3 helper does everything (tests). */
static int assist_mode(void)
{
	static int mode = -1;

	if (mode < 0) {
		const char *v = getenv("SOFTVERBS_DIRECT_ASSIST");

		mode = !v || !*v ? 1 : (v[0] >= '0' && v[0] <= '3') ?
				   v[0] - '0' : 1;
	}
	return mode;
}

/* Is a core free for one more running thread? */
static bool core_free(void)
{
	long r = sv_loadavg_running();

	return r > 0 && r + 1 <= sv_loadavg_cpus;
}

/* Take the next chunk of generation gen: its index, or -1. */
static int chunk_take(struct sv_direct_rx_hdr *h, uint32_t gen)
{
	uint64_t v = atomic_load_explicit(A64(&h->as_take),
					  memory_order_acquire);

	for (;;) {
		uint32_t i = (uint16_t)v, n = (uint16_t)(v >> 16);

		if ((uint32_t)(v >> 32) != gen || i >= n)
			return -1;
		if (atomic_compare_exchange_weak_explicit(
			    A64(&h->as_take), &v, v + 1, memory_order_acq_rel,
			    memory_order_acquire))
			return (int)i;
	}
}

struct ajob {
	uint64_t laddr, raddr, len, chunk, token_addr, token;
	pid_t pid;
	bool read;
};

static void chunk_range(const struct ajob *j, uint32_t i, uint64_t *off,
			uint64_t *len)
{
	*off = (uint64_t)i * j->chunk;
	*len = j->len - *off < j->chunk ? j->len - *off : j->chunk;
}

/* ---------------------------------------------------------------------- */
/* The receiver's helper                                                   */
/* ---------------------------------------------------------------------- */

static pthread_mutex_t alock = PTHREAD_MUTEX_INITIALIZER;
static struct svl_drx *rings[ASSIST_RINGS];
static unsigned int nrings;
static pid_t apid; /* the process whose helper runs; 0: none */
static pthread_t athread;
static _Atomic uint32_t akick; /* private futex: new rings, stop */
static _Atomic bool astop;

/* Still the initiator that posted: its token where it said. */
static bool token_ok(const struct ajob *j)
{
	uint64_t t = 0;
	struct iovec l = { &t, sizeof(t) };
	struct iovec r = { (void *)(uintptr_t)j->token_addr, sizeof(t) };

	return process_vm_readv(j->pid, &l, 1, &r, 1, 0) == sizeof(t) &&
	       t == j->token;
}

/* One chunk, pulled from (WRITE) or pushed to (READ) the initiator. */
static bool helper_copy(const struct ajob *j, uint32_t i)
{
	uint64_t off, len;
	struct iovec l, r;
	ssize_t n;

	chunk_range(j, i, &off, &len);
	l = (struct iovec){ (void *)(uintptr_t)(j->raddr + off), len };
	r = (struct iovec){ (void *)(uintptr_t)(j->laddr + off), len };
	if (!token_ok(j))
		return false;
	n = j->read ? process_vm_writev(j->pid, &l, 1, &r, 1, 0) :
		      process_vm_readv(j->pid, &l, 1, &r, 1, 0);
	return n >= 0 && (uint64_t)n == len;
}

/* The job of a ring's current generation, read after as_take. */
static void job_read(const struct sv_direct_rx_hdr *h, struct ajob *j)
{
	j->laddr = h->as_laddr;
	j->raddr = h->as_raddr;
	j->len = h->as_len;
	j->chunk = h->as_chunk;
	j->token_addr = h->as_token_addr;
	j->token = h->as_token;
	j->pid = (pid_t)h->as_pid;
	j->read = h->as_read;
}

/* Serve one ring's job, if it has chunks left: whether it had any. */
static bool helper_ring(struct sv_direct_rx_hdr *h)
{
	uint64_t v = atomic_load_explicit(A64(&h->as_take),
					  memory_order_acquire);
	uint32_t gen = (uint32_t)(v >> 32);
	struct ajob j;
	bool any = false;
	int i;

	if ((uint16_t)v >= (uint16_t)(v >> 16))
		return false;
	job_read(h, &j);
	if (!j.chunk || !j.len)
		return false;
	while ((i = chunk_take(h, gen)) >= 0) {
		if (!helper_copy(&j, (uint32_t)i))
			atomic_store(A32(&h->as_failed), 1);
		atomic_fetch_add_explicit(A32(&h->as_done), 1,
					  memory_order_release);
		any = true;
	}
	return any;
}

enum { PASS_CHUNK = 1, PASS_WAR = 2 };

/* One look at every ring (under alock: a ring is never unmapped under
 * us, and its owner waits at most for one chunk): PASS_* it did. */
static unsigned int helper_pass(void)
{
	unsigned int any = 0, k;

	pthread_mutex_lock(&alock);
	for (k = 0; k < nrings; k++) {
		if (helper_ring(rings[k]->h))
			any |= PASS_CHUNK;
		if (svl_dwar_serve(rings[k]))
			any |= PASS_WAR;
	}
	pthread_mutex_unlock(&alock);
	return any;
}

static void helper_state(uint32_t s)
{
	unsigned int k;

	pthread_mutex_lock(&alock);
	for (k = 0; k < nrings; k++)
		atomic_store(A32(&rings[k]->h->as_state), s);
	pthread_mutex_unlock(&alock);
}

/* Sleep on every ring's as_wake (and at most ASSIST_NAP_NS). */
static void helper_sleep(void)
{
	struct futex_waitv w[ASSIST_RINGS + 1];
	struct timespec ts;
	int64_t t = svl_now_ns() + ASSIST_NAP_NS;
	unsigned int k, n;

	memset(w, 0, sizeof(w));
	w[0].uaddr = (uintptr_t)&akick;
	w[0].val = atomic_load(&akick);
	w[0].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
	helper_state(SV_ASSIST_ASLEEP);
	atomic_thread_fence(memory_order_seq_cst);
	pthread_mutex_lock(&alock);
	for (k = 0; k < nrings; k++) {
		svl_dwar_release(rings[k]); /* asleep: name no entry */
		svl_dwar_last_look(rings[k]); /* before sleep: all of them */
		w[k + 1].uaddr = (uintptr_t)&rings[k]->h->as_wake;
		w[k + 1].val = atomic_load(A32(&rings[k]->h->as_wake));
		w[k + 1].flags = FUTEX_32; /* shared: the initiator wakes it */
	}
	n = nrings + 1;
	pthread_mutex_unlock(&alock);
	/* A job published before the words were read is seen here. */
	if (!helper_pass() && !atomic_load(&astop)) {
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		syscall(SYS_futex_waitv, w, n, 0, &ts, CLOCK_MONOTONIC);
	}
	helper_state(SV_ASSIST_AWAKE);
}

/*
 * When to poll, when to sleep. After a large transfer's chunk the helper
 * polls ASSIST_SPIN_NS while a core is free for it (polling on a loaded
 * machine cost ib_send_bw 15-25 %). After small WRITEs (direct_war.c)
 * it polls WAR_SPIN_NS whatever the load: asleep, it would cost the
 * initiator a futex wake per record, far more than the poll costs.
 */
struct helper_pace {
	int64_t last, war_last, checked;
	bool free_core;
};

static bool helper_polls(struct helper_pace *p, int64_t t)
{
	if (t - p->war_last < WAR_SPIN_NS)
		return true;
	if (t - p->checked >= ASSIST_RECHECK_NS) {
		/* Counting itself: no runnable thread waits for the CPU it
		 * polls on. */
		p->free_core = assist_mode() >= 2 || sv_cpu_free();
		p->checked = t;
	}
	return p->free_core && t - p->last < ASSIST_SPIN_NS;
}

static void *helper_main(void *arg)
{
	struct helper_pace p = { .last = svl_now_ns(), .free_core = true };
	unsigned int any, idle = 0;
	int64_t t = p.last;

	(void)arg;
	pthread_setname_np(pthread_self(), "sv-assist");
	while (!atomic_load(&astop)) {
		any = helper_pass();
		/* The clock only now and then: the passes are short. */
		if (any || !(++idle & 15))
			t = svl_now_ns();
		if (any & PASS_WAR)
			p.war_last = t;
		if (any) {
			p.last = t;
			idle = 0;
			continue;
		}
		if (helper_polls(&p, t)) {
			relax();
			continue;
		}
		helper_sleep();
		p.last = t = svl_now_ns();
		p.checked = 0;
	}
	return NULL;
}

/* Under alock: this process's helper runs (started if needed). */
/*
 * The child of a fork has no helper and serves none of the parent's
 * rings; alock may have been held by the parent's helper (in the middle
 * of a pass), so the child starts with a fresh one. No prepare handler:
 * one that took alock would wait for the helper, while the early thread
 * (direct_early.c), which the fork waits for, may wait for alock.
 */
static void fork_child(void)
{
	alock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	nrings = 0;
	apid = 0;
}

static void helper_start(void)
{
	static bool forkable;

	if (apid == svl_self_pid())
		return;
	if (!forkable && pthread_atfork(NULL, NULL, fork_child))
		return;
	forkable = true;
	/* A forked child inherited the parent's list but not its thread. */
	nrings = 0;
	atomic_store(&astop, false);
	if (!pthread_create(&athread, NULL, helper_main, NULL))
		apid = svl_self_pid();
}

/* The last device context closed: stop and join this process' helper. */
void svl_dassist_stop(void)
{
	unsigned int k;

	pthread_mutex_lock(&alock);
	if (apid != svl_self_pid()) {
		pthread_mutex_unlock(&alock);
		return;
	}
	atomic_store(&astop, true);
	atomic_fetch_add(&akick, 1);
	syscall(SYS_futex, &akick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	for (k = 0; k < nrings; k++)
		atomic_store(A32(&rings[k]->h->as_state), SV_ASSIST_NONE);
	nrings = 0;
	pthread_mutex_unlock(&alock);
	pthread_join(athread, NULL);
	pthread_mutex_lock(&alock);
	apid = 0;
	pthread_mutex_unlock(&alock);
}

void svl_dassist_add(struct svl_drx *x)
{
	if (!assist_mode())
		return;
	pthread_mutex_lock(&alock);
	helper_start();
	if (apid == svl_self_pid() && nrings < ASSIST_RINGS) {
		rings[nrings++] = x;
		atomic_store(A32(&x->h->as_state), SV_ASSIST_AWAKE);
		/* A sleeping helper waits on the new ring's word too. */
		atomic_fetch_add(&akick, 1);
		syscall(SYS_futex, &akick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
			0);
	}
	pthread_mutex_unlock(&alock);
}

void svl_dassist_del(struct svl_drx *x)
{
	unsigned int k;

	pthread_mutex_lock(&alock);
	for (k = 0; k < nrings; k++) {
		if (rings[k] == x) {
			svl_dwar_release(x);
			rings[k] = rings[--nrings];
			atomic_store(A32(&x->h->as_state), SV_ASSIST_NONE);
			break;
		}
	}
	pthread_mutex_unlock(&alock);
}

void svl_dassist_quiet(void (*fn)(struct svl_drx *), struct svl_drx *x)
{
	pthread_mutex_lock(&alock);
	fn(x);
	pthread_mutex_unlock(&alock);
}

/* ---------------------------------------------------------------------- */
/* The initiator                                                           */
/* ---------------------------------------------------------------------- */

static uint64_t token;
static pid_t token_pid;

/* This process's token: random, in its own memory, new after a fork. */
static const uint64_t *my_token(void)
{
	pid_t me = svl_self_pid();

	if (__atomic_load_n(&token_pid, __ATOMIC_ACQUIRE) != me) {
		uint64_t t = 0;

		while (!t && getrandom(&t, sizeof(t), 0) != sizeof(t))
			;
		__atomic_store_n(&token, t ? t : 1, __ATOMIC_RELAXED);
		__atomic_store_n(&token_pid, me, __ATOMIC_RELEASE);
	}
	return &token;
}

static void job_publish(struct sv_direct_rx_hdr *h, const struct ajob *j,
			uint32_t nchunks)
{
	uint64_t v = atomic_load(A64(&h->as_take));
	uint32_t gen = (uint32_t)(v >> 32) + 1;

	h->as_laddr = j->laddr;
	h->as_raddr = j->raddr;
	h->as_len = j->len;
	h->as_chunk = j->chunk;
	h->as_token_addr = j->token_addr;
	h->as_token = j->token;
	h->as_pid = (uint32_t)j->pid;
	h->as_read = j->read;
	atomic_store_explicit(A32(&h->as_done), 0, memory_order_relaxed);
	atomic_store_explicit(A32(&h->as_failed), 0, memory_order_relaxed);
	atomic_store_explicit(A64(&h->as_take),
			      (uint64_t)gen << 32 | (uint64_t)nchunks << 16,
			      memory_order_release);
}

/*
 * Will the helper be there? Polling, or asleep with a core free for it
 * (then *wake). Otherwise the transfer is one call: cut into chunks the
 * poster would copy alone, it only costs more (ib_send_bw, whose receiver
 * busy-polls its CQ on the other core, lost 15-25 % that way).
 */
static bool helper_there(struct sv_direct_rx_hdr *h, bool *wake)
{
	uint32_t st = atomic_load(A32(&h->as_state));

	*wake = st == SV_ASSIST_ASLEEP;
	if (st == SV_ASSIST_NONE)
		return false;
	return !*wake || assist_mode() >= 2 || core_free();
}

static void helper_wake(struct sv_direct_rx_hdr *h);

void svl_dassist_kick(struct sv_direct_rx_hdr *h)
{
	if (atomic_load_explicit(A32(&h->as_state), memory_order_relaxed) ==
	    SV_ASSIST_ASLEEP)
		helper_wake(h);
}

static void helper_wake(struct sv_direct_rx_hdr *h)
{
	atomic_fetch_add(A32(&h->as_wake), 1);
	syscall(SYS_futex, &h->as_wake, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Our own chunk: checked through the registrar's mm handle, as always. */
static bool poster_copy(int fd, const struct ajob *j, uint32_t i)
{
	uint64_t off, len;
	struct iovec l, r;
	ssize_t n;

	chunk_range(j, i, &off, &len);
	l = (struct iovec){ (void *)(uintptr_t)(j->laddr + off), len };
	r = (struct iovec){ (void *)(uintptr_t)(j->raddr + off), len };
	n = svl_dva_vm_one(fd, j->pid, j->read, &l, 1, &r, 1);
	return n >= 0 && (uint64_t)n == len;
}

/*
 * Wait for the helper's chunks; false if the receiver is gone. Chunks
 * nobody took while the helper is gone (its last context closed) are
 * ours after all, whatever the mode.
 */
static bool wait_helper(struct sv_direct_rx_hdr *h, int fd,
			const struct ajob *j, uint32_t gen, uint32_t mine,
			uint32_t nchunks, bool *ok)
{
	int64_t next = svl_now_ns() + ASSIST_CHECK_NS;
	unsigned int spins = 0;
	char b;
	int i;

	while (atomic_load_explicit(A32(&h->as_done), memory_order_acquire) +
		       mine <
	       nchunks) {
		if (atomic_load(A32(&h->as_state)) == SV_ASSIST_NONE &&
		    (i = chunk_take(h, gen)) >= 0) {
			*ok &= poster_copy(fd, j, (uint32_t)i);
			mine++;
			continue;
		}
		if (++spins < 4096) {
			relax();
			continue;
		}
		spins = 0;
		sched_yield();
		if (svl_now_ns() < next)
			continue;
		/* The registrar's mm reads 0 bytes once it exited. */
		if (pread(fd, &b, 1, (off_t)j->raddr) != 1)
			return false;
		next = svl_now_ns() + ASSIST_CHECK_NS;
	}
	return true;
}

static bool eligible(const struct dop *op)
{
	return assist_mode() && !op->atomic && !op->map->base &&
	       op->nlocal == 1 && op->len >= ASSIST_MIN;
}

/*
 * The transfer of op with the peer's helper: 1 done, 0 not tried (the
 * caller does it alone), -1 failed. Called inside the busy record.
 */
int svl_dassist_io(struct svl_qp *q, struct dop *op)
{
	struct sv_direct_rx_hdr *h;
	uint32_t nchunks, mine = 0, gen;
	struct ajob j;
	bool ok = true, wake;
	int i;

	if (!eligible(op) || q->dq->assist_off ||
	    !(h = svl_direct_peer_hdr(q)) || !helper_there(h, &wake))
		return 0;
	j = (struct ajob){ .laddr = (uintptr_t)op->local[0].iov_base,
			   .raddr = (uintptr_t)op->remote.iov_base,
			   .len = op->len, .token_addr = 0,
			   .pid = (pid_t)op->re->pid, .read = op->read };
	j.token = *my_token();
	j.token_addr = (uintptr_t)&token;
	/* The helper pulls from us: our pid, not the registrar's. */
	j.pid = svl_self_pid();
	j.chunk = ASSIST_CHUNK;
	while ((j.len + j.chunk - 1) / j.chunk > ASSIST_CHUNKS_MAX)
		j.chunk *= 2;
	nchunks = (uint32_t)((j.len + j.chunk - 1) / j.chunk);
	job_publish(h, &j, nchunks);
	gen = (uint32_t)(atomic_load(A64(&h->as_take)) >> 32);
	if (wake)
		helper_wake(h);
	/* Our chunks go to the registrar: its pid (as every direct copy). */
	j.pid = (pid_t)op->re->pid;
	while (assist_mode() != 3 && (i = chunk_take(h, gen)) >= 0) {
		ok &= poster_copy(op->map->fd, &j, (uint32_t)i);
		mine++;
	}
	if (!wait_helper(h, op->map->fd, &j, gen, mine, nchunks, &ok))
		return -1;
	if (ok && !atomic_load(A32(&h->as_failed)))
		return 1;
	/* The helper could not reach us (a ptrace policy, say): not again
	 * on this connection. Either way, all of it again, alone. */
	if (atomic_load(A32(&h->as_failed)))
		q->dq->assist_off = true;
	return svl_dva_vm_one(op->map->fd, j.pid, op->read, op->local, 1,
			      &op->remote, 1) == (ssize_t)op->len ?
		       1 :
		       -1;
}
