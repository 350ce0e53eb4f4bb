// SPDX-License-Identifier: MIT
/*
 * bench_cma_split: does a large process_vm_writev scale over two threads?
 * (docs/direct-path.md, "Large transfers on two cores").
 *
 *   bench_cma_split [-s SIZE] [-n ITERS] [-t 1|2] [-g GAP]
 *
 * A forked child holds the target buffer (private memory, 4 KiB pages, as
 * perftest's). The parent, pinned to CPU 0, writes SIZE bytes into it per
 * iteration: with -t 1 in one call; with -t 2 the first half itself and
 * the second half from a thread pinned to CPU 1, at the same time. -g
 * puts the second half GAP bytes further in the target (e.g. 4M: another
 * page table, so another PTE lock). Prints each thread's CPU time and wall
 * time per iteration on stderr (CPU time is what the copy costs whatever
 * the load: a thread's preempted time is not counted), and RESULT: the
 * MiB/s of the iterations.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct cfg {
	size_t size, gap;
	long iters;
	int threads;
	char *src, *dst;
	pid_t child;
	atomic_long go, done;
	double cpu_ns[2];
};

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Half h (of parts) of the transfer; the thread's CPU time added. */
static void copy_part(struct cfg *c, int h, int parts)
{
	size_t n = c->size / parts, off = (size_t)h * n;
	struct iovec l = {c->src + off, n};
	struct iovec r = {c->dst + off + (h ? c->gap : 0), n};
	uint64_t t = cpu_now_ns();

	if (process_vm_writev(c->child, &l, 1, &r, 1, 0) != (ssize_t)n) {
		perror("process_vm_writev");
		exit(1);
	}
	c->cpu_ns[h] += (double)(cpu_now_ns() - t);
}

static void *helper(void *arg)
{
	struct cfg *c = arg;
	long i;

	bench_pin(1);
	for (i = 1; i <= c->iters; i++) {
		while (atomic_load(&c->go) < i)
			;
		copy_part(c, 1, 2);
		atomic_store(&c->done, i);
	}
	return NULL;
}

static void run(struct cfg *c)
{
	uint64_t t0 = bench_now_ns(), dt;
	pthread_t t;
	long i;

	if (c->threads == 2 && pthread_create(&t, NULL, helper, c))
		exit(1);
	for (i = 1; i <= c->iters; i++) {
		atomic_store(&c->go, i);
		copy_part(c, 0, c->threads);
		while (c->threads == 2 && atomic_load(&c->done) < i)
			;
	}
	dt = bench_now_ns() - t0;
	if (c->threads == 2)
		pthread_join(t, NULL);
	fprintf(stderr,
		"%d thread(s), %zu B: wall %.1f us, CPU %.1f + %.1f us per "
		"iteration\n",
		c->threads, c->size, dt / 1e3 / c->iters,
		c->cpu_ns[0] / 1e3 / c->iters, c->cpu_ns[1] / 1e3 / c->iters);
	bench_result(bench_mib_s((uint64_t)c->size * c->iters, dt), "MiB/s");
}

static void parse(struct cfg *c, int argc, char **argv)
{
	int o;

	while ((o = getopt(argc, argv, "s:n:t:g:")) != -1) {
		if ((o == 's' && bench_parse_size(optarg, &c->size)) ||
		    (o == 'g' && bench_parse_size(optarg, &c->gap)) ||
		    o == '?') {
			fprintf(stderr, "usage: bench_cma_split [-s SIZE] "
					"[-n ITERS] [-t 1|2] [-g GAP]\n");
			exit(2);
		}
		if (o == 'n')
			c->iters = atol(optarg);
		if (o == 't')
			c->threads = atoi(optarg) == 2 ? 2 : 1;
	}
}

int main(int argc, char **argv)
{
	struct cfg c = {.size = 1 << 20, .iters = 2000, .threads = 1};

	parse(&c, argc, argv);
	c.src = bench_alloc(c.size, "va");
	c.dst = bench_alloc(c.size + c.gap, "va");
	if (!c.src || !c.dst || c.iters < 1)
		return 1;
	memset(c.src, 1, c.size);
	memset(c.dst, 0, c.size + c.gap);
	bench_watchdog(120);
	c.child = fork();
	if (c.child == 0) {
		pause();
		return 0;
	}
	bench_pin(0);
	run(&c);
	kill(c.child, SIGKILL);
	waitpid(c.child, NULL, 0);
	return 0;
}
