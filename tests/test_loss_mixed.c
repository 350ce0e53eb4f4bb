// SPDX-License-Identifier: MIT
/*
 * RC over a lossy transport (issue 10, "what it must show" 4): the daemon
 * runs with SOFTVERBS_LOSS=drop=P,dup=1,reorder=10,seed=S for P = 1, 5
 * and 10 %, and four RC pairs move a mix of RDMA WRITE, READ, SEND,
 * FETCH_ADD and CMP_SWAP at sizes from 17 B to 1 MiB (path MTU 1024:
 * most messages are many packets) until SVT_LOSS_MB megabytes (default
 * 100) went through each daemon. Every work request must succeed (no error
 * completion), every payload must match its checksum, every receive must
 * report the right length, the FETCH_ADDs of a pair must return 0, 1,
 * 2, ... in order (a duplicate executed twice would skip a value) and
 * every CMP_SWAP of the chain must find the value the previous one left.
 *
 * The loss knob belongs to the transport; a daemon that ignores it makes
 * no loss, and the test still passes, so test_loss_total checks that
 * the knob is honoured. Knobs for experiments: SVT_LOSS_EXTRA replaces
 * "dup=1,reorder=10", SVT_LOSS_TIMEOUT the QPs' timeout (12: 16.8 ms).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_pair.h"

#define NPAIRS 4
#define MAXMSG ((1u << 20) + 64)
/* b's regions: WRITE target, READ source, receive buffer, counters */
#define B_WRITE 0
#define B_READ ((size_t)MAXMSG)
#define B_RECV ((size_t)2 * MAXMSG)
#define B_ATOM ((size_t)3 * MAXMSG)
/* a's regions: WRITE / SEND source, READ landing zone, atomic results */
#define A_SRC 0
#define A_READ ((size_t)MAXMSG)
#define A_ATOM ((size_t)2 * MAXMSG)
#define SIDE_LEN ((size_t)4 * MAXMSG)
#define WAIT_MS 60000

static const uint32_t sizes[] = { 17, 4096, 65536 + 5, 300007, 1u << 20,
				  8192 + 3, 1024, 1025 };

struct round {
	uint32_t wsz, rsz, ssz;
	uint64_t fa_expect; /* FETCH_ADD's old value */
	uint64_t cs_value; /* CMP_SWAP: compare with it, swap with +1 */
};

static struct svt_world w;
static struct svt_pair pairs[NPAIRS];
static uint32_t seed = 7;
static uint64_t moved; /* bytes */

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	seed = seed * 1664525u + 1013904223u;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((seed >> 13) ^ (i * 2654435761u >> 7));
}

static void post(struct svt_pair *p, struct ibv_send_wr *wr)
{
	struct ibv_send_wr *bad;

	wr->send_flags = IBV_SEND_SIGNALED;
	wr->num_sge = 1;
	SVT_CHECK(!ibv_post_send(p->a.qp, wr, &bad));
}

static void post_rdma(struct svt_pair *p, enum ibv_wr_opcode op,
		      size_t loff, size_t roff, uint32_t len, uint64_t id)
{
	struct ibv_sge s = { (uintptr_t)p->a.buf + loff, len, p->a.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = id, .sg_list = &s, .opcode = op };

	wr.wr.rdma.remote_addr = (uintptr_t)p->b.buf + roff;
	wr.wr.rdma.rkey = p->b.mr->rkey;
	post(p, &wr);
}

static void post_atomic(struct svt_pair *p, enum ibv_wr_opcode op,
			size_t loff, size_t roff, uint64_t cmp_add,
			uint64_t swap, uint64_t id)
{
	struct ibv_sge s = { (uintptr_t)p->a.buf + loff, 8, p->a.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = id, .sg_list = &s, .opcode = op };

	wr.wr.atomic.remote_addr = (uintptr_t)p->b.buf + roff;
	wr.wr.atomic.rkey = p->b.mr->rkey;
	wr.wr.atomic.compare_add = cmp_add;
	wr.wr.atomic.swap = swap;
	post(p, &wr);
}

static void post_recv(struct svt_pair *p, uint32_t len)
{
	struct ibv_sge s = { (uintptr_t)p->b.buf + B_RECV, len + 64,
			     p->b.mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 9, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(p->b.qp, &wr, &bad));
}

/*
 * One round of a pair: WRITE, READ, SEND, FETCH_ADD, CMP_SWAP, posted
 * together (the SEND and WRITE share a's source: both only read it).
 */
static void round_post(struct svt_pair *p, struct round *r, unsigned int n)
{
	r->wsz = sizes[n % 8];
	r->rsz = sizes[(n + 3) % 8];
	r->ssz = sizes[(n + 5) % 8];
	fill(p->a.buf + A_SRC, r->wsz > r->ssz ? r->wsz : r->ssz);
	fill(p->b.buf + B_READ, r->rsz);
	memset(p->a.buf + A_READ, 0, r->rsz);
	post_recv(p, r->ssz);
	post_rdma(p, IBV_WR_RDMA_WRITE, A_SRC, B_WRITE, r->wsz, 1);
	post_rdma(p, IBV_WR_RDMA_READ, A_READ, B_READ, r->rsz, 2);
	post_rdma(p, IBV_WR_SEND, A_SRC, 0, r->ssz, 3);
	post_atomic(p, IBV_WR_ATOMIC_FETCH_AND_ADD, A_ATOM, B_ATOM, 1, 0, 4);
	post_atomic(p, IBV_WR_ATOMIC_CMP_AND_SWP, A_ATOM + 8, B_ATOM + 8,
		    r->cs_value, r->cs_value + 1, 5);
}

static void expect_ok(const struct ibv_wc *wc, const char *side)
{
	if (wc->status == IBV_WC_SUCCESS)
		return;
	fprintf(stderr, "FAIL: %s wr %llu: %s\n", side,
		(unsigned long long)wc->wr_id, ibv_wc_status_str(wc->status));
	exit(SVT_FAIL);
}

static void round_wait(struct svt_pair *p, const struct round *r)
{
	struct ibv_wc wc;
	int i;

	for (i = 0; i < 5; i++) {
		if (svt_wait_wc(p->a.cq, &wc, WAIT_MS) != 1) {
			fprintf(stderr, "FAIL: no completion in %d s\n",
				WAIT_MS / 1000);
			exit(SVT_FAIL);
		}
		expect_ok(&wc, "requester");
		SVT_CHECK(wc.wr_id == (uint64_t)i + 1); /* RC: in order */
	}
	SVT_CHECK(svt_wait_wc(p->b.cq, &wc, WAIT_MS) == 1);
	expect_ok(&wc, "responder");
	SVT_CHECK(wc.opcode == IBV_WC_RECV && wc.byte_len == r->ssz);
}

static void round_check(struct svt_pair *p, struct round *r)
{
	uint64_t old;

	SVT_CHECK(svt_sum(p->b.buf + B_WRITE, r->wsz) ==
		  svt_sum(p->a.buf + A_SRC, r->wsz));
	SVT_CHECK(svt_sum(p->a.buf + A_READ, r->rsz) ==
		  svt_sum(p->b.buf + B_READ, r->rsz));
	SVT_CHECK(svt_sum(p->b.buf + B_RECV, r->ssz) ==
		  svt_sum(p->a.buf + A_SRC, r->ssz));
	memcpy(&old, p->a.buf + A_ATOM, 8);
	if (old != r->fa_expect)
		fprintf(stderr, "FETCH_ADD returned %llu, want %llu\n",
			(unsigned long long)old,
			(unsigned long long)r->fa_expect);
	SVT_CHECK(old == r->fa_expect);
	memcpy(&old, p->a.buf + A_ATOM + 8, 8);
	SVT_CHECK(old == r->cs_value); /* the swap happened */
	r->fa_expect++;
	r->cs_value++;
	moved += r->wsz + r->rsz + r->ssz + 16;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void one_rate(int drop, uint64_t total)
{
	static struct round r[NPAIRS];
	struct svt_daemon d;
	char loss[96];
	unsigned int n, i;
	double t0 = now_s();
	const char *extra = getenv("SVT_LOSS_EXTRA");
	const char *tmo = getenv("SVT_LOSS_TIMEOUT");

	snprintf(loss, sizeof(loss), "drop=%d,%s,seed=%d", drop,
		 extra ? extra : "dup=1,reorder=10", drop * 7 + 1);
	setenv("SOFTVERBS_LOSS", loss, 1);
	svt_world_open(&w, svt_start(&d));
	unsetenv("SOFTVERBS_LOSS");
	memset(r, 0, sizeof(r));
	for (i = 0; i < NPAIRS; i++) {
		svt_pair_alloc(&w, &pairs[i], IBV_QPT_RC, IBV_MTU_1024,
			       SIDE_LEN);
		/* 16.8 ms: shorter ones see READs time out while the
		 * responses are still coming on a loaded 2-core machine. */
		pairs[i].timeout = tmo ? (uint8_t)atoi(tmo) : 12;
		pairs[i].retry_cnt = 7;
		svt_pair_qps(&w, &pairs[i]);
	}
	moved = 0;
	for (n = 0; moved < total; n++) {
		for (i = 0; i < NPAIRS; i++)
			round_post(&pairs[i], &r[i], n + i);
		for (i = 0; i < NPAIRS; i++) {
			round_wait(&pairs[i], &r[i]);
			round_check(&pairs[i], &r[i]);
		}
	}
	for (i = 0; i < NPAIRS; i++) {
		SVT_CHECK(svt_qp_state(pairs[i].a.qp) == IBV_QPS_RTS);
		svt_pair_free(&pairs[i]);
	}
	printf("SOFTVERBS_LOSS=%s: %.1f MB in %u rounds x %d pairs, %.1f s, "
	       "all correct\n", loss, moved / 1e6, n, NPAIRS, now_s() - t0);
	fflush(stdout);
	svt_daemon_stop(&d);
}

/* Each rate in its own process: the library keeps the daemon it found. */
static int in_child(int drop, uint64_t total)
{
	pid_t pid = fork();
	int st;

	SVT_CHECK(pid >= 0);
	if (pid == 0) {
		one_rate(drop, total);
		exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : SVT_FAIL;
}

int main(void)
{
	static const int drops[] = { 1, 5, 10 };
	const char *mb = getenv("SVT_LOSS_MB");
	uint64_t total = (uint64_t)(mb && *mb ? atoi(mb) : 100) * 1000000;
	int i, ret = SVT_PASS;

	for (i = 0; i < 3; i++)
		if (in_child(drops[i], total) != SVT_PASS)
			ret = SVT_FAIL;
	return ret;
}
