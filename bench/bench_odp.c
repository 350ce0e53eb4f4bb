// SPDX-License-Identifier: MIT
/*
 * bench_odp: what on-demand paging costs and saves, as ratios measured in
 * one run (docs/odp.md, issue 19).
 *
 *   registration  ibv_reg_mr over 1 GiB and 64 GiB of private anonymous
 *                 address space (MAP_NORESERVE, never touched), with and
 *                 without IBV_ACCESS_ON_DEMAND; ratio plain / ODP.
 *   first touch   an RDMA WRITE of SIZE bytes (default 16 MiB, in 1 MiB
 *                 work requests) into a freshly mapped, never touched ODP
 *                 region, against the same into a region prefetched with
 *                 ibv_advise_mr(PREFETCH_WRITE, FLUSH) first (the prefetch
 *                 itself not timed: it is reported on its own); ratio
 *                 fresh / prefetched.
 *
 * Every round does each variant of a figure once, in alternating order,
 * on new memory; each figure is the median over rounds, so the variants
 * see the same load on a shared machine. All registration rounds run
 * before the transfers. The source of the WRITEs is a memfd
 * region the daemon maps, so the transfer time is the target's.
 *
 *   bench_odp [-d DEV] [-r ROUNDS] [-s SIZE]
 *
 * Run it under "softverbs run". Last line: RESULT = first-touch time of a
 * fresh region / of a prefetched one.
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "bench_rc.h"

#define MAX_ROUNDS 101
#define CHUNK (1UL << 20) /* bytes per work request */
#define ODP_ACCESS (BENCH_RC_ACCESS | IBV_ACCESS_ON_DEMAND)

struct odp_bench {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq, *cq_b;
	struct ibv_qp *qp, *qp_b;
	uint8_t *src;
	struct ibv_mr *src_mr;
	size_t size;
	int rounds;
};

static void setup(struct odp_bench *b, const char *dev)
{
	int fd = memfd_create("bench-odp-src", MFD_CLOEXEC);

	b->ctx = bench_open(dev);
	b->pd = ibv_alloc_pd(b->ctx);
	b->cq = ibv_create_cq(b->ctx, 256, NULL, NULL, 0);
	b->cq_b = ibv_create_cq(b->ctx, 2, NULL, NULL, 0);
	if (!b->pd || !b->cq || !b->cq_b)
		bench_die("pd/cq");
	b->qp = bench_rc_qp(b->pd, b->cq, 128);
	b->qp_b = bench_rc_qp(b->pd, b->cq_b, 1);
	bench_rc_pair(b->ctx, b->qp, b->qp_b);
	if (fd < 0 || ftruncate(fd, (off_t)b->size))
		bench_die("memfd");
	b->src = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      0);
	if (b->src == MAP_FAILED)
		bench_die("mmap");
	memset(b->src, 0x5a, b->size);
	b->src_mr = ibv_reg_mr(b->pd, b->src, b->size, BENCH_RC_ACCESS);
	if (!b->src_mr)
		bench_die("ibv_reg_mr (source)");
	close(fd);
}

static void *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		bench_die("mmap (reserve)");
	return p;
}

/* ns to register len bytes at p with access (then deregistered). */
static double reg_ns(struct odp_bench *b, void *p, size_t len, int access)
{
	struct ibv_mr *mr;
	uint64_t t0, t1;

	t0 = bench_now_ns();
	mr = ibv_reg_mr(b->pd, p, len, access);
	t1 = bench_now_ns();
	if (!mr || ibv_dereg_mr(mr))
		bench_die("ibv_reg_mr / ibv_dereg_mr");
	return (double)(t1 - t0);
}

/* RDMA WRITE of b->size bytes into (dst, rkey); ns until all complete. */
static double write_ns(struct odp_bench *b, uint8_t *dst, uint32_t rkey)
{
	size_t n = b->size / CHUNK, done = 0, i;
	struct ibv_sge sge = { 0, CHUNK, b->src_mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_wc wc[16];
	uint64_t t0 = bench_now_ns();
	int k, got;

	for (i = 0; i < n; i++) {
		sge.addr = (uintptr_t)b->src + i * CHUNK;
		wr.wr.rdma.remote_addr = (uintptr_t)dst + i * CHUNK;
		wr.wr.rdma.rkey = rkey;
		if (ibv_post_send(b->qp, &wr, &bad))
			bench_die("ibv_post_send");
	}
	while (done < n) {
		got = ibv_poll_cq(b->cq, 16, wc);
		if (got < 0)
			bench_die("ibv_poll_cq");
		for (k = 0; k < got; k++)
			if (wc[k].status != IBV_WC_SUCCESS) {
				fprintf(stderr, "bench_odp: %s\n",
					ibv_wc_status_str(wc[k].status));
				exit(1);
			}
		done += (size_t)got;
		if (!got)
			sched_yield(); /* the daemon needs the CPU */
	}
	return (double)(bench_now_ns() - t0);
}

/*
 * One first-touch sample on new memory: the WRITE's ns; with prefetch,
 * *pf gets the ns of ibv_advise_mr(PREFETCH_WRITE, FLUSH) before it.
 */
static double touch_ns(struct odp_bench *b, bool prefetch, double *pf)
{
	uint8_t *p = reserve(b->size);
	struct ibv_mr *mr = ibv_reg_mr(b->pd, p, b->size, ODP_ACCESS);
	struct ibv_sge s = { (uintptr_t)p, (uint32_t)b->size, 0 };
	uint64_t t0;
	double ns;

	if (!mr)
		bench_die("ibv_reg_mr (ODP)");
	s.lkey = mr->lkey;
	if (prefetch) {
		t0 = bench_now_ns();
		if (ibv_advise_mr(b->pd, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE,
				  IBV_ADVISE_MR_FLAG_FLUSH, &s, 1))
			bench_die("ibv_advise_mr");
		*pf = (double)(bench_now_ns() - t0);
	}
	ns = write_ns(b, p, mr->rkey);
	if (p[0] != 0x5a || p[b->size - 1] != 0x5a)
		bench_die("WRITE did not land");
	ibv_dereg_mr(mr);
	munmap(p, b->size);
	return ns;
}

/* [0] 1 GiB plain, [1] 1 GiB ODP, [2] 64 GiB plain, [3] 64 GiB ODP,
 * [4] fresh, [5] prefetched, [6] the prefetch itself: one per round. */
#define NFIG 7
static double fig[NFIG][MAX_ROUNDS];

/* One registration round: each size, ODP and plain in alternating order. */
static void reg_round(struct odp_bench *b, int r)
{
	static const size_t reg_len[2] = { 1UL << 30, 64UL << 30 };
	int odp_first = r & 1, i;

	for (i = 0; i < 2; i++) {
		void *p = reserve(reg_len[i]);

		fig[2 * i + odp_first][r] =
			reg_ns(b, p, reg_len[i],
			       odp_first ? ODP_ACCESS : BENCH_RC_ACCESS);
		fig[2 * i + !odp_first][r] =
			reg_ns(b, p, reg_len[i],
			       odp_first ? BENCH_RC_ACCESS : ODP_ACCESS);
		munmap(p, reg_len[i]);
	}
}

/* One first-touch round: fresh and prefetched, in alternating order. */
static void touch_round(struct odp_bench *b, int r)
{
	if (r & 1) {
		fig[5][r] = touch_ns(b, true, &fig[6][r]);
		fig[4][r] = touch_ns(b, false, NULL);
	} else {
		fig[4][r] = touch_ns(b, false, NULL);
		fig[5][r] = touch_ns(b, true, &fig[6][r]);
	}
}

static double report(struct odp_bench *b)
{
	double m[NFIG];
	int i;

	for (i = 0; i < NFIG; i++)
		m[i] = bench_median(fig[i], (size_t)b->rounds);
	printf("bench_odp: %d rounds, medians\n\n", b->rounds);
	printf("| figure | plain / fresh | ODP / prefetched | ratio |\n");
	printf("|---|---:|---:|---:|\n");
	printf("| ibv_reg_mr 1 GiB | %.1f us | %.1f us | %.2f |\n",
	       m[0] / 1e3, m[1] / 1e3, m[0] / m[1]);
	printf("| ibv_reg_mr 64 GiB | %.1f us | %.1f us | %.2f |\n",
	       m[2] / 1e3, m[3] / 1e3, m[2] / m[3]);
	printf("| first WRITE of %zu MiB into ODP memory | %.0f us | %.0f us | "
	       "%.2f |\n", b->size >> 20, m[4] / 1e3, m[5] / 1e3,
	       m[4] / m[5]);
	printf("\nratios: plain / ODP registration time; fresh / prefetched "
	       "transfer time. The prefetch (PREFETCH_WRITE, FLUSH) itself "
	       "took %.0f us; fresh / (prefetch + transfer) = %.2f\n",
	       m[6] / 1e3, m[4] / (m[5] + m[6]));
	return m[4] / m[5];
}

int main(int argc, char **argv)
{
	struct odp_bench b = { .size = 16UL << 20, .rounds = 11 };
	const char *dev = NULL;
	int c, r;

	while ((c = getopt(argc, argv, "d:r:s:")) != -1) {
		if (c == 'd')
			dev = optarg;
		else if (c == 'r')
			b.rounds = atoi(optarg);
		else if (c != 's' || bench_parse_size(optarg, &b.size))
			b.rounds = 0;
	}
	if (b.rounds < 1 || b.rounds > MAX_ROUNDS || b.size < CHUNK ||
	    b.size % CHUNK || b.size / CHUNK > 128) {
		fprintf(stderr, "usage: bench_odp [-d DEV] [-r ROUNDS] "
				"[-s SIZE: 1M..128M, MiB multiple]\n");
		return 2;
	}
	bench_watchdog(600);
	setup(&b, dev);
	/* Registrations first: right after traffic the daemon's engine may
	 * still hold a CPU, which the first command would pay for. */
	for (r = 0; r < b.rounds; r++)
		reg_round(&b, r);
	for (r = 0; r < b.rounds; r++)
		touch_round(&b, r);
	bench_result(report(&b), "x_first_touch_fresh_over_prefetched");
	return 0;
}
