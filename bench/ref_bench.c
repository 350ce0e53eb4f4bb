// SPDX-License-Identifier: MIT
/*
 * ref_bench: the machine's own limits, measured in the same run as the
 * figures they are references for.
 *
 *   ref_bench memcpy   -s SIZE [-n ITERS] [-c CPU]
 *	memcpy bandwidth (MiB/s) between two buffers of SIZE, copied ITERS
 *	times: the bound for any copy-based RDMA WRITE/READ of that size.
 *   ref_bench pingpong [-n ITERS] [-c CPU0,CPU1]
 *	two processes bounce one shared cache line; median half round trip
 *	(us): the bound for any cross-process notification.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	      "       ref_bench pingpong [-n ITERS] [-c CPU0,CPU1]\n",
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
		/* memcpy takes one CPU; pingpong two. */
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

struct pp {
	_Atomic uint64_t *line;
	long iters;
};

/* Side 0 answers every odd value with the next even one. */
static int pp_echo(_Atomic uint64_t *line, long iters)
{
	uint64_t want = 1;
	long i;

	for (i = 0; i < iters; i++, want += 2) {
		while (atomic_load_explicit(line, memory_order_acquire) != want)
			;
		atomic_store_explicit(line, want + 1, memory_order_release);
	}
	return 0;
}

static int pp_side(int side, int fd, void *arg)
{
	struct pp *p = arg;
	uint64_t *rtt, v = 0;
	long i;

	if (bench_signal(fd) || bench_wait(fd)) /* both pinned and ready */
		return 1;
	if (side == 0)
		return pp_echo(p->line, p->iters);
	rtt = calloc((size_t)p->iters, sizeof(*rtt));
	if (!rtt)
		return 1;
	for (i = 0; i < p->iters; i++) {
		uint64_t t0 = bench_now_ns();

		atomic_store_explicit(p->line, ++v, memory_order_release);
		while (atomic_load_explicit(p->line, memory_order_acquire) !=
		       v + 1)
			;
		v++;
		rtt[i] = bench_now_ns() - t0;
	}
	bench_result(bench_median_ns(rtt, (size_t)p->iters, 2.0) / 1000.0,
		     "us");
	free(rtt);
	return 0;
}

static int run_pingpong(const struct opts *o)
{
	struct pp p = { .iters = o->iters ? o->iters : 200000 };
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return 1;
	p.line = page;
	return bench_two_procs(o->cpus, pp_side, &p) ? 1 : 0;
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
		return run_pingpong(&o);
	return usage();
}
