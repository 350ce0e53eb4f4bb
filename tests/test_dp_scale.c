// SPDX-License-Identifier: MIT
/*
 * 1,000 RC QPs (500 connected pairs) in one process move traffic at once:
 * every pair posts a SEND and an RDMA WRITE before anything is polled, and
 * every payload is checked. Then 8 pairs ping-pong while the other 992 QPs
 * stay idle, and the time per message is printed beside the time with the
 * idle QPs destroyed (a figure, not a verdict: timings are noisy here).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svtest.h"
#include "svt_ep.h"

#define NPAIRS 500
#define MSG 64
#define WSZ 4096
#define SLOT (2 * WSZ) /* per pair: SEND landing, WRITE landing */
#define BUSY 8
#define ROUNDS 300

struct world {
	struct svt_ep base; /* ctx, pd, gid */
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	uint8_t *src, *dst;
	struct ibv_qp *a[NPAIRS], *b[NPAIRS];
};

static struct ibv_qp *mkqp(struct world *w)
{
	struct ibv_qp_init_attr a = {
		.send_cq = w->cq, .recv_cq = w->cq,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};
	struct ibv_qp *qp = ibv_create_qp(w->base.pd, &a);

	SVT_CHECK(qp);
	return qp;
}

static void connect_pair(struct world *w, int i)
{
	struct svt_ep e = w->base;

	e.qp = w->a[i];
	svt_ep_connect(&e, w->b[i]->qp_num);
	e.qp = w->b[i];
	svt_ep_connect(&e, w->a[i]->qp_num);
}

static void setup(struct world *w)
{
	size_t len = (size_t)NPAIRS * SLOT;
	int i;

	svt_ep_open(&w->base); /* opens ctx/pd and one spare QP */
	w->cq = ibv_create_cq(w->base.ctx, 4 * NPAIRS, NULL, NULL, 0);
	SVT_CHECK(w->cq);
	w->src = malloc(len);
	w->dst = calloc(1, len);
	SVT_CHECK(w->src && w->dst);
	for (i = 0; i < (int)len; i++)
		w->src[i] = (uint8_t)(i * 13 + i / 4096);
	w->mr = ibv_reg_mr(w->base.pd, w->dst, len,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(w->mr);
	for (i = 0; i < NPAIRS; i++) {
		w->a[i] = mkqp(w);
		w->b[i] = mkqp(w);
		connect_pair(w, i);
	}
}

static void post(struct ibv_qp *qp, struct ibv_sge *s, enum ibv_wr_opcode op,
		 uint64_t id, uint64_t raddr, uint32_t rkey)
{
	struct ibv_send_wr wr = { .wr_id = id, .sg_list = s, .num_sge = 1,
				  .opcode = op, .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	SVT_CHECK(!ibv_post_send(qp, &wr, &bad));
}

static void post_recv(struct world *w, struct ibv_qp *qp, size_t off,
		      uint64_t id)
{
	struct ibv_sge s = { (uintptr_t)w->dst + off, MSG, w->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = id, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(qp, &wr, &bad));
}

/* The source buffer is plain memory: register it for the sends. */
static struct ibv_mr *src_mr(struct world *w)
{
	struct ibv_mr *mr = ibv_reg_mr(w->base.pd, w->src,
				       (size_t)NPAIRS * SLOT, 0);

	SVT_CHECK(mr);
	return mr;
}

static void poll_n(struct ibv_cq *cq, int n)
{
	while (n--) {
		struct ibv_wc wc = svt_poll1(cq);

		if (wc.status != IBV_WC_SUCCESS)
			fprintf(stderr, "wr %llu: %s\n",
				(unsigned long long)wc.wr_id,
				ibv_wc_status_str(wc.status));
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	}
}

static void all_at_once(struct world *w, struct ibv_mr *smr)
{
	int i;

	for (i = 0; i < NPAIRS; i++)
		post_recv(w, w->b[i], (size_t)i * SLOT, i);
	for (i = 0; i < NPAIRS; i++) {
		size_t off = (size_t)i * SLOT;
		struct ibv_sge s1 = { (uintptr_t)w->src + off, MSG, smr->lkey };
		struct ibv_sge s2 = { (uintptr_t)w->src + off + WSZ, WSZ,
				      smr->lkey };

		post(w->a[i], &s1, IBV_WR_SEND, i, 0, 0);
		post(w->a[i], &s2, IBV_WR_RDMA_WRITE, i,
		     (uintptr_t)w->dst + off + WSZ, w->mr->rkey);
	}
	poll_n(w->cq, 3 * NPAIRS);
	for (i = 0; i < NPAIRS; i++) {
		size_t off = (size_t)i * SLOT;

		SVT_CHECK(svt_sum(w->dst + off, MSG) ==
			  svt_sum(w->src + off, MSG));
		SVT_CHECK(svt_sum(w->dst + off + WSZ, WSZ) ==
			  svt_sum(w->src + off + WSZ, WSZ));
	}
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* BUSY pairs each do ROUNDS 8-byte WRITEs; microseconds per message. */
static double busy_rounds(struct world *w, struct ibv_mr *smr)
{
	double t0 = now_us();
	int r, i;

	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < BUSY; i++) {
			struct ibv_sge s = { (uintptr_t)w->src, 8, smr->lkey };

			post(w->a[i], &s, IBV_WR_RDMA_WRITE, i,
			     (uintptr_t)w->dst + (size_t)i * SLOT, w->mr->rkey);
		}
		poll_n(w->cq, BUSY);
	}
	return (now_us() - t0) / (ROUNDS * BUSY);
}

int main(void)
{
	static struct world w;
	struct svt_daemon d;
	struct ibv_mr *smr;
	double with_idle, alone;
	int i;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	setup(&w);
	smr = src_mr(&w);
	all_at_once(&w, smr);
	with_idle = busy_rounds(&w, smr);
	for (i = BUSY; i < NPAIRS; i++) {
		SVT_CHECK(!ibv_destroy_qp(w.a[i]));
		SVT_CHECK(!ibv_destroy_qp(w.b[i]));
	}
	alone = busy_rounds(&w, smr);
	printf("1000 QPs: all moved traffic; %d busy pairs: %.2f us/msg with "
	       "%d idle QPs, %.2f us/msg alone\n",
	       BUSY, with_idle, 2 * (NPAIRS - BUSY), alone);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
