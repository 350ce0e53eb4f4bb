// SPDX-License-Identifier: MIT
/*
 * The transport under loss: a private daemon runs with SOFTVERBS_LOSS
 * (the lossy test transport drops, duplicates and reorders one-MTU
 * packets by a seeded rule) and two RC QPs move mixed WRITE, READ, SEND
 * and FETCH_ADD traffic, several work requests in flight at a time.
 * Every completion must succeed and every byte must arrive: retransmit
 * timers, NAK-seq go-back-N, duplicate re-ACKs, READ resumption and the
 * atomic replay table are what make that true. Then with drop=100 a WRITE
 * must end in IBV_WC_RETRY_EXC_ERR after retry_cnt retries.
 */
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "svtest.h"
#include "svt_ep.h"

#define BUF (1U << 20)
#define MSG_MAX (128U * 1024)

struct side {
	struct svt_ep ep;
	struct ibv_mr *mr;
	uint8_t *buf;
};

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void side_open(struct side *s)
{
	svt_ep_open(&s->ep);
	s->buf = calloc(1, BUF);
	SVT_CHECK(s->buf);
	s->mr = ibv_reg_mr(s->ep.pd, s->buf, BUF,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC);
	SVT_CHECK(s->mr);
}

/* 1 KiB packets, ~1 ms timeout, retries enough for a lossy link. */
static void connect_lossy(struct svt_ep *e, uint32_t dqpn, uint8_t retry)
{
	svt_ep_connect_ex(e, dqpn, IBV_MTU_1024, 8, retry);
}

static void post(struct side *s, enum ibv_wr_opcode op, uint64_t loff,
		 uint32_t len, uint64_t raddr, uint32_t rkey, uint64_t add)
{
	struct ibv_sge sge = { (uintptr_t)s->buf + loff, len, s->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = op, .sg_list = &sge, .num_sge = 1,
				  .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	if (op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = rkey;
		wr.wr.atomic.compare_add = add;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = rkey;
	}
	SVT_CHECK(!ibv_post_send(s->ep.qp, &wr, &bad));
}

static void post_recv(struct side *s, uint64_t off, uint32_t len)
{
	struct ibv_sge sge = { (uintptr_t)s->buf + off, len, s->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = off, .sg_list = &sge,
				  .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(s->ep.qp, &wr, &bad));
}

static void expect_ok(struct ibv_cq *cq, int n)
{
	while (n--) {
		struct ibv_wc wc = svt_poll1(cq);

		if (wc.status != IBV_WC_SUCCESS)
			fprintf(stderr, "wr %lu: %s\n", (unsigned long)wc.wr_id,
				ibv_wc_status_str(wc.status));
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	}
}

/*
 * One round: WRITE a random block a -> b, READ it back b -> a elsewhere,
 * SEND it a -> b, FETCH_ADD b's counter; all in flight together.
 */
static uint64_t round_trip(struct side *a, struct side *b, uint64_t adds)
{
	uint32_t len = 1 + rnd(MSG_MAX);
	uint64_t src = 0, dst = MSG_MAX, back = 2 * MSG_MAX, rcv = 3 * MSG_MAX;
	uint64_t ctr = 4 * MSG_MAX, old = 5 * MSG_MAX;
	uint64_t rbase = (uintptr_t)b->buf;
	uint32_t i;

	for (i = 0; i < len; i++)
		a->buf[src + i] = (uint8_t)rnd(256);
	post_recv(b, rcv, MSG_MAX);
	post(a, IBV_WR_RDMA_WRITE, src, len, rbase + dst, b->mr->rkey, 0);
	post(a, IBV_WR_RDMA_READ, back, len, rbase + dst, b->mr->rkey, 0);
	post(a, IBV_WR_SEND, src, len, 0, 0, 0);
	post(a, IBV_WR_ATOMIC_FETCH_AND_ADD, old, 8, rbase + ctr, b->mr->rkey,
	     3);
	expect_ok(a->ep.cq, 4);
	expect_ok(b->ep.cq, 1);
	SVT_CHECK(!memcmp(a->buf + src, b->buf + dst, len));
	SVT_CHECK(!memcmp(a->buf + src, a->buf + back, len));
	SVT_CHECK(!memcmp(a->buf + src, b->buf + rcv, len));
	SVT_CHECK(*(uint64_t *)(a->buf + old) == adds * 3);
	return len;
}

static void lossy_run(const char *spec, int rounds)
{
	struct svt_daemon d;
	struct side a, b;
	uint64_t bytes = 0;
	int i;

	setenv("SOFTVERBS_LOSS", spec, 1);
	svt_daemon_start(&d);
	side_open(&a);
	side_open(&b);
	connect_lossy(&a.ep, b.ep.qp->qp_num, 7);
	connect_lossy(&b.ep, a.ep.qp->qp_num, 7);
	for (i = 0; i < rounds; i++) {
		bytes += round_trip(&a, &b, (uint64_t)i);
		if (getenv("LOSS_VERBOSE"))
			printf("round %d ok\n", i);
	}
	SVT_CHECK(*(uint64_t *)(b.buf + 4 * MSG_MAX) == (uint64_t)rounds * 3);
	printf("%s: %d rounds, %lu payload bytes x3, all intact\n", spec,
	       rounds, (unsigned long)bytes);
	svt_daemon_stop(&d);
}

/* Every packet lost: the WRITE ends after retry_cnt retries. */
static void total_loss(void)
{
	struct svt_daemon d;
	struct side a, b;
	struct timespec t0, t1;
	struct ibv_wc wc;
	double ms;

	setenv("SOFTVERBS_LOSS", "drop=100", 1);
	svt_daemon_start(&d);
	side_open(&a);
	side_open(&b);
	connect_lossy(&a.ep, b.ep.qp->qp_num, 3);
	connect_lossy(&b.ep, a.ep.qp->qp_num, 3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	post(&a, IBV_WR_RDMA_WRITE, 0, 4096, (uintptr_t)b.buf, b.mr->rkey, 0);
	wc = svt_poll1(a.ep.cq);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("drop=100: %s after %.1f ms (retry_cnt 3, timeout ~1 ms)\n",
	       ibv_wc_status_str(wc.status), ms);
	SVT_CHECK(wc.status == IBV_WC_RETRY_EXC_ERR);
	/* 1 + 3 tries of ~1 ms each: not at once, not forever. */
	SVT_CHECK(ms >= 3.0 && ms < 2000.0);
	svt_daemon_stop(&d);
}

/* Each daemon in its own child: the library keeps its device list. */
static void in_child(void (*fn)(const char *, int), const char *spec,
		     int rounds)
{
	pid_t pid = fork();
	int status;

	SVT_CHECK(pid >= 0);
	if (!pid) {
		fn(spec, rounds);
		exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SVT_PASS);
}

static void total_loss_run(const char *spec, int rounds)
{
	(void)spec;
	(void)rounds;
	total_loss();
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	in_child(lossy_run, "drop=1,dup=1,reorder=1,seed=11", 40);
	in_child(lossy_run, "drop=5,dup=2,reorder=5,seed=12", 30);
	in_child(lossy_run, "drop=10,dup=5,reorder=10,delay_us=20,seed=13",
		 20);
	in_child(total_loss_run, NULL, 0);
	return 0;
}
