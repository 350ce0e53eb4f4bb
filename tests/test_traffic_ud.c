// SPDX-License-Identifier: MIT
/*
 * UD data path: two UD QPs, an AH over the RoCEv2 GID, SEND with
 * immediate; the receiver gets a 40-byte GRH first, src_qp and the
 * payload (checksummed). A wrong qkey is dropped silently.
 */
#include <arpa/inet.h>
#include <infiniband/verbs.h>
#include <stdint.h>

#include "svtest.h"
#include "svt_ud.h"

#define BUF 8192

static struct ibv_context *ctx;
static struct ibv_pd *pd;

int main(void)
{
	struct svt_daemon d;
	struct ibv_cq *cq;
	struct ibv_qp *s, *r;
	struct ibv_mr *mr;
	struct ibv_ah *ah;
	struct ibv_ah_attr aa = { .is_global = 1, .port_num = 1 };
	struct ibv_sge sg;
	struct ibv_send_wr wr = {}, *bs;
	struct ibv_recv_wr rw = {}, *br;
	struct ibv_wc wc;
	uint8_t *buf;
	int i, gi = -1;

	ctx = svt_start(&d);
	for (i = 0; i < 16 && gi < 0; i++)
		if (!ibv_query_gid(ctx, 1, i, &aa.grh.dgid) &&
		    aa.grh.dgid.raw[10] == 0xff)
			gi = i;
	SVT_CHECK(gi >= 0);
	aa.grh.sgid_index = (uint8_t)gi;
	aa.grh.hop_limit = 1;
	pd = ibv_alloc_pd(ctx);
	buf = calloc(1, BUF);
	cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	SVT_CHECK(pd && buf && cq);
	mr = ibv_reg_mr(pd, buf, BUF, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	s = svt_ud_qp(pd, cq, 0x1111, 16, 1);
	r = svt_ud_qp(pd, cq, 0x2222, 16, 1);
	ah = ibv_create_ah(pd, &aa);
	SVT_CHECK(ah);
	for (i = 0; i < 1000; i++)
		buf[i] = (uint8_t)(i * 13);

	sg = (struct ibv_sge){ (uintptr_t)buf + 4096, 40 + 1000, mr->lkey };
	rw.wr_id = 9;
	rw.sg_list = &sg;
	rw.num_sge = 1;
	SVT_CHECK(!ibv_post_recv(r, &rw, &br));

	struct ibv_sge ss = { (uintptr_t)buf, 1000, mr->lkey };

	wr.wr_id = 1;
	wr.sg_list = &ss;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND_WITH_IMM;
	wr.imm_data = htonl(77);
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.ud.ah = ah;
	wr.wr.ud.remote_qpn = r->qp_num;
	wr.wr.ud.remote_qkey = 0x3333; /* wrong: dropped */
	SVT_CHECK(!ibv_post_send(s, &wr, &bs));
	SVT_CHECK(svt_poll_spins(cq, &wc, 5000000) && wc.wr_id == 1 &&
		  wc.status == IBV_WC_SUCCESS);
	SVT_CHECK(!svt_poll_spins(cq, &wc, 200000)); /* nothing received */

	wr.wr_id = 2;
	wr.wr.ud.remote_qkey = 0x2222;
	SVT_CHECK(!ibv_post_send(s, &wr, &bs));
	for (i = 0; i < 2; i++) {
		SVT_CHECK(svt_poll_spins(cq, &wc, 5000000));
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
		if (wc.wr_id == 9) {
			SVT_CHECK(wc.opcode == IBV_WC_RECV);
			SVT_CHECK(wc.byte_len == 1040);
			SVT_CHECK(wc.wc_flags & IBV_WC_GRH);
			SVT_CHECK(wc.wc_flags & IBV_WC_WITH_IMM);
			SVT_CHECK(wc.imm_data == htonl(77));
			SVT_CHECK(wc.src_qp == s->qp_num);
		} else {
			SVT_CHECK(wc.wr_id == 2);
		}
	}
	SVT_CHECK(!memcmp(buf + 4096 + 40, buf, 1000));
	printf("traffic ud: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
