// SPDX-License-Identifier: MIT
/*
 * The engine waits on every doorbell page it hands out, not only on the
 * first 128 (futex_waitv's limit): 200 contexts each take a page, then a
 * QP pair on the 170th context and one on the 5th do WRITEs while the
 * engine sleeps, in turn. Both must complete on the doorbell's wake-up, not
 * on the engine's 10 ms timeout (which would give the 170th a median near
 * 5 ms): the 170th's median stays within 1.5 ms plus twice the 5th's, a
 * control measured under the same load.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svtest.h"
#include "svt_ep.h"

#define NCTX 200
#define PICK 170
#define CTRL 5
#define TRIES 21

static void open_ctx(struct svt_ep *e, struct ibv_device *dev)
{
	e->ctx = ibv_open_device(dev);
	SVT_CHECK(e->ctx);
	e->pd = ibv_alloc_pd(e->ctx);
	SVT_CHECK(e->pd);
	e->cq = NULL;
	svt_ep_make(e); /* the QP takes the context's doorbell page */
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct pair {
	struct svt_ep *a;
	struct svt_ep b;
	struct ibv_mr *mr;
	uint8_t buf[4096];
	double t[TRIES];
};

static void pair_make(struct pair *p, struct svt_ep *a)
{
	p->a = a;
	p->b = *a;
	p->b.cq = NULL;
	svt_ep_make(&p->b);
	svt_ep_connect(p->a, p->b.qp->qp_num);
	svt_ep_connect(&p->b, p->a->qp->qp_num);
	p->mr = ibv_reg_mr(p->b.pd, p->buf, sizeof(p->buf),
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(p->mr);
}

/* One WRITE after the engine fell asleep: milliseconds to completion. */
static double pair_try(struct pair *p)
{
	/* Not a multiple of the engine's 10 ms timeout: no phase lock. */
	struct timespec idle = { 0, 35 * 1000 * 1000 };
	struct ibv_sge s = { (uintptr_t)p->buf, 64, p->mr->lkey };
	double t0;

	nanosleep(&idle, NULL);
	t0 = now_ms();
	SVT_CHECK(svt_rdma(p->a, IBV_WR_RDMA_WRITE, &s,
			   (uintptr_t)p->buf + 2048, p->mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	return now_ms() - t0;
}

int main(void)
{
	static struct svt_ep ep[NCTX];
	static struct pair far, near;
	struct ibv_device **list;
	struct svt_daemon d;
	double mf, mn;
	int i;

	/* One user, 200 pages: lift the per-user page limit (128). */
	if (svt_daemon_start_args(&d, (const char *const[]){
					      "--limit-db-pages=0", NULL }))
		return SVT_FAIL;
	list = ibv_get_device_list(NULL);
	SVT_CHECK(list && list[0]);
	for (i = 0; i < NCTX; i++)
		open_ctx(&ep[i], list[0]);
	pair_make(&far, &ep[PICK]);
	pair_make(&near, &ep[CTRL]);
	for (i = 0; i < TRIES; i++) {
		far.t[i] = pair_try(&far);
		near.t[i] = pair_try(&near);
	}
	qsort(far.t, TRIES, sizeof(double), cmp_double);
	qsort(near.t, TRIES, sizeof(double), cmp_double);
	mf = far.t[TRIES / 2];
	mn = near.t[TRIES / 2];
	printf("WRITE after idle, median: context %d %.3f ms, context %d "
	       "%.3f ms (of %d contexts)\n", PICK, mf, CTRL, mn, NCTX);
	SVT_CHECK(mf < 2 * mn + 1.5);
	ibv_free_device_list(list);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
