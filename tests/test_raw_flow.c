// SPDX-License-Identifier: MIT
/*
 * Raw packet QPs and flow steering (daemon/nic/eng_raw.c,
 * daemon/verbs/std_flow.c):
 *  - CAP_NET_RAW: without it in the effective set, creating a raw QP or a
 *    flow is EPERM (the capability is dropped from this process's
 *    effective set with capset and raised again);
 *  - control path: raw QPs take only port/state attributes (QKEY, PSNs
 *    are refused), query reports RTS and port 1; flows on RC QPs are
 *    EINVAL, on UD QPs EOPNOTSUPP; a QP with a flow is EBUSY to destroy;
 *  - data path: a frame sent by one raw QP reaches a raw QP of another
 *    context through an eth + ipv4 + udp flow, byte for byte (payload
 *    checksum), with IBV_WC_RECV, its length and the receiver's qp_num;
 *    a frame matching no flow is dropped (the send still succeeds and the
 *    posted receive stays for the next frame); once the flow is destroyed
 *    matching frames are dropped too; a frame shorter than an Ethernet
 *    header completes with IBV_WC_LOC_LEN_ERR;
 *  - the device counts frames sent, received and dropped
 *    (`softverbs dev show`: raw_tx, raw_rx, raw_drop).
 */
#include <arpa/inet.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "svtest.h"
#include "svt_cli.h"

#define BUF 4096
#define FRAME_LEN 1000
#define DST_PORT 5678

struct flow_rule {
	struct ibv_flow_attr attr;
	struct ibv_flow_spec_eth eth;
	struct ibv_flow_spec_ipv4_ext ip;
	struct ibv_flow_spec_tcp_udp udp;
};

static struct ibv_pd *pd_s, *pd_r;
static struct ibv_cq *cq_s, *cq_r;
static uint8_t *sbuf, *rbuf;
static struct ibv_mr *smr, *rmr;

static const uint8_t dst_mac[6] = { 0x01, 0x50, 0x56, 0x19, 0x20, 0xa7 };
static const uint8_t src_mac[6] = { 0x24, 0x8a, 0x07, 0xa5, 0x28, 0xc8 };

/* ---- CAP_NET_RAW in the effective set ---- */

static int cap_raw(int op) /* 0: query, 1: raise, -1: drop; -1 on error */
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];
	uint32_t bit = 1U << CAP_NET_RAW;

	if (syscall(SYS_capget, &h, c))
		return -1;
	if (op == 0)
		return !!(c[0].permitted & bit);
	if (op > 0)
		c[0].effective |= bit;
	else
		c[0].effective &= ~bit;
	return syscall(SYS_capset, &h, c) ? -1 : 0;
}

static struct ibv_qp *raw_qp(struct ibv_pd *pd, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RAW_PACKET,
		.cap = { .max_send_wr = 8, .max_recv_wr = 8,
			 .max_send_sge = 2, .max_recv_sge = 1 },
	};

	return ibv_create_qp(pd, &ia);
}

/* RESET -> INIT -> RTR -> RTS with only what the kernel lets raw QPs take. */
static void raw_up(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = 7, .sq_psn = 1 };
	struct ibv_qp_init_attr ia;

	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE) == EINVAL);
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT |
						IBV_QP_QKEY) == EINVAL);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT));
	a.qp_state = IBV_QPS_RTR;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	a.qp_state = IBV_QPS_RTS;
	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN) ==
		  EINVAL);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	memset(&a, 0, sizeof(a));
	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT, &ia));
	SVT_CHECK(a.qp_state == IBV_QPS_RTS && a.port_num == 1);
	SVT_CHECK(ia.qp_type == IBV_QPT_RAW_PACKET && ia.cap.max_send_wr >= 8);
}

static void flow_rule_init(struct flow_rule *r, uint16_t port)
{
	memset(r, 0, sizeof(*r));
	r->attr.type = IBV_FLOW_ATTR_NORMAL;
	r->attr.size = sizeof(*r);
	r->attr.num_of_specs = 3;
	r->attr.port = 1;
	r->eth.type = IBV_FLOW_SPEC_ETH;
	r->eth.size = sizeof(r->eth);
	memcpy(r->eth.val.dst_mac, dst_mac, 6);
	memset(r->eth.mask.dst_mac, 0xff, 6);
	r->eth.val.ether_type = htons(0x0800);
	r->eth.mask.ether_type = 0xffff;
	r->ip.type = IBV_FLOW_SPEC_IPV4_EXT;
	r->ip.size = sizeof(r->ip);
	r->ip.val.dst_ip = inet_addr("2.2.2.2");
	r->ip.mask.dst_ip = 0xffffffff;
	r->ip.val.proto = 17;
	r->ip.mask.proto = 0xff;
	r->udp.type = IBV_FLOW_SPEC_UDP;
	r->udp.size = sizeof(r->udp);
	r->udp.val.dst_port = htons(port);
	r->udp.mask.dst_port = 0xffff;
}

/* ---- frames ---- */

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet | IPv4 (1.1.1.1 -> 2.2.2.2) | UDP 1234 -> port | payload. */
static void make_frame(uint8_t *f, size_t len, uint16_t port, uint8_t seed)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t v;
	size_t i;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	v = htons((uint16_t)(len - 14));
	memcpy(ip + 2, &v, 2);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){ 1, 1, 1, 1 }, 4);
	memcpy(ip + 16, (uint8_t[]){ 2, 2, 2, 2 }, 4);
	v = htons(ip_csum(ip, 20));
	memcpy(ip + 10, &v, 2);
	v = htons(1234);
	memcpy(udp, &v, 2);
	v = htons(port);
	memcpy(udp + 2, &v, 2);
	v = htons((uint16_t)(len - 34));
	memcpy(udp + 4, &v, 2);
	udp[6] = udp[7] = 0;
	for (i = 42; i < len; i++)
		f[i] = (uint8_t)(i * 31 + seed);
}

static uint32_t sum32(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	while (n--)
		s = s * 33 + *p++;
	return s;
}

static int poll1(struct ibv_cq *cq, struct ibv_wc *wc, int ms)
{
	struct timespec ts = { 0, 1000000 };

	while (ms-- > 0) {
		int n = ibv_poll_cq(cq, 1, wc);

		SVT_CHECK(n >= 0);
		if (n)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void post_recv(struct ibv_qp *qp)
{
	struct ibv_sge sg = { (uintptr_t)rbuf, BUF, rmr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 77, .sg_list = &sg, .num_sge = 1 };
	struct ibv_recv_wr *bad;

	memset(rbuf, 0, BUF);
	SVT_CHECK(!ibv_post_recv(qp, &wr, &bad));
}

/* Send a frame in two SGEs; the send must complete with status. */
static void send_frame(struct ibv_qp *qp, size_t len, uint16_t port,
		       uint8_t seed, enum ibv_wc_status status)
{
	struct ibv_sge sg[2] = { { (uintptr_t)sbuf, 14, smr->lkey },
				 { (uintptr_t)sbuf + 14, 0, smr->lkey } };
	struct ibv_send_wr wr = { .wr_id = 5, .sg_list = sg, .num_sge = 2,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_send_wr *bad;
	struct ibv_wc wc;

	make_frame(sbuf, len < 42 ? 42 : len, port, seed);
	if (len < 14) {
		sg[0].length = (uint32_t)len;
		wr.num_sge = 1;
	} else {
		sg[1].length = (uint32_t)(len - 14);
	}
	SVT_CHECK(!ibv_post_send(qp, &wr, &bad));
	SVT_CHECK(poll1(cq_s, &wc, 2000));
	SVT_CHECK(wc.wr_id == 5 && wc.status == status &&
		  wc.opcode == IBV_WC_SEND);
}

static void expect_frame(struct ibv_qp *r, size_t len)
{
	struct ibv_wc wc;

	SVT_CHECK(poll1(cq_r, &wc, 2000));
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == 77);
	SVT_CHECK(wc.opcode == IBV_WC_RECV && wc.byte_len == len);
	SVT_CHECK(wc.qp_num == r->qp_num);
	SVT_CHECK(!memcmp(rbuf, sbuf, len));
	SVT_CHECK(sum32(rbuf + 42, len - 42) == sum32(sbuf + 42, len - 42));
	SVT_CHECK(ip_csum(rbuf + 14, 20) == 0); /* the IP header is intact */
}

static void expect_nothing(void)
{
	struct ibv_wc wc;

	SVT_CHECK(!poll1(cq_r, &wc, 200));
}

/* ---- the parts ---- */

/* Flows only steer to raw QPs; a QP with a flow cannot go first. */
static void flow_errors(struct ibv_qp *r)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = cq_r, .recv_cq = cq_r,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct flow_rule rule;
	struct ibv_flow *f;
	struct ibv_qp *qp;

	flow_rule_init(&rule, DST_PORT);
	ia.qp_type = IBV_QPT_RC;
	qp = ibv_create_qp(pd_r, &ia);
	SVT_CHECK(qp);
	errno = 0;
	SVT_CHECK(!ibv_create_flow(qp, &rule.attr) && errno == EINVAL);
	SVT_CHECK(!ibv_destroy_qp(qp));
	ia.qp_type = IBV_QPT_UD;
	qp = ibv_create_qp(pd_r, &ia);
	SVT_CHECK(qp);
	errno = 0;
	SVT_CHECK(!ibv_create_flow(qp, &rule.attr) && errno == EOPNOTSUPP);
	SVT_CHECK(!ibv_destroy_qp(qp));
	rule.attr.port = 2;
	errno = 0;
	SVT_CHECK(!ibv_create_flow(r, &rule.attr) && errno == EINVAL);
	rule.attr.port = 1;
	f = ibv_create_flow(r, &rule.attr);
	SVT_CHECK(f);
	SVT_CHECK(ibv_destroy_qp(r) == EBUSY);
	SVT_CHECK(!ibv_destroy_flow(f));
}

/* Without CAP_NET_RAW in effect: EPERM for raw QPs and flows. */
static void no_cap(struct ibv_qp *r)
{
	struct flow_rule rule;

	flow_rule_init(&rule, DST_PORT);
	SVT_CHECK(!cap_raw(-1));
	errno = 0;
	SVT_CHECK(!raw_qp(pd_s, cq_s) && errno == EPERM);
	errno = 0;
	SVT_CHECK(!ibv_create_flow(r, &rule.attr) && errno == EPERM);
	SVT_CHECK(!cap_raw(1));
}

static void traffic(struct ibv_qp *s, struct ibv_qp *r)
{
	struct flow_rule rule;
	struct ibv_flow *f;

	flow_rule_init(&rule, DST_PORT);
	f = ibv_create_flow(r, &rule.attr);
	SVT_CHECK(f);
	post_recv(r);
	send_frame(s, FRAME_LEN, DST_PORT, 1, IBV_WC_SUCCESS);
	expect_frame(r, FRAME_LEN);
	/* No rule for port 9999: dropped, the receive stays posted. */
	post_recv(r);
	send_frame(s, FRAME_LEN, 9999, 2, IBV_WC_SUCCESS);
	expect_nothing();
	send_frame(s, 600, DST_PORT, 3, IBV_WC_SUCCESS);
	expect_frame(r, 600);
	/* The rule gone, nothing is steered to r any more. */
	SVT_CHECK(!ibv_destroy_flow(f));
	post_recv(r);
	send_frame(s, FRAME_LEN, DST_PORT, 4, IBV_WC_SUCCESS);
	expect_nothing();
	/* Shorter than an Ethernet header: not a frame, not counted. */
	send_frame(s, 10, DST_PORT, 5, IBV_WC_LOC_LEN_ERR);
	SVT_CHECK(svt_dev_counter("softverbs0", "raw_tx") == 4);
	SVT_CHECK(svt_dev_counter("softverbs0", "raw_rx") == 2);
	SVT_CHECK(svt_dev_counter("softverbs0", "raw_drop") == 2);
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_context *cs, *cr;
	struct ibv_port_attr pa;
	struct ibv_qp *s, *r;
	int have;

	cs = svt_start(&d);
	cr = svt_open_dev(NULL);
	SVT_CHECK(!ibv_query_port(cs, 1, &pa));
	SVT_CHECK(pa.link_layer == IBV_LINK_LAYER_ETHERNET);
	pd_s = ibv_alloc_pd(cs);
	pd_r = ibv_alloc_pd(cr);
	cq_s = ibv_create_cq(cs, 16, NULL, NULL, 0);
	cq_r = ibv_create_cq(cr, 16, NULL, NULL, 0);
	sbuf = calloc(1, BUF);
	rbuf = calloc(1, BUF);
	SVT_CHECK(pd_s && pd_r && cq_s && cq_r && sbuf && rbuf);
	smr = ibv_reg_mr(pd_s, sbuf, BUF, IBV_ACCESS_LOCAL_WRITE);
	rmr = ibv_reg_mr(pd_r, rbuf, BUF, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(smr && rmr);
	have = cap_raw(0);
	SVT_CHECK(have >= 0);
	if (!have) {
		errno = 0;
		SVT_CHECK(!raw_qp(pd_s, cq_s) && errno == EPERM);
		svt_daemon_stop(&d);
		svt_skip("raw QPs need CAP_NET_RAW (run as root)");
	}
	SVT_CHECK(!cap_raw(1));
	s = raw_qp(pd_s, cq_s);
	r = raw_qp(pd_r, cq_r);
	SVT_CHECK(s && r);
	raw_up(s);
	raw_up(r);
	no_cap(r);
	flow_errors(r);
	traffic(s, r);
	SVT_CHECK(!ibv_destroy_qp(r) && !ibv_destroy_qp(s));
	ibv_dereg_mr(smr);
	ibv_dereg_mr(rmr);
	ibv_destroy_cq(cq_s);
	ibv_destroy_cq(cq_r);
	ibv_dealloc_pd(pd_s);
	ibv_dealloc_pd(pd_r);
	ibv_close_device(cr);
	ibv_close_device(cs);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
