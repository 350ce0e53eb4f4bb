// SPDX-License-Identifier: MIT
/*
 * A connection's last ACK lost after the receiver destroyed its QP
 * (daemon/nic/eng_ghost.c). Through the lossy test transport (30 % of
 * packets dropped), each round connects a fresh pair of RC QPs, sends
 * one SEND, and the receiver destroys its QP the moment the receive
 * completes, as ibv_rc_pingpong's server exits. When the ACK was among
 * the dropped packets, the sender's retransmissions reach a QPN nobody
 * has: only the destroyed QP's ghost can still acknowledge them. Every
 * SEND must complete with success; without ghosts about a third of the
 * rounds end in IBV_WC_RETRY_EXC_ERR.
 */
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"
#include "svt_ep.h"

#define ROUNDS 40

struct side {
	struct svt_ep ep;
	struct ibv_mr *mr;
	uint8_t buf[256];
};

static void side_open(struct side *s)
{
	svt_ep_open(&s->ep);
	s->mr = ibv_reg_mr(s->ep.pd, s->buf, sizeof(s->buf),
			   IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(s->mr);
}

/* One SEND a -> b; b's QP is gone as soon as it has the message. */
static enum ibv_wc_status one_round(struct side *a, struct side *b, int i)
{
	struct ibv_sge ss = { (uintptr_t)a->buf, 64, a->mr->lkey };
	struct ibv_sge rs = { (uintptr_t)b->buf, 64, b->mr->lkey };
	struct ibv_send_wr swr = { .wr_id = 1, .sg_list = &ss, .num_sge = 1,
				   .opcode = IBV_WR_SEND,
				   .send_flags = IBV_SEND_SIGNALED },
			   *sbad;
	struct ibv_recv_wr rwr = { .wr_id = 2, .sg_list = &rs, .num_sge = 1 },
			   *rbad;
	struct ibv_wc wc;

	/* timeout 8 (about 1 ms), retry_cnt 7: the ghost has time to answer */
	svt_ep_connect_ex(&a->ep, b->ep.qp->qp_num, IBV_MTU_1024, 8, 7);
	svt_ep_connect_ex(&b->ep, a->ep.qp->qp_num, IBV_MTU_1024, 8, 7);
	memset(a->buf, i, 64);
	SVT_CHECK(!ibv_post_recv(b->ep.qp, &rwr, &rbad));
	SVT_CHECK(!ibv_post_send(a->ep.qp, &swr, &sbad));
	wc = svt_poll1(b->ep.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == 2);
	SVT_CHECK(b->buf[0] == (uint8_t)i && b->buf[63] == (uint8_t)i);
	SVT_CHECK(!ibv_destroy_qp(b->ep.qp));
	wc = svt_poll1(a->ep.cq);
	SVT_CHECK(!ibv_destroy_qp(a->ep.qp));
	svt_ep_make(&a->ep);
	svt_ep_make(&b->ep);
	return wc.status;
}

int main(void)
{
	struct svt_daemon d;
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	int i, bad = 0;

	SVT_CHECK(a && b);
	setvbuf(stdout, NULL, _IONBF, 0);
	setenv("SOFTVERBS_LOSS", "drop=30,seed=21", 1);
	svt_daemon_start(&d);
	side_open(a);
	side_open(b);
	for (i = 0; i < ROUNDS; i++) {
		enum ibv_wc_status st = one_round(a, b, i);

		if (st != IBV_WC_SUCCESS) {
			printf("round %d: the SEND ended in %s\n", i,
			       ibv_wc_status_str(st));
			bad++;
		}
	}
	printf("%d rounds, drop=30, receiver's QP destroyed at once: %d "
	       "SENDs not acknowledged\n", ROUNDS, bad);
	SVT_CHECK(!bad);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
