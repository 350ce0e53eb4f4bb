// SPDX-License-Identifier: MIT
/*
 * bench_import: what a worker saves by importing a shared MR instead of
 * registering the memory again (seed 000's use case), as a ratio measured
 * in one run (docs/sharing.md).
 *
 * A primary process opens the device, allocates a PD and registers an MR
 * over a 1 GiB shared memory region (a memfd mapped MAP_SHARED), then
 * forks a worker, which holds a copy of the command FD (as one received
 * over a UNIX socket would be). The worker imports the device and the PD
 * once, then alternates, for each round:
 *
 *   import    ibv_import_mr(pd, handle)       (then ibv_unimport_mr)
 *   register  ibv_reg_mr(pd, region, 1 GiB)    (then ibv_dereg_mr)
 *
 * over the same region (the worker has it mapped too). Each figure is the
 * median over rounds; interleaving gives both the same load.
 *
 *   bench_import [-r ROUNDS] [-s SIZE]
 *
 * Run it under "softverbs run". Last line: RESULT = register time /
 * import time (how many times faster the import is).
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ROUNDS 1000

struct opts {
	int rounds;
	size_t size;
};

struct shared {
	uint32_t pd, mr;
};

/* Primary: open the device, register the whole region (before forking). */
static int primary(void *region, size_t size, struct ibv_context **ctx,
		   struct shared *s)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_pd *pd = NULL;
	struct ibv_mr *mr;

	*ctx = list && list[0] ? ibv_open_device(list[0]) : NULL;
	if (*ctx)
		pd = ibv_alloc_pd(*ctx);
	if (!pd) {
		fprintf(stderr, "bench_import: no device (softverbs run?)\n");
		return -1;
	}
	mr = ibv_reg_mr(pd, region, size,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_READ);
	if (!mr) {
		perror("bench_import: ibv_reg_mr");
		return -1;
	}
	*s = (struct shared){ pd->handle, mr->handle };
	return 0;
}

/* One round: import + unimport, then register + deregister. */
static int round_once(struct ibv_pd *pd, const struct shared *s,
		      void *region, size_t size, double *imp, double *reg)
{
	uint64_t t0, t1;
	struct ibv_mr *mr;

	t0 = bench_now_ns();
	mr = ibv_import_mr(pd, s->mr);
	t1 = bench_now_ns();
	if (!mr)
		return -1;
	ibv_unimport_mr(mr);
	*imp = (double)(t1 - t0);
	t0 = bench_now_ns();
	mr = ibv_reg_mr(pd, region, size,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_READ);
	t1 = bench_now_ns();
	if (!mr)
		return -1;
	ibv_dereg_mr(mr);
	*reg = (double)(t1 - t0);
	return 0;
}

/* Worker: a forked process holding a copy of the primary's command FD. */
static int worker(int cmd_fd, const struct shared *s, void *region,
		  const struct opts *o)
{
	static double imp[MAX_ROUNDS], reg[MAX_ROUNDS];
	struct ibv_context *ctx = ibv_import_device(cmd_fd);
	struct ibv_pd *pd = ctx ? ibv_import_pd(ctx, s->pd) : NULL;
	double mi, mr;
	int i;

	if (!pd) {
		perror("bench_import: import");
		return -1;
	}
	for (i = 0; i < o->rounds; i++)
		if (round_once(pd, s, region, o->size, &imp[i], &reg[i]))
			return -1;
	mi = bench_median(imp, (size_t)o->rounds);
	mr = bench_median(reg, (size_t)o->rounds);
	fprintf(stderr, "%zu MiB region, %d rounds: import %.1f us, "
		"register %.1f us\n", o->size >> 20, o->rounds, mi / 1e3,
		mr / 1e3);
	bench_result(mr / mi, "x");
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .rounds = 50, .size = 1UL << 30 };
	while ((c = getopt(argc, argv, "r:s:")) != -1) {
		if (c == 'r')
			o->rounds = atoi(optarg);
		else if (c != 's' || bench_parse_size(optarg, &o->size))
			return -1;
	}
	return o->rounds > 0 && o->rounds <= MAX_ROUNDS && o->size ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct ibv_context *ctx;
	struct shared s;
	struct opts o;
	void *region;
	int fd, st;
	pid_t pid;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: bench_import [-r ROUNDS] [-s SIZE]\n");
		return 2;
	}
	bench_watchdog(300);
	fd = memfd_create("bench-import", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)o.size))
		return 1;
	region = mmap(NULL, o.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED || primary(region, o.size, &ctx, &s))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(worker(ctx->cmd_fd, &s, region, &o) ? 1 : 0);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st) ? 1 : 0;
}
