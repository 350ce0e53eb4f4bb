// SPDX-License-Identifier: MIT
/*
 * A receive posted to a QP already in ERROR completes with WR_FLUSH_ERR.
 *
 * ibv_post_recv rings no doorbell (the engine reads a receive queue when a
 * message arrives), except on a QP the library knows is in ERROR: then it
 * rings the QP's slot so the engine flushes what was posted. Without that
 * ring nothing would ever look at the QP again and the receive would stay
 * pending for ever; the test waits 2 s for the flush.
 */
#include <time.h>

#include <infiniband/verbs.h>

#include "svtest.h"

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The next completion within 2 s; 0 if none came. */
static int poll_2s(struct ibv_cq *cq, struct ibv_wc *wc)
{
	double end = now_s() + 2.0;
	int n;

	while ((n = ibv_poll_cq(cq, 1, wc)) == 0 && now_s() < end)
		;
	return n;
}

static void post_one(struct ibv_qp *qp, struct ibv_mr *mr, uint64_t id)
{
	struct ibv_sge sge = { (uintptr_t)mr->addr, 64, mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = id, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;

	SVT_CHECK(!ibv_post_recv(qp, &wr, &bad));
}

int main(void)
{
	struct ibv_qp_init_attr ia = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR }, init = {};
	static char buf[4096];
	struct ibv_context *ctx;
	struct svt_daemon d;
	struct ibv_wc wc;
	struct ibv_mr *mr;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	int i;

	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	SVT_CHECK(pd && cq);
	mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	ia.send_cq = ia.recv_cq = cq;
	qp = ibv_create_qp(pd, &ia);
	SVT_CHECK(qp);
	init.qp_state = IBV_QPS_INIT;
	init.port_num = 1;
	SVT_CHECK(!ibv_modify_qp(qp, &init, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
						 IBV_QP_PORT |
						 IBV_QP_ACCESS_FLAGS));
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	/* Twice: the second receive comes after the engine's first flush. */
	for (i = 1; i <= 2; i++) {
		post_one(qp, mr, 0x100 + (uint64_t)i);
		SVT_CHECK(poll_2s(cq, &wc) == 1);
		SVT_CHECK(wc.wr_id == 0x100 + (uint64_t)i);
		SVT_CHECK(wc.status == IBV_WC_WR_FLUSH_ERR);
		SVT_CHECK(wc.opcode == IBV_WC_RECV);
	}
	SVT_CHECK(!ibv_destroy_qp(qp));
	SVT_CHECK(!ibv_dereg_mr(mr));
	SVT_CHECK(!ibv_destroy_cq(cq));
	SVT_CHECK(!ibv_dealloc_pd(pd));
	ibv_close_device(ctx);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
