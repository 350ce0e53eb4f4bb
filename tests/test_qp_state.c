// SPDX-License-Identifier: MIT
/*
 * QP control path: RC QP through RESET->INIT->RTR->RTS with the right
 * masks, wrong masks rejected with EINVAL, query, EBUSY on CQ/PD while the
 * QP exists, RQ ring full -> ENOMEM, UD init mask, SRQ and XRCD basics.
 */
#include <fcntl.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "svtest.h"

static int find_gid(struct ibv_context *ctx)
{
	union ibv_gid gid, zero = {};
	int i;

	for (i = 0; i < 16; i++)
		if (!ibv_query_gid(ctx, 1, i, &gid) &&
		    memcmp(&gid, &zero, sizeof(gid)))
			return i;
	return -1;
}

static void walk_rc(struct ibv_context *ctx, struct ibv_qp *qp, int gidx)
{
	struct ibv_qp_attr a = {};
	struct ibv_qp_init_attr ia;
	int base = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
		   IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC;

	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
	/* Missing ACCESS_FLAGS for RC. */
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT) == EINVAL);
	a.port_num = 2;
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT | IBV_QP_ACCESS_FLAGS) == EINVAL);
	a.port_num = 1;
	/* QKEY is not allowed for RC. */
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT | IBV_QP_ACCESS_FLAGS |
				IBV_QP_QKEY) == EINVAL);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				 IBV_QP_PORT | IBV_QP_ACCESS_FLAGS));
	SVT_CHECK(qp->state == IBV_QPS_INIT);
	/* INIT -> RTS skips a state. */
	a.qp_state = IBV_QPS_RTS;
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE) == EINVAL);

	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = qp->qp_num;
	a.rq_psn = 7;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.port_num = 1;
	a.ah_attr.grh.sgid_index = (uint8_t)gidx;
	a.ah_attr.grh.hop_limit = 1;
	ibv_query_gid(ctx, 1, gidx, &a.ah_attr.grh.dgid);
	SVT_CHECK(ibv_modify_qp(qp, &a, base) == EINVAL); /* no MIN_RNR */
	a.ah_attr.is_global = 0;
	SVT_CHECK(ibv_modify_qp(qp, &a, base | IBV_QP_MIN_RNR_TIMER) ==
		  EINVAL);
	a.ah_attr.is_global = 1;
	SVT_CHECK(!ibv_modify_qp(qp, &a, base | IBV_QP_MIN_RNR_TIMER));

	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 9;
	a.max_rd_atomic = 1;
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN) ==
		  EINVAL);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
				 IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				 IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC));

	memset(&a, 0, sizeof(a));
	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE, &ia));
	SVT_CHECK(a.qp_state == IBV_QPS_RTS);
	SVT_CHECK(a.path_mtu == IBV_MTU_1024);
	SVT_CHECK(a.dest_qp_num == qp->qp_num);
	SVT_CHECK(a.rq_psn == 7 && a.sq_psn == 9);
	SVT_CHECK(a.timeout == 14 && a.min_rnr_timer == 12);
	SVT_CHECK(a.ah_attr.grh.sgid_index == gidx && a.ah_attr.is_global);
	SVT_CHECK(a.cap.max_send_wr >= 16 && a.cap.max_recv_wr >= 16);
	SVT_CHECK(ia.qp_type == IBV_QPT_RC && ia.cap.max_send_sge >= 1);
}

static void check_rq_full(struct ibv_qp *qp, uint32_t n)
{
	struct ibv_recv_wr wr = {}, *bad;
	uint32_t i;

	for (i = 0; i < n; i++) {
		wr.wr_id = i;
		SVT_CHECK(!ibv_post_recv(qp, &wr, &bad));
	}
	SVT_CHECK(ibv_post_recv(qp, &wr, &bad) == ENOMEM && bad == &wr);
}

static void test_ud(struct ibv_pd *pd, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_UD,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = 0x11111111 };
	struct ibv_qp *qp = ibv_create_qp(pd, &ia);

	SVT_CHECK(qp);
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				IBV_QP_PORT | IBV_QP_ACCESS_FLAGS) == EINVAL);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				 IBV_QP_PORT | IBV_QP_QKEY));
	a.qp_state = IBV_QPS_RTR;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	a.qp_state = IBV_QPS_RTS;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN));
	SVT_CHECK(!ibv_destroy_qp(qp));
}

static void test_srq_xrcd(struct ibv_context *ctx, struct ibv_pd *pd,
			  struct ibv_cq *cq)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 8, .max_sge = 2 } };
	struct ibv_xrcd_init_attr xa = {
		.comp_mask = IBV_XRCD_INIT_ATTR_FD | IBV_XRCD_INIT_ATTR_OFLAGS,
		.fd = -1, .oflags = O_CREAT,
	};
	struct ibv_qp_init_attr ia = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_send_sge = 1 },
	};
	struct ibv_srq_attr q = {};
	struct ibv_xrcd *x;
	struct ibv_srq *srq;
	struct ibv_qp *qp;

	srq = ibv_create_srq(pd, &sa);
	SVT_CHECK(srq && sa.attr.max_wr >= 8);
	SVT_CHECK(!ibv_query_srq(srq, &q) && q.max_sge == 2);
	q.srq_limit = 1000;
	SVT_CHECK(ibv_modify_srq(srq, &q, IBV_SRQ_LIMIT) == EINVAL);
	q.srq_limit = 2;
	SVT_CHECK(!ibv_modify_srq(srq, &q, IBV_SRQ_LIMIT));
	SVT_CHECK(!ibv_query_srq(srq, &q) && q.srq_limit == 2);
	ia.srq = srq;
	qp = ibv_create_qp(pd, &ia);
	SVT_CHECK(qp);
	SVT_CHECK(ibv_destroy_srq(srq) == EBUSY);
	SVT_CHECK(!ibv_destroy_qp(qp));
	SVT_CHECK(!ibv_destroy_srq(srq));

	x = ibv_open_xrcd(ctx, &xa);
	SVT_CHECK(x);
	SVT_CHECK(!ibv_close_xrcd(x));
}

int main(void)
{
	struct ibv_qp_init_attr ia = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = {};
	struct ibv_context *ctx;
	struct svt_daemon d;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	int gidx;

	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	SVT_CHECK(pd && cq);
	ia.send_cq = ia.recv_cq = cq;
	qp = ibv_create_qp(pd, &ia);
	SVT_CHECK(qp);
	SVT_CHECK(qp->qp_num >= 2 && qp->state == IBV_QPS_RESET);
	gidx = find_gid(ctx);
	if (gidx >= 0)
		walk_rc(ctx, qp, gidx);
	else
		fprintf(stderr, "no GID: RTR/RTS walk skipped\n");
	check_rq_full(qp, ia.cap.max_recv_wr);
	SVT_CHECK(ibv_destroy_cq(cq) == EBUSY);
	SVT_CHECK(ibv_dealloc_pd(pd) == EBUSY);
	a.qp_state = IBV_QPS_ERR;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	a.qp_state = IBV_QPS_RESET;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	SVT_CHECK(!ibv_destroy_qp(qp));
	test_ud(pd, cq);
	test_srq_xrcd(ctx, pd, cq);
	SVT_CHECK(!ibv_destroy_cq(cq));
	SVT_CHECK(!ibv_dealloc_pd(pd));
	ibv_close_device(ctx);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
