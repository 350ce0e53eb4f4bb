// SPDX-License-Identifier: MIT
/*
 * The async event FD: every context gets its own, it is pollable, reads on
 * an empty one fail with EAGAIN when non-blocking, and events never leak
 * between contexts. Each of two contexts raises a real event (an SRQ-attached
 * QP moved to ERR gives IBV_EVENT_QP_LAST_WQE_REACHED once the engine
 * flushes it) and must see exactly its own, while the other sees nothing.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "svtest.h"

/* What one context builds to raise an event. */
struct raiser {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_srq *srq;
	struct ibv_qp *qp;
};

static void set_nonblock(struct ibv_context *ctx)
{
	int fl = fcntl(ctx->async_fd, F_GETFL);

	SVT_CHECK(fl >= 0 && fcntl(ctx->async_fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

/* Nothing pending: poll says so within ms, and a read says EAGAIN. */
static void expect_quiet(struct ibv_context *ctx, int ms)
{
	struct pollfd pfd = { .fd = ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;

	SVT_CHECK(poll(&pfd, 1, ms) == 0);
	errno = 0;
	SVT_CHECK(ibv_get_async_event(ctx, &ev) == -1 && errno == EAGAIN);
}

static void raiser_init(struct raiser *r, struct ibv_context *ctx)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 8, .max_sge = 1 } };
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 8, .max_send_sge = 1 },
	};

	r->ctx = ctx;
	r->pd = ibv_alloc_pd(ctx);
	r->cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	SVT_CHECK(r->pd && r->cq);
	r->srq = ibv_create_srq(r->pd, &sa);
	SVT_CHECK(r->srq);
	qa.send_cq = qa.recv_cq = r->cq;
	qa.srq = r->srq;
	r->qp = ibv_create_qp(r->pd, &qa);
	SVT_CHECK(r->qp);
}

/* INIT -> ERR: the engine flushes the QP and reports its last WQE. */
static void raise_last_wqe(struct raiser *r)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1 };

	SVT_CHECK(ibv_modify_qp(r->qp, &a,
				IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					IBV_QP_ACCESS_FLAGS) == 0);
	a.qp_state = IBV_QPS_ERR;
	SVT_CHECK(ibv_modify_qp(r->qp, &a, IBV_QP_STATE) == 0);
}

static void expect_last_wqe(struct raiser *r)
{
	struct pollfd pfd = { .fd = r->ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;

	SVT_CHECK(poll(&pfd, 1, 5000) == 1);
	SVT_CHECK(ibv_get_async_event(r->ctx, &ev) == 0);
	SVT_CHECK(ev.event_type == IBV_EVENT_QP_LAST_WQE_REACHED);
	SVT_CHECK(ev.element.qp == r->qp);
	ibv_ack_async_event(&ev);
}

static void raiser_fini(struct raiser *r)
{
	SVT_CHECK(ibv_destroy_qp(r->qp) == 0);
	SVT_CHECK(ibv_destroy_srq(r->srq) == 0);
	SVT_CHECK(ibv_destroy_cq(r->cq) == 0);
	SVT_CHECK(ibv_dealloc_pd(r->pd) == 0);
}

int main(void)
{
	struct raiser ra, rb;
	struct svt_daemon d;
	struct ibv_context *a, *b;

	a = svt_start(&d);
	b = svt_open_dev("softverbs0");
	SVT_CHECK(a->async_fd >= 0 && b->async_fd >= 0);
	SVT_CHECK(a->async_fd != b->async_fd);
	set_nonblock(a);
	set_nonblock(b);
	expect_quiet(a, 50);
	expect_quiet(b, 0);

	raiser_init(&ra, a);
	raiser_init(&rb, b);
	raise_last_wqe(&ra);
	expect_last_wqe(&ra);
	expect_quiet(a, 100); /* reported once */
	expect_quiet(b, 0); /* never to the other context */

	raise_last_wqe(&rb);
	expect_last_wqe(&rb);
	expect_quiet(b, 100);
	expect_quiet(a, 0);

	raiser_fini(&ra);
	raiser_fini(&rb);
	SVT_CHECK(ibv_close_device(b) == 0);
	SVT_CHECK(ibv_close_device(a) == 0);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
