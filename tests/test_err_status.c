// SPDX-License-Identifier: MIT
/*
 * Every error status of issue 10, each on a fresh RC pair (a requester, b
 * responder), through libibverbs:
 *
 *   requester-local:  LOC_PROT_ERR (bad lkey), LOC_LEN_ERR (atomic with a
 *                     4-byte SGE; UD SEND larger than the MTU),
 *                     LOC_QP_OP_ERR (LOCAL_INV of a key that is no MW),
 *                     MW_BIND_ERR (window outside its MR)
 *   remote:           REM_ACCESS_ERR (bad rkey, MR without the access
 *                     right for WRITE / READ / atomic, out of bounds, a
 *                     type-2 MW invalidated with LOCAL_INV),
 *                     REM_INV_REQ_ERR (misaligned atomic; SEND larger
 *                     than the receive buffer, where b completes its
 *                     receive with LOC_LEN_ERR), REM_OP_ERR (receive WQE
 *                     with a bad lkey, b: LOC_PROT_ERR)
 *   transport:        RNR_RETRY_EXC_ERR (rnr_retry 0, no receive),
 *                     RETRY_EXC_ERR (the peer QP destroyed)
 *
 * For each: the failing WR completes with that status on a; the WR
 * posted behind it and a's posted receive complete with WR_FLUSH_ERR; a
 * is in ERROR; b gets exactly the completion named above (or none) and,
 * when the fault was a's alone, stays in RTS untouched; and a third pair
 * on the same device, PD and memory keeps moving data (checksummed) in
 * RTS. A case that fails prints "FAIL <case>: <why>"; the rest still run.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_pair.h"

#define LEN 65536
#define NONE (-1)
#define WAIT_MS 10000

struct ecase {
	const char *name;
	void (*post)(struct svt_pair *p, struct ibv_send_wr *wr,
		     struct ibv_sge *s);
	int a_status; /* wr_id 1 on a */
	int b_status; /* b's first completion, NONE: b sees nothing */
	bool a_only; /* a's fault: b stays in RTS */
	uint8_t rnr_retry;
};

static struct svt_world w;
static struct svt_pair bystander;
static struct ibv_mr *ro_mr, *wo_mr, *noatomic_mr; /* on b's side */
static uint8_t *extra; /* their memory */
static int failures;

static bool fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
	return false;
}

static void rdma(struct ibv_send_wr *wr, enum ibv_wr_opcode op,
		 uint64_t addr, uint32_t rkey)
{
	wr->opcode = op;
	wr->wr.rdma.remote_addr = addr;
	wr->wr.rdma.rkey = rkey;
}

static void atomic(struct ibv_send_wr *wr, uint64_t addr, uint32_t rkey)
{
	wr->opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
	wr->wr.atomic.remote_addr = addr;
	wr->wr.atomic.rkey = rkey;
	wr->wr.atomic.compare_add = 1;
}

/* ------------------------------------------------------------------ */
/* The faulty work requests (s: one 64-byte SGE on a's MR)             */
/* ------------------------------------------------------------------ */

static void bad_lkey(struct svt_pair *p, struct ibv_send_wr *wr,
		     struct ibv_sge *s)
{
	s->lkey ^= 0x5a5a00;
	rdma(wr, IBV_WR_RDMA_WRITE, (uintptr_t)p->b.buf, p->b.mr->rkey);
}

static void atomic_short(struct svt_pair *p, struct ibv_send_wr *wr,
			 struct ibv_sge *s)
{
	s->length = 4;
	atomic(wr, (uintptr_t)p->b.buf, p->b.mr->rkey);
}

static void inv_unknown(struct svt_pair *p, struct ibv_send_wr *wr,
			struct ibv_sge *s)
{
	(void)p;
	(void)s;
	wr->opcode = IBV_WR_LOCAL_INV;
	wr->num_sge = 0;
	wr->invalidate_rkey = 0x00abcd12;
}

static void bind_outside(struct svt_pair *p, struct ibv_send_wr *wr,
			 struct ibv_sge *s)
{
	struct ibv_mw *mw = ibv_alloc_mw(w.pd, IBV_MW_TYPE_2);

	(void)s;
	SVT_CHECK(mw);
	wr->opcode = IBV_WR_BIND_MW;
	wr->num_sge = 0;
	wr->bind_mw.mw = mw;
	wr->bind_mw.rkey = ibv_inc_rkey(mw->rkey);
	wr->bind_mw.bind_info = (struct ibv_mw_bind_info){
		.mr = p->a.mr, .addr = (uintptr_t)p->a.buf + LEN - 4096,
		.length = 8192, .mw_access_flags = IBV_ACCESS_REMOTE_WRITE,
	};
}

static void bad_rkey(struct svt_pair *p, struct ibv_send_wr *wr,
		     struct ibv_sge *s)
{
	(void)s;
	rdma(wr, IBV_WR_RDMA_WRITE, (uintptr_t)p->b.buf, p->b.mr->rkey ^ 0x55);
}

static void write_ro(struct svt_pair *p, struct ibv_send_wr *wr,
		     struct ibv_sge *s)
{
	(void)p;
	(void)s;
	rdma(wr, IBV_WR_RDMA_WRITE, (uintptr_t)extra, ro_mr->rkey);
}

static void read_wo(struct svt_pair *p, struct ibv_send_wr *wr,
		    struct ibv_sge *s)
{
	(void)p;
	(void)s;
	rdma(wr, IBV_WR_RDMA_READ, (uintptr_t)extra + LEN, wo_mr->rkey);
}

static void atomic_noright(struct svt_pair *p, struct ibv_send_wr *wr,
			   struct ibv_sge *s)
{
	(void)p;
	s->length = 8;
	atomic(wr, (uintptr_t)extra + 2 * LEN, noatomic_mr->rkey);
}

static void out_of_bounds(struct svt_pair *p, struct ibv_send_wr *wr,
			  struct ibv_sge *s)
{
	(void)s;
	rdma(wr, IBV_WR_RDMA_WRITE, (uintptr_t)p->b.buf + LEN - 32,
	     p->b.mr->rkey);
}

/* b binds a type-2 window, invalidates it; a WRITEs through it. */
static void mw_invalidated(struct svt_pair *p, struct ibv_send_wr *wr,
			   struct ibv_sge *s)
{
	struct ibv_mw *mw = ibv_alloc_mw(w.pd, IBV_MW_TYPE_2);
	struct ibv_send_wr b = { .wr_id = 77, .opcode = IBV_WR_BIND_MW,
				 .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;
	uint32_t rkey;

	(void)s;
	SVT_CHECK(mw);
	rkey = ibv_inc_rkey(mw->rkey);
	b.bind_mw.mw = mw;
	b.bind_mw.rkey = rkey;
	b.bind_mw.bind_info = (struct ibv_mw_bind_info){
		.mr = p->b.mr, .addr = (uintptr_t)p->b.buf, .length = 4096,
		.mw_access_flags = IBV_ACCESS_REMOTE_WRITE,
	};
	SVT_CHECK(!ibv_post_send(p->b.qp, &b, &bad));
	SVT_CHECK(svt_wait_wc(p->b.cq, &wc, WAIT_MS) == 1 &&
		  wc.status == IBV_WC_SUCCESS);
	memset(&b, 0, sizeof(b));
	b.wr_id = 78;
	b.opcode = IBV_WR_LOCAL_INV;
	b.send_flags = IBV_SEND_SIGNALED;
	b.invalidate_rkey = rkey;
	SVT_CHECK(!ibv_post_send(p->b.qp, &b, &bad));
	SVT_CHECK(svt_wait_wc(p->b.cq, &wc, WAIT_MS) == 1 &&
		  wc.status == IBV_WC_SUCCESS);
	rdma(wr, IBV_WR_RDMA_WRITE, (uintptr_t)p->b.buf, rkey);
}

static void atomic_misaligned(struct svt_pair *p, struct ibv_send_wr *wr,
			      struct ibv_sge *s)
{
	s->length = 8;
	atomic(wr, (uintptr_t)p->b.buf + 4, p->b.mr->rkey);
}

static void b_recv(struct svt_pair *p, uint32_t len, uint32_t lkey)
{
	struct ibv_sge s = { (uintptr_t)p->b.buf, len, lkey };
	struct ibv_recv_wr r = { .wr_id = 200, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(p->b.qp, &r, &bad));
}

static void send_too_long(struct svt_pair *p, struct ibv_send_wr *wr,
			  struct ibv_sge *s)
{
	(void)s;
	b_recv(p, 16, p->b.mr->lkey);
	wr->opcode = IBV_WR_SEND;
}

static void recv_bad_lkey(struct svt_pair *p, struct ibv_send_wr *wr,
			  struct ibv_sge *s)
{
	(void)s;
	b_recv(p, 4096, p->b.mr->lkey ^ 0x5a5a00);
	wr->opcode = IBV_WR_SEND;
}

static void no_recv(struct svt_pair *p, struct ibv_send_wr *wr,
		    struct ibv_sge *s)
{
	(void)p;
	(void)s;
	wr->opcode = IBV_WR_SEND;
}

static void peer_gone(struct svt_pair *p, struct ibv_send_wr *wr,
		      struct ibv_sge *s)
{
	(void)s;
	SVT_CHECK(!ibv_destroy_qp(p->b.qp));
	p->b.qp = NULL;
	rdma(wr, IBV_WR_RDMA_WRITE, (uintptr_t)p->b.buf, p->b.mr->rkey);
}

static const struct ecase cases[] = {
	{ "LOC_PROT_ERR: bad lkey", bad_lkey, IBV_WC_LOC_PROT_ERR, NONE, true, 7 },
	{ "LOC_LEN_ERR: atomic with a 4-byte SGE", atomic_short,
	  IBV_WC_LOC_LEN_ERR, NONE, true, 7 },
	{ "LOC_QP_OP_ERR: LOCAL_INV of no MW", inv_unknown,
	  IBV_WC_LOC_QP_OP_ERR, NONE, true, 7 },
	{ "MW_BIND_ERR: window past its MR", bind_outside, IBV_WC_MW_BIND_ERR,
	  NONE, true, 7 },
	{ "REM_ACCESS_ERR: bad rkey", bad_rkey, IBV_WC_REM_ACCESS_ERR, NONE,
	  false, 7 },
	{ "REM_ACCESS_ERR: WRITE to a read-only MR", write_ro,
	  IBV_WC_REM_ACCESS_ERR, NONE, false, 7 },
	{ "REM_ACCESS_ERR: READ of a write-only MR", read_wo,
	  IBV_WC_REM_ACCESS_ERR, NONE, false, 7 },
	{ "REM_ACCESS_ERR: atomic without REMOTE_ATOMIC", atomic_noright,
	  IBV_WC_REM_ACCESS_ERR, NONE, false, 7 },
	{ "REM_ACCESS_ERR: WRITE past the MR's end", out_of_bounds,
	  IBV_WC_REM_ACCESS_ERR, NONE, false, 7 },
	{ "REM_ACCESS_ERR: WRITE through an invalidated MW", mw_invalidated,
	  IBV_WC_REM_ACCESS_ERR, NONE, false, 7 },
	{ "REM_INV_REQ_ERR: misaligned atomic", atomic_misaligned,
	  IBV_WC_REM_INV_REQ_ERR, NONE, false, 7 },
	{ "REM_INV_REQ_ERR: SEND larger than the receive buffer",
	  send_too_long, IBV_WC_REM_INV_REQ_ERR, IBV_WC_LOC_LEN_ERR, false, 7 },
	{ "REM_OP_ERR: receive WQE with a bad lkey", recv_bad_lkey,
	  IBV_WC_REM_OP_ERR, IBV_WC_LOC_PROT_ERR, false, 7 },
	{ "RNR_RETRY_EXC_ERR: no receive, rnr_retry 0", no_recv,
	  IBV_WC_RNR_RETRY_EXC_ERR, NONE, true, 0 },
	{ "RETRY_EXC_ERR: peer QP destroyed", peer_gone, IBV_WC_RETRY_EXC_ERR,
	  NONE, false, 7 },
};

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

/* Completions on a: wr 1 (status), wr 2 and receive 100 flushed. */
static bool check_a(const struct ecase *c, struct svt_pair *p)
{
	bool seen1 = false, seen2 = false, seen_r = false;
	struct ibv_wc wc;
	int i;

	for (i = 0; i < 3; i++) {
		if (svt_wait_wc(p->a.cq, &wc, WAIT_MS) != 1)
			return fail(c->name, "a: %d of 3 completions", i);
		if (wc.wr_id == 1 && !seen1 && !seen2) {
			seen1 = true;
			if ((int)wc.status != c->a_status)
				return fail(c->name, "a: wr 1 %s",
					    ibv_wc_status_str(wc.status));
		} else if (wc.wr_id == 2 && seen1 &&
			   wc.status == IBV_WC_WR_FLUSH_ERR) {
			seen2 = true;
		} else if (wc.wr_id == 100 &&
			   wc.status == IBV_WC_WR_FLUSH_ERR) {
			seen_r = true;
		} else {
			return fail(c->name, "a: wr %llu %s",
				    (unsigned long long)wc.wr_id,
				    ibv_wc_status_str(wc.status));
		}
	}
	if (svt_qp_state(p->a.qp) != IBV_QPS_ERR)
		return fail(c->name, "a is not in ERROR");
	return seen1 && seen2 && seen_r;
}

static bool check_b(const struct ecase *c, struct svt_pair *p)
{
	struct ibv_wc wc;
	int n = svt_wait_wc(p->b.cq, &wc, c->b_status == NONE ? 50 : WAIT_MS);

	if (c->b_status == NONE && n)
		return fail(c->name, "b: unexpected completion %s (wr %llu)",
			    ibv_wc_status_str(wc.status),
			    (unsigned long long)wc.wr_id);
	if (c->b_status != NONE &&
	    (n != 1 || (int)wc.status != c->b_status || wc.wr_id != 200))
		return fail(c->name, "b: %s, want %s",
			    n == 1 ? ibv_wc_status_str(wc.status) : "nothing",
			    ibv_wc_status_str(c->b_status));
	if (p->b.qp && c->a_only && svt_qp_state(p->b.qp) != IBV_QPS_RTS)
		return fail(c->name, "b left RTS for a's fault");
	if (p->b.qp)
		printf("  b (responder) afterwards: %s\n",
		       svt_qp_state(p->b.qp) == IBV_QPS_ERR ? "ERROR" : "RTS");
	return true;
}

/* The third pair still moves data: a WRITE and a SEND, checksummed. */
static bool bystander_ok(const char *name)
{
	struct svt_pair *p = &bystander;
	struct ibv_sge s = { (uintptr_t)p->a.buf, 4096, p->a.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 5, .sg_list = &s, .num_sge = 1,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;

	memset(p->a.buf, (int)(random() & 0xff), 4096);
	memset(p->b.buf, 0, 4096);
	rdma(&wr, IBV_WR_RDMA_WRITE, (uintptr_t)p->b.buf, p->b.mr->rkey);
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
	if (svt_wait_wc(p->a.cq, &wc, WAIT_MS) != 1 ||
	    wc.status != IBV_WC_SUCCESS ||
	    svt_sum(p->a.buf, 4096) != svt_sum(p->b.buf, 4096))
		return fail(name, "the bystander pair's WRITE failed");
	b_recv(p, 4096, p->b.mr->lkey);
	memset(p->b.buf, 0, 4096);
	wr.opcode = IBV_WR_SEND;
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
	if (svt_wait_wc(p->a.cq, &wc, WAIT_MS) != 1 ||
	    wc.status != IBV_WC_SUCCESS ||
	    svt_wait_wc(p->b.cq, &wc, WAIT_MS) != 1 ||
	    wc.status != IBV_WC_SUCCESS ||
	    svt_sum(p->a.buf, 4096) != svt_sum(p->b.buf, 4096))
		return fail(name, "the bystander pair's SEND failed");
	if (svt_qp_state(p->a.qp) != IBV_QPS_RTS ||
	    svt_qp_state(p->b.qp) != IBV_QPS_RTS)
		return fail(name, "the bystander pair left RTS");
	return true;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void run(const struct ecase *c)
{
	struct svt_pair p;
	struct ibv_sge s;
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &s, .num_sge = 1,
				  .send_flags = IBV_SEND_SIGNALED },
			   ok, *bad;
	struct ibv_recv_wr r = { .wr_id = 100 }, *rbad;
	double t0;

	svt_pair_alloc(&w, &p, IBV_QPT_RC, IBV_MTU_1024, LEN);
	p.rnr_retry = c->rnr_retry;
	svt_pair_qps(&w, &p);
	SVT_CHECK(!ibv_post_recv(p.a.qp, &r, &rbad));
	s = (struct ibv_sge){ (uintptr_t)p.a.buf, 64, p.a.mr->lkey };
	ok = wr;
	c->post(&p, &wr, &s);
	t0 = now_ms();
	SVT_CHECK(!ibv_post_send(p.a.qp, &wr, &bad));
	ok.wr_id = 2;
	s = (struct ibv_sge){ (uintptr_t)p.a.buf, 64, p.a.mr->lkey };
	rdma(&ok, IBV_WR_RDMA_WRITE, (uintptr_t)p.b.buf, p.b.mr->rkey);
	SVT_CHECK(!ibv_post_send(p.a.qp, &ok, &bad));
	if (!check_a(c, &p))
		goto out;
	t0 = now_ms() - t0;
	if (check_b(c, &p) && bystander_ok(c->name))
		printf("ok   %s (a's error after %.1f ms)\n", c->name, t0);
out:
	svt_pair_free(&p);
}

/* UD: a SEND larger than the MTU is the requester's LOC_LEN_ERR. */
static void ud_too_long(void)
{
	const char *name = "LOC_LEN_ERR: UD SEND larger than the MTU";
	struct svt_pair p;
	struct ibv_sge s;
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;

	svt_pair_make(&w, &p, IBV_QPT_UD, IBV_MTU_4096, LEN);
	s = (struct ibv_sge){ (uintptr_t)p.a.buf, 4097, p.a.mr->lkey };
	wr.wr.ud.ah = p.ah;
	wr.wr.ud.remote_qpn = p.b.qp->qp_num;
	wr.wr.ud.remote_qkey = SVT_QKEY;
	b_recv(&p, LEN, p.b.mr->lkey);
	SVT_CHECK(!ibv_post_send(p.a.qp, &wr, &bad));
	if (svt_wait_wc(p.a.cq, &wc, WAIT_MS) != 1 ||
	    wc.status != IBV_WC_LOC_LEN_ERR)
		fail(name, "a: %s", ibv_wc_status_str(wc.status));
	else if (svt_wait_wc(p.b.cq, &wc, 50))
		fail(name, "b received %s", ibv_wc_status_str(wc.status));
	else if (bystander_ok(name))
		printf("ok   %s\n", name);
	svt_pair_free(&p);
}

static struct ibv_mr *extra_mr(size_t off, int access)
{
	struct ibv_mr *mr = ibv_reg_mr(w.pd, extra + off, LEN,
				       IBV_ACCESS_LOCAL_WRITE | access);

	SVT_CHECK(mr);
	return mr;
}

int main(void)
{
	struct svt_daemon d;
	unsigned int i;

	svt_world_open(&w, svt_start(&d));
	extra = calloc(3, LEN);
	SVT_CHECK(extra);
	ro_mr = extra_mr(0, IBV_ACCESS_REMOTE_READ);
	wo_mr = extra_mr(LEN, IBV_ACCESS_REMOTE_WRITE);
	noatomic_mr = extra_mr(2 * LEN, IBV_ACCESS_REMOTE_WRITE |
					       IBV_ACCESS_REMOTE_READ);
	svt_pair_make(&w, &bystander, IBV_QPT_RC, IBV_MTU_1024, LEN);
	SVT_CHECK(bystander_ok("before any error"));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(&cases[i]);
	ud_too_long();
	printf("error statuses: %zu cases, %d failed\n",
	       sizeof(cases) / sizeof(cases[0]) + 1, failures);
	svt_daemon_stop(&d);
	return failures ? SVT_FAIL : SVT_PASS;
}
