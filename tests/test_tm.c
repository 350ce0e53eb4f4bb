// SPDX-License-Identifier: MIT
/*
 * Tag matching (TM-SRQ, docs/tag-matching.md) through libibverbs, on an
 * RC pair at MTU 1024: a sends, b's QP receives through a TM-SRQ whose CQ
 * is an extended CQ with IBV_WC_EX_WITH_TM_INFO.
 *
 *   caps       tm_caps advertises RC tag matching
 *   create     bad TM-SRQ attributes are EINVAL; TM is for RC QPs only
 *   eager      a 3000-byte EAGER message (3 packets) matches a masked tag:
 *              TM_RECV with TM_MATCH | TM_DATA_VALID, the tag, app_ctx, the
 *              tag's wr_id, and exactly the bytes after the TMH in the
 *              tagged buffer; of two matching tags the older one wins
 *   unexpected an unmatched EAGER lands whole (TMH included) in an ordinary
 *              SRQ buffer with no TM flags; a tag added before software
 *              syncs asks for a SYNC (TM_SYNC_REQ) and does not match until
 *              the SYNC, then it does
 *   no_tag     a NO_TAG message: IBV_WC_TM_NO_TAG in an ordinary buffer
 *   rndv       a RNDV header for 100000 bytes of a's memory: TM_MATCH, the
 *              data read into the tagged buffer (checksum), a FIN to a
 *              (after a's SEND completes), then TM_DATA_VALID; with b's
 *              own SEND waiting on RNR NAKs, the FIN follows that SEND;
 *              a 3 MiB rendezvous (read in 1 MiB steps) and a second one
 *              posted right behind it both arrive intact, FINs in order;
 *              a tagged buffer too short (LOC_LEN_ERR) or a bad rkey
 *              (REM_ACCESS_ERR) fails the data completion, no FIN goes
 *   del/sync   DEL completes, the deleted tag no longer matches, a second
 *              DEL of it is IBV_WC_TM_ERR
 *   bad ops    unknown opcode, too many SGEs, a handle out of range, ops
 *              on a basic SRQ: EINVAL with bad_wr set; a full list: ENOMEM
 */
#include <endian.h>
#include <infiniband/tm_types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "svtest.h"
#include "svt_pair.h"

#define BUF (256 * 1024)
#define RNDV_BYTES 100000
#define MSG 3000
#define TMH ((uint32_t)sizeof(struct ibv_tmh))
#define TAGS 8
#define RECVS 16

static struct svt_world w;
static struct svt_pair p;
static struct ibv_cq_ex *bcq;
static struct ibv_srq *srq;
static uint32_t unexp; /* unexpected messages handled, as software counts */

struct got {
	uint64_t wr_id, tag;
	uint32_t status, opcode, flags, len, priv;
};

static void got_read(struct ibv_cq_ex *cq, struct got *g)
{
	struct ibv_wc_tm_info ti = {};

	g->wr_id = cq->wr_id;
	g->status = cq->status;
	g->opcode = ibv_wc_read_opcode(cq);
	g->flags = ibv_wc_read_wc_flags(cq);
	g->len = ibv_wc_read_byte_len(cq);
	ibv_wc_read_tm_info(cq, &ti);
	g->tag = ti.tag;
	g->priv = ti.priv;
}

/* b's next completion (10 s at most). */
static void poll_b(struct got *g)
{
	struct ibv_poll_cq_attr pa = {};
	time_t t0 = time(NULL);
	int ret;

	while ((ret = ibv_start_poll(bcq, &pa)) == ENOENT)
		SVT_CHECK(time(NULL) - t0 < 10);
	SVT_CHECK(!ret);
	got_read(bcq, g);
	ibv_end_poll(bcq);
}

static void expect(const struct got *g, uint64_t wr_id, uint32_t opcode,
		   uint32_t flags, uint64_t tag)
{
	if (g->status == IBV_WC_SUCCESS && g->wr_id == wr_id &&
	    g->opcode == opcode && g->flags == flags && g->tag == tag)
		return;
	fprintf(stderr,
		"want wr_id %lu opcode %u flags %#x tag %#lx; got status %u "
		"wr_id %lu opcode %u flags %#x tag %#lx\n",
		(unsigned long)wr_id, opcode, flags, (unsigned long)tag,
		g->status, (unsigned long)g->wr_id, g->opcode, g->flags,
		(unsigned long)g->tag);
	exit(SVT_FAIL);
}

static int tm_op(enum ibv_ops_wr_opcode op, uint64_t wr_id, int flags,
		 struct ibv_ops_wr *wr)
{
	struct ibv_ops_wr *bad = NULL;
	int ret;

	wr->wr_id = wr_id;
	wr->opcode = op;
	wr->flags = flags;
	wr->tm.unexpected_cnt = unexp;
	ret = ibv_post_srq_ops(srq, wr, &bad);
	SVT_CHECK(!ret || bad == wr);
	return ret;
}

/* Tag a b-buffer region for tag/mask; returns the handle. */
static uint32_t add_tag(uint64_t tag, uint64_t mask, uint64_t off,
			uint32_t len, uint32_t want_flags)
{
	struct ibv_sge s = { (uintptr_t)p.b.buf + off, len, p.b.mr->lkey };
	struct ibv_ops_wr wr = { .tm.add = { .recv_wr_id = 1000 + tag,
					     .sg_list = &s, .num_sge = 1,
					     .tag = tag, .mask = mask } };
	struct got g;

	SVT_CHECK(!tm_op(IBV_WR_TAG_ADD, 50, IBV_OPS_SIGNALED, &wr));
	poll_b(&g);
	expect(&g, 50, IBV_WC_TM_ADD, want_flags, 0);
	return wr.tm.handle;
}

static void sync_tags(void)
{
	struct ibv_ops_wr wr = {};
	struct got g;

	SVT_CHECK(!tm_op(IBV_WR_TAG_SYNC, 27,
			 IBV_OPS_SIGNALED | IBV_OPS_TM_SYNC, &wr));
	poll_b(&g);
	expect(&g, 27, IBV_WC_TM_SYNC, 0, 0);
}

static void fill(uint8_t *b, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed);
}

/* a sends len bytes of its buffer, a TMH in front; waits for the SEND. */
static void send_tm(uint8_t op, uint64_t tag, uint32_t priv, uint32_t len)
{
	struct ibv_tmh *h = (void *)p.a.buf;
	struct ibv_sge s = { (uintptr_t)p.a.buf, len, p.a.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 9, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_wc wc;

	memset(h, 0, TMH);
	h->opcode = op;
	h->app_ctx = htobe32(priv);
	h->tag = htobe64(tag);
	SVT_CHECK(!ibv_post_send(p.a.qp, &wr, &bad));
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 10000) == 1);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_SEND);
}

/* An ordinary SRQ buffer (the test keeps RECVS of them posted). */
static void post_plain(uint64_t wr_id)
{
	struct ibv_sge s = { (uintptr_t)p.b.buf + 128 * 1024, 8192,
			     p.b.mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = &s,
				  .num_sge = 1 }, *bad;

	SVT_CHECK(!ibv_post_srq_recv(srq, &wr, &bad));
}

static void test_eager(void)
{
	struct got g;

	fill(p.a.buf, MSG, 1);
	add_tag(0x1100, 0xff00, 0, 8192, 0); /* older: wins */
	add_tag(0x1155, ~0ULL, 8192, 8192, 0);
	memset(p.b.buf, 0, 16384);
	send_tm(IBV_TMH_EAGER, 0x1155, 0xabcdef, MSG);
	poll_b(&g);
	expect(&g, 1000 + 0x1100, IBV_WC_TM_RECV,
	       IBV_WC_TM_MATCH | IBV_WC_TM_DATA_VALID, 0x1155);
	SVT_CHECK(g.len == MSG - TMH && g.priv == 0xabcdef);
	SVT_CHECK(!memcmp(p.b.buf, p.a.buf + TMH, MSG - TMH));
	/* The other tag is left, and takes the next one. */
	send_tm(IBV_TMH_EAGER, 0x1155, 1, MSG);
	poll_b(&g);
	expect(&g, 1000 + 0x1155, IBV_WC_TM_RECV,
	       IBV_WC_TM_MATCH | IBV_WC_TM_DATA_VALID, 0x1155);
	SVT_CHECK(!memcmp(p.b.buf + 8192, p.a.buf + TMH, MSG - TMH));
}

static void test_eager_again(void)
{
	struct got g;

	fill(p.a.buf, MSG, 21);
	add_tag(0x1234, ~0ULL, 0, 8192, 0);
	send_tm(IBV_TMH_EAGER, 0x1234, 2, MSG);
	poll_b(&g);
	expect(&g, 1000 + 0x1234, IBV_WC_TM_RECV,
	       IBV_WC_TM_MATCH | IBV_WC_TM_DATA_VALID, 0x1234);
	SVT_CHECK(!memcmp(p.b.buf, p.a.buf + TMH, MSG - TMH));
}

/* An unexpected message: whole, in a plain buffer, no TM flags. */
static void expect_unexpected(uint8_t op, uint64_t tag)
{
	struct got g;

	fill(p.a.buf, MSG, 7);
	send_tm(op, tag, 0, MSG);
	poll_b(&g);
	expect(&g, 7, op == IBV_TMH_NO_TAG ? IBV_WC_TM_NO_TAG : IBV_WC_TM_RECV,
	       0, 0);
	SVT_CHECK(g.len == MSG);
	SVT_CHECK(!memcmp(p.b.buf + 128 * 1024, p.a.buf, MSG));
	post_plain(7);
	if (op != IBV_TMH_NO_TAG)
		unexp++;
}

static void test_unexpected(void)
{
	struct got g;

	expect_unexpected(IBV_TMH_EAGER, 0x4242);
	/* Out of phase: the tag waits for a SYNC and says so. */
	add_tag(0x77, ~0ULL, 0, 8192, IBV_WC_TM_SYNC_REQ);
	expect_unexpected(IBV_TMH_EAGER, 0x77);
	sync_tags();
	fill(p.a.buf, MSG, 3);
	send_tm(IBV_TMH_EAGER, 0x77, 5, MSG);
	poll_b(&g);
	expect(&g, 1000 + 0x77, IBV_WC_TM_RECV,
	       IBV_WC_TM_MATCH | IBV_WC_TM_DATA_VALID, 0x77);
	SVT_CHECK(!memcmp(p.b.buf, p.a.buf + TMH, MSG - TMH));
	add_tag(0x78, ~0ULL, 0, 8192, 0); /* a NO_TAG message ignores it */
	expect_unexpected(IBV_TMH_NO_TAG, 0x78);
}

/* The RNDV header for RNDV_BYTES of a's memory, tag on its TMH. */
static void send_rndv(uint64_t tag, uint8_t *data)
{
	struct ibv_rvh *r = (void *)(p.a.buf + TMH);

	r->va = htobe64((uintptr_t)data);
	r->rkey = htobe32(p.a.mr->rkey);
	r->len = htobe32(RNDV_BYTES);
	send_tm(IBV_TMH_RNDV, tag, 0x66, 48);
}

static void expect_fin(const struct ibv_wc *wc, uint64_t wr_id,
		       const void *buf, uint64_t tag)
{
	struct ibv_tmh fin;

	SVT_CHECK(wc->status == IBV_WC_SUCCESS && wc->opcode == IBV_WC_RECV &&
		  wc->wr_id == wr_id && wc->byte_len == TMH);
	memcpy(&fin, buf, TMH);
	SVT_CHECK(fin.opcode == IBV_TMH_FIN && be64toh(fin.tag) == tag);
}

static void test_rndv(void)
{
	uint8_t *data = p.a.buf + 64 * 1024;
	struct ibv_sge s = { (uintptr_t)p.a.buf + 200 * 1024, 64,
			     p.a.mr->lkey };
	struct ibv_recv_wr rwr = { .wr_id = 77, .sg_list = &s, .num_sge = 1 },
			   *bad;
	struct ibv_wc wc;
	struct got g;

	fill(data, RNDV_BYTES, 9);
	memset(p.b.buf, 0, 8192 + RNDV_BYTES);
	SVT_CHECK(!ibv_post_recv(p.a.qp, &rwr, &bad)); /* for the FIN */
	add_tag(0x500, ~0ULL, 8192, RNDV_BYTES, 0);
	send_rndv(0x500, data);
	poll_b(&g);
	expect(&g, 1000 + 0x500, IBV_WC_TM_RECV, IBV_WC_TM_MATCH, 0x500);
	SVT_CHECK(g.priv == 0x66);
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 10000) == 1);
	expect_fin(&wc, 77, p.a.buf + 200 * 1024, 0x500);
	poll_b(&g);
	expect(&g, 1000 + 0x500, IBV_WC_TM_RECV, IBV_WC_TM_DATA_VALID, 0);
	SVT_CHECK(g.len == RNDV_BYTES);
	SVT_CHECK(!memcmp(p.b.buf + 8192, data, RNDV_BYTES));
}

/*
 * b's own SEND waits on RNR NAKs (a has no receive): the FIN of a
 * rendezvous b matches meanwhile waits behind it, and follows it once a
 * posts receives.
 */
static void test_rndv_busy(void)
{
	uint8_t *data = p.a.buf + 64 * 1024, *rb = p.a.buf + 200 * 1024;
	struct ibv_sge bs = { (uintptr_t)p.b.buf + 120 * 1024, 100,
			      p.b.mr->lkey };
	struct ibv_send_wr bw = { .wr_id = 31, .sg_list = &bs, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_sge rs[2] = { { (uintptr_t)rb, 128, p.a.mr->lkey },
				 { (uintptr_t)rb + 1024, 64, p.a.mr->lkey } };
	struct ibv_recv_wr rw[2] = {
		{ .wr_id = 41, .next = &rw[1], .sg_list = &rs[0], .num_sge = 1 },
		{ .wr_id = 42, .sg_list = &rs[1], .num_sge = 1 },
	}, *rbad;
	struct ibv_wc wc;
	struct got g;

	memset(p.b.buf + 120 * 1024, 0x5a, 100);
	SVT_CHECK(!ibv_post_send(p.b.qp, &bw, &bad));
	usleep(200000); /* b's SEND is in its RNR wait */
	fill(data, RNDV_BYTES, 11);
	add_tag(0x600, ~0ULL, 8192, RNDV_BYTES, 0);
	send_rndv(0x600, data);
	poll_b(&g);
	expect(&g, 1000 + 0x600, IBV_WC_TM_RECV, IBV_WC_TM_MATCH, 0x600);
	poll_b(&g);
	expect(&g, 1000 + 0x600, IBV_WC_TM_RECV, IBV_WC_TM_DATA_VALID, 0);
	SVT_CHECK(!memcmp(p.b.buf + 8192, data, RNDV_BYTES));
	SVT_CHECK(!ibv_post_recv(p.a.qp, rw, &rbad));
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 10000) == 1);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == 41 &&
		  wc.byte_len == 100 && rb[0] == 0x5a && rb[99] == 0x5a);
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 10000) == 1);
	expect_fin(&wc, 42, rb + 1024, 0x600);
	poll_b(&g);
	expect(&g, 31, IBV_WC_SEND, 0, 0);
}

#define BIG (3 * 1024 * 1024 + 123) /* four ENG_CHUNK steps */

static void rndv_hdr(uint8_t *h, uint64_t tag, const void *data,
		     uint32_t rkey, uint32_t len)
{
	struct ibv_tmh t = { .opcode = IBV_TMH_RNDV, .tag = htobe64(tag) };
	struct ibv_rvh r = { .va = htobe64((uintptr_t)data),
			     .rkey = htobe32(rkey), .len = htobe32(len) };

	memcpy(h, &t, TMH);
	memcpy(h + TMH, &r, sizeof(r));
}

/*
 * A rendezvous of several chunks, and a second one posted right behind
 * it (which waits, by RNR NAKs, if it arrives while the first is read).
 */
static void test_rndv_big(void)
{
	uint8_t *src = malloc(2 * (size_t)BIG), *dst = calloc(2, BIG);
	struct ibv_mr *smr, *dmr;
	struct ibv_sge s[2], rs[2];
	struct ibv_send_wr wr[2], *bad;
	struct ibv_recv_wr rw[2], *rbad;
	int i, sends = 0, fins = 0;
	struct ibv_wc wc;
	struct got g;

	SVT_CHECK(src && dst);
	smr = ibv_reg_mr(w.pd, src, 2 * (size_t)BIG, SVT_ACC_ALL);
	dmr = ibv_reg_mr(w.pd, dst, 2 * (size_t)BIG, SVT_ACC_ALL);
	SVT_CHECK(smr && dmr);
	fill(src, 2 * (size_t)BIG, 13);
	for (i = 0; i < 2; i++) {
		struct ibv_sge ts = { (uintptr_t)dst + (size_t)i * BIG, BIG,
				      dmr->lkey };
		struct ibv_ops_wr ow = { .tm.add = { .recv_wr_id = 700 + i,
						     .sg_list = &ts,
						     .num_sge = 1,
						     .tag = 0x700 + i,
						     .mask = ~0ULL } };

		SVT_CHECK(!tm_op(IBV_WR_TAG_ADD, 51, IBV_OPS_SIGNALED, &ow));
		poll_b(&g);
		expect(&g, 51, IBV_WC_TM_ADD, 0, 0);
		rndv_hdr(p.a.buf + 64 * i, 0x700 + i,
			 src + (size_t)i * BIG, smr->rkey, i ? 1000 : BIG);
		s[i] = (struct ibv_sge){ (uintptr_t)p.a.buf + 64 * i, 48,
					 p.a.mr->lkey };
		wr[i] = (struct ibv_send_wr){ .wr_id = 80 + i, .sg_list = &s[i],
					      .num_sge = 1,
					      .opcode = IBV_WR_SEND,
					      .send_flags = IBV_SEND_SIGNALED,
					      .next = i ? NULL : &wr[1] };
		rs[i] = (struct ibv_sge){ (uintptr_t)p.a.buf + 210 * 1024 +
						  64 * i, 64, p.a.mr->lkey };
		rw[i] = (struct ibv_recv_wr){ .wr_id = 90 + i, .sg_list = &rs[i],
					      .num_sge = 1,
					      .next = i ? NULL : &rw[1] };
	}
	SVT_CHECK(!ibv_post_recv(p.a.qp, rw, &rbad));
	SVT_CHECK(!ibv_post_send(p.a.qp, wr, &bad));
	for (i = 0; i < 2; i++) {
		poll_b(&g);
		expect(&g, 700 + i, IBV_WC_TM_RECV, IBV_WC_TM_MATCH, 0x700 + i);
		poll_b(&g);
		expect(&g, 700 + i, IBV_WC_TM_RECV, IBV_WC_TM_DATA_VALID, 0);
		SVT_CHECK(g.len == (i ? 1000u : (uint32_t)BIG));
	}
	SVT_CHECK(!memcmp(dst, src, BIG));
	SVT_CHECK(!memcmp(dst + BIG, src + BIG, 1000));
	for (i = 0; i < 4; i++) {
		SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 10000) == 1);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
		if (wc.opcode == IBV_WC_SEND) {
			SVT_CHECK(wc.wr_id == (uint64_t)(80 + sends++));
			continue;
		}
		expect_fin(&wc, 90 + fins, (void *)(uintptr_t)rs[fins].addr,
			   0x700 + fins);
		fins++;
	}
	SVT_CHECK(sends == 2 && fins == 2);
	SVT_CHECK(!ibv_dereg_mr(smr) && !ibv_dereg_mr(dmr));
	free(src);
	free(dst);
}

/* A rendezvous that cannot be read: the data completion says why. */
static void rndv_fails(uint64_t tag, uint32_t buf_len, uint32_t rkey,
		       uint32_t want)
{
	struct got g;

	add_tag(tag, ~0ULL, 8192, buf_len, 0);
	rndv_hdr(p.a.buf, tag, p.a.buf + 64 * 1024, rkey, 1000);
	send_tm(IBV_TMH_RNDV, tag, 0, 48);
	poll_b(&g);
	expect(&g, 1000 + tag, IBV_WC_TM_RECV, IBV_WC_TM_MATCH, tag);
	poll_b(&g);
	SVT_CHECK(g.wr_id == 1000 + tag && g.status == want && !g.flags);
}

static void test_rndv_errors(void)
{
	struct ibv_sge s = { (uintptr_t)p.a.buf + 220 * 1024, 64,
			     p.a.mr->lkey };
	struct ibv_recv_wr rw = { .wr_id = 99, .sg_list = &s, .num_sge = 1 },
			   *bad;
	struct ibv_wc wc;

	/* A FIN would land here (and trip send_tm's SEND check). */
	SVT_CHECK(!ibv_post_recv(p.a.qp, &rw, &bad));
	rndv_fails(0x800, 999, p.a.mr->rkey, IBV_WC_LOC_LEN_ERR);
	rndv_fails(0x801, 8192, p.a.mr->rkey ^ 0x5a00, IBV_WC_REM_ACCESS_ERR);
	/* No FIN went, and the QPs still move data. */
	test_eager_again();
	SVT_CHECK(svt_wait_wc(p.a.cq, &wc, 100) == 0);
}

static void test_del(void)
{
	struct ibv_ops_wr wr = {};
	uint32_t h = add_tag(0x99, ~0ULL, 0, 8192, 0);
	struct got g;

	wr.tm.handle = h;
	SVT_CHECK(!tm_op(IBV_WR_TAG_DEL, 60, IBV_OPS_SIGNALED, &wr));
	poll_b(&g);
	expect(&g, 60, IBV_WC_TM_DEL, 0, 0);
	expect_unexpected(IBV_TMH_EAGER, 0x99);
	sync_tags();
	/* Gone already: the second DEL fails in its completion. */
	SVT_CHECK(!tm_op(IBV_WR_TAG_DEL, 61, 0, &wr));
	poll_b(&g);
	SVT_CHECK(g.wr_id == 61 && g.status == IBV_WC_TM_ERR);
}

static void test_bad_ops(uint32_t max_sge)
{
	struct ibv_sge s[64] = {};
	struct ibv_srq_init_attr ia = { .attr = { .max_wr = 4, .max_sge = 1 } };
	struct ibv_srq *basic;
	struct ibv_ops_wr wr = {}, *bad = NULL;
	int i;

	SVT_CHECK(tm_op((enum ibv_ops_wr_opcode)7, 1, 0, &wr) == EINVAL);
	wr.tm.add.sg_list = s;
	wr.tm.add.num_sge = (int)max_sge + 1;
	SVT_CHECK(tm_op(IBV_WR_TAG_ADD, 1, 0, &wr) == EINVAL);
	wr.tm.handle = 100000;
	SVT_CHECK(tm_op(IBV_WR_TAG_DEL, 1, 0, &wr) == EINVAL);
	basic = ibv_create_srq(w.pd, &ia);
	SVT_CHECK(basic);
	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_TAG_SYNC;
	SVT_CHECK(ibv_post_srq_ops(basic, &wr, &bad) == EINVAL && bad == &wr);
	SVT_CHECK(!ibv_destroy_srq(basic));
	/* The list holds TAGS, 0x78 among them: one more is ENOMEM. */
	memset(&wr, 0, sizeof(wr));
	wr.tm.add.tag = 0xdead;
	for (i = 0; i < TAGS - 1; i++)
		SVT_CHECK(!tm_op(IBV_WR_TAG_ADD, 1, 0, &wr));
	SVT_CHECK(tm_op(IBV_WR_TAG_ADD, 1, 0, &wr) == ENOMEM);
}

static struct ibv_srq *make_srq(uint32_t tags, uint32_t ops, bool cq)
{
	struct ibv_srq_init_attr_ex a = {
		.attr = { .max_wr = 64, .max_sge = 1 },
		.comp_mask = IBV_SRQ_INIT_ATTR_TYPE | IBV_SRQ_INIT_ATTR_PD |
			     IBV_SRQ_INIT_ATTR_TM |
			     (cq ? IBV_SRQ_INIT_ATTR_CQ : 0),
		.srq_type = IBV_SRQT_TM, .pd = w.pd,
		.cq = ibv_cq_ex_to_cq(bcq),
		.tm_cap = { .max_num_tags = tags, .max_ops = ops },
	};

	return ibv_create_srq_ex(w.ctx, &a);
}

static void test_create(const struct ibv_tm_caps *caps)
{
	struct ibv_qp_init_attr qa = { .send_cq = p.a.cq, .recv_cq = p.a.cq,
				       .qp_type = IBV_QPT_UC,
				       .cap = { .max_send_wr = 1,
						.max_send_sge = 1 } };

	SVT_CHECK(!make_srq(caps->max_num_tags + 1, 1, true) &&
		  errno == EINVAL);
	SVT_CHECK(!make_srq(0, 1, true) && errno == EINVAL);
	SVT_CHECK(!make_srq(TAGS, 0, true) && errno == EINVAL);
	SVT_CHECK(!make_srq(TAGS, 1, false) && errno == EINVAL);
	srq = make_srq(TAGS, 16, true);
	SVT_CHECK(srq);
	qa.srq = srq;
	SVT_CHECK(!ibv_create_qp(w.pd, &qa) && errno == EINVAL);
}

static void make_cq(void)
{
	struct ibv_cq_init_attr_ex ca = {
		.cqe = 256,
		.wc_flags = IBV_WC_STANDARD_FLAGS | IBV_WC_EX_WITH_TM_INFO,
	};

	bcq = ibv_create_cq_ex(w.ctx, &ca);
	SVT_CHECK(bcq);
}

static void make_b(void)
{
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = 4,
						.max_send_sge = 1 } };
	int i;

	qa.send_cq = qa.recv_cq = ibv_cq_ex_to_cq(bcq);
	qa.srq = srq;
	p.b.qp = ibv_create_qp(w.pd, &qa);
	SVT_CHECK(p.b.qp);
	for (i = 0; i < RECVS; i++)
		post_plain(7);
}

int main(void)
{
	struct ibv_device_attr_ex da;
	struct svt_daemon d;
	struct ibv_context *ctx = svt_start(&d);

	svt_world_open(&w, ctx);
	SVT_CHECK(!ibv_query_device_ex(ctx, NULL, &da));
	SVT_CHECK((da.tm_caps.flags & IBV_TM_CAP_RC) &&
		  da.tm_caps.max_num_tags >= TAGS &&
		  da.tm_caps.max_rndv_hdr_size >= 32);
	memset(&p, 0, sizeof(p));
	p.type = IBV_QPT_RC;
	p.mtu = IBV_MTU_1024;
	p.timeout = 14;
	p.retry_cnt = 3;
	p.rnr_retry = 7;
	svt_side_mem(&w, &p.a, BUF);
	svt_side_mem(&w, &p.b, BUF);
	p.a.qp = svt_qp_make(&w, &p.a, IBV_QPT_RC);
	SVT_CHECK(p.a.qp);
	make_cq();
	test_create(&da.tm_caps);
	make_b();
	svt_pair_connect(&w, &p);
	test_eager();
	test_unexpected();
	test_rndv();
	test_rndv_busy();
	test_rndv_big();
	test_rndv_errors();
	test_del();
	test_bad_ops(da.tm_caps.max_sge);
	SVT_CHECK(!ibv_destroy_qp(p.a.qp) && !ibv_destroy_qp(p.b.qp));
	SVT_CHECK(!ibv_destroy_srq(srq));
	SVT_CHECK(!ibv_destroy_cq(ibv_cq_ex_to_cq(bcq)));
	p.a.qp = p.b.qp = NULL;
	svt_pair_free(&p);
	ibv_dealloc_pd(w.pd);
	ibv_close_xrcd(w.xrcd);
	ibv_close_device(ctx);
	svt_daemon_stop(&d);
	printf("test_tm: PASS\n");
	return SVT_PASS;
}
