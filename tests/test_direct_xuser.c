// SPDX-License-Identifier: MIT
/*
 * Issue 17: the direct path is refused across users, and the fallback
 * works. Runs as root (the target) with a second user ("svtest-peer",
 * tests/svt_user.h) as the initiator, over an RC connection both
 * consented to (each side connected its QP to the other's). With
 * SOFTVERBS_DIRECT=1 the peer's RDMA WRITE must not complete while the
 * daemon is stopped (no direct path: the daemon refused the grant), then
 * completes through the daemon once it runs again, and the bytes land;
 * a READ back through the daemon returns them. The same for a SEND into
 * a receive the root side posted: it waits while the daemon is stopped
 * (the receiver's direct receive ring is never handed across users),
 * then lands through the daemon.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"
#include "svt_user.h"

#define LEN 65536

static struct passwd *pw;

/* Ask the root side to do c (S: stop the daemon, C: continue, D: done). */
static void ask(struct svt_dx *x, char c)
{
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1);
}

static void send_refused(struct svt_dx *x)
{
	struct ibv_sge sg = { (uintptr_t)x->buf, 64, x->mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &sg, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;
	int got;

	ask(x, 'R');
	ask(x, 'S');
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
	got = svt_dx_poll_ms(x->ep.cq, &wc, 300);
	ask(x, 'C');
	printf("another user, daemon stopped: SEND %s\n",
	       got ? "completed (direct: wrong)" : "waited for the daemon");
	SVT_CHECK(!got);
	SVT_CHECK(svt_poll1(x->ep.cq).status == IBV_WC_SUCCESS);
	ask(x, 'V');
}

/* Root side: a receive for the peer's SEND, and its check. */
static void recv_step(struct svt_dx *x, char c)
{
	struct ibv_sge sg = { (uintptr_t)x->buf + LEN / 2, 4096, x->mr->lkey };
	struct ibv_recv_wr wr = { .sg_list = &sg, .num_sge = 1 }, *bad;
	struct ibv_wc wc;
	int i;

	if (c == 'R')
		SVT_CHECK(!ibv_post_recv(x->ep.qp, &wr, &bad));
	if (c != 'V')
		return;
	wc = svt_poll1(x->ep.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 64);
	for (i = 0; i < 64; i++)
		SVT_CHECK(x->buf[LEN / 2 + i] == 0xab);
}

static void initiator(struct svt_dx *x)
{
	struct ibv_wc wc;
	int got;

	SVT_CHECK(!svt_become(pw));
	svt_dx_open(x, LEN);
	memset(x->buf, 0xab, LEN / 2);
	svt_dx_link(x);
	/* The first post asks for the grant (the daemon refuses it). */
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 8192, 64, true);
	SVT_CHECK(svt_poll1(x->ep.cq).status == IBV_WC_SUCCESS);
	ask(x, 'S');
	svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, 0, 4096, true);
	got = svt_dx_poll_ms(x->ep.cq, &wc, 300);
	ask(x, 'C');
	printf("another user, daemon stopped: WRITE %s\n",
	       got ? "completed (direct: wrong)" : "waited for the daemon");
	SVT_CHECK(!got);
	wc = svt_poll1(x->ep.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	svt_dx_post(x, IBV_WR_RDMA_READ, LEN / 2, 0, 4096, true);
	wc = svt_poll1(x->ep.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(x->buf, x->buf + LEN / 2, 4096));
	send_refused(x);
	ask(x, 'D');
}

int main(void)
{
	struct svt_daemon d;
	struct svt_dx x = {};
	char c;
	int i;

	setenv("SOFTVERBS_DIRECT", "1", 1);
	pw = svt_xuser_start(&d, NULL);
	svt_dx_fork(&x, initiator);
	svt_dx_open(&x, LEN);
	svt_dx_link(&x);
	for (;;) {
		svt_dx_get(&x, &c, 1);
		if (c == 'S')
			svt_dx_stop_daemon(d.pid);
		else if (c == 'C')
			SVT_CHECK(!kill(d.pid, SIGCONT));
		recv_step(&x, c);
		svt_dx_put(&x, &c, 1);
		if (c == 'D')
			break;
	}
	for (i = 0; i < 4096; i++)
		SVT_CHECK(x.buf[i] == 0xab);
	SVT_CHECK(svt_dx_wait(&x) == SVT_PASS);
	printf("refused across users, the daemon path moved the data: PASS\n");
	return SVT_PASS;
}
