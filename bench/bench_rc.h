/* SPDX-License-Identifier: MIT */
/*
 * Two RC QPs of one process connected to each other on port 1 of a
 * device (RoCE: an IPv4-mapped GID), for the memory benchmarks
 * (bench_dma_paths, bench_odp). Errors end the program: a benchmark that
 * cannot set up prints no RESULT line.
 */
#ifndef BENCH_RC_H
#define BENCH_RC_H

#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_RC_ACCESS                                     \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
	 IBV_ACCESS_REMOTE_READ)

static inline void bench_die(const char *what)
{
	perror(what);
	exit(1);
}

/* dev (NULL: the first one) opened. */
static inline struct ibv_context *bench_open(const char *dev)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx;
	int i;

	for (i = 0; list && list[i]; i++)
		if (!dev || !strcmp(ibv_get_device_name(list[i]), dev))
			break;
	if (!list || !list[i])
		bench_die("no such device (run under softverbs run)");
	ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!ctx)
		bench_die("ibv_open_device");
	return ctx;
}

static inline int bench_find_gid(struct ibv_context *ctx, union ibv_gid *gid)
{
	int i;

	for (i = 0; i < 16; i++)
		if (!ibv_query_gid(ctx, 1, i, gid) && gid->raw[10] == 0xff &&
		    gid->raw[11] == 0xff)
			return i;
	fprintf(stderr, "no IPv4 RoCE GID on port 1\n");
	exit(1);
}

static inline struct ibv_qp *bench_rc_qp(struct ibv_pd *pd, struct ibv_cq *cq,
					 int depth)
{
	struct ibv_qp_init_attr a = {
	    .send_cq = cq,
	    .recv_cq = cq,
	    .qp_type = IBV_QPT_RC,
	    .cap = {.max_send_wr = (uint32_t)depth,
		    .max_recv_wr = 1,
		    .max_send_sge = 1,
		    .max_recv_sge = 1},
	};
	struct ibv_qp *qp = ibv_create_qp(pd, &a);

	if (!qp)
		bench_die("ibv_create_qp");
	return qp;
}

static inline void bench_rc_modify(struct ibv_qp *qp, struct ibv_qp_attr *a,
				   int mask, const char *what)
{
	if (ibv_modify_qp(qp, a, mask))
		bench_die(what);
	memset(a, 0, sizeof(*a));
}

#define BENCH_RC_INIT_MASK                                  \
	(IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | \
	 IBV_QP_ACCESS_FLAGS)
#define BENCH_RC_RTR_MASK                                        \
	(IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |            \
	 IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |                       \
	 IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER)
#define BENCH_RC_RTS_MASK                                        \
	(IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |      \
	 IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC)

/* RTR towards dqpn (the same port, GID gidx); a is zeroed. */
static inline void bench_rc_rtr_attr(struct ibv_qp_attr *a, uint32_t dqpn,
				     int gidx, const union ibv_gid *gid)
{
	a->qp_state = IBV_QPS_RTR;
	a->path_mtu = IBV_MTU_4096;
	a->dest_qp_num = dqpn;
	a->max_dest_rd_atomic = 16;
	a->min_rnr_timer = 1;
	a->ah_attr.is_global = 1;
	a->ah_attr.grh.dgid = *gid;
	a->ah_attr.grh.sgid_index = (uint8_t)gidx;
	a->ah_attr.grh.hop_limit = 1;
	a->ah_attr.port_num = 1;
}

/* RTS; a is zeroed. */
static inline void bench_rc_rts_attr(struct ibv_qp_attr *a)
{
	a->qp_state = IBV_QPS_RTS;
	a->timeout = 14;
	a->retry_cnt = 7;
	a->rnr_retry = 7;
	a->max_rd_atomic = 16;
}

/* INIT -> RTR -> RTS towards dqpn (the same port, GID gidx). */
static inline void bench_rc_connect(struct ibv_qp *qp, uint32_t dqpn,
				    int gidx, const union ibv_gid *gid)
{
	struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT,
				.port_num = 1,
				.qp_access_flags = BENCH_RC_ACCESS};

	bench_rc_modify(qp, &a, BENCH_RC_INIT_MASK, "INIT");
	bench_rc_rtr_attr(&a, dqpn, gidx, gid);
	bench_rc_modify(qp, &a, BENCH_RC_RTR_MASK, "RTR");
	bench_rc_rts_attr(&a);
	bench_rc_modify(qp, &a, BENCH_RC_RTS_MASK, "RTS");
}

/* qp and qp_b connected to each other. */
static inline void bench_rc_pair(struct ibv_context *ctx, struct ibv_qp *qp,
				 struct ibv_qp *qp_b)
{
	union ibv_gid gid;
	int gidx = bench_find_gid(ctx, &gid);

	bench_rc_connect(qp, qp_b->qp_num, gidx, &gid);
	bench_rc_connect(qp_b, qp->qp_num, gidx, &gid);
}

#endif
