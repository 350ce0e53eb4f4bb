// SPDX-License-Identifier: MIT
/*
 * The control path's rate (issue 17): RC QPs created and connected per
 * second. One process creates N pairs of RC QPs on one CQ and connects
 * each pair (INIT, RTR, RTS on both), timing create + connect; then
 * destroys them all. Prints "RESULT <QPs/s> qp/s" (and the destroy rate
 * on stderr). Run under softverbs run.
 *
 * Usage: bench_qp_rate [pairs] (default 1000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "bench_rc.h"

int main(int argc, char **argv)
{
	int i, n = argc > 1 ? atoi(argv[1]) : 1000;
	struct ibv_context *ctx = bench_open(NULL);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_cq *cq = ibv_create_cq(ctx, 256, NULL, NULL, 0);
	struct ibv_qp **qp = calloc(2 * (size_t)(n > 0 ? n : 1), sizeof(*qp));
	union ibv_gid gid;
	uint64_t t0, t1, t2;
	int gidx;

	if (n <= 0 || !pd || !cq || !qp)
		bench_die("setup");
	bench_watchdog(300);
	gidx = bench_find_gid(ctx, &gid);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++) {
		qp[2 * i] = bench_rc_qp(pd, cq, 16);
		qp[2 * i + 1] = bench_rc_qp(pd, cq, 16);
		bench_rc_connect(qp[2 * i], qp[2 * i + 1]->qp_num, gidx, &gid);
		bench_rc_connect(qp[2 * i + 1], qp[2 * i]->qp_num, gidx, &gid);
	}
	t1 = bench_now_ns();
	for (i = 0; i < 2 * n; i++)
		if (ibv_destroy_qp(qp[i]))
			bench_die("ibv_destroy_qp");
	t2 = bench_now_ns();
	fprintf(stderr, "%d QPs: create+connect %.0f QP/s, destroy %.0f QP/s\n",
		2 * n, 2e9 * n / (double)(t1 - t0), 2e9 * n / (double)(t2 - t1));
	bench_result(2e9 * n / (double)(t1 - t0), "qp/s");
	free(qp);
	ibv_destroy_cq(cq);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return 0;
}
