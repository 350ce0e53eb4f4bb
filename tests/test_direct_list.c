// SPDX-License-Identifier: MIT
/*
 * Issue 17: lists of RDMA WRITEs and READs to a VA region, which the
 * direct path moves with one system call per run (lib/providers/softverbs/
 * direct_va.c), must land exactly as one work request at a time would:
 *   - a stream of 8-byte WRITEs into consecutive addresses (one pwrite);
 *   - scattered WRITEs (one process_vm_writev), each signaled: completions
 *     in posting order with their wr_id and byte_len;
 *   - WRITEs to the same address: the last one's bytes stay;
 *   - a list of READs from scattered addresses;
 *   - WRITE, WRITE, READ, WRITE of one address: the READ sees the first
 *     two and not the third (RC order across a run's end);
 *   - a list with a bad rkey in the middle: the WRITEs before it land
 *     and complete, it fails with REM_ACCESS_ERR, the rest are flushed
 *     and do not land (the target checks its buffer).
 * Run with the path on and with "off" (SOFTVERBS_DIRECT=0): same results.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (1 << 20)
#define N 16

/* bad_key's list: WRs 0-4 landed here, 5-7 did not. */
static void target_check(const uint8_t *b)
{
	size_t i;

	for (i = 0; i < 8 * 64; i++)
		SVT_CHECK(b[16384 + i] ==
			  (i < 5 * 64 ? (uint8_t)(5 + i * 13) : 0));
}

static void target(struct svt_dx *x)
{
	char c;

	svt_dx_open(x, LEN);
	svt_dx_link(x);
	svt_dx_get(x, &c, 1); /* the initiator is done */
	target_check(x->buf);
	svt_dx_put(x, &c, 1);
	svt_dx_close(x);
}

/* One list of n WRs of op: local loff[i] -> remote roff[i], len[i]. */
static void post_list(struct svt_dx *x, const enum ibv_wr_opcode *op, int n,
		      const uint64_t *loff, const uint64_t *roff,
		      const uint32_t *len, bool signaled, uint32_t bad_at)
{
	struct ibv_send_wr wr[N], *bad;
	struct ibv_sge s[N];
	int i;

	memset(wr, 0, sizeof(wr));
	for (i = 0; i < n; i++) {
		s[i] = (struct ibv_sge){ (uintptr_t)x->buf + loff[i], len[i],
					 x->mr->lkey };
		wr[i].wr_id = (uint64_t)i;
		wr[i].sg_list = &s[i];
		wr[i].num_sge = 1;
		wr[i].opcode = op[i];
		wr[i].send_flags = signaled || i == n - 1 ? IBV_SEND_SIGNALED :
							    0;
		wr[i].wr.rdma.remote_addr = x->peer.addr + roff[i];
		wr[i].wr.rdma.rkey = x->peer.rkey + ((uint32_t)i == bad_at);
		wr[i].next = i + 1 < n ? &wr[i + 1] : NULL;
	}
	SVT_CHECK(!ibv_post_send(x->ep.qp, wr, &bad));
}

/* Read [roff, roff + len) of the target into our buffer at loff. */
static void read_back(struct svt_dx *x, uint64_t loff, uint64_t roff,
		      uint32_t len)
{
	svt_dx_post(x, IBV_WR_RDMA_READ, loff, roff, len, true);
	SVT_CHECK(svt_dx_one(x).status == IBV_WC_SUCCESS);
}

static void fill(struct svt_dx *x, uint64_t off, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		x->buf[off + i] = (uint8_t)(seed + i * 13);
}

static void all_ops(enum ibv_wr_opcode *op, enum ibv_wr_opcode v)
{
	int i;

	for (i = 0; i < N; i++)
		op[i] = v;
}

/* 16 x 8 B into consecutive addresses, only the last signaled. */
static void stream(struct svt_dx *x)
{
	enum ibv_wr_opcode op[N];
	uint64_t lo[N], ro[N];
	uint32_t len[N];
	int i;

	all_ops(op, IBV_WR_RDMA_WRITE);
	for (i = 0; i < N; i++) {
		lo[i] = (uint64_t)i * 8;
		ro[i] = 4096 + (uint64_t)i * 8;
		len[i] = 8;
	}
	fill(x, 0, N * 8, 1);
	post_list(x, op, N, lo, ro, len, false, ~0u);
	SVT_CHECK(svt_dx_one(x).wr_id == N - 1);
	read_back(x, 65536, 4096, N * 8);
	SVT_CHECK(!memcmp(x->buf, x->buf + 65536, N * 8));
}

/* Scattered WRITEs, all signaled, then scattered READs of them. */
static void scattered(struct svt_dx *x)
{
	enum ibv_wr_opcode op[N];
	uint64_t lo[N], ro[N];
	uint32_t len[N];
	struct ibv_wc wc;
	int i;

	all_ops(op, IBV_WR_RDMA_WRITE);
	for (i = 0; i < N; i++) {
		lo[i] = (uint64_t)(N - 1 - i) * 2048 + 5;
		ro[i] = 131072 + (uint64_t)i * 8192 + 7;
		len[i] = 1000 + (uint32_t)i;
	}
	fill(x, 0, N * 2048 + 4096, 2);
	post_list(x, op, N, lo, ro, len, true, ~0u);
	for (i = 0; i < N; i++) {
		wc = svt_dx_one(x);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == (uint64_t)i &&
			  wc.opcode == IBV_WC_RDMA_WRITE &&
			  wc.byte_len == len[i]);
	}
	all_ops(op, IBV_WR_RDMA_READ);
	for (i = 0; i < N; i++)
		lo[i] = 262144 + (uint64_t)i * 4096;
	post_list(x, op, N, lo, ro, len, true, ~0u);
	for (i = 0; i < N; i++) {
		wc = svt_dx_one(x);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == (uint64_t)i &&
			  wc.opcode == IBV_WC_RDMA_READ &&
			  wc.byte_len == len[i]);
		SVT_CHECK(!memcmp(x->buf + 262144 + (size_t)i * 4096,
				  x->buf + (N - 1 - i) * 2048 + 5, len[i]));
	}
}

/* 8 WRITEs of 64 B to one address: the last one's bytes stay. */
static void same_address(struct svt_dx *x)
{
	enum ibv_wr_opcode op[N];
	uint64_t lo[N], ro[N];
	uint32_t len[N];
	int i;

	all_ops(op, IBV_WR_RDMA_WRITE);
	for (i = 0; i < 8; i++) {
		lo[i] = (uint64_t)i * 64;
		ro[i] = 8192;
		len[i] = 64;
	}
	fill(x, 0, 8 * 64, 3);
	post_list(x, op, 8, lo, ro, len, false, ~0u);
	SVT_CHECK(svt_dx_one(x).wr_id == 7);
	read_back(x, 65536, 8192, 64);
	SVT_CHECK(!memcmp(x->buf + 7 * 64, x->buf + 65536, 64));
}

/* WRITE a, WRITE b, READ a..b, WRITE c over a: the READ sees a and b. */
static void read_between(struct svt_dx *x)
{
	enum ibv_wr_opcode op[4] = { IBV_WR_RDMA_WRITE, IBV_WR_RDMA_WRITE,
				     IBV_WR_RDMA_READ, IBV_WR_RDMA_WRITE };
	uint64_t lo[4] = { 0, 16, 65536, 32 }, ro[4] = { 12288, 12296, 12288,
							 12288 };
	uint32_t len[4] = { 8, 8, 16, 8 };
	int i;

	fill(x, 0, 64, 4);
	memset(x->buf + 65536, 0, 16);
	post_list(x, op, 4, lo, ro, len, true, ~0u);
	for (i = 0; i < 4; i++)
		SVT_CHECK(svt_dx_one(x).wr_id == (uint64_t)i);
	SVT_CHECK(!memcmp(x->buf + 65536, x->buf, 8) &&
		  !memcmp(x->buf + 65536 + 8, x->buf + 16, 8));
	read_back(x, 65536, 12288, 8);
	SVT_CHECK(!memcmp(x->buf + 65536, x->buf + 32, 8));
}

/* A bad rkey at index 5 of 8: 0-4 land, 5 fails, 6-7 flush unlanded. */
static void bad_key(struct svt_dx *x)
{
	enum ibv_wr_opcode op[N];
	uint64_t lo[N], ro[N];
	uint32_t len[N];
	struct ibv_wc wc;
	uint8_t zero[64] = {};
	int i;

	all_ops(op, IBV_WR_RDMA_WRITE);
	for (i = 0; i < 8; i++) {
		lo[i] = (uint64_t)i * 64;
		ro[i] = 16384 + (uint64_t)i * 64;
		len[i] = 64;
	}
	/* The target area starts zeroed: read it back before we fail. */
	read_back(x, 65536, 16384, 8 * 64);
	SVT_CHECK(!memcmp(x->buf + 65536, zero, 64));
	fill(x, 0, 8 * 64, 5);
	post_list(x, op, 8, lo, ro, len, true, 5);
	for (i = 0; i < 8; i++) {
		wc = svt_poll1(x->ep.cq);
		SVT_CHECK(wc.wr_id == (uint64_t)i);
		if (i < 5)
			SVT_CHECK(wc.status == IBV_WC_SUCCESS);
		else if (i == 5)
			SVT_CHECK(wc.status == IBV_WC_REM_ACCESS_ERR);
		else
			SVT_CHECK(wc.status == IBV_WC_WR_FLUSH_ERR);
	}
	printf("bad rkey in a list: 5 landed, REM_ACCESS_ERR, 2 flushed\n");
}

int main(int argc, char **argv)
{
	bool on = !(argc > 1 && !strcmp(argv[1], "off"));
	struct svt_daemon d;
	struct svt_dx x = {};
	char c = 1;

	setenv("SOFTVERBS_DIRECT", on ? "1" : "0", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	svt_dx_fork(&x, target);
	svt_dx_open(&x, LEN);
	svt_dx_link(&x);
	stream(&x);
	scattered(&x);
	same_address(&x);
	read_between(&x);
	bad_key(&x);
	svt_dx_put(&x, &c, 1);
	svt_dx_get(&x, &c, 1);
	SVT_CHECK(svt_dx_wait(&x) == SVT_PASS);
	svt_dx_close(&x);
	printf("WRITE/READ lists, direct path %s: PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
