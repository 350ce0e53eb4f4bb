// SPDX-License-Identifier: MIT
/*
 * Every operation on every QP type that allows it (issue 10, "what it
 * must show" 4), through libibverbs, with payload checksums:
 *
 *  - RC, UC, XRC at path MTU 256 and 4096; UD at the port MTU;
 *  - SEND, SEND_WITH_IMM, SEND_WITH_INV, RDMA WRITE, WRITE_WITH_IMM,
 *    READ, CMP_SWAP, FETCH_ADD, ATOMIC_WRITE (ibv_wr_atomic_write),
 *    LOCAL_INV, BIND_MW type 1 (ibv_bind_mw) and type 2 (post_send);
 *  - sizes 0, 1, 4095, 4096, 4097, 65536+3 and 1 MiB+7 (UD: up to the
 *    MTU), one SGE and three scattered SGEs, inline (the source is
 *    overwritten right after the post), unsignaled (no completion, data
 *    still lands), solicited (only a solicited SEND raises an event).
 *
 * Each case checks the data (checksum of what landed, the bytes after it
 * untouched), the immediate, byte_len, opcode, wr_id, qp_num, src_qp and
 * the flags of both completions. A failing case is printed as
 * "FAIL <qp type> mtu <n> <op> <size> <variant>: <reason>"; the pair is
 * rebuilt and the matrix goes on, and the test fails at the end.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
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

#define MAXSZ ((1u << 20) + 7)
#define GAP 64 /* between scattered SGEs */
#define SRC 4096
#define DST ((size_t)3 << 20) /* a landing zone far from SRC */
#define BUFLEN ((size_t)6 << 20)
#define TAIL 64 /* canary bytes checked after the data */
#define CANARY 0xa5
#define GRH 40
#define WAIT_MS 10000

static const uint32_t sizes[] = { 0, 1, 4095, 4096, 4097, 65539, MAXSZ };

enum { V_PLAIN, V_SGE3, V_INLINE, V_UNSIG, V_NVAR };
static const char *const vname[] = { "1 sge", "3 sges", "inline",
				     "unsignaled" };

struct kase {
	struct svt_pair *p;
	enum ibv_wr_opcode op;
	uint32_t size;
	int var;
	unsigned int flags; /* extra send flags (SOLICITED) */
	uint32_t rkey; /* 0: b's MR */
	uint32_t inv; /* SEND_WITH_INV: the rkey to invalidate */
	char what[128];
};

static struct svt_world w;
static uint8_t *expect; /* what must land */
static int failures, cases;
static uint32_t seed = 1;

static bool fail(struct kase *k, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s: ", k->what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

static void pattern(uint8_t *p, size_t n)
{
	size_t i;

	seed = seed * 1103515245u + 12345u;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((seed >> 16) + i * 131 + (i >> 9));
}

/* ------------------------------------------------------------------ */
/* Scatter lists                                                       */
/* ------------------------------------------------------------------ */

/* n SGEs covering len bytes from base+off, GAP bytes apart. */
static int sges(struct ibv_sge *s, int n, struct svt_side *d, size_t off,
		uint32_t len)
{
	uint32_t done = 0;
	int i;

	if (len < (uint32_t)n)
		n = 1;
	for (i = 0; i < n; i++) {
		uint32_t piece = i == n - 1 ? len - done : len / n;

		s[i].addr = (uintptr_t)d->buf + off + done + (size_t)i * GAP;
		s[i].length = piece;
		s[i].lkey = d->mr->lkey;
		done += piece;
	}
	return n;
}

/* Copy data into (to_sges) or out of the SGEs. */
static void sge_copy(const struct ibv_sge *s, int n, uint8_t *data,
		     bool to_sges)
{
	int i;

	for (i = 0; i < n; i++) {
		void *a = (void *)(uintptr_t)s[i].addr;

		if (to_sges)
			memcpy(a, data, s[i].length);
		else
			memcpy(data, a, s[i].length);
		data += s[i].length;
	}
}

static bool tail_intact(const uint8_t *p)
{
	int i;

	for (i = 0; i < TAIL; i++)
		if (p[i] != CANARY)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Posting                                                             */
/* ------------------------------------------------------------------ */

static bool is_send(enum ibv_wr_opcode op)
{
	return op == IBV_WR_SEND || op == IBV_WR_SEND_WITH_IMM ||
	       op == IBV_WR_SEND_WITH_INV;
}

static bool uses_recv(enum ibv_wr_opcode op)
{
	return is_send(op) || op == IBV_WR_RDMA_WRITE_WITH_IMM;
}

static void post_recv_at(struct svt_pair *p, uint64_t id, size_t off,
			 uint32_t len)
{
	struct ibv_sge s[2];
	struct ibv_recv_wr wr = { .wr_id = id, .sg_list = s }, *bad;
	uint32_t half = len / 2;

	s[0] = (struct ibv_sge){ (uintptr_t)p->b.buf + off, half,
				 p->b.mr->lkey };
	s[1] = (struct ibv_sge){ (uintptr_t)p->b.buf + off + half, len - half,
				 p->b.mr->lkey };
	wr.num_sge = half ? 2 : 1;
	if (!half)
		s[0].length = len;
	if (p->b.srq)
		SVT_CHECK(!ibv_post_srq_recv(p->b.srq, &wr, &bad));
	else
		SVT_CHECK(!ibv_post_recv(p->b.qp, &wr, &bad));
}

/* The receive for a SEND of the case: at DST (UD: the GRH before it). */
static void post_case_recv(struct kase *k)
{
	size_t off = k->p->type == IBV_QPT_UD ? DST - GRH : DST;
	uint32_t len = k->size + TAIL + (k->p->type == IBV_QPT_UD ? GRH : 0);

	post_recv_at(k->p, 7, off, is_send(k->op) ? len : 0);
}

static void wr_address(struct svt_pair *p, struct ibv_send_wr *wr,
		       uint64_t raddr, uint32_t rkey)
{
	if (p->type == IBV_QPT_UD) {
		wr->wr.ud.ah = p->ah;
		wr->wr.ud.remote_qpn = p->b.qp->qp_num;
		wr->wr.ud.remote_qkey = SVT_QKEY;
		return;
	}
	wr->wr.rdma.remote_addr = raddr;
	wr->wr.rdma.rkey = rkey;
}

static int post(struct svt_pair *p, struct ibv_send_wr *wr)
{
	struct ibv_send_wr *bad;

	if (p->type == IBV_QPT_XRC_SEND) {
		uint32_t srqn;

		SVT_CHECK(!ibv_get_srq_num(p->b.srq, &srqn));
		wr->qp_type.xrc.remote_srqn = srqn;
	}
	return ibv_post_send(p->a.qp, wr, &bad);
}

/* A signaled zero-length WRITE after an unsignaled WR: its completion. */
static void post_marker(struct svt_pair *p)
{
	struct ibv_send_wr wr = { .wr_id = 99, .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED };

	wr_address(p, &wr, (uintptr_t)p->b.buf, p->b.mr->rkey);
	SVT_CHECK(!post(p, &wr));
}

/* ------------------------------------------------------------------ */
/* Data cases: SEND*, WRITE*, READ                                     */
/* ------------------------------------------------------------------ */

static bool check_send_wc(struct kase *k, const struct ibv_wc *wc)
{
	enum ibv_wc_opcode want = k->op == IBV_WR_RDMA_READ ? IBV_WC_RDMA_READ :
				  is_send(k->op) ? IBV_WC_SEND :
						   IBV_WC_RDMA_WRITE;
	uint64_t id = k->var == V_UNSIG ? 99 : 1;

	if (wc->status != IBV_WC_SUCCESS)
		return fail(k, "send wc %s", ibv_wc_status_str(wc->status));
	if (k->var == V_UNSIG && wc->wr_id == 1)
		return fail(k, "an unsignaled WR completed");
	if (wc->wr_id != id || wc->qp_num != k->p->a.qp->qp_num)
		return fail(k, "send wc wr_id %llu qp_num %u",
			    (unsigned long long)wc->wr_id, wc->qp_num);
	if (k->var != V_UNSIG && wc->opcode != want)
		return fail(k, "send wc opcode %d, want %d", wc->opcode, want);
	if (k->op == IBV_WR_RDMA_READ && k->var != V_UNSIG &&
	    wc->byte_len != k->size)
		return fail(k, "READ byte_len %u", wc->byte_len);
	return true;
}

static bool check_recv_flags(struct kase *k, const struct ibv_wc *wc)
{
	bool imm = k->op == IBV_WR_SEND_WITH_IMM ||
		   k->op == IBV_WR_RDMA_WRITE_WITH_IMM;
	bool inv = k->op == IBV_WR_SEND_WITH_INV;

	if (imm != !!(wc->wc_flags & IBV_WC_WITH_IMM) ||
	    inv != !!(wc->wc_flags & IBV_WC_WITH_INV))
		return fail(k, "recv wc_flags %#x", wc->wc_flags);
	if (imm && wc->imm_data != htonl(0xc0de0000u + k->size))
		return fail(k, "imm_data %#x", ntohl(wc->imm_data));
	if (inv && wc->invalidated_rkey != k->inv)
		return fail(k, "invalidated_rkey %#x, want %#x",
			    wc->invalidated_rkey, k->inv);
	if (k->p->type == IBV_QPT_UD &&
	    (!(wc->wc_flags & IBV_WC_GRH) || wc->src_qp != k->p->a.qp->qp_num))
		return fail(k, "UD wc: flags %#x src_qp %u", wc->wc_flags,
			    wc->src_qp);
	return true;
}

static bool check_recv_wc(struct kase *k, const struct ibv_wc *wc)
{
	uint32_t len = k->size + (k->p->type == IBV_QPT_UD ? GRH : 0);
	enum ibv_wc_opcode want = is_send(k->op) ? IBV_WC_RECV :
						   IBV_WC_RECV_RDMA_WITH_IMM;

	if (wc->status != IBV_WC_SUCCESS)
		return fail(k, "recv wc %s", ibv_wc_status_str(wc->status));
	if (wc->opcode != want || wc->wr_id != 7)
		return fail(k, "recv wc opcode %d wr_id %llu", wc->opcode,
			    (unsigned long long)wc->wr_id);
	if (wc->qp_num != k->p->b.qp->qp_num)
		return fail(k, "recv wc qp_num %u, want %u", wc->qp_num,
			    k->p->b.qp->qp_num);
	if (wc->byte_len != len)
		return fail(k, "recv byte_len %u, want %u", wc->byte_len, len);
	return check_recv_flags(k, wc);
}

static bool wait_wcs(struct kase *k)
{
	struct ibv_wc wc;

	if (svt_wait_wc(k->p->a.cq, &wc, WAIT_MS) != 1)
		return fail(k, "no send completion");
	if (!check_send_wc(k, &wc))
		return false;
	if (!uses_recv(k->op))
		return true;
	if (svt_wait_wc(k->p->b.cq, &wc, WAIT_MS) != 1)
		return fail(k, "no receive completion");
	return check_recv_wc(k, &wc);
}

/* Where the data lands and what it must be. */
static bool check_landed(struct kase *k, const struct ibv_sge *s, int n)
{
	uint8_t *got, *dst = k->p->b.buf + DST;

	if (k->op == IBV_WR_RDMA_READ) {
		got = malloc(k->size + 1);
		SVT_CHECK(got);
		sge_copy(s, n, got, false);
		dst = (uint8_t *)(uintptr_t)s[n - 1].addr + s[n - 1].length;
		n = svt_sum(got, k->size) == svt_sum(expect, k->size);
		free(got);
		if (!n)
			return fail(k, "READ data differs");
		if (!tail_intact(dst))
			return fail(k, "READ wrote past its SGEs");
		return true;
	}
	if (k->op == IBV_WR_RDMA_WRITE_WITH_IMM || k->op == IBV_WR_RDMA_WRITE ||
	    is_send(k->op)) {
		if (svt_sum(dst, k->size) != svt_sum(expect, k->size))
			return fail(k, "data differs");
		if (!tail_intact(dst + k->size))
			return fail(k, "bytes after the message overwritten");
	}
	return true;
}

static void prepare(struct kase *k, struct ibv_sge *s, int *n)
{
	struct svt_pair *p = k->p;
	int want = k->var == V_SGE3 ? 3 : 1;

	pattern(expect, k->size);
	if (k->op == IBV_WR_RDMA_READ) {
		memcpy(p->b.buf + DST, expect, k->size);
		*n = sges(s, want, &p->a, DST, k->size);
		memset(p->a.buf + DST, CANARY, k->size + 3 * GAP + TAIL);
		return;
	}
	memset(p->b.buf + DST - GRH, CANARY, k->size + TAIL + GRH);
	*n = sges(s, want, &p->a, SRC, k->size);
	sge_copy(s, *n, expect, true);
}

static bool run_data(struct kase *k)
{
	struct svt_pair *p = k->p;
	struct ibv_sge s[3];
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = s, .opcode = k->op,
				  .send_flags = IBV_SEND_SIGNALED };
	int n;

	prepare(k, s, &n);
	wr.num_sge = k->size ? n : 0;
	wr.imm_data = htonl(0xc0de0000u + k->size);
	if (k->op == IBV_WR_SEND_WITH_INV)
		wr.invalidate_rkey = k->inv;
	wr.send_flags |= k->flags;
	if (k->var == V_INLINE)
		wr.send_flags |= IBV_SEND_INLINE;
	if (k->var == V_UNSIG)
		wr.send_flags = 0;
	if (uses_recv(k->op))
		post_case_recv(k);
	wr_address(p, &wr, (uintptr_t)p->b.buf + DST,
		   k->rkey ? k->rkey : p->b.mr->rkey);
	if (post(p, &wr))
		return fail(k, "ibv_post_send failed");
	if (k->var == V_INLINE) /* inline: the source is ours again */
		memset(p->a.buf + SRC, 0x3c, k->size + GAP);
	if (k->var == V_UNSIG)
		post_marker(p);
	return wait_wcs(k) && check_landed(k, s, n);
}

/* ------------------------------------------------------------------ */
/* Atomics                                                             */
/* ------------------------------------------------------------------ */

static bool atomic_once(struct kase *k, uint64_t cmp_add, uint64_t swap,
			uint64_t *old)
{
	struct svt_pair *p = k->p;
	struct ibv_sge s = { (uintptr_t)p->a.buf + DST, 8, p->a.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &s, .num_sge = 1,
				  .opcode = k->op,
				  .send_flags = IBV_SEND_SIGNALED };
	struct ibv_wc wc;

	wr.wr.atomic.remote_addr = (uintptr_t)p->b.buf + DST;
	wr.wr.atomic.rkey = p->b.mr->rkey;
	wr.wr.atomic.compare_add = cmp_add;
	wr.wr.atomic.swap = swap;
	if (post(p, &wr))
		return fail(k, "ibv_post_send failed");
	if (svt_wait_wc(p->a.cq, &wc, WAIT_MS) != 1)
		return fail(k, "no completion");
	if (wc.status != IBV_WC_SUCCESS || wc.byte_len != 8 ||
	    wc.opcode != (k->op == IBV_WR_ATOMIC_CMP_AND_SWP ?
				  IBV_WC_COMP_SWAP : IBV_WC_FETCH_ADD))
		return fail(k, "wc %s opcode %d byte_len %u",
			    ibv_wc_status_str(wc.status), wc.opcode,
			    wc.byte_len);
	memcpy(old, p->a.buf + DST, 8);
	return true;
}

static bool run_atomic(struct kase *k)
{
	uint64_t *remote = (uint64_t *)(void *)(k->p->b.buf + DST), old;
	uint64_t v = 0x1122334455667788ull;

	*remote = v;
	if (k->op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		if (!atomic_once(k, 0x1000000001ull, 0, &old))
			return false;
		if (old != v || *remote != v + 0x1000000001ull)
			return fail(k, "FETCH_ADD old %#llx new %#llx",
				    (unsigned long long)old,
				    (unsigned long long)*remote);
		return true;
	}
	if (!atomic_once(k, v, 42, &old) || old != v || *remote != 42)
		return fail(k, "CMP_SWAP (equal) old %#llx new %#llx",
			    (unsigned long long)old,
			    (unsigned long long)*remote);
	if (!atomic_once(k, v, 43, &old) || old != 42 || *remote != 42)
		return fail(k, "CMP_SWAP (differs) swapped anyway");
	return true;
}

static bool run_atomic_write(struct kase *k)
{
	struct svt_pair *p = k->p;
	uint64_t v = 0x0102030405060708ull, *remote;
	struct ibv_wc wc;

	remote = (uint64_t *)(void *)(p->b.buf + DST);
	*remote = 0;
	ibv_wr_start(p->a.qpx);
	p->a.qpx->wr_id = 1;
	p->a.qpx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_atomic_write(p->a.qpx, p->b.mr->rkey, (uintptr_t)remote, &v);
	if (ibv_wr_complete(p->a.qpx))
		return fail(k, "ibv_wr_complete failed");
	if (svt_wait_wc(p->a.cq, &wc, WAIT_MS) != 1)
		return fail(k, "no completion");
	if (wc.status != IBV_WC_SUCCESS || wc.opcode != IBV_WC_ATOMIC_WRITE)
		return fail(k, "wc %s opcode %d", ibv_wc_status_str(wc.status),
			    wc.opcode);
	if (*remote != v)
		return fail(k, "remote %#llx", (unsigned long long)*remote);
	return true;
}

/* ------------------------------------------------------------------ */
/* The matrix                                                          */
/* ------------------------------------------------------------------ */

static bool allowed(enum ibv_qp_type t, enum ibv_wr_opcode op)
{
	switch (op) {
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
		return true;
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		return t != IBV_QPT_UD;
	default: /* READ, atomics */
		return t == IBV_QPT_RC || t == IBV_QPT_XRC_SEND;
	}
}

static bool variant_fits(struct kase *k)
{
	uint32_t mtu = 128u << k->p->mtu;

	if (k->p->type == IBV_QPT_UD && k->size > mtu)
		return false;
	if (k->var == V_INLINE)
		return k->size <= 64 && k->op != IBV_WR_RDMA_READ;
	if (k->var == V_UNSIG)
		return k->p->type != IBV_QPT_UD;
	return true;
}

static void run_case(struct kase *k, bool (*fn)(struct kase *))
{
	cases++;
	if (fn(k))
		return;
	failures++;
	svt_pair_renew(&w, k->p);
}

static void name_case(struct kase *k, const char *op, const char *var)
{
	snprintf(k->what, sizeof(k->what), "%s mtu %u %s %u %s",
		 svt_qpt_name(k->p->type), 128u << k->p->mtu, op, k->size,
		 var);
}

static const struct {
	enum ibv_wr_opcode op;
	const char *name;
} data_ops[] = {
	{ IBV_WR_SEND, "SEND" },
	{ IBV_WR_SEND_WITH_IMM, "SEND_WITH_IMM" },
	{ IBV_WR_RDMA_WRITE, "WRITE" },
	{ IBV_WR_RDMA_WRITE_WITH_IMM, "WRITE_WITH_IMM" },
	{ IBV_WR_RDMA_READ, "READ" },
};

static void data_matrix(struct svt_pair *p)
{
	struct kase k = { .p = p };
	unsigned int o, i;

	for (o = 0; o < sizeof(data_ops) / sizeof(data_ops[0]); o++) {
		k.op = data_ops[o].op;
		if (!allowed(p->type, k.op))
			continue;
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			for (k.var = 0; k.var < V_NVAR; k.var++) {
				k.size = sizes[i];
				if (!variant_fits(&k))
					continue;
				name_case(&k, data_ops[o].name,
					  vname[k.var]);
				run_case(&k, run_data);
			}
	}
}

static void atomic_matrix(struct svt_pair *p)
{
	struct kase k = { .p = p, .size = 8 };

	if (!allowed(p->type, IBV_WR_ATOMIC_CMP_AND_SWP))
		return;
	k.op = IBV_WR_ATOMIC_CMP_AND_SWP;
	name_case(&k, "CMP_SWAP", "");
	run_case(&k, run_atomic);
	k.op = IBV_WR_ATOMIC_FETCH_AND_ADD;
	name_case(&k, "FETCH_ADD", "");
	run_case(&k, run_atomic);
	if (p->a.qpx) {
		k.op = IBV_WR_ATOMIC_WRITE;
		name_case(&k, "ATOMIC_WRITE", "");
		run_case(&k, run_atomic_write);
	}
}

/* ------------------------------------------------------------------ */
/* Solicited events, memory windows, invalidation                      */
/* ------------------------------------------------------------------ */

/* Whether b's completion channel has an event within ms (then taken). */
static bool event_within(struct svt_side *b, int ms)
{
	struct pollfd pfd = { .fd = b->ch->fd, .events = POLLIN };
	struct ibv_cq *cq;
	void *ctx;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	SVT_CHECK(!ibv_get_cq_event(b->ch, &cq, &ctx));
	ibv_ack_cq_events(cq, 1);
	return true;
}

/* Armed for solicited events only: a plain SEND raises none, a solicited
 * one does. */
static bool run_solicited(struct kase *k)
{
	SVT_CHECK(!ibv_req_notify_cq(k->p->b.cq, 1));
	k->flags = 0;
	if (!run_data(k))
		return false;
	if (event_within(&k->p->b, 100))
		return fail(k, "an unsolicited SEND raised a solicited event");
	k->flags = IBV_SEND_SOLICITED;
	if (!run_data(k))
		return false;
	k->flags = 0;
	if (!event_within(&k->p->b, 5000))
		return fail(k, "a solicited SEND raised no event");
	return true;
}

static void solicited_case(struct svt_pair *p)
{
	struct kase k = { .p = p, .op = IBV_WR_SEND, .size = 100 };

	name_case(&k, "SEND", "solicited");
	run_case(&k, run_solicited);
}

/* b's own work request (bind, local invalidate) and its completion. */
static bool b_post(struct kase *k, struct ibv_send_wr *wr,
		   enum ibv_wc_opcode want)
{
	struct ibv_send_wr *bad;
	struct ibv_wc wc;

	wr->wr_id = 55;
	wr->send_flags = IBV_SEND_SIGNALED;
	if (ibv_post_send(k->p->b.qp, wr, &bad))
		return fail(k, "post on b failed");
	if (svt_wait_wc(k->p->b.cq, &wc, WAIT_MS) != 1)
		return fail(k, "no completion on b");
	if (wc.status != IBV_WC_SUCCESS || wc.opcode != want ||
	    wc.wr_id != 55)
		return fail(k, "b wc %s opcode %d",
			    ibv_wc_status_str(wc.status), wc.opcode);
	return true;
}

static struct ibv_mw_bind_info window(struct svt_pair *p)
{
	return (struct ibv_mw_bind_info){
		.mr = p->b.mr, .addr = (uintptr_t)p->b.buf + DST,
		.length = 65536,
		.mw_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ,
	};
}

/* Bind type-2 mw on b with a fresh rkey (post_send); k->rkey gets it. */
static bool bind2(struct kase *k, struct ibv_mw *mw)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_BIND_MW };

	wr.bind_mw.mw = mw;
	wr.bind_mw.rkey = ibv_inc_rkey(k->rkey ? k->rkey : mw->rkey);
	wr.bind_mw.bind_info = window(k->p);
	if (!b_post(k, &wr, IBV_WC_BIND_MW))
		return false;
	k->rkey = wr.bind_mw.rkey;
	return true;
}

/* a WRITEs (and on RC READs) 65536 bytes through k->rkey. */
static bool through(struct kase *k)
{
	struct kase t = *k;

	t.size = 65536;
	t.var = V_PLAIN;
	t.op = IBV_WR_RDMA_WRITE;
	if (!run_data(&t))
		return false;
	t.op = IBV_WR_RDMA_READ;
	return k->p->type != IBV_QPT_RC || run_data(&t);
}

static bool run_mw1(struct kase *k)
{
	struct ibv_mw *mw = ibv_alloc_mw(w.pd, IBV_MW_TYPE_1);
	struct ibv_mw_bind bind = { .wr_id = 55,
				    .send_flags = IBV_SEND_SIGNALED };
	struct ibv_wc wc;
	bool ok;

	if (!mw)
		return fail(k, "ibv_alloc_mw(TYPE_1) failed");
	bind.bind_info = window(k->p);
	ok = !ibv_bind_mw(k->p->b.qp, mw, &bind) &&
	     svt_wait_wc(k->p->b.cq, &wc, WAIT_MS) == 1 &&
	     wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_BIND_MW;
	k->rkey = mw->rkey;
	ok = ok ? through(k) : fail(k, "ibv_bind_mw did not complete");
	ibv_dealloc_mw(mw);
	return ok;
}

/* Type 2: bind, use; invalidate (SEND_WITH_INV on RC, LOCAL_INV), re-bind
 * (only an invalid type-2 window binds again), use. */
static bool run_mw2(struct kase *k)
{
	struct ibv_mw *mw = ibv_alloc_mw(w.pd, IBV_MW_TYPE_2);
	struct ibv_send_wr li = { .opcode = IBV_WR_LOCAL_INV };
	bool ok;

	if (!mw)
		return fail(k, "ibv_alloc_mw(TYPE_2) failed");
	k->rkey = 0;
	ok = bind2(k, mw) && through(k);
	if (ok && k->p->type == IBV_QPT_RC) {
		struct kase s = *k;

		s.op = IBV_WR_SEND_WITH_INV;
		s.inv = k->rkey;
		s.size = 64;
		ok = run_data(&s) && bind2(k, mw) && through(k);
	}
	li.invalidate_rkey = k->rkey;
	ok = ok && b_post(k, &li, IBV_WC_LOCAL_INV) && bind2(k, mw) &&
	     through(k);
	ibv_dealloc_mw(mw);
	return ok;
}

static void mw_cases(struct svt_pair *p)
{
	struct kase k = { .p = p, .size = 65536 };

	name_case(&k, "BIND_MW type 1 (ibv_bind_mw)", "+WRITE/READ");
	run_case(&k, run_mw1);
	k.rkey = 0;
	name_case(&k, "BIND_MW type 2 (post_send)",
		  "+WRITE/READ, SEND_WITH_INV, LOCAL_INV, re-bind");
	run_case(&k, run_mw2);
}


static void one_pair(enum ibv_qp_type t, enum ibv_mtu mtu)
{
	struct svt_pair p;

	printf("%s mtu %u\n", svt_qpt_name(t), 128u << mtu);
	fflush(stdout);
	svt_pair_make(&w, &p, t, mtu, BUFLEN);
	data_matrix(&p);
	atomic_matrix(&p);
	solicited_case(&p);
	if (t == IBV_QPT_RC || t == IBV_QPT_UC)
		mw_cases(&p);
	svt_pair_free(&p);
}

static void probe_atomic_write(void)
{
	struct svt_side s = { 0 };
	struct ibv_qp *qp;

	svt_side_mem(&w, &s, 4096);
	w.atomic_write = true;
	qp = svt_qp_make(&w, &s, IBV_QPT_RC);
	if (qp)
		ibv_destroy_qp(qp);
	else
		printf("ATOMIC_WRITE: not offered (create_qp_ex refused it)\n");
	w.atomic_write = qp != NULL;
}

int main(void)
{
	static const enum ibv_qp_type types[] = { IBV_QPT_RC, IBV_QPT_UC,
						  IBV_QPT_XRC_SEND };
	struct svt_daemon d;
	unsigned int i;

	svt_world_open(&w, svt_start(&d));
	expect = malloc(MAXSZ + 8);
	SVT_CHECK(expect);
	probe_atomic_write();
	for (i = 0; i < 3; i++) {
		one_pair(types[i], IBV_MTU_256);
		one_pair(types[i], IBV_MTU_4096);
	}
	one_pair(IBV_QPT_UD, IBV_MTU_4096);
	printf("ops matrix: %d cases, %d failed\n", cases, failures);
	svt_daemon_stop(&d);
	return failures ? SVT_FAIL : SVT_PASS;
}
