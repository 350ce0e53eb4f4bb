// SPDX-License-Identifier: MIT
/*
 * Issue 17: an unsignaled work request that fails on the daemon path is
 * never followed by a direct one (docs/direct-path.md, "Order and
 * completions"). Each round: an unsignaled RDMA WRITE with a bad rkey
 * (the direct path does not know the key, so the daemon does it and
 * fails it with REM_ACCESS_ERR), then, as fast as they can be posted
 * until that error completion arrives, unsignaled WRITEs of a good rkey
 * that the direct path would do at once. None of them may land: after
 * the failure the QP is in ERROR and they flush. The window is between
 * the engine moving the SQ's consumer index and writing the error; the
 * engine now ends the grant before it moves the index.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"

#define ROUNDS 40

static uint64_t target[512];

struct round {
	struct svt_ep a, b;
	struct ibv_mr *mr, *tmr;
	uint64_t src;
};

static void post_write(struct round *r, uint32_t rkey, uint64_t wr_id)
{
	struct ibv_sge s = { (uintptr_t)&r->src, 8, r->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = wr_id, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE },
			   *bad;

	wr.wr.rdma.remote_addr = (uintptr_t)&target[wr_id % 512];
	wr.wr.rdma.rkey = rkey;
	(void)ibv_post_send(r->a.qp, &wr, &bad); /* SQ full: try again */
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/*
 * The bad WRITE, then after delay_us one good WRITE, then until the
 * error arrives more good ones; the error must come first, and nothing
 * may land. Returns how long the error took (us).
 */
static double one_round(struct round *r, double delay_us, unsigned int *after)
{
	struct ibv_sge s = { (uintptr_t)&r->src, 8, r->mr->lkey };
	struct ibv_send_wr sig = { .sg_list = &s, .num_sge = 1,
				   .opcode = IBV_WR_RDMA_WRITE,
				   .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;
	double t0;
	unsigned int i;
	int n;

	/* A good signaled one first: the grant, the path direct. */
	sig.wr.rdma.remote_addr = (uintptr_t)target;
	sig.wr.rdma.rkey = r->tmr->rkey;
	r->src = 0;
	SVT_CHECK(!ibv_post_send(r->a.qp, &sig, &bad));
	do {
		n = ibv_poll_cq(r->a.cq, 1, &wc);
	} while (!n);
	SVT_CHECK(n == 1 && wc.status == IBV_WC_SUCCESS);
	memset(target, 0, sizeof(target));
	r->src = 0x5a5a5a5a5a5a5a5aULL;
	t0 = now_us();
	post_write(r, r->tmr->rkey ^ 0x80, 1); /* bad rkey, unsignaled */
	while (now_us() - t0 < delay_us)
		;
	for (i = 0;; i++) {
		if (i < 1000)
			post_write(r, r->tmr->rkey, 2 + i);
		n = ibv_poll_cq(r->a.cq, 1, &wc);
		SVT_CHECK(n >= 0);
		if (n)
			break;
	}
	*after += i;
	SVT_CHECK(wc.wr_id == 1 && wc.status == IBV_WC_REM_ACCESS_ERR);
	for (i = 0; i < 512; i++)
		SVT_CHECK(target[i] == 0);
	return now_us() - t0;
}

int main(void)
{
	struct svt_daemon d;
	unsigned int after = 0;
	double t = 20; /* how long the error takes: learnt as we go */
	struct round r;
	int k;

	setenv("SOFTVERBS_DIRECT", "1", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	for (k = 0; k < ROUNDS; k++) {
		memset(&r, 0, sizeof(r));
		svt_ep_open(&r.a);
		r.b = r.a;
		r.b.cq = NULL;
		svt_ep_make(&r.b);
		r.mr = ibv_reg_mr(r.a.pd, &r.src, 8, IBV_ACCESS_LOCAL_WRITE);
		r.tmr = ibv_reg_mr(r.a.pd, target, sizeof(target),
				   IBV_ACCESS_LOCAL_WRITE |
					   IBV_ACCESS_REMOTE_WRITE);
		SVT_CHECK(r.mr && r.tmr);
		svt_ep_connect(&r.a, r.b.qp->qp_num);
		svt_ep_connect(&r.b, r.a.qp->qp_num);
		/* Sweep the delay across the time the error takes. */
		t = (t * 3 + one_round(&r, t * (k % 20) / 10.0, &after)) / 4;
		SVT_CHECK(!ibv_destroy_qp(r.a.qp) && !ibv_destroy_qp(r.b.qp));
		SVT_CHECK(!ibv_dereg_mr(r.mr) && !ibv_dereg_mr(r.tmr));
		SVT_CHECK(!ibv_destroy_cq(r.a.cq) && !ibv_destroy_cq(r.b.cq));
		SVT_CHECK(!ibv_dealloc_pd(r.a.pd));
		SVT_CHECK(!ibv_close_device(r.a.ctx));
	}
	printf("%d rounds, %u WRITEs posted behind a failing unsignaled "
	       "one: none landed: PASS\n", ROUNDS, after);
	return SVT_PASS;
}
