// SPDX-License-Identifier: MIT
/*
 * ref_bench: the machine's own limits, measured in the same run as the
 * figures they are references for.
 *
 *   ref_bench memcpy   -s SIZE [-n ITERS] [-c CPU]
 *	memcpy bandwidth (MiB/s) between two buffers of SIZE, copied ITERS
 *	times: the bound for any copy-based RDMA WRITE/READ of that size.
 *   ref_bench pingpong [-n ITERS] [-c CPU0,CPU1]
 *	two processes bounce a value through shared cache lines; median half
 *	round trip (us): the bound for any cross-process notification.
 *   ref_bench cma_pingpong [-n ITERS] [-c CPU0,CPU1]
 *	the same, each value written into the peer's private memory with one
 *	process_vm_writev: the system-call floor for a WRITE to a VA MR.
 *   ref_bench cma -s SIZE [-n ITERS] [-c CPU0,CPU1]
 *	process_vm_writev bandwidth (MiB/s) into another process: the
 *	single-copy bound for a WRITE to a VA MR.
 *   ref_bench futex_pingpong [-n ITERS] [-c CPU0,CPU1]
 *	two processes on ONE CPU (CPU0) hand a token to each other with a
 *	futex: each hand-off a FUTEX_WAKE, a switch to the other process
 *	and its return from FUTEX_WAIT. Median half round trip (us) = one
 *	hand-off: a daemon-path message when no core is free pays two per
 *	round trip (the poster wakes the engine on its CPU, the engine
 *	sleeps to give it back), docs/datapath.md.
 *   ref_bench mem_rate [-s 8] [-n ITERS] [-c CPU0,CPU1]
 *	one pwrite of SIZE per iteration on the peer's /proc/PID/mem, in
 *	million writes per second: the system-call floor of the direct
 *	path's small WRITE to a VA MR, which is that call.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

struct opts {
	const char *cmd;
	size_t size;
	long iters;
	int cpus[2];
};

static int usage(void)
{
	fputs("usage: ref_bench memcpy -s SIZE [-n ITERS] [-c CPU]\n"
	      "       ref_bench pingpong|cma_pingpong|futex_pingpong [-n ITERS] "
	      "[-c CPU0,CPU1]\n"
	      "       ref_bench cma|mem_rate -s SIZE [-n ITERS] "
	      "[-c CPU0,CPU1]\n",
	      stderr);
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	if (argc < 2)
		return -1;
	o->cmd = argv[1];
	o->size = 8;
	o->iters = 0;
	o->cpus[0] = o->cpus[1] = -1;
	optind = 2;
	while ((c = getopt(argc, argv, "s:n:c:")) != -1) {
		if (c == 's' && !bench_parse_size(optarg, &o->size))
			continue;
		if (c == 'n' && (o->iters = atol(optarg)) > 0)
			continue;
		/* memcpy takes one CPU; the two-process ones two. */
		if (c == 'c' && sscanf(optarg, "%d,%d", &o->cpus[0],
				       &o->cpus[1]) >= 1)
			continue;
		return -1;
	}
	return optind == argc ? 0 : -1;
}

/* Enough copies for about 0.2 s at memcpy speed, at least 20. */
static long memcpy_iters(size_t size)
{
	long n = (long)((4ull << 30) / size);

	return n < 20 ? 20 : n;
}

static int run_memcpy(const struct opts *o)
{
	long i, n = o->iters ? o->iters : memcpy_iters(o->size);
	char *src = bench_alloc(o->size, NULL);
	char *dst = bench_alloc(o->size, NULL);
	uint64_t t0, t1;

	if (!src || !dst)
		return 1;
	bench_pin(o->cpus[0]);
	memset(src, 0x5a, o->size);
	memcpy(dst, src, o->size); /* fault both in before timing */
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		memcpy(dst, src, o->size);
		/* Keep the compiler from merging copies of the same data. */
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
	t1 = bench_now_ns();
	bench_result(bench_mib_s((double)o->size * (double)n, t1 - t0),
		     "MiB/s");
	bench_free(src, o->size);
	bench_free(dst, o->size);
	return 0;
}

/*
 * Ping-pong: each side polls its own line for the peer's next value. The
 * value travels by a store into shared memory ("pingpong"), or by one
 * process_vm_writev into the peer's private memory ("cma_pingpong": what a
 * library-side copy to a VA MR costs at least).
 */
struct pp {
	volatile uint64_t *line; /* line[side * 8]: where side receives */
	long iters;
	int cma;
	pid_t peer;
};

/* The lines of cma_pingpong: private, at the same address in both. */
static uint64_t cma_lines[16] __attribute__((aligned(64)));

static int pp_send(struct pp *p, int side, uint64_t v)
{
	volatile uint64_t *dst = &p->line[(1 - side) * 8];
	struct iovec l = { &v, sizeof(v) }, r = { (void *)dst, sizeof(v) };

	if (!p->cma) {
		__atomic_store_n(dst, v, __ATOMIC_RELEASE);
		return 0;
	}
	if (process_vm_writev(p->peer, &l, 1, &r, 1, 0) == sizeof(v))
		return 0;
	perror("ref_bench: process_vm_writev");
	return -1;
}

static void pp_wait(struct pp *p, int side, uint64_t v)
{
	while (__atomic_load_n(&p->line[side * 8], __ATOMIC_ACQUIRE) != v)
		;
}

/* Side 1 times round trips; side 0 echoes. Pids are exchanged for CMA. */
static int pp_side(int side, int fd, void *arg)
{
	struct pp *p = arg;
	pid_t me = getpid();
	uint64_t *rtt = calloc((size_t)p->iters, sizeof(*rtt));
	long i;

	if (!rtt || bench_xchg(fd, &me, &p->peer, sizeof(me)))
		return 1;
	for (i = 0; i < p->iters; i++) {
		uint64_t t0 = bench_now_ns(), v = (uint64_t)i + 1;

		if (side == 0)
			pp_wait(p, side, v);
		if (pp_send(p, side, v))
			return 1;
		if (side == 1)
			pp_wait(p, side, v);
		rtt[i] = bench_now_ns() - t0;
	}
	if (side == 1)
		bench_result(bench_median_ns(rtt, (size_t)p->iters, 2.0) /
				     1000.0,
			     "us");
	free(rtt);
	return 0;
}

static int run_pingpong(const struct opts *o, int cma)
{
	struct pp p = { .iters = o->iters ? o->iters : 200000, .cma = cma };
	void *page = cma_lines;

	if (!cma)
		page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 1;
	p.line = page;
	return bench_two_procs(o->cpus, pp_side, &p) ? 1 : 0;
}

/* Futex hand-off: the word counts hand-offs; odd: side 0's turn. */
struct fpp {
	uint32_t *w;
	long iters;
};

static void fpp_wait_for(uint32_t *w, uint32_t v)
{
	uint32_t cur;

	while ((cur = __atomic_load_n(w, __ATOMIC_ACQUIRE)) != v)
		syscall(SYS_futex, w, FUTEX_WAIT, cur, NULL, NULL, 0);
}

static void fpp_hand(uint32_t *w, uint32_t v)
{
	__atomic_store_n(w, v, __ATOMIC_RELEASE);
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int fpp_side(int side, int fd, void *arg)
{
	struct fpp *f = arg;
	uint64_t *rtt = calloc((size_t)f->iters, sizeof(*rtt));
	long i;

	(void)fd;
	if (!rtt)
		return 1;
	for (i = 0; i < f->iters; i++) {
		uint64_t t0 = bench_now_ns();
		uint32_t v = (uint32_t)(2 * i);

		if (side == 1) {
			fpp_hand(f->w, v + 1);
			fpp_wait_for(f->w, v + 2);
		} else {
			fpp_wait_for(f->w, v + 1);
			fpp_hand(f->w, v + 2);
		}
		rtt[i] = bench_now_ns() - t0;
	}
	if (side == 1)
		bench_result(bench_median_ns(rtt, (size_t)f->iters, 2.0) /
				     1000.0,
			     "us");
	free(rtt);
	return 0;
}

static int run_futex_pingpong(const struct opts *o)
{
	struct fpp f = { .iters = o->iters ? o->iters : 20000 };
	int cpus[2] = { o->cpus[0], o->cpus[0] }; /* one CPU: no core free */

	f.w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (f.w == MAP_FAILED)
		return 1;
	return bench_two_procs(cpus, fpp_side, &f) ? 1 : 0;
}

/*
 * CMA bandwidth: one process_vm_writev of SIZE per iteration into the
 * peer's buffer (same address in both after fork). The single-copy bound
 * for a VA MR; side 0 only waits.
 */
struct cma {
	char *src, *dst;
	size_t size;
	long iters;
	int mem; /* -1: process_vm_writev; else the peer's /proc/PID/mem */
	bool rate; /* report million writes per second */
};

static int cma_write(pid_t peer, const struct cma *c)
{
	struct iovec l = { c->src, c->size }, r = { c->dst, c->size };

	if (c->mem >= 0) {
		if (pwrite(c->mem, c->src, c->size,
			   (off_t)(uintptr_t)c->dst) == (ssize_t)c->size)
			return 0;
		perror("ref_bench: pwrite /proc/PID/mem");
		return -1;
	}
	if (process_vm_writev(peer, &l, 1, &r, 1, 0) == (ssize_t)c->size)
		return 0;
	perror("ref_bench: process_vm_writev");
	return -1;
}

/* mem_rate: the peer's /proc/PID/mem, opened as the direct path does. */
static int cma_open_mem(struct cma *c, pid_t peer)
{
	char path[64];

	if (!c->rate)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)peer);
	c->mem = open(path, O_RDWR | O_CLOEXEC);
	if (c->mem >= 0)
		return 0;
	perror("ref_bench: open /proc/PID/mem");
	return -1;
}

static void cma_report(const struct cma *c, uint64_t ns)
{
	if (c->rate)
		bench_result((double)c->iters / ((double)ns / 1e3), "Mmsg/s");
	else
		bench_result(bench_mib_s((double)c->size * (double)c->iters,
					 ns),
			     "MiB/s");
}

static int cma_side(int side, int fd, void *arg)
{
	struct cma *c = arg;
	pid_t me = getpid(), peer;
	uint64_t t0;
	long i;

	if (bench_xchg(fd, &me, &peer, sizeof(me)))
		return 1;
	if (side == 0)
		return bench_wait(fd) ? 1 : 0;
	/* The first write faults the peer's pages in. */
	if (cma_open_mem(c, peer) || cma_write(peer, c))
		return 1;
	t0 = bench_now_ns();
	for (i = 0; i < c->iters; i++)
		if (cma_write(peer, c))
			return 1;
	cma_report(c, bench_now_ns() - t0);
	return bench_signal(fd) ? 1 : 0;
}

static int run_cma(const struct opts *o, bool rate)
{
	struct cma c = { .size = o->size, .mem = -1, .rate = rate,
			 .iters = o->iters ? o->iters : memcpy_iters(o->size) };

	c.src = bench_alloc(c.size, NULL);
	c.dst = bench_alloc(c.size, NULL);
	if (!c.src || !c.dst)
		return 1;
	memset(c.src, 0x5a, c.size);
	return bench_two_procs(o->cpus, cma_side, &c) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse(argc, argv, &o))
		return usage();
	bench_watchdog(120);
	if (!strcmp(o.cmd, "memcpy"))
		return run_memcpy(&o);
	if (!strcmp(o.cmd, "pingpong"))
		return run_pingpong(&o, 0);
	if (!strcmp(o.cmd, "cma_pingpong"))
		return run_pingpong(&o, 1);
	if (!strcmp(o.cmd, "futex_pingpong"))
		return run_futex_pingpong(&o);
	if (!strcmp(o.cmd, "cma"))
		return run_cma(&o, false);
	if (!strcmp(o.cmd, "mem_rate"))
		return run_cma(&o, true);
	return usage();
}
