/* SPDX-License-Identifier: MIT */
/*
 * RC endpoints for the memory tests (device memory, dma-buf, data direct):
 * open softverbs0, make a PD/CQ/RC QP, connect it to a QP number (in this
 * process or another one on the same device: by GID on RoCE, by LID on
 * InfiniBand), post one work request and wait for its completion. Include
 * after svtest.h.
 */
#ifndef SVT_EP_H
#define SVT_EP_H

#include <infiniband/verbs.h>

struct svt_ep {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	union ibv_gid gid;
	int gid_index; /* -1: no GRH, the path is the port's LID */
	uint16_t lid;
};

/*
 * A RoCEv2 IPv4-mapped GID: what the traffic tests route over. An
 * InfiniBand port is addressed by its LID instead: gid_index -1.
 */
static inline void svt_ep_find_gid(struct svt_ep *e)
{
	struct ibv_port_attr pa;
	int i;

	SVT_CHECK(!ibv_query_port(e->ctx, 1, &pa));
	e->lid = pa.lid;
	e->gid_index = -1;
	if (pa.link_layer == IBV_LINK_LAYER_INFINIBAND)
		return;
	for (i = 0; i < 16; i++) {
		if (ibv_query_gid(e->ctx, 1, i, &e->gid))
			break;
		if (e->gid.global.interface_id && e->gid.raw[10] == 0xff) {
			e->gid_index = i;
			return;
		}
	}
	fprintf(stderr, "svt_ep: no usable GID\n");
	exit(SVT_FAIL);
}

/*
 * The CQ (unless e->cq is set: then that one is used) and RC QP of an
 * endpoint on e->ctx and e->pd, which the caller opened.
 */
static inline void svt_ep_make(struct svt_ep *e)
{
	struct ibv_qp_init_attr a = {
		.cap = { .max_send_wr = 64, .max_recv_wr = 64,
			 .max_send_sge = 2, .max_recv_sge = 2 },
		.qp_type = IBV_QPT_RC,
	};

	if (!e->cq)
		e->cq = ibv_create_cq(e->ctx, 128, NULL, NULL, 0);
	SVT_CHECK(e->cq);
	a.send_cq = a.recv_cq = e->cq;
	e->qp = ibv_create_qp(e->pd, &a);
	if (!e->qp)
		fprintf(stderr, "svt_ep: ibv_create_qp: %s\n", strerror(errno));
	SVT_CHECK(e->qp);
	svt_ep_find_gid(e);
}

static inline void svt_ep_open(struct svt_ep *e)
{
	struct ibv_device **list = ibv_get_device_list(NULL);

	SVT_CHECK(list && list[0]);
	e->ctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	SVT_CHECK(e->ctx);
	e->pd = ibv_alloc_pd(e->ctx);
	SVT_CHECK(e->pd);
	e->cq = NULL;
	svt_ep_make(e);
}

static inline void svt_ep_modify(struct svt_ep *e, struct ibv_qp_attr *a,
				 int mask)
{
	SVT_CHECK(!ibv_modify_qp(e->qp, a, mask));
	memset(a, 0, sizeof(*a));
}

/*
 * INIT -> RTR -> RTS towards dqpn with this path MTU, timeout, retry_cnt,
 * rnr_retry, at LID dlid (used on an InfiniBand port: there the path has
 * no GRH).
 */
static inline void svt_ep_connect_rnr(struct svt_ep *e, uint32_t dqpn,
				      enum ibv_mtu mtu, uint8_t timeout,
				      uint8_t retry_cnt, uint16_t dlid,
				      uint8_t rnr_retry)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC,
	};

	svt_ep_modify(e, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				     IBV_QP_ACCESS_FLAGS);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = mtu;
	a.dest_qp_num = dqpn;
	a.max_dest_rd_atomic = 4;
	a.min_rnr_timer = 1;
	a.ah_attr.dlid = dlid;
	a.ah_attr.is_global = e->gid_index >= 0;
	a.ah_attr.grh.dgid = e->gid;
	a.ah_attr.grh.sgid_index = (uint8_t)e->gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	svt_ep_modify(e, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
				     IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
				     IBV_QP_MAX_DEST_RD_ATOMIC |
				     IBV_QP_MIN_RNR_TIMER);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = timeout;
	a.retry_cnt = retry_cnt;
	a.rnr_retry = rnr_retry;
	a.max_rd_atomic = 4;
	svt_ep_modify(e, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
				     IBV_QP_MAX_QP_RD_ATOMIC);
}

/* The same with rnr_retry 7 (retry for ever), what most tests want. */
static inline void svt_ep_connect_path(struct svt_ep *e, uint32_t dqpn,
				       enum ibv_mtu mtu, uint8_t timeout,
				       uint8_t retry_cnt, uint16_t dlid)
{
	svt_ep_connect_rnr(e, dqpn, mtu, timeout, retry_cnt, dlid, 7);
}

/* The same towards a QP of the same device. */
static inline void svt_ep_connect_ex(struct svt_ep *e, uint32_t dqpn,
				     enum ibv_mtu mtu, uint8_t timeout,
				     uint8_t retry_cnt)
{
	svt_ep_connect_path(e, dqpn, mtu, timeout, retry_cnt, e->lid);
}

/* retry_cnt 1 and a ~1 ms timeout, so errors come quickly. */
static inline void svt_ep_connect(struct svt_ep *e, uint32_t dqpn)
{
	svt_ep_connect_ex(e, dqpn, IBV_MTU_4096, 8, 1);
}

/* Wait up to ~10 s for one completion. */
static inline struct ibv_wc svt_poll1(struct ibv_cq *cq)
{
	struct timespec ts = { 0, 20000 };
	struct ibv_wc wc;
	long i;

	for (i = 0; i < 500000; i++) {
		int n = ibv_poll_cq(cq, 1, &wc);

		SVT_CHECK(n >= 0);
		if (n)
			return wc;
		if (i > 1000)
			nanosleep(&ts, NULL);
	}
	/* Which process of a multi-process test, and on which path. */
	fprintf(stderr,
		"svt_ep: timeout waiting for a completion (pid %d, "
		"SOFTVERBS_DIRECT=%s)\n",
		(int)getpid(),
		getenv("SOFTVERBS_DIRECT") ? getenv("SOFTVERBS_DIRECT") :
					     "unset");
	exit(SVT_FAIL);
}

/*
 * Post one signaled RDMA/atomic work request with one SGE and return its
 * completion status. For atomics, len is 8 and cmp/swap_add are used.
 */
static inline enum ibv_wc_status
svt_rdma(struct svt_ep *e, enum ibv_wr_opcode op, const struct ibv_sge *sge,
	 uint64_t raddr, uint32_t rkey, uint64_t cmp, uint64_t swap_add)
{
	struct ibv_sge s = *sge;
	struct ibv_send_wr wr = { .wr_id = op, .sg_list = &s, .num_sge = 1,
				  .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;

	if (op == IBV_WR_ATOMIC_CMP_AND_SWP || op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = rkey;
		wr.wr.atomic.compare_add = op == IBV_WR_ATOMIC_CMP_AND_SWP ?
						   cmp : swap_add;
		wr.wr.atomic.swap = swap_add;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = rkey;
	}
	SVT_CHECK(!ibv_post_send(e->qp, &wr, &bad));
	wc = svt_poll1(e->cq);
	return wc.status;
}

static inline uint32_t svt_sum(const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t s = 0x12345678;

	while (n--)
		s = (s << 5) + s + *p++;
	return s;
}

#endif
