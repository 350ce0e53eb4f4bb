// SPDX-License-Identifier: MIT
/*
 * An RC QP connected to a peer that does not expect its PSNs (issue 16:
 * "when a peer does not drain, the sender backs off; it does not flood").
 * Found on the wire: a client connected to a stale server QP, whose
 * expected PSN was far ahead, ended in RETRY_EXC_ERR only after the server
 * had counted ~62,000 duplicates.
 *
 * A sends N_WR WRITEs of WR_LEN (PKTS PSNs in all) to B, whose rq_psn
 * is not A's sq_psn:
 * - behind: B expects a PSN far ahead of A's, so it takes every packet for
 *   a duplicate and ACKs its own epsn - 1. That PSN is beyond anything A
 *   sent: a ghost ACK, which A must drop, not take for progress;
 * - ahead: B expects an older PSN, NAKs the first packet once (sequence
 *   error, a PSN before A's window: dropped by A) and is silent after;
 * - foreign: B is connected to another QP (C) and drops A's packets.
 * In each case nothing A sent is acknowledged: the first WR must end in
 * RETRY_EXC_ERR, the rest flushed, nothing written, after at most
 * (retry_cnt + 1) sends of everything posted, counted in PSNs
 * (rc_req_psns of `softverbs dev show`; the peer's rc_dup_psns printed). The same through the lossy
 * test transport (SOFTVERBS_LOSS drop=2).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "svtest.h"
#include "svt_cli.h"
#include "svt_pair.h"

#define N_WR 8
#define WR_LEN 16384
#define MTU_B 1024
#define PKTS (N_WR * (WR_LEN / MTU_B))
#define RETRY_CNT 3
#define TIMEOUT 12 /* 16.8 ms: a resend of everything fits in it */
#define A_PSN 100

enum peer { BEHIND, AHEAD, FOREIGN };

static const char *const peer_name[] = { "behind", "ahead", "foreign" };

static struct svt_world w;

static void rtr(struct svt_pair *p, struct ibv_qp *qp, uint32_t dqpn,
		uint32_t rq_psn)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTR,
				 .path_mtu = IBV_MTU_1024,
				 .dest_qp_num = dqpn, .rq_psn = rq_psn,
				 .max_dest_rd_atomic = 16,
				 .min_rnr_timer = 1 };

	(void)p;
	svt_av(&w, &a.ah_attr);
	SVT_CHECK(!ibv_modify_qp(qp, &a,
				 IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					 IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					 IBV_QP_MAX_DEST_RD_ATOMIC |
					 IBV_QP_MIN_RNR_TIMER));
}

static void rts(struct svt_pair *p, struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTS, .sq_psn = A_PSN,
				 .timeout = p->timeout,
				 .retry_cnt = p->retry_cnt,
				 .rnr_retry = p->rnr_retry,
				 .max_rd_atomic = 16 };

	SVT_CHECK(!ibv_modify_qp(qp, &a,
				 IBV_QP_STATE | IBV_QP_SQ_PSN |
					 IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
					 IBV_QP_RNR_RETRY |
					 IBV_QP_MAX_QP_RD_ATOMIC));
}

/* A -> B with B not expecting A's PSNs; c: the QP B is connected to. */
static void connect_wrong(struct svt_pair *p, enum peer how, struct ibv_qp *c)
{
	uint32_t b_psn = how == BEHIND ? A_PSN + 0x100000 : A_PSN - 50;

	SVT_CHECK(!svt_to_init(&w, p, p->a.qp) && !svt_to_init(&w, p, p->b.qp));
	rtr(p, p->a.qp, p->b.qp->qp_num, A_PSN);
	rtr(p, p->b.qp, how == FOREIGN ? c->qp_num : p->a.qp->qp_num,
	    how == FOREIGN ? A_PSN : b_psn);
	rts(p, p->a.qp);
	rts(p, p->b.qp);
}

static void post_writes(struct svt_pair *p)
{
	int i;

	memset(p->a.buf, 0x5a, (size_t)N_WR * WR_LEN);
	for (i = 0; i < N_WR; i++) {
		struct ibv_sge s = { (uintptr_t)p->a.buf + (size_t)i * WR_LEN,
				     WR_LEN, p->a.mr->lkey };
		struct ibv_send_wr wr = { .wr_id = (uint64_t)i + 1,
					  .sg_list = &s, .num_sge = 1,
					  .opcode = IBV_WR_RDMA_WRITE,
					  .send_flags = IBV_SEND_SIGNALED },
				   *bad;

		wr.wr.rdma.remote_addr = (uintptr_t)p->b.buf +
					 (size_t)i * WR_LEN;
		wr.wr.rdma.rkey = p->b.mr->rkey;
		SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
	}
}

static void check_end(struct svt_pair *p)
{
	struct ibv_wc wc;
	int i;

	SVT_CHECK(svt_wait_wc(p->a.cq, &wc, 30000) == 1);
	if (wc.status != IBV_WC_RETRY_EXC_ERR)
		fprintf(stderr, "FAIL: wr %llu: %s\n",
			(unsigned long long)wc.wr_id,
			ibv_wc_status_str(wc.status));
	SVT_CHECK(wc.wr_id == 1 && wc.status == IBV_WC_RETRY_EXC_ERR);
	for (i = 2; i <= N_WR; i++) {
		SVT_CHECK(svt_wait_wc(p->a.cq, &wc, 5000) == 1);
		SVT_CHECK(wc.wr_id == (uint64_t)i &&
			  wc.status == IBV_WC_WR_FLUSH_ERR);
	}
	SVT_CHECK(svt_qp_state(p->a.qp) == IBV_QPS_ERR);
	for (i = 0; i < N_WR * WR_LEN; i++)
		SVT_CHECK(p->b.buf[i] == 0);
}

static void one_case(const char *dev, const char *spec, enum peer how)
{
	unsigned long req0 = svt_dev_counter(dev, "rc_req_psns");
	unsigned long dup0 = svt_dev_counter(dev, "rc_dup_psns");
	unsigned long req, dup, max = (RETRY_CNT + 1) * PKTS;
	struct svt_side c = { 0 };
	struct svt_pair p;

	svt_pair_alloc(&w, &p, IBV_QPT_RC, IBV_MTU_1024, (size_t)N_WR * WR_LEN);
	p.timeout = TIMEOUT;
	p.retry_cnt = RETRY_CNT;
	p.a.qp = svt_qp_make(&w, &p.a, IBV_QPT_RC);
	p.b.qp = svt_qp_make(&w, &p.b, IBV_QPT_RC);
	c.cq = p.b.cq;
	c.qp = svt_qp_make(&w, &c, IBV_QPT_RC);
	SVT_CHECK(p.a.qp && p.b.qp && c.qp);
	connect_wrong(&p, how, c.qp);
	post_writes(&p);
	check_end(&p);
	req = svt_dev_counter(dev, "rc_req_psns") - req0;
	dup = svt_dev_counter(dev, "rc_dup_psns") - dup0;
	printf("%s, peer %s: RETRY_EXC_ERR after %lu request PSNs "
	       "(%d posted, retry_cnt %d: at most %lu), peer saw %lu "
	       "duplicates\n", spec, peer_name[how], req, PKTS, RETRY_CNT,
	       max, dup);
	if (req > max)
		fprintf(stderr, "FAIL: %lu PSNs sent, at most %lu\n", req,
			max);
	SVT_CHECK(req >= PKTS && req <= max);
	ibv_destroy_qp(c.qp);
	svt_pair_free(&p);
}

static void run(const char *spec)
{
	struct svt_daemon d;
	const char *dev;
	int how;

	if (spec)
		setenv("SOFTVERBS_LOSS", spec, 1);
	svt_world_open(&w, svt_start(&d));
	unsetenv("SOFTVERBS_LOSS");
	dev = ibv_get_device_name(w.ctx->device);
	for (how = BEHIND; how <= FOREIGN; how++)
		one_case(dev, spec ? spec : "same host", (enum peer)how);
	svt_daemon_stop(&d);
}

/* Each daemon in its own child: the library keeps its device list. */
static void in_child(const char *spec)
{
	pid_t pid = fork();
	int status;

	SVT_CHECK(pid >= 0);
	if (!pid) {
		run(spec);
		exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SVT_PASS);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	in_child(NULL);
	in_child("drop=2,seed=21");
	return SVT_PASS;
}
