/* SPDX-License-Identifier: MIT */
/*
 * Worker threads for the thread-domain tests: each worker has its domain
 * (a TD and a parent domain, or a plain PD), a CQ and two connected RC
 * QPs on it, and checks its own traffic: batches of RDMA WRITEs of random
 * lengths and bytes compared by checksum, then a SEND carrying the
 * batch's checksum. Include after svtest.h and svt_ep.h.
 */
#ifndef SVT_TD_H
#define SVT_TD_H

#include <pthread.h>
#include <stdbool.h>

#include <softverbs/softverbs_dv.h>

#define SVT_TD_BATCH 16
#define SVT_TD_CHUNK 4096
#define SVT_TD_ROUNDS 48

struct svt_worker {
	int id;
	struct ibv_context *ctx;
	struct ibv_pd *pd; /* the PD under everything */
	struct ibv_td *td; /* NULL: no TD (plain PD) */
	struct ibv_pd *dom; /* the parent domain, or pd */
	struct svt_ep a, b; /* a writes and sends to b */
	uint32_t seed;
	char src[SVT_TD_BATCH * SVT_TD_CHUNK];
	char dst[SVT_TD_BATCH * SVT_TD_CHUNK];
	uint32_t msg[2]; /* SEND payload: round, checksum */
	uint32_t rmsg[2];
	struct ibv_mr *smr, *dmr, *mmr, *rmr;
	long writes; /* RDMA WRITEs checked */
};

/* The CQ: on the parent domain when there is a TD (as UCX does). */
static inline struct ibv_cq *svt_worker_cq(struct svt_worker *w)
{
	struct ibv_cq_init_attr_ex a = {
		.cqe = 256, .wc_flags = IBV_WC_STANDARD_FLAGS,
		.comp_mask = IBV_CQ_INIT_ATTR_MASK_PD, .parent_domain = w->dom,
	};
	struct ibv_cq_ex *cq;

	if (!w->td)
		return ibv_create_cq(w->ctx, 256, NULL, NULL, 0);
	cq = ibv_create_cq_ex(w->ctx, &a);
	return cq ? ibv_cq_ex_to_cq(cq) : NULL;
}

/* CQ, QPs, MRs on w->dom (set by the caller), connected. */
static inline void svt_worker_make(struct svt_worker *w)
{
	int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;

	w->a = (struct svt_ep){ .ctx = w->ctx, .pd = w->dom };
	w->a.cq = svt_worker_cq(w);
	SVT_CHECK(w->a.cq);
	w->b = w->a;
	svt_ep_make(&w->a);
	svt_ep_make(&w->b);
	svt_ep_connect(&w->a, w->b.qp->qp_num);
	svt_ep_connect(&w->b, w->a.qp->qp_num);
	w->smr = ibv_reg_mr(w->dom, w->src, sizeof(w->src), 0);
	w->dmr = ibv_reg_mr(w->dom, w->dst, sizeof(w->dst), acc);
	w->mmr = ibv_reg_mr(w->dom, w->msg, sizeof(w->msg), 0);
	w->rmr = ibv_reg_mr(w->dom, w->rmsg, sizeof(w->rmsg), acc);
	SVT_CHECK(w->smr && w->dmr && w->mmr && w->rmr);
}

static inline uint32_t svt_worker_rand(struct svt_worker *w)
{
	w->seed = w->seed * 1103515245U + 12345U;
	return w->seed >> 8;
}

/* One batch of unsignaled WRITEs, the last one signaled. */
static inline void svt_worker_writes(struct svt_worker *w, uint32_t *len)
{
	struct ibv_send_wr wr[SVT_TD_BATCH], *bad;
	struct ibv_sge sge[SVT_TD_BATCH];
	int k, j;

	for (k = 0; k < SVT_TD_BATCH; k++) {
		char *s = w->src + k * SVT_TD_CHUNK;

		len[k] = 1 + svt_worker_rand(w) % SVT_TD_CHUNK;
		for (j = 0; j < (int)len[k]; j++)
			s[j] = (char)svt_worker_rand(w);
		sge[k] = (struct ibv_sge){ (uintptr_t)s, len[k], w->smr->lkey };
		wr[k] = (struct ibv_send_wr){
			.wr_id = (uint64_t)k, .sg_list = &sge[k], .num_sge = 1,
			.opcode = IBV_WR_RDMA_WRITE,
			.next = k + 1 < SVT_TD_BATCH ? &wr[k + 1] : NULL,
			.send_flags = k + 1 < SVT_TD_BATCH ? 0
							   : IBV_SEND_SIGNALED,
		};
		wr[k].wr.rdma.remote_addr = (uintptr_t)w->dst + k * SVT_TD_CHUNK;
		wr[k].wr.rdma.rkey = w->dmr->rkey;
	}
	SVT_CHECK(!ibv_post_send(w->a.qp, wr, &bad));
}

/* Two completions on the one CQ: the SEND's and the receive's. */
static inline void svt_worker_send(struct svt_worker *w, uint32_t round,
				   uint32_t sum)
{
	struct ibv_sge s = { (uintptr_t)w->msg, sizeof(w->msg), w->mmr->lkey };
	struct ibv_sge r = { (uintptr_t)w->rmsg, sizeof(w->rmsg),
			     w->rmr->lkey };
	struct ibv_recv_wr rw = { .wr_id = 2, .sg_list = &r, .num_sge = 1 },
			   *rbad;
	struct ibv_send_wr sw = { .wr_id = 1, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *sbad;
	struct ibv_wc wc;
	int got = 0, i;

	w->msg[0] = round;
	w->msg[1] = sum;
	SVT_CHECK(!ibv_post_recv(w->b.qp, &rw, &rbad));
	SVT_CHECK(!ibv_post_send(w->a.qp, &sw, &sbad));
	for (i = 0; i < 2; i++) {
		wc = svt_poll1(w->a.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
		got |= 1 << wc.wr_id;
	}
	SVT_CHECK(got == 6);
	SVT_CHECK(w->rmsg[0] == round && w->rmsg[1] == sum);
}

static inline void *svt_worker_run(void *arg)
{
	struct svt_worker *w = arg;
	uint32_t len[SVT_TD_BATCH], round, sum;
	struct ibv_wc wc;
	int k;

	for (round = 0; round < SVT_TD_ROUNDS; round++) {
		svt_worker_writes(w, len);
		wc = svt_poll1(w->a.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.wr_id == SVT_TD_BATCH - 1);
		for (sum = 0, k = 0; k < SVT_TD_BATCH; k++) {
			uint32_t c = svt_sum(w->src + k * SVT_TD_CHUNK, len[k]);

			SVT_CHECK(c == svt_sum(w->dst + k * SVT_TD_CHUNK,
					       len[k]));
			sum ^= c;
			w->writes++;
		}
		svt_worker_send(w, round, sum);
	}
	return NULL;
}

static inline void svt_worker_free(struct svt_worker *w)
{
	SVT_CHECK(!ibv_dereg_mr(w->smr) && !ibv_dereg_mr(w->dmr) &&
		  !ibv_dereg_mr(w->mmr) && !ibv_dereg_mr(w->rmr));
	SVT_CHECK(!ibv_destroy_qp(w->a.qp) && !ibv_destroy_qp(w->b.qp));
	SVT_CHECK(!ibv_destroy_cq(w->a.cq));
	if (w->td) {
		SVT_CHECK(!ibv_dealloc_pd(w->dom));
		SVT_CHECK(!ibv_dealloc_td(w->td));
	}
}

/* Start every worker's thread and wait for all of them. */
static inline void svt_workers_run(struct svt_worker *w, int n)
{
	pthread_t t[64];
	int i;

	for (i = 0; i < n; i++)
		SVT_CHECK(!pthread_create(&t[i], NULL, svt_worker_run, &w[i]));
	for (i = 0; i < n; i++)
		SVT_CHECK(!pthread_join(t[i], NULL));
	for (i = 0; i < n; i++)
		SVT_CHECK(w[i].writes == SVT_TD_ROUNDS * SVT_TD_BATCH);
}

#endif
