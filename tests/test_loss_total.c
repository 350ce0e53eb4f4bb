// SPDX-License-Identifier: MIT
/*
 * RC under total loss (issue 10): with SOFTVERBS_LOSS=drop=100 no packet
 * arrives, so a WRITE, a SEND and a READ each end in RETRY_EXC_ERR once
 * the requester has retried retry_cnt times, i.e. after retry_cnt + 1
 * transport timeouts of 4.096 us x 2^timeout each. The time is measured
 * for retry_cnt 1 and 6 with timeout 12 (16.8 ms): at least (retry_cnt +
 * 1) timeouts must pass, so the retries and not a fixed delay decide, and
 * at most 4 times that plus 250 ms (an implementation may wait up to 4x
 * the timeout; a loaded machine adds a little). The ratio of the two runs
 * (7/2 timeouts) is printed. The WR behind the failed one is flushed and
 * the QP is in ERROR; nothing lands at the responder.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_pair.h"

#define TIMEOUT 12
#define T_MS (4.096e-3 * (1 << TIMEOUT)) /* 16.78 ms */
#define LEN 8192

static struct svt_world w;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void post(struct svt_pair *p, enum ibv_wr_opcode op, uint64_t id)
{
	struct ibv_sge s = { (uintptr_t)p->a.buf, LEN, p->a.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = id, .sg_list = &s, .num_sge = 1,
				  .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	wr.wr.rdma.remote_addr = (uintptr_t)p->b.buf;
	wr.wr.rdma.rkey = p->b.mr->rkey;
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
}

static void b_recv(struct svt_pair *p)
{
	struct ibv_sge s = { (uintptr_t)p->b.buf, LEN, p->b.mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 9, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(p->b.qp, &wr, &bad));
}

/* One operation until RETRY_EXC_ERR; the time it took, in ms. */
static double until_error(enum ibv_wr_opcode op, uint8_t retry_cnt)
{
	struct svt_pair p;
	struct ibv_wc wc;
	double t0, t;

	svt_pair_alloc(&w, &p, IBV_QPT_RC, IBV_MTU_1024, LEN);
	p.timeout = TIMEOUT;
	p.retry_cnt = retry_cnt;
	svt_pair_qps(&w, &p);
	memset(p.a.buf, 0x77, LEN);
	b_recv(&p);
	t0 = now_ms();
	post(&p, op, 1);
	post(&p, IBV_WR_RDMA_WRITE, 2);
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 30000) == 1);
	t = now_ms() - t0;
	if (wc.status != IBV_WC_RETRY_EXC_ERR)
		fprintf(stderr, "FAIL: op %d under drop=100: %s (wr %llu)\n",
			op, ibv_wc_status_str(wc.status),
			(unsigned long long)wc.wr_id);
	SVT_CHECK(wc.wr_id == 1 && wc.status == IBV_WC_RETRY_EXC_ERR);
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 5000) == 1);
	SVT_CHECK(wc.wr_id == 2 && wc.status == IBV_WC_WR_FLUSH_ERR);
	SVT_CHECK(svt_qp_state(p.a.qp) == IBV_QPS_ERR);
	SVT_CHECK(svt_wait_wc(p.b.cq, &wc, 20) == 0); /* nothing arrived */
	SVT_CHECK(p.b.buf[0] == 0 && p.b.buf[LEN - 1] == 0);
	svt_pair_free(&p);
	return t;
}

static void check_span(const char *what, double t, int retry_cnt)
{
	double min = 0.95 * (retry_cnt + 1) * T_MS;
	double max = 4.0 * (retry_cnt + 1) * T_MS + 250.0;

	printf("%s, retry_cnt %d: RETRY_EXC_ERR after %.1f ms (%d timeouts "
	       "of %.1f ms = %.1f ms)\n", what, retry_cnt, t, retry_cnt + 1,
	       T_MS, (retry_cnt + 1) * T_MS);
	if (t < min || t > max)
		fprintf(stderr, "FAIL: %s took %.1f ms, want %.1f..%.1f\n",
			what, t, min, max);
	SVT_CHECK(t >= min && t <= max);
}

int main(void)
{
	struct svt_daemon d;
	double t1, t6;

	setenv("SOFTVERBS_LOSS", "drop=100,seed=3", 1);
	svt_world_open(&w, svt_start(&d));
	unsetenv("SOFTVERBS_LOSS");
	t1 = until_error(IBV_WR_RDMA_WRITE, 1);
	check_span("WRITE", t1, 1);
	t6 = until_error(IBV_WR_RDMA_WRITE, 6);
	check_span("WRITE", t6, 6);
	/* 7 timeouts against 2 (a figure: load stretches either run). */
	printf("ratio %.2f (7/2 = 3.5)\n", t6 / t1);
	check_span("SEND", until_error(IBV_WR_SEND, 1), 1);
	check_span("READ", until_error(IBV_WR_RDMA_READ, 1), 1);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
