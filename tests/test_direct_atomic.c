// SPDX-License-Identifier: MIT
/*
 * Issue 17: atomics stay atomic while both paths run on the same memory.
 * The target's counter (in its registered buffer) takes N FETCH_ADDs from
 * the initiator, whose connection has the direct path and who writes the
 * rest of that buffer with direct RDMA WRITEs between its atomics, and N
 * more at the same time from a QP pair inside the target process, on the
 * daemon path (SOFTVERBS_DIRECT=0 there). The counter ends at 2N, each
 * side saw its old values strictly grow, and a direct READ returns 2N.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN 65536
#define N 2000

/* N fetch-and-adds of 1 on the counter at raddr; old values must grow. */
static void adds(struct svt_dx *x, struct svt_ep *e, uint64_t raddr,
		 uint32_t rkey, bool writes)
{
	struct ibv_sge s = { (uintptr_t)x->buf + 8, 8, x->mr->lkey };
	uint64_t prev = 0, *old = (uint64_t *)(x->buf + 8);
	int i;

	for (i = 0; i < N; i++) {
		if (writes)
			svt_dx_post(x, IBV_WR_RDMA_WRITE, 4096, 4096, 4096,
				    false);
		SVT_CHECK(svt_rdma(e, IBV_WR_ATOMIC_FETCH_AND_ADD, &s, raddr, rkey,
				   0, 1) == IBV_WC_SUCCESS);
		SVT_CHECK(i == 0 || *old > prev);
		prev = *old;
	}
}

static void target(struct svt_dx *x)
{
	struct svt_ep a, b;
	char c;

	setenv("SOFTVERBS_DIRECT", "0", 1);
	svt_dx_open(x, LEN);
	svt_dx_link(x);
	a = x->ep;
	a.cq = NULL;
	svt_ep_make(&a);
	b = a;
	b.cq = NULL;
	svt_ep_make(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	svt_dx_get(x, &c, 1);
	adds(x, &a, (uintptr_t)x->buf, x->mr->rkey, false);
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1);
	SVT_CHECK(!ibv_destroy_qp(a.qp) && !ibv_destroy_qp(b.qp));
	SVT_CHECK(!ibv_destroy_cq(a.cq) && !ibv_destroy_cq(b.cq));
	svt_dx_close(x);
}

int main(void)
{
	struct svt_daemon d;
	struct svt_dx x = {};
	struct ibv_wc wc;
	char c = 1;

	setenv("SOFTVERBS_DIRECT", "1", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	svt_dx_fork(&x, target);
	svt_dx_open(&x, LEN);
	memset(x.buf + 4096, 0x77, 4096);
	svt_dx_link(&x);
	svt_dx_put(&x, &c, 1);
	adds(&x, &x.ep, x.peer.addr, x.peer.rkey, true);
	svt_dx_get(&x, &c, 1);
	svt_dx_post(&x, IBV_WR_RDMA_READ, 16, 0, 8, true);
	wc = svt_poll1(x.ep.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	printf("counter %llu after 2 x %d adds\n",
	       (unsigned long long)*(uint64_t *)(x.buf + 16), N);
	SVT_CHECK(*(uint64_t *)(x.buf + 16) == 2 * N);
	svt_dx_put(&x, &c, 1);
	SVT_CHECK(svt_dx_wait(&x) == SVT_PASS);
	svt_dx_close(&x);
	return SVT_PASS;
}
