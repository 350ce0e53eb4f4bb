// SPDX-License-Identifier: MIT
/*
 * Receive-side scaling for raw packet QPs (daemon/verbs/std_wq.c,
 * daemon/nic/eng_raw.c): four receive WQs on two CQs behind an
 * indirection table, an RSS QP hashing IPv4 addresses and UDP ports with
 * the Toeplitz function, a flow steering frames to it.
 *  - The hash is Microsoft's published one: its verification vector
 *    (66.9.149.187:2794 -> 161.142.100.80:1766, hash 0x51ccc178) lands on
 *    WQ 0 (0x...78 & 3), and frames from 32 other sources land on the WQ
 *    this file's own Toeplitz picks, byte for byte, with the WQ's number
 *    as qp_num and the completion on that WQ's CQ.
 *  - A WQ in RESET takes no frames (dropped; the send still succeeds).
 *  - Objects in use are EBUSY (WQ in a table, table under a QP); an RSS
 *    QP with its own queue sizes, or of another type, is EINVAL.
 */
#include <arpa/inet.h>
#include <stdint.h>

#include "svtest.h"

#define NWQ 4
#define BUF 2048
#define LEN 256

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};
static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x42 };

static struct ibv_pd *pd;
static struct ibv_cq *cq[2], *scq;
static struct ibv_wq *wq[NWQ];
static uint8_t *buf;
static struct ibv_mr *mr;

/* The Toeplitz hash, written independently of the daemon's. */
static uint32_t toeplitz(const uint8_t *in, size_t n)
{
	uint32_t h = 0;
	size_t bit;

	for (bit = 0; bit < n * 8; bit++) {
		uint32_t w = 0;
		size_t k;

		if (!(in[bit / 8] & (0x80 >> (bit % 8))))
			continue;
		for (k = 0; k < 32; k++) /* key bits bit .. bit+31 */
			if (ms_key[(bit + k) / 8] & (0x80 >> ((bit + k) % 8)))
				w |= 1U << (31 - k);
		h ^= w;
	}
	return h;
}

static uint32_t expect_index(const uint8_t src[4], const uint8_t dst[4],
			     uint16_t sport, uint16_t dport)
{
	uint8_t in[12];

	memcpy(in, src, 4);
	memcpy(in + 4, dst, 4);
	in[8] = (uint8_t)(sport >> 8);
	in[9] = (uint8_t)sport;
	in[10] = (uint8_t)(dport >> 8);
	in[11] = (uint8_t)dport;
	return toeplitz(in, sizeof(in)) & (NWQ - 1);
}

/* Ethernet | IPv4 src -> dst | UDP sport -> dport | pattern. */
static void frame(uint8_t *f, const uint8_t src[4], const uint8_t dst[4],
		  uint16_t sport, uint16_t dport, uint8_t seed)
{
	size_t i;

	memset(f, 0, 42);
	memcpy(f, dmac, 6);
	f[6] = 0x02;
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (LEN - 14) >> 8;
	f[17] = (LEN - 14) & 0xff;
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, src, 4);
	memcpy(f + 30, dst, 4);
	f[34] = (uint8_t)(sport >> 8);
	f[35] = (uint8_t)sport;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	for (i = 42; i < LEN; i++)
		f[i] = (uint8_t)(i + seed);
}

static int poll_any(struct ibv_wc *wc, int *which, int ms)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	while (ms-- > 0) {
		for (i = 0; i < 2; i++)
			if (ibv_poll_cq(cq[i], 1, wc) == 1) {
				*which = i;
				return 1;
			}
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void post_wq(int i)
{
	struct ibv_sge sg = { (uintptr_t)buf + BUF * (i + 1), BUF, mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = (uint64_t)i, .sg_list = &sg,
				  .num_sge = 1 };
	struct ibv_recv_wr *bad;

	SVT_CHECK(!wq[i]->post_recv(wq[i], &wr, &bad));
}

static void make_wqs(struct ibv_context *ctx)
{
	struct ibv_wq_attr m = { .attr_mask = IBV_WQ_ATTR_STATE,
				 .wq_state = IBV_WQS_RDY };
	int i;

	for (i = 0; i < NWQ; i++) {
		struct ibv_wq_init_attr a = { .wq_type = IBV_WQT_RQ,
					      .max_wr = 8, .max_sge = 1,
					      .pd = pd, .cq = cq[i % 2] };

		wq[i] = ibv_create_wq(ctx, &a);
		SVT_CHECK(wq[i] && a.max_wr >= 8);
		SVT_CHECK(!ibv_modify_wq(wq[i], &m));
		post_wq(i);
	}
}

static struct ibv_qp *rss_qp(struct ibv_context *ctx,
			     struct ibv_rwq_ind_table *t, uint32_t send_wr)
{
	struct ibv_qp_init_attr_ex a = {
		.qp_type = IBV_QPT_RAW_PACKET,
		.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_IND_TABLE |
			     IBV_QP_INIT_ATTR_RX_HASH,
		.pd = pd, .rwq_ind_tbl = t,
		.rx_hash_conf = {
			.rx_hash_function = IBV_RX_HASH_FUNC_TOEPLITZ,
			.rx_hash_key_len = sizeof(ms_key),
			.rx_hash_key = (uint8_t *)ms_key,
			.rx_hash_fields_mask =
				IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4 |
				IBV_RX_HASH_SRC_PORT_UDP |
				IBV_RX_HASH_DST_PORT_UDP },
		.cap = { .max_send_wr = send_wr },
	};

	return ibv_create_qp_ex(ctx, &a);
}

static struct ibv_flow *eth_flow(struct ibv_qp *qp)
{
	struct {
		struct ibv_flow_attr attr;
		struct ibv_flow_spec_eth eth;
	} r = { .attr = { .type = IBV_FLOW_ATTR_NORMAL, .size = sizeof(r),
			  .num_of_specs = 1, .port = 1 },
		.eth = { .type = IBV_FLOW_SPEC_ETH, .size = sizeof(r.eth) } };

	memcpy(r.eth.val.dst_mac, dmac, 6);
	memset(r.eth.mask.dst_mac, 0xff, 6);
	return ibv_create_flow(qp, &r.attr);
}

static struct ibv_qp *sender(struct ibv_context *ctx)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = scq, .recv_cq = scq, .qp_type = IBV_QPT_RAW_PACKET,
		.cap = { .max_send_wr = 4, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1 };
	struct ibv_qp *qp = ibv_create_qp(pd, &ia);

	SVT_CHECK(qp);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT));
	a.qp_state = IBV_QPS_RTR;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	a.qp_state = IBV_QPS_RTS;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	return qp;
}

static void send1(struct ibv_qp *s)
{
	struct ibv_sge sg = { (uintptr_t)buf, LEN, mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sg, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad;
	struct timespec ts = { 0, 1000000 };
	struct ibv_wc wc;
	int ms = 2000;

	SVT_CHECK(!ibv_post_send(s, &wr, &bad));
	while (ibv_poll_cq(scq, 1, &wc) == 0 && ms--)
		nanosleep(&ts, NULL);
	SVT_CHECK(ms > 0 && wc.status == IBV_WC_SUCCESS);
}

/* Send one frame; it must land on WQ idx, whole. */
static void check_lands(struct ibv_qp *s, const uint8_t src[4],
			const uint8_t dst[4], uint16_t sp, uint16_t dp,
			uint8_t seed)
{
	uint32_t idx = expect_index(src, dst, sp, dp);
	struct ibv_wc wc;
	int which;

	frame(buf, src, dst, sp, dp, seed);
	send1(s);
	SVT_CHECK(poll_any(&wc, &which, 2000));
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_RECV);
	SVT_CHECK(wc.wr_id == idx && wc.qp_num == wq[idx]->wq_num);
	SVT_CHECK(which == (int)(idx % 2) && wc.byte_len == LEN);
	SVT_CHECK(!memcmp(buf + BUF * (idx + 1), buf, LEN));
	post_wq((int)idx);
}

int main(void)
{
	static const uint8_t ms_src[4] = { 66, 9, 149, 187 };
	static const uint8_t ms_dst[4] = { 161, 142, 100, 80 };
	struct ibv_wq_attr reset = { .attr_mask = IBV_WQ_ATTR_STATE,
				     .wq_state = IBV_WQS_RESET };
	struct ibv_rwq_ind_table_init_attr ta = { .log_ind_tbl_size = 2,
						  .ind_tbl = wq };
	struct ibv_rwq_ind_table *t;
	struct ibv_context *ctx;
	struct svt_daemon d;
	struct ibv_qp *q, *s;
	struct ibv_flow *f;
	struct ibv_wc wc;
	uint8_t src[4];
	int i, which;

	if (geteuid() != 0)
		svt_skip("raw packet QPs need CAP_NET_RAW (run as root)");
	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	cq[0] = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	cq[1] = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	scq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	buf = calloc(NWQ + 1, BUF);
	SVT_CHECK(pd && cq[0] && cq[1] && scq && buf);
	mr = ibv_reg_mr(pd, buf, (NWQ + 1) * BUF, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	make_wqs(ctx);
	t = ibv_create_rwq_ind_table(ctx, &ta);
	SVT_CHECK(t);
	SVT_CHECK(ibv_destroy_wq(wq[0]) == EBUSY);
	errno = 0;
	SVT_CHECK(!rss_qp(ctx, t, 4) && errno == EINVAL);
	q = rss_qp(ctx, t, 0);
	SVT_CHECK(q);
	SVT_CHECK(ibv_destroy_rwq_ind_table(t) == EBUSY);
	f = eth_flow(q);
	s = sender(ctx);
	SVT_CHECK(f);
	/* Microsoft's verification vector: hash 0x51ccc178, WQ 0. */
	SVT_CHECK(expect_index(ms_src, ms_dst, 2794, 1766) == 0);
	check_lands(s, ms_src, ms_dst, 2794, 1766, 1);
	for (i = 0; i < 32; i++) {
		src[0] = 10;
		src[1] = (uint8_t)i;
		src[2] = (uint8_t)(i * 7);
		src[3] = (uint8_t)(i + 1);
		check_lands(s, src, ms_dst, (uint16_t)(1000 + i), 1766,
			    (uint8_t)i);
	}
	/* WQ 0 in RESET: what hashes to it is dropped. */
	SVT_CHECK(!ibv_modify_wq(wq[0], &reset));
	frame(buf, ms_src, ms_dst, 2794, 1766, 9);
	send1(s);
	SVT_CHECK(!poll_any(&wc, &which, 200));
	SVT_CHECK(!ibv_destroy_flow(f) && !ibv_destroy_qp(q) &&
		  !ibv_destroy_qp(s));
	SVT_CHECK(!ibv_destroy_rwq_ind_table(t));
	for (i = 0; i < NWQ; i++)
		SVT_CHECK(!ibv_destroy_wq(wq[i]));
	ibv_dereg_mr(mr);
	ibv_destroy_cq(cq[0]);
	ibv_destroy_cq(cq[1]);
	ibv_destroy_cq(scq);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
