// SPDX-License-Identifier: MIT
/*
 * Issue 18 item 4: a client always learns the daemon's fate.
 *
 * Hung daemon (SIGSTOP): with SOFTVERBS_CMD_TIMEOUT_MS=1000, a command
 * fails with ETIMEDOUT within the deadline plus slack (bound: 2.5 s), and
 * so does ibv_open_device(); after SIGCONT the same context works again
 * (the late reply is dropped by its sequence number).
 *
 * Dead daemon (SIGKILL), with sends and receives posted while it was
 * stopped, so nothing could consume them:
 *   - the async FD reports IBV_EVENT_DEVICE_FATAL within 2 s, once;
 *   - every posted WQE completes with IBV_WC_WR_FLUSH_ERR within 2 s;
 *   - ibv_post_send/ibv_post_recv then fail (EIO), commands fail (EIO);
 *   - the device leaves ibv_get_device_list();
 *   - destroying the objects and closing the device still succeed.
 */
#include <infiniband/verbs.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "svtest.h"
#include "svt_ep.h"

#define BOUND_MS 2500
#define NSEND 3
#define NRECV 4

static struct svt_ep ep;
static struct ibv_context *ctx;
static struct ibv_cq *cq;
static struct ibv_qp *qp;
static struct ibv_mr *mr;
static char buf[4096];

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* An RC QP connected to itself: enough to post sends. */
static void objects_create(void)
{
	svt_ep_open(&ep);
	ctx = ep.ctx;
	cq = ep.cq;
	qp = ep.qp;
	mr = ibv_reg_mr(ep.pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	svt_ep_connect(&ep, qp->qp_num);
}

static int post(uint64_t id, bool send)
{
	struct ibv_sge s = { (uintptr_t)buf, 64, mr->lkey };
	struct ibv_send_wr sw = { .wr_id = id, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND }, *sbad;
	struct ibv_recv_wr rw = { .wr_id = id, .sg_list = &s, .num_sge = 1 },
			   *rbad;

	return send ? ibv_post_send(qp, &sw, &sbad) :
		      ibv_post_recv(qp, &rw, &rbad);
}

/*
 * Stopped for sure before we go on: kill() only queues SIGSTOP, and an
 * engine thread that makes no system call on its way (a small SEND since
 * the scatter to the CQ) completed a SEND posted after it.
 */
static void daemon_stop(const struct svt_daemon *d)
{
	int status;

	SVT_CHECK(!kill(d->pid, SIGSTOP));
	SVT_CHECK(waitpid(d->pid, &status, WUNTRACED) == d->pid &&
		  WIFSTOPPED(status));
}

static void test_hung(struct svt_daemon *d, struct ibv_device *dev)
{
	struct timespec t0;
	struct ibv_pd *p;

	SVT_CHECK(!kill(d->pid, SIGSTOP));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	p = ibv_alloc_pd(ctx);
	SVT_CHECK(!p && errno == ETIMEDOUT);
	SVT_CHECK(ms_since(&t0) < BOUND_MS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	SVT_CHECK(!ibv_open_device(dev) && errno == ETIMEDOUT);
	SVT_CHECK(ms_since(&t0) < BOUND_MS);
	printf("hung daemon: ETIMEDOUT after %ld ms\n", ms_since(&t0));
	SVT_CHECK(!kill(d->pid, SIGCONT));
	p = ibv_alloc_pd(ctx);
	SVT_CHECK(p);
	SVT_CHECK(!ibv_dealloc_pd(p));
}

static void wait_fatal(const struct timespec *t0)
{
	struct pollfd pfd = { .fd = ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;

	SVT_CHECK(poll(&pfd, 1, BOUND_MS) == 1);
	SVT_CHECK(!ibv_get_async_event(ctx, &ev));
	SVT_CHECK(ev.event_type == IBV_EVENT_DEVICE_FATAL);
	ibv_ack_async_event(&ev);
	SVT_CHECK(ms_since(t0) < BOUND_MS);
	SVT_CHECK(ibv_get_async_event(ctx, &ev) && errno == EIO);
}

static void wait_flushed(const struct timespec *t0)
{
	int sends = 0, recvs = 0;
	struct ibv_wc wc;

	while (sends + recvs < NSEND + NRECV) {
		int n = ibv_poll_cq(cq, 1, &wc);

		SVT_CHECK(n >= 0);
		SVT_CHECK(ms_since(t0) < BOUND_MS);
		if (!n)
			continue;
		SVT_CHECK(wc.status == IBV_WC_WR_FLUSH_ERR);
		SVT_CHECK(wc.qp_num == qp->qp_num);
		if (wc.opcode & IBV_WC_RECV)
			SVT_CHECK(wc.wr_id == 100 + (uint64_t)recvs++);
		else
			SVT_CHECK(wc.wr_id == (uint64_t)sends++);
	}
	SVT_CHECK(ibv_poll_cq(cq, 1, &wc) == 0);
	printf("dead daemon: %d sends, %d recvs flushed in %ld ms\n", sends,
	       recvs, ms_since(t0));
}

static void test_dead(struct svt_daemon *d)
{
	struct ibv_device **list;
	struct timespec t0;
	int i, n = -1;

	daemon_stop(d);
	for (i = 0; i < NSEND; i++)
		SVT_CHECK(!post(i, true));
	for (i = 0; i < NRECV; i++)
		SVT_CHECK(!post(100 + i, false));
	SVT_CHECK(!kill(d->pid, SIGKILL));
	SVT_CHECK(waitpid(d->pid, NULL, 0) == d->pid);
	d->pid = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wait_fatal(&t0);
	wait_flushed(&t0);
	SVT_CHECK(post(9, true) == EIO && post(9, false) == EIO);
	SVT_CHECK(!ibv_alloc_pd(ctx) && errno == EIO);
	list = ibv_get_device_list(&n);
	SVT_CHECK(list && n == 0);
	ibv_free_device_list(list);
	SVT_CHECK(!ibv_destroy_qp(qp) && !ibv_destroy_cq(cq));
	SVT_CHECK(!ibv_dereg_mr(mr) && !ibv_dealloc_pd(ep.pd));
	SVT_CHECK(!ibv_close_device(ctx));
}

int main(void)
{
	struct ibv_device **list;
	struct svt_daemon d;

	setenv("SOFTVERBS_CMD_TIMEOUT_MS", "1000", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	list = ibv_get_device_list(NULL);
	SVT_CHECK(list && list[0]);
	objects_create();
	test_hung(&d, list[0]);
	test_dead(&d);
	ibv_free_device_list(list);
	svt_daemon_stop(&d);
	printf("fate: ok\n");
	return SVT_PASS;
}
