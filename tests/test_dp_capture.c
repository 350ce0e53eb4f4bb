// SPDX-License-Identifier: MIT
/*
 * Small payloads captured at post time (SV_WQE_CAPTURED, post.c and
 * mr_keys.c): on the daemon path, ibv_post_send and ibv_wr_set_sge* copy
 * up to SVL_CAPTURE_MAX bytes of a work request from private VA regions
 * into the WQE; the engine checks the SGEs as before and sends those bytes.
 *
 *  - SEND (one and two SGEs), RDMA WRITE and the ibv_wr_* API land byte
 *    for byte at sizes around the slot's room (48 bytes with one SGE, 32
 *    with two), the cap (64) and beyond, with the bytes after untouched;
 *  - the capture is really used: a SEND that meets no receive waits in
 *    RNR; its source is changed before the receive is posted, and the
 *    retransmission delivers the bytes of post time;
 *  - the engine still judges the SGEs: a bad lkey, a range past the end of
 *    its region, a key of another PD and a deregistered region each end
 *    in LOC_PROT_ERR.
 *
 * Runs with SOFTVERBS_DIRECT=0 (the direct path would take these SENDs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"
#include "svt_ep.h"

#define BUF 4096

struct pair {
	struct svt_ep a, b;
	struct ibv_mr *amr, *bmr;
	uint8_t *abuf, *bbuf;
};

/* a's QP again, made by ibv_create_qp_ex for the ibv_wr_* API. */
static void qp_ex(struct svt_ep *e)
{
	struct ibv_qp_init_attr_ex a = {
		.cap = { .max_send_wr = 64, .max_recv_wr = 64,
			 .max_send_sge = 2, .max_recv_sge = 2 },
		.qp_type = IBV_QPT_RC,
		.send_cq = e->cq,
		.recv_cq = e->cq,
		.pd = e->pd,
		.comp_mask = IBV_QP_INIT_ATTR_PD |
			     IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		.send_ops_flags = IBV_QP_EX_WITH_SEND |
				  IBV_QP_EX_WITH_RDMA_WRITE,
	};

	SVT_CHECK(!ibv_destroy_qp(e->qp));
	e->qp = ibv_create_qp_ex(e->ctx, &a);
	SVT_CHECK(e->qp && ibv_qp_to_qp_ex(e->qp));
}

static void pair_open(struct pair *p)
{
	p->abuf = aligned_alloc(4096, BUF);
	p->bbuf = aligned_alloc(4096, BUF);
	SVT_CHECK(p->abuf && p->bbuf);
	svt_ep_open(&p->a);
	qp_ex(&p->a);
	p->b = p->a;
	p->b.cq = NULL;
	svt_ep_make(&p->b);
	svt_ep_connect(&p->a, p->b.qp->qp_num);
	svt_ep_connect(&p->b, p->a.qp->qp_num);
	p->amr = ibv_reg_mr(p->a.pd, p->abuf, BUF, IBV_ACCESS_LOCAL_WRITE);
	p->bmr = ibv_reg_mr(p->a.pd, p->bbuf, BUF,
			    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(p->amr && p->bmr);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 13 + seed);
}

static void post_recv(struct pair *p, uint32_t len)
{
	struct ibv_sge s = { (uintptr_t)p->bbuf, len, p->bmr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 7, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(p->b.qp, &wr, &bad));
}

static void post_send(struct pair *p, enum ibv_wr_opcode op,
		      struct ibv_sge *s, int n)
{
	struct ibv_send_wr wr = { .wr_id = 9, .sg_list = s, .num_sge = n,
				  .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	wr.wr.rdma.remote_addr = (uintptr_t)p->bbuf;
	wr.wr.rdma.rkey = p->bmr->rkey;
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
}

/* The receiver's buffer holds the sent bytes and nothing past them. */
static void check_landed(const struct pair *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p->bbuf[i] != p->abuf[i]) {
			fprintf(stderr, "len %u: byte %u is %#x, not %#x\n",
				len, i, p->bbuf[i], p->abuf[i]);
			exit(SVT_FAIL);
		}
	for (; i < len + 64; i++)
		SVT_CHECK(p->bbuf[i] == 0xee);
}

/* One message of len bytes by op, in nsge pieces; wait for both ends. */
static void one(struct pair *p, enum ibv_wr_opcode op, uint32_t len,
		int nsge, uint8_t seed)
{
	uint32_t half = len / 2;
	struct ibv_sge s[2] = {
		{ (uintptr_t)p->abuf, nsge == 2 ? half : len, p->amr->lkey },
		{ (uintptr_t)p->abuf + half, len - half, p->amr->lkey },
	};
	struct ibv_wc wc;

	fill(p->abuf, BUF, seed);
	memset(p->bbuf, 0xee, BUF);
	if (op == IBV_WR_SEND)
		post_recv(p, BUF);
	post_send(p, op, s, nsge);
	wc = svt_poll1(p->a.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == 9);
	if (op == IBV_WR_SEND) {
		wc = svt_poll1(p->b.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == len);
	}
	check_landed(p, len);
}

/* The same SEND through ibv_wr_start / ibv_wr_set_sge_list. */
static void one_wr_api(struct pair *p, uint32_t len, uint8_t seed)
{
	struct ibv_qp_ex *x = ibv_qp_to_qp_ex(p->a.qp);
	struct ibv_sge s = { (uintptr_t)p->abuf, len, p->amr->lkey };
	struct ibv_wc wc;

	fill(p->abuf, BUF, seed);
	memset(p->bbuf, 0xee, BUF);
	post_recv(p, BUF);
	ibv_wr_start(x);
	x->wr_id = 9;
	x->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_send(x);
	ibv_wr_set_sge_list(x, 1, &s);
	SVT_CHECK(!ibv_wr_complete(x));
	SVT_CHECK(svt_poll1(p->a.cq).status == IBV_WC_SUCCESS);
	wc = svt_poll1(p->b.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == len);
	check_landed(p, len);
}

static void sizes(struct pair *p)
{
	static const uint32_t len[] = { 1, 8, 31, 32, 33, 47, 48, 49,
					63, 64, 65, 200 };
	unsigned int i;

	for (i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
		one(p, IBV_WR_SEND, len[i], 1, (uint8_t)i);
		one(p, IBV_WR_SEND, len[i], 2, (uint8_t)(i + 50));
		one(p, IBV_WR_RDMA_WRITE, len[i], 1, (uint8_t)(i + 100));
		one_wr_api(p, len[i], (uint8_t)(i + 150));
	}
}

/*
 * A SEND meets no receive (RNR wait, rnr_retry 7), its source changes,
 * then the receive is posted: the retransmission carries what was there
 * at post time, which only a captured WQE still has.
 */
static void post_time_bytes(struct pair *p)
{
	struct ibv_sge s = { (uintptr_t)p->abuf, 8, p->amr->lkey };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct ibv_wc wc;

	memcpy(p->abuf, "captured", 8);
	memset(p->bbuf, 0xee, BUF);
	post_send(p, IBV_WR_SEND, &s, 1);
	nanosleep(&ts, NULL);
	SVT_CHECK(ibv_poll_cq(p->a.cq, 1, &wc) == 0); /* still in RNR */
	memcpy(p->abuf, "modified", 8);
	post_recv(p, BUF);
	SVT_CHECK(svt_poll1(p->a.cq).status == IBV_WC_SUCCESS);
	wc = svt_poll1(p->b.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 8);
	SVT_CHECK(!memcmp(p->bbuf, "captured", 8));
}

enum bad { BAD_KEY, BAD_PAST_END, BAD_OTHER_PD, BAD_DEREG };

/*
 * A fresh pair whose only SEND must fail locally with LOC_PROT_ERR. The
 * other-PD case is captured by the library (the key is a region of this
 * process) and must still be refused by the engine.
 */
static void bad_sge(const char *what, enum bad how)
{
	struct ibv_pd *pd;
	struct pair p;
	struct ibv_mr *mr;
	struct ibv_sge s;
	struct ibv_wc wc;

	pair_open(&p);
	pd = how == BAD_OTHER_PD ? ibv_alloc_pd(p.a.ctx) : p.a.pd;
	SVT_CHECK(pd);
	mr = ibv_reg_mr(pd, p.abuf, 64, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	s = (struct ibv_sge){ (uintptr_t)p.abuf + (how == BAD_PAST_END ? 40 : 0),
			      32, mr->lkey + (how == BAD_KEY ? 0x100 : 0) };
	if (how == BAD_DEREG)
		SVT_CHECK(!ibv_dereg_mr(mr));
	post_recv(&p, BUF);
	post_send(&p, IBV_WR_SEND, &s, 1);
	wc = svt_poll1(p.a.cq);
	if (wc.status != IBV_WC_LOC_PROT_ERR) {
		fprintf(stderr, "%s: status %s\n", what,
			ibv_wc_status_str(wc.status));
		exit(SVT_FAIL);
	}
}

int main(void)
{
	struct svt_daemon d;
	struct pair p;

	setenv("SOFTVERBS_DIRECT", "0", 1);
	if (svt_daemon_start(&d))
		return SVT_FAIL;
	pair_open(&p);
	sizes(&p);
	post_time_bytes(&p);
	bad_sge("bad lkey", BAD_KEY);
	bad_sge("past the region", BAD_PAST_END);
	bad_sge("another PD", BAD_OTHER_PD);
	bad_sge("deregistered", BAD_DEREG);
	printf("test_dp_capture: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
