// SPDX-License-Identifier: MIT
/*
 * Issue 17, the same-host direct path between two processes (the parent
 * initiates, a forked child is the target), docs/direct-path.md:
 *   - RDMA WRITE and READ move the right bytes and complete with the
 *     daemon path's opcode and length;
 *   - with SOFTVERBS_DIRECT=1 they complete while the daemon is stopped
 *     (SIGSTOP): no daemon hop. With "off" (SOFTVERBS_DIRECT=0) the same
 *     WRITE waits until the daemon runs again;
 *   - order: a WRITE posted after a SEND (daemon path) completes after
 *     it, and a SEND posted after a direct WRITE completes after that;
 *   - unsignaled direct writes make no completion.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (1 << 20)
#define HALF (LEN / 2)

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static void post_recv(struct svt_dx *x, uint64_t off, uint32_t len)
{
	struct ibv_sge s = { (uintptr_t)x->buf + off, len, x->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = off, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(x->ep.qp, &wr, &bad));
}

static void target(struct svt_dx *x)
{
	struct ibv_wc wc;
	size_t i;
	char c;

	svt_dx_open(x, LEN);
	svt_dx_link(x);
	/* The SENDs come late; were they early, RNR retries would wait. */
	post_recv(x, LEN - 4096, 64);
	post_recv(x, LEN - 8192, 64);
	svt_dx_get(x, &c, 1);
	for (i = 0; i < HALF; i++)
		SVT_CHECK(x->buf[i] == pat(i));
	for (i = 0; i < 2; i++) {
		SVT_CHECK(svt_dx_poll_ms(x->ep.cq, &wc, 5000));
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.opcode == IBV_WC_RECV);
	}
	svt_dx_put(x, &c, 1);
	svt_dx_close(x);
}

static struct ibv_wc one(struct svt_dx *x, enum ibv_wc_opcode op)
{
	struct ibv_wc wc = svt_poll1(x->ep.cq);

	if (wc.status != IBV_WC_SUCCESS || wc.opcode != op)
		fprintf(stderr, "wc: status %d opcode %d (want %d)\n",
			wc.status, wc.opcode, op);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == op);
	return wc;
}

static void write_read(struct svt_dx *x)
{
	struct ibv_wc wc;
	size_t i;

	for (i = 0; i < HALF; i++)
		x->buf[i] = pat(i);
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, HALF, true);
	wc = one(x, IBV_WC_RDMA_WRITE);
	SVT_CHECK(wc.byte_len == HALF && wc.qp_num == x->ep.qp->qp_num);
	svt_dx_post(x, IBV_WR_RDMA_READ, HALF, 0, HALF, true);
	wc = one(x, IBV_WC_RDMA_READ);
	SVT_CHECK(wc.byte_len == HALF);
	SVT_CHECK(!memcmp(x->buf, x->buf + HALF, HALF));
}

/* With the daemon stopped, only the direct path can complete a WRITE. */
static void daemon_stopped(struct svt_dx *x, pid_t daemon, bool on)
{
	struct ibv_wc wc;
	int got;

	svt_dx_stop_daemon(daemon);
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, 4096, true);
	got = svt_dx_poll_ms(x->ep.cq, &wc, 500);
	SVT_CHECK(!kill(daemon, SIGCONT));
	if (!got)
		wc = svt_poll1(x->ep.cq);
	printf("daemon stopped: WRITE %s\n",
	       got ? "completed (direct)" : "waited for the daemon");
	SVT_CHECK(got == on);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
}

static void send_one(struct svt_dx *x, struct ibv_send_wr *wr)
{
	static struct ibv_sge s;

	s = (struct ibv_sge){ (uintptr_t)x->buf, 16, x->mr->lkey };
	memset(wr, 0, sizeof(*wr));
	wr->wr_id = 7;
	wr->sg_list = &s;
	wr->num_sge = 1;
	wr->opcode = IBV_WR_SEND;
	wr->send_flags = IBV_SEND_SIGNALED;
}

/* SEND then WRITE, then WRITE then SEND: completions in posting order. */
static void order(struct svt_dx *x)
{
	struct ibv_send_wr snd, *bad;

	send_one(x, &snd);
	SVT_CHECK(!ibv_post_send(x->ep.qp, &snd, &bad));
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, 4096, true);
	one(x, IBV_WC_SEND);
	one(x, IBV_WC_RDMA_WRITE);
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, 4096, true);
	SVT_CHECK(!ibv_post_send(x->ep.qp, &snd, &bad));
	one(x, IBV_WC_RDMA_WRITE);
	one(x, IBV_WC_SEND);
}

static void unsignaled(struct svt_dx *x)
{
	struct ibv_wc wc;
	int i;

	for (i = 0; i < 10; i++)
		svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, HALF, false);
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, HALF, true);
	one(x, IBV_WC_RDMA_WRITE);
	SVT_CHECK(!svt_dx_poll_ms(x->ep.cq, &wc, 50));
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
	write_read(&x);
	daemon_stopped(&x, d.pid, on);
	order(&x);
	unsignaled(&x);
	svt_dx_put(&x, &c, 1);
	svt_dx_get(&x, &c, 1);
	SVT_CHECK(svt_dx_wait(&x) == SVT_PASS);
	svt_dx_close(&x);
	printf("direct path %s: PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
