// SPDX-License-Identifier: MIT
/*
 * Scatter-to-CQE (docs/datapath.md, "Small receives scattered at poll"):
 * on the daemon path a one-packet SEND of at most 64 bytes into private
 * memory of the receiving process is written beside its CQE, and poll_cq
 * copies it into the receive buffer from the library's own record of the
 * receive WQE.
 *
 *  - the scatter is really used: once the sender's completion is polled
 *    (the responder has executed the SEND and ACKed it), the receive
 *    buffer of a message of at most 64 bytes is still untouched, and it
 *    holds the bytes once the receive completion is polled; one of 65
 *    bytes or more is in the buffer before that poll (written by the
 *    daemon, as before);
 *  - byte for byte at 1 to 200 bytes around the 64-byte limit, into one
 *    and three receive SGEs, with the bytes after untouched, through a QP's
 *    receive queue, an SRQ and an extended CQ (start/next/end_poll);
 *  - CQ resize (larger and smaller) with scattered CQEs unpolled;
 *  - a small receive queue whose slots are posted again before the
 *    completions of their earlier receives were polled;
 *  - two QPs on one CQ, one of them reset (its CQEs dropped, the other's
 *    moved in the ring with their payloads), and a QP destroyed with a
 *    scattered completion unpolled (it is still delivered);
 *  - errors as before: a bad lkey, a range past its region and a region
 *    without LOCAL_WRITE on the receive end in LOC_PROT_ERR, and the
 *    buffer is not written.
 *
 * Runs with SOFTVERBS_DIRECT=0 (the direct path would take these SENDs).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"
#include "svt_ep.h"

#define BUF 8192
#define RX 256 /* receive buffer per message */
#define LIMIT 64 /* SV_CQ_SCAT_MAX */

enum kind { PLAIN, SRQ, EXT };

struct rig {
	struct svt_ep a, b; /* a sends, b receives */
	struct ibv_cq *rcq; /* b's receive CQ */
	struct ibv_cq_ex *rcq_ex; /* the same, if extended */
	struct ibv_srq *srq;
	struct ibv_mr *amr, *bmr;
	uint8_t *abuf, *bbuf;
};

static struct ibv_cq *make_rcq(struct rig *r, enum kind k)
{
	struct ibv_cq_init_attr_ex ca = {
		.cqe = 64,
		.wc_flags = IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_QP_NUM,
	};

	if (k != EXT)
		return ibv_create_cq(r->a.ctx, 64, NULL, NULL, 0);
	r->rcq_ex = ibv_create_cq_ex(r->a.ctx, &ca);
	SVT_CHECK(r->rcq_ex);
	return ibv_cq_ex_to_cq(r->rcq_ex);
}

/* b's QP: its own send CQ, rcq (made if NULL), an SRQ for kind SRQ. */
static void make_b(struct rig *r, enum kind k, uint32_t rq_wr)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 64, .max_sge = 4 } };
	struct ibv_qp_init_attr qa = {
		.cap = { .max_send_wr = 16, .max_recv_wr = rq_wr,
			 .max_send_sge = 2, .max_recv_sge = 4 },
		.qp_type = IBV_QPT_RC,
	};

	r->b = r->a;
	r->b.cq = ibv_create_cq(r->a.ctx, 64, NULL, NULL, 0);
	if (!r->rcq)
		r->rcq = make_rcq(r, k);
	SVT_CHECK(r->b.cq && r->rcq);
	if (k == SRQ) {
		r->srq = ibv_create_srq(r->a.pd, &sa);
		SVT_CHECK(r->srq);
		qa.cap.max_recv_wr = 0;
	}
	qa.send_cq = r->b.cq;
	qa.recv_cq = r->rcq;
	qa.srq = r->srq;
	r->b.qp = ibv_create_qp(r->a.pd, &qa);
	SVT_CHECK(r->b.qp);
}

/*
 * A connected pair; with share, on its context, and b's receives complete
 * on share's receive CQ.
 */
static void rig_open(struct rig *r, enum kind k, uint32_t rq_wr,
		     const struct rig *share, int b_access)
{
	memset(r, 0, sizeof(*r));
	r->abuf = aligned_alloc(4096, BUF);
	r->bbuf = aligned_alloc(4096, BUF);
	SVT_CHECK(r->abuf && r->bbuf);
	if (share) {
		r->a = share->a;
		r->a.cq = NULL;
		svt_ep_make(&r->a);
		r->rcq = share->rcq;
	} else {
		svt_ep_open(&r->a);
	}
	make_b(r, k, rq_wr);
	svt_ep_connect(&r->a, r->b.qp->qp_num);
	svt_ep_connect(&r->b, r->a.qp->qp_num);
	r->amr = ibv_reg_mr(r->a.pd, r->abuf, BUF, IBV_ACCESS_LOCAL_WRITE);
	r->bmr = ibv_reg_mr(r->a.pd, r->bbuf, BUF, b_access);
	SVT_CHECK(r->amr && r->bmr);
	memset(r->bbuf, 0xee, BUF);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 13 + seed);
}

/* A receive of RX bytes at bbuf + off in nsge pieces (5, 11, the rest). */
static void post_rx_key(struct rig *r, uint64_t wr_id, size_t off, int nsge,
			uint32_t lkey, uint32_t len)
{
	uint64_t at = (uintptr_t)r->bbuf + off;
	struct ibv_sge s[3] = {
		{ at, nsge == 1 ? len : 5, lkey },
		{ at + 5, 11, lkey },
		{ at + 16, len - 16, lkey },
	};
	struct ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = s,
				  .num_sge = nsge },
			   *bad;

	if (r->srq)
		SVT_CHECK(!ibv_post_srq_recv(r->srq, &wr, &bad));
	else
		SVT_CHECK(!ibv_post_recv(r->b.qp, &wr, &bad));
}

static void post_rx(struct rig *r, uint64_t wr_id, size_t off, int nsge)
{
	post_rx_key(r, wr_id, off, nsge, r->bmr->lkey, RX);
}

/* Send len bytes (pattern seed) from abuf + off and wait for its ACK. */
static void send_acked(struct rig *r, size_t off, uint32_t len, uint8_t seed,
		       enum ibv_wc_status want)
{
	struct ibv_sge s = { (uintptr_t)r->abuf + off, len, r->amr->lkey };
	struct ibv_send_wr wr = { .wr_id = 9, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;

	fill(r->abuf + off, len, seed);
	SVT_CHECK(!ibv_post_send(r->a.qp, &wr, &bad));
	wc = svt_poll1(r->a.cq);
	if ((wc.status == IBV_WC_SUCCESS) != (want == IBV_WC_SUCCESS)) {
		fprintf(stderr, "send %u B: status %s\n", len,
			ibv_wc_status_str(wc.status));
		exit(SVT_FAIL);
	}
}

static bool untouched(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0xee)
			return false;
	return true;
}

/* bbuf + off holds message (off_src, len, seed) and 0xee after it. */
static void check_rx(const struct rig *r, size_t off, uint32_t len,
		     uint8_t seed)
{
	uint8_t want[RX];

	fill(want, len, seed);
	if (memcmp(r->bbuf + off, want, len) || !untouched(r->bbuf + off + len,
							    RX - len)) {
		fprintf(stderr, "receive of %u B at %zu: wrong bytes\n", len,
			off);
		exit(SVT_FAIL);
	}
}

/* One receive completion: through ibv_poll_cq or the extended API. */
static struct ibv_wc poll_rx(struct rig *r)
{
	struct ibv_poll_cq_attr pa = {};
	struct ibv_wc wc = {};
	int i;

	if (!r->rcq_ex)
		return svt_poll1(r->rcq);
	for (i = 0; i < 1000000 && ibv_start_poll(r->rcq_ex, &pa); i++)
		;
	wc.wr_id = r->rcq_ex->wr_id;
	wc.status = r->rcq_ex->status;
	wc.byte_len = ibv_wc_read_byte_len(r->rcq_ex);
	wc.qp_num = ibv_wc_read_qp_num(r->rcq_ex);
	ibv_end_poll(r->rcq_ex);
	return wc;
}

static void expect_wc(struct ibv_wc wc, uint64_t wr_id, uint32_t len)
{
	if (wc.status != IBV_WC_SUCCESS || wc.wr_id != wr_id ||
	    wc.byte_len != len) {
		fprintf(stderr, "receive %lu: %s, wr_id %lu, %u B (want %u)\n",
			(unsigned long)wr_id, ibv_wc_status_str(wc.status),
			(unsigned long)wc.wr_id, wc.byte_len, len);
		exit(SVT_FAIL);
	}
}

/*
 * One message: a message of at most LIMIT bytes reaches the buffer only
 * at the poll (scattered), a bigger one before it (written by the daemon).
 */
static void one(struct rig *r, uint32_t len, int nsge, uint8_t seed)
{
	memset(r->bbuf, 0xee, RX);
	post_rx(r, len, 0, nsge);
	send_acked(r, 0, len, seed, IBV_WC_SUCCESS);
	if (untouched(r->bbuf, RX) != (len <= LIMIT)) {
		fprintf(stderr, "%u B: %s before the poll\n", len,
			len <= LIMIT ? "written" : "not written");
		exit(SVT_FAIL);
	}
	expect_wc(poll_rx(r), len, len);
	check_rx(r, 0, len, seed);
}

static void sizes(enum kind k)
{
	static const uint32_t len[] = { 1,  2,	8,  15, 16, 17,	 31,  32,
					33, 47, 48, 49, 63, 64, 65, 100, 200 };
	struct rig r;
	unsigned int i;

	rig_open(&r, k, 64, NULL, IBV_ACCESS_LOCAL_WRITE);
	for (i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
		one(&r, len[i], 1, (uint8_t)(i + 1));
		one(&r, len[i], 3, (uint8_t)(i + 101));
	}
}

/* Extended CQ: several completions in one start/next/end batch. */
static void ext_batch(void)
{
	static const uint32_t len[] = { 8, 64, 100, 1 };
	struct ibv_poll_cq_attr pa = {};
	struct rig r;
	unsigned int i, n = 4;
	int ret;

	rig_open(&r, EXT, 64, NULL, IBV_ACCESS_LOCAL_WRITE);
	for (i = 0; i < n; i++) {
		post_rx(&r, i, i * RX, 1);
		send_acked(&r, i * RX, len[i], (uint8_t)(i + 7),
			   IBV_WC_SUCCESS);
	}
	for (ret = ibv_start_poll(r.rcq_ex, &pa); ret == ENOENT;)
		ret = ibv_start_poll(r.rcq_ex, &pa);
	for (i = 0; i < n; i++) {
		SVT_CHECK(!ret && r.rcq_ex->status == IBV_WC_SUCCESS &&
			  r.rcq_ex->wr_id == i &&
			  ibv_wc_read_byte_len(r.rcq_ex) == len[i]);
		check_rx(&r, i * RX, len[i], (uint8_t)(i + 7));
		ret = ibv_next_poll(r.rcq_ex);
	}
	SVT_CHECK(ret == ENOENT);
	ibv_end_poll(r.rcq_ex);
}

/* Scattered CQEs unpolled across a resize to a larger and smaller ring. */
static void resize(void)
{
	struct rig r;
	unsigned int i;

	rig_open(&r, PLAIN, 64, NULL, IBV_ACCESS_LOCAL_WRITE);
	for (i = 0; i < 6; i++) {
		post_rx(&r, i, i * RX, i & 1 ? 3 : 1);
		send_acked(&r, i * RX, 20 + i, (uint8_t)(i + 30),
			   IBV_WC_SUCCESS);
		if (i == 1)
			SVT_CHECK(!ibv_resize_cq(r.rcq, 500));
		if (i == 3)
			SVT_CHECK(!ibv_resize_cq(r.rcq, 12));
	}
	SVT_CHECK(untouched(r.bbuf, 6 * RX));
	for (i = 0; i < 6; i++) {
		expect_wc(poll_rx(&r), i, 20 + i);
		check_rx(&r, i * RX, 20 + i, (uint8_t)(i + 30));
	}
}

/*
 * Receive slots posted again before the completions of their previous
 * receives were polled: those keep their records (the new ones are
 * written by the daemon), and every message lands where it was sent.
 */
static void reuse(void)
{
	struct rig r;
	unsigned int i, round, n = 4;

	rig_open(&r, PLAIN, n, NULL, IBV_ACCESS_LOCAL_WRITE);
	for (round = 0; round < 3; round++) {
		memset(r.bbuf, 0xee, 2 * n * RX);
		for (i = 0; i < 2 * n; i++) {
			post_rx(&r, i, i * RX, 1);
			send_acked(&r, i * RX, 8 + i, (uint8_t)(i + round),
				   IBV_WC_SUCCESS);
		}
		for (i = 0; i < 2 * n; i++) {
			expect_wc(poll_rx(&r), i, 8 + i);
			check_rx(&r, i * RX, 8 + i, (uint8_t)(i + round));
		}
	}
}

/*
 * Two QPs on one receive CQ, completions interleaved; resetting the first
 * drops its CQEs and moves the second's (with their payloads) in the
 * ring. Then the second is destroyed with a completion unpolled: it is
 * still delivered.
 */
static void clean_and_destroy(void)
{
	struct rig r1, r2;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	unsigned int i;

	rig_open(&r1, PLAIN, 64, NULL, IBV_ACCESS_LOCAL_WRITE);
	rig_open(&r2, PLAIN, 64, &r1, IBV_ACCESS_LOCAL_WRITE);
	for (i = 0; i < 6; i++) {
		struct rig *r = i & 1 ? &r2 : &r1;

		post_rx(r, i, i * RX, 1);
		send_acked(r, i * RX, 10 + i, (uint8_t)(i + 60),
			   IBV_WC_SUCCESS);
	}
	SVT_CHECK(!ibv_modify_qp(r1.b.qp, &a, IBV_QP_STATE));
	for (i = 1; i < 6; i += 2) {
		if (i == 5) {
			SVT_CHECK(!ibv_destroy_qp(r2.b.qp));
			r2.b.qp = NULL;
		}
		expect_wc(poll_rx(&r2), i, 10 + i);
		check_rx(&r2, i * RX, 10 + i, (uint8_t)(i + 60));
	}
	SVT_CHECK(ibv_poll_cq(r1.rcq, 1, &(struct ibv_wc){}) == 0);
}

enum bad { BAD_KEY, BAD_PAST_END, BAD_NO_WRITE };

/* The receive fails as it did without the scatter: LOC_PROT_ERR. */
static void bad_rx(const char *what, enum bad how)
{
	struct rig r;
	struct ibv_wc wc;

	rig_open(&r, PLAIN, 64, NULL,
		 how == BAD_NO_WRITE ? 0 : IBV_ACCESS_LOCAL_WRITE);
	post_rx_key(&r, 5, how == BAD_PAST_END ? BUF - 16 : 0, 1,
		    r.bmr->lkey + (how == BAD_KEY ? 0x100 : 0), 32);
	send_acked(&r, 0, 8, 3, IBV_WC_REM_OP_ERR);
	wc = poll_rx(&r);
	if (wc.status != IBV_WC_LOC_PROT_ERR || wc.wr_id != 5) {
		fprintf(stderr, "%s: status %s\n", what,
			ibv_wc_status_str(wc.status));
		exit(SVT_FAIL);
	}
	SVT_CHECK(untouched(r.bbuf, BUF));
}

int main(void)
{
	struct svt_daemon d;

	setenv("SOFTVERBS_DIRECT", "0", 1);
	if (svt_daemon_start(&d))
		return SVT_FAIL;
	sizes(PLAIN);
	sizes(SRQ);
	sizes(EXT);
	ext_batch();
	resize();
	reuse();
	clean_and_destroy();
	bad_rx("bad lkey", BAD_KEY);
	bad_rx("past the region", BAD_PAST_END);
	bad_rx("no LOCAL_WRITE", BAD_NO_WRITE);
	printf("test_dp_scatter: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
