// SPDX-License-Identifier: MIT
/*
 * Posted connection steps (issue 17). The library sends RESET->INIT and
 * RTR->RTS without waiting for the daemon when the rules the daemon
 * applies (softverbs/qp_rules.h) accept them, and every verbs behaviour
 * stays:
 *   - pairs connected back to back are all in RTS at the daemon, and a
 *     WRITE posted right after a posted RTS completes (it waits for it);
 *   - a bad RTR value fails the very call that names it with the
 *     daemon's errno, also once the library knows the device's limits:
 *     a path MTU above the port's or below 256, an empty GID index, a
 *     responder depth above the device's, port 2;
 *   - a posted RTS the daemon refuses after all (another process moved
 *     the QP to ERR behind the library's back) returned 0: the QP's next
 *     modify fails with EINVAL, once, and the one after works;
 *   - a modify that is not posted (a UD QP's steps, a RESET) still works.
 */
#include <sys/wait.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_pair.h"
#include "svt_ud.h"

#define PAIRS 12

static void pair_free(struct svt_ep *a, struct svt_ep *b)
{
	SVT_CHECK(!ibv_destroy_qp(a->qp) && !ibv_destroy_qp(b->qp));
	SVT_CHECK(!ibv_destroy_cq(a->cq) && !ibv_destroy_cq(b->cq));
}

/* Connect PAIRS pairs, then WRITE on each at once; all are in RTS. */
static void connect_many(struct ibv_context *ctx, struct ibv_pd *pd)
{
	static struct svt_ep a[PAIRS], b[PAIRS];
	uint8_t *buf = calloc(1, 8192);
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, 8192, SVT_ACCESS_ALL);
	int i;

	SVT_CHECK(buf && mr);
	for (i = 0; i < PAIRS; i++) {
		struct ibv_sge s = svt_sge(buf, 64, mr->lkey);

		memset(buf, i + 1, 64);
		svt_mem_pair(ctx, pd, &a[i], NULL, &b[i]);
		SVT_CHECK(svt_rdma(&a[i], IBV_WR_RDMA_WRITE, &s,
				   (uintptr_t)buf + 4096, mr->rkey, 0, 0) ==
			  IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(buf, buf + 4096, 64));
	}
	for (i = 0; i < PAIRS; i++) {
		SVT_CHECK(svt_qp_state(a[i].qp) == IBV_QPS_RTS &&
			  svt_qp_state(b[i].qp) == IBV_QPS_RTS);
		pair_free(&a[i], &b[i]);
	}
	SVT_CHECK(!ibv_dereg_mr(mr));
	free(buf);
	printf("%d pairs connected and written to at once, all in RTS\n",
	       PAIRS);
}

static void to_init(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qp_access_flags = SVT_ACCESS_ALL };

	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
						 IBV_QP_PORT |
						 IBV_QP_ACCESS_FLAGS));
}

static int to_rtr(struct svt_ep *e, struct ibv_qp_attr *a, uint32_t dqpn)
{
	a->qp_state = IBV_QPS_RTR;
	a->dest_qp_num = dqpn;
	a->min_rnr_timer = 1;
	a->ah_attr.is_global = 1;
	a->ah_attr.grh.dgid = e->gid;
	a->ah_attr.grh.hop_limit = 1;
	a->ah_attr.port_num = a->ah_attr.port_num ? a->ah_attr.port_num : 1;
	return ibv_modify_qp(e->qp, a, IBV_QP_STATE | IBV_QP_AV |
					       IBV_QP_PATH_MTU |
					       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC |
					       IBV_QP_MIN_RNR_TIMER);
}

/* A good RTR attribute set, then each bad value alone: EINVAL. */
static void bad_values(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct svt_ep e = { .ctx = ctx, .pd = pd };
	struct ibv_gid_entry ent;
	struct ibv_qp_attr a;
	int empty = -1, i;

	svt_ep_make(&e);
	SVT_CHECK(e.gid_index >= 0);
	for (i = 15; i >= 0 && empty < 0; i--)
		if (ibv_query_gid_ex(ctx, 1, i, &ent, 0) == ENODATA)
			empty = i;
	to_init(e.qp);
#define RTR_WITH(field, value)                                            \
	do {                                                              \
		memset(&a, 0, sizeof(a));                                 \
		a.path_mtu = IBV_MTU_1024;                                \
		a.max_dest_rd_atomic = 4;                                 \
		a.ah_attr.grh.sgid_index = (uint8_t)e.gid_index;          \
		field = value;                                            \
		SVT_CHECK(to_rtr(&e, &a, e.qp->qp_num) == EINVAL);        \
	} while (0)
	RTR_WITH(a.path_mtu, (enum ibv_mtu)6);
	RTR_WITH(a.path_mtu, (enum ibv_mtu)0);
	RTR_WITH(a.max_dest_rd_atomic, 255);
	RTR_WITH(a.ah_attr.port_num, 2);
	if (empty >= 0)
		RTR_WITH(a.ah_attr.grh.sgid_index, (uint8_t)empty);
	RTR_WITH(a.ah_attr.grh.sgid_index, 16);
#undef RTR_WITH
	SVT_CHECK(svt_qp_state(e.qp) == IBV_QPS_INIT);
	memset(&a, 0, sizeof(a));
	a.path_mtu = IBV_MTU_1024;
	a.ah_attr.grh.sgid_index = (uint8_t)e.gid_index;
	SVT_CHECK(!to_rtr(&e, &a, e.qp->qp_num));
	SVT_CHECK(svt_qp_state(e.qp) == IBV_QPS_RTR);
	SVT_CHECK(!ibv_destroy_qp(e.qp) && !ibv_destroy_cq(e.cq));
	printf("bad RTR values fail their own call with EINVAL (empty GID "
	       "index %d)\n", empty);
}

/* Another process moves the QP to ERR; our posted RTS is refused later. */
static void refused_rts(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct ibv_qp_attr err = { .qp_state = IBV_QPS_ERR }, a;
	struct svt_ep e = { .ctx = ctx, .pd = pd }, peer = e;
	int status;
	pid_t pid;

	svt_ep_make(&e);
	svt_ep_make(&peer);
	to_init(e.qp);
	memset(&a, 0, sizeof(a));
	a.path_mtu = IBV_MTU_1024;
	a.max_dest_rd_atomic = 4;
	a.ah_attr.grh.sgid_index = (uint8_t)e.gid_index;
	SVT_CHECK(!to_rtr(&e, &a, peer.qp->qp_num)); /* waited for */
	SVT_CHECK(svt_qp_state(e.qp) == IBV_QPS_RTR);
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (pid == 0)
		_exit(ibv_modify_qp(e.qp, &err, IBV_QP_STATE) ? 1 : 0);
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		  WEXITSTATUS(status) == 0);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 8;
	a.retry_cnt = 1;
	a.rnr_retry = 7;
	a.max_rd_atomic = 4;
	SVT_CHECK(!ibv_modify_qp(e.qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
						   IBV_QP_RETRY_CNT |
						   IBV_QP_RNR_RETRY |
						   IBV_QP_SQ_PSN |
						   IBV_QP_MAX_QP_RD_ATOMIC));
	SVT_CHECK(svt_qp_state(e.qp) == IBV_QPS_ERR); /* reads that reply */
	SVT_CHECK(ibv_modify_qp(e.qp, &err, IBV_QP_STATE) == EINVAL);
	SVT_CHECK(!ibv_modify_qp(e.qp, &err, IBV_QP_STATE)); /* said once */
	SVT_CHECK(svt_qp_state(e.qp) == IBV_QPS_ERR);
	pair_free(&e, &peer);
	printf("a posted RTS refused later fails the next modify, once\n");
}

/* Steps that are never posted: a UD QP's RTR, RTS to RESET. */
static void not_postable(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct ibv_cq *cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	struct ibv_qp *qp;

	SVT_CHECK(cq);
	qp = svt_ud_qp(pd, cq, 0x11111111, 4, 0); /* INIT, RTR, RTS */
	SVT_CHECK(svt_qp_state(qp) == IBV_QPS_RTS);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	SVT_CHECK(svt_qp_state(qp) == IBV_QPS_RESET);
	a.qp_state = IBV_QPS_RTR; /* RESET -> RTR: refused at once */
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE) == EINVAL);
	SVT_CHECK(!ibv_destroy_qp(qp) && !ibv_destroy_cq(cq));
	printf("UD INIT/RTR/RTS, RESET, and a bad transition\n");
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_context *ctx;
	struct ibv_pd *pd;

	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	connect_many(ctx, pd);
	bad_values(ctx, pd);
	refused_rts(ctx, pd);
	not_postable(ctx, pd);
	connect_many(ctx, pd);
	SVT_CHECK(!ibv_dealloc_pd(pd));
	SVT_CHECK(!ibv_close_device(ctx));
	svt_daemon_stop(&d);
	return SVT_PASS;
}
