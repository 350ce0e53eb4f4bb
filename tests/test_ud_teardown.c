// SPDX-License-Identifier: MIT
/*
 * UD sends posted unsignaled, then their AH and QP destroyed at once
 * (what mckey's sender does): every datagram still arrives, intact, as
 * from a NIC, which has sent them long before the destroy reaches it.
 * The engine reads a UD WQE's address through its AH handle, so a
 * destroy must first let it send what was posted (eng_qp.c, send_out).
 * Before that, a loaded machine lost some of mckey's datagrams.
 *
 * Each round posts DEPTH sends of LEN bytes as one list, each with its
 * number in its first bytes, destroys the AH then the QP (or the QP
 * alone, whose destroy sends them out too), and takes DEPTH receives.
 */
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "svtest.h"
#include "svt_ud.h"

#define DEPTH 256
#define LEN 1000
#define SLOT 2048 /* 40 B of GRH, then the payload */
#define ROUNDS 6
#define QKEY 0x5151

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct ibv_mr *smr, *rmr;
static uint8_t sbuf[DEPTH * LEN], rbuf[DEPTH * SLOT];
static struct ibv_ah_attr aa = { .is_global = 1, .port_num = 1 };

static void find_gid(void)
{
	int i;

	for (i = 0; i < 16; i++)
		if (!ibv_query_gid(ctx, 1, i, &aa.grh.dgid) &&
		    aa.grh.dgid.raw[10] == 0xff) {
			aa.grh.sgid_index = (uint8_t)i;
			aa.grh.hop_limit = 1;
			return;
		}
	SVT_CHECK(0);
}

static void post_recvs(struct ibv_qp *r)
{
	struct ibv_sge sg[DEPTH];
	struct ibv_recv_wr w[DEPTH], *bad;
	int i;

	for (i = 0; i < DEPTH; i++) {
		sg[i] = (struct ibv_sge){ (uintptr_t)rbuf + (size_t)i * SLOT,
					  SLOT, rmr->lkey };
		w[i] = (struct ibv_recv_wr){ .wr_id = (uint64_t)i,
					     .sg_list = &sg[i], .num_sge = 1,
					     .next = i + 1 < DEPTH ? &w[i + 1] :
								     NULL };
	}
	SVT_CHECK(!ibv_post_recv(r, w, &bad));
}

/* DEPTH unsignaled sends, message i carrying i and round in its bytes. */
static void post_sends(struct ibv_qp *s, struct ibv_ah *ah, uint32_t rqpn,
		       int round)
{
	static struct ibv_sge sg[DEPTH];
	static struct ibv_send_wr w[DEPTH];
	struct ibv_send_wr *bad;
	int i;

	for (i = 0; i < DEPTH; i++) {
		uint8_t *m = sbuf + (size_t)i * LEN;

		memset(m, (uint8_t)(i * 7 + round), LEN);
		memcpy(m, &i, sizeof(i));
		sg[i] = (struct ibv_sge){ (uintptr_t)m, LEN, smr->lkey };
		w[i] = (struct ibv_send_wr){
			.wr_id = (uint64_t)i, .sg_list = &sg[i], .num_sge = 1,
			.opcode = IBV_WR_SEND,
			.next = i + 1 < DEPTH ? &w[i + 1] : NULL };
		w[i].wr.ud.ah = ah;
		w[i].wr.ud.remote_qpn = rqpn;
		w[i].wr.ud.remote_qkey = QKEY;
	}
	SVT_CHECK(!ibv_post_send(s, w, &bad));
}

/* All DEPTH datagrams of round arrived, each once and intact. */
static void expect_all(struct ibv_cq *cq, int round)
{
	uint8_t seen[DEPTH] = { 0 };
	struct ibv_wc wc;
	int n, i;

	for (n = 0; n < DEPTH; n++) {
		if (!svt_poll_spins(cq, &wc, 50000000)) {
			fprintf(stderr, "round %d: %d of %d datagrams\n",
				round, n, DEPTH);
			SVT_CHECK(0);
		}
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.byte_len == 40 + LEN && wc.wr_id < DEPTH);
		const uint8_t *m = rbuf + wc.wr_id * SLOT + 40;

		memcpy(&i, m, sizeof(i));
		SVT_CHECK(i >= 0 && i < DEPTH && !seen[i]);
		seen[i] = 1;
		SVT_CHECK(m[LEN - 1] == (uint8_t)(i * 7 + round));
	}
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_cq *scq, *rcq;
	struct ibv_qp *r;
	int round;

	ctx = svt_start(&d);
	find_gid();
	pd = ibv_alloc_pd(ctx);
	scq = ibv_create_cq(ctx, DEPTH, NULL, NULL, 0);
	rcq = ibv_create_cq(ctx, DEPTH, NULL, NULL, 0);
	SVT_CHECK(pd && scq && rcq);
	smr = ibv_reg_mr(pd, sbuf, sizeof(sbuf), 0);
	rmr = ibv_reg_mr(pd, rbuf, sizeof(rbuf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(smr && rmr);
	r = svt_ud_qp(pd, rcq, QKEY, DEPTH, 1);
	for (round = 0; round < ROUNDS; round++) {
		struct ibv_qp *s = svt_ud_qp(pd, scq, 0x1111, DEPTH, 1);
		struct ibv_ah *ah = ibv_create_ah(pd, &aa);

		SVT_CHECK(ah);
		post_recvs(r);
		post_sends(s, ah, r->qp_num, round);
		/* Odd rounds: the QP goes first, its AH after. */
		if (round & 1) {
			SVT_CHECK(!ibv_destroy_qp(s));
			SVT_CHECK(!ibv_destroy_ah(ah));
		} else {
			SVT_CHECK(!ibv_destroy_ah(ah));
			SVT_CHECK(!ibv_destroy_qp(s));
		}
		expect_all(rcq, round);
	}
	SVT_CHECK(!ibv_destroy_qp(r));
	SVT_CHECK(!ibv_dereg_mr(smr) && !ibv_dereg_mr(rmr));
	SVT_CHECK(!ibv_destroy_cq(scq) && !ibv_destroy_cq(rcq));
	SVT_CHECK(!ibv_dealloc_pd(pd));
	printf("ud teardown: %d rounds of %d datagrams: ok\n", ROUNDS, DEPTH);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
