// SPDX-License-Identifier: MIT
/*
 * Data path over two connected RC QPs in one process: SEND/RECV with
 * immediate and multiple SGEs (payload checksums), RDMA WRITE/READ,
 * atomics, inline, zero-length, then the error paths: RNR retry exceeded,
 * remote access error, flush of the rest.
 */
#include <infiniband/verbs.h>
#include <arpa/inet.h>
#include <stdint.h>

#include "svtest.h"

#define BUF 65536

struct ep {
	struct ibv_qp *qp;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	uint8_t *buf;
};

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static union ibv_gid gid;
static int gid_index = -1;

static uint32_t sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0x12345678;

	while (n--)
		s = (s << 5) + s + *p++;
	return s;
}

static void ep_init(struct ep *e)
{
	struct ibv_qp_init_attr a = {
		.cap = { .max_send_wr = 64, .max_recv_wr = 64,
			 .max_send_sge = 4, .max_recv_sge = 4,
			 .max_inline_data = 64 },
		.qp_type = IBV_QPT_RC,
	};

	e->buf = calloc(1, BUF);
	SVT_CHECK(e->buf);
	e->cq = ibv_create_cq(ctx, 128, NULL, NULL, 0);
	SVT_CHECK(e->cq);
	e->mr = ibv_reg_mr(pd, e->buf, BUF,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC);
	SVT_CHECK(e->mr);
	a.send_cq = a.recv_cq = e->cq;
	e->qp = ibv_create_qp(pd, &a);
	SVT_CHECK(e->qp);
}

static void ep_connect(struct ep *e, uint32_t dqpn, uint8_t rnr_retry)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC,
	};

	SVT_CHECK(!ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					     IBV_QP_PORT |
					     IBV_QP_ACCESS_FLAGS));
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = dqpn;
	a.rq_psn = 7;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = gid;
	a.ah_attr.grh.sgid_index = (uint8_t)gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	SVT_CHECK(!ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_AV |
					     IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
					     IBV_QP_RQ_PSN |
					     IBV_QP_MAX_DEST_RD_ATOMIC |
					     IBV_QP_MIN_RNR_TIMER));
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 10;
	a.retry_cnt = 2;
	a.rnr_retry = rnr_retry;
	a.sq_psn = 7;
	a.max_rd_atomic = 1;
	SVT_CHECK(!ibv_modify_qp(e->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					     IBV_QP_RETRY_CNT |
					     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
					     IBV_QP_MAX_QP_RD_ATOMIC));
}

static struct ibv_wc poll1(struct ibv_cq *cq)
{
	struct ibv_wc wc;
	int i, n;

	for (i = 0; i < 5000000; i++) {
		n = ibv_poll_cq(cq, 1, &wc);
		SVT_CHECK(n >= 0);
		if (n)
			return wc;
	}
	fprintf(stderr, "timeout waiting for a completion\n");
	exit(SVT_FAIL);
}

static void post_recv(struct ep *e, uint64_t id, size_t off, uint32_t len)
{
	struct ibv_sge s = { (uintptr_t)e->buf + off, len, e->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = id, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(e->qp, &wr, &bad));
}

static void post_send(struct ep *e, struct ibv_send_wr *wr)
{
	struct ibv_send_wr *bad;

	wr->send_flags |= IBV_SEND_SIGNALED;
	SVT_CHECK(!ibv_post_send(e->qp, wr, &bad));
}

static void test_send(struct ep *a, struct ep *b)
{
	struct ibv_sge s[2] = {
		{ (uintptr_t)a->buf, 1000, a->mr->lkey },
		{ (uintptr_t)a->buf + 5000, 3000, a->mr->lkey },
	};
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = s, .num_sge = 2,
				  .opcode = IBV_WR_SEND_WITH_IMM,
				  .imm_data = htonl(0xabcd) };
	struct ibv_wc wc;
	uint32_t want;
	int i;

	for (i = 0; i < BUF; i++)
		a->buf[i] = (uint8_t)(i * 7 + 3);
	want = sum(a->buf, 1000);
	want = sum(a->buf + 5000, 3000) ^ want;
	post_recv(b, 11, 10000, 8000);
	post_send(a, &wr);
	wc = poll1(a->cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_SEND &&
		  wc.wr_id == 1);
	wc = poll1(b->cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_RECV);
	SVT_CHECK(wc.wr_id == 11 && wc.byte_len == 4000);
	SVT_CHECK((wc.wc_flags & IBV_WC_WITH_IMM) &&
		  wc.imm_data == htonl(0xabcd));
	SVT_CHECK((sum(b->buf + 10000, 1000) ^ sum(b->buf + 11000, 3000)) ==
		  want);

	/* inline + zero-length */
	memcpy(a->buf, "inline-hello", 12);
	s[0].length = 12;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = IBV_SEND_INLINE;
	post_recv(b, 12, 20000, 100);
	post_send(a, &wr);
	SVT_CHECK(poll1(a->cq).status == IBV_WC_SUCCESS);
	wc = poll1(b->cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 12);
	SVT_CHECK(!memcmp(b->buf + 20000, "inline-hello", 12));
	wr.num_sge = 0;
	wr.send_flags = 0;
	post_recv(b, 13, 20000, 100);
	post_send(a, &wr);
	SVT_CHECK(poll1(a->cq).status == IBV_WC_SUCCESS);
	wc = poll1(b->cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 0);
}

static void test_rdma(struct ep *a, struct ep *b)
{
	struct ibv_sge s = { (uintptr_t)a->buf + 100, 30000, a->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 2, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE };
	uint64_t *v;

	wr.wr.rdma.remote_addr = (uintptr_t)b->buf + 30000;
	wr.wr.rdma.rkey = b->mr->rkey;
	post_send(a, &wr);
	SVT_CHECK(poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(sum(a->buf + 100, 30000) == sum(b->buf + 30000, 30000));

	/* READ it back into another place */
	memset(a->buf + 32768, 0, 30000);
	s.addr = (uintptr_t)a->buf + 32768;
	wr.opcode = IBV_WR_RDMA_READ;
	post_send(a, &wr);
	SVT_CHECK(poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(sum(a->buf + 32768, 30000) == sum(b->buf + 30000, 30000));

	/* atomics on an aligned word of b */
	v = (uint64_t *)(b->buf + 64);
	*v = 40;
	s.addr = (uintptr_t)a->buf + 8;
	s.length = 8;
	wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
	wr.wr.atomic.remote_addr = (uintptr_t)v;
	wr.wr.atomic.rkey = b->mr->rkey;
	wr.wr.atomic.compare_add = 2;
	post_send(a, &wr);
	SVT_CHECK(poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(*v == 42 && *(uint64_t *)(a->buf + 8) == 40);
	wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
	wr.wr.atomic.compare_add = 42;
	wr.wr.atomic.swap = 7;
	post_send(a, &wr);
	SVT_CHECK(poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(*v == 7 && *(uint64_t *)(a->buf + 8) == 42);
}

static void test_errors(struct ep *a, struct ep *b)
{
	struct ibv_sge s = { (uintptr_t)a->buf, 64, a->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 3, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE };
	struct ibv_wc wc;

	/* bad rkey: remote access error, then the QP flushes */
	wr.wr.rdma.remote_addr = (uintptr_t)b->buf;
	wr.wr.rdma.rkey = b->mr->rkey ^ 0x55;
	post_send(a, &wr);
	wr.wr_id = 4;
	post_send(a, &wr);
	wc = poll1(a->cq);
	SVT_CHECK(wc.wr_id == 3 && wc.status == IBV_WC_REM_ACCESS_ERR);
	wc = poll1(a->cq);
	SVT_CHECK(wc.wr_id == 4 && wc.status == IBV_WC_WR_FLUSH_ERR);
}

static void test_rnr(struct ep *a, struct ep *b)
{
	struct ibv_sge s = { (uintptr_t)a->buf, 64, a->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 5, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND };
	struct ibv_wc wc;

	(void)b;
	post_send(a, &wr); /* b has no receive posted */
	wc = poll1(a->cq);
	SVT_CHECK(wc.wr_id == 5 && wc.status == IBV_WC_RNR_RETRY_EXC_ERR);
}

static int find_gid(void)
{
	int i;

	for (i = 0; i < 16; i++) {
		if (ibv_query_gid(ctx, 1, i, &gid))
			break;
		if (gid.global.interface_id && gid.raw[10] == 0xff) {
			gid_index = i;
			return 0;
		}
	}
	return -1;
}

int main(void)
{
	struct svt_daemon d;
	struct ep a, b, c, e;

	ctx = svt_start(&d);
	SVT_CHECK(!find_gid());
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	ep_init(&a);
	ep_init(&b);
	ep_connect(&a, b.qp->qp_num, 7);
	ep_connect(&b, a.qp->qp_num, 7);
	test_send(&a, &b);
	test_rdma(&a, &b);
	test_errors(&a, &b);
	/* a fresh pair with rnr_retry 0 */
	ep_init(&c);
	ep_init(&e);
	ep_connect(&c, e.qp->qp_num, 0);
	ep_connect(&e, c.qp->qp_num, 0);
	test_rnr(&c, &e);
	printf("traffic rc: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
