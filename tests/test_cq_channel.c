// SPDX-License-Identifier: MIT
/*
 * Completion channels: create/destroy, EBUSY while a CQ uses one, and that
 * an armed CQ without completions produces no event (poll() times out,
 * a non-blocking ibv_get_cq_event says EAGAIN).
 */
#include <fcntl.h>
#include <poll.h>

#include "test_cq_common.h"

static void check_no_event(struct ibv_comp_channel *ch)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	int fl;

	SVT_CHECK(poll(&pfd, 1, 100) == 0);
	fl = fcntl(ch->fd, F_GETFL);
	SVT_CHECK(fl >= 0 && fcntl(ch->fd, F_SETFL, fl | O_NONBLOCK) == 0);
	errno = 0;
	SVT_CHECK(ibv_get_cq_event(ch, &ev_cq, &ev_ctx) == -1);
	SVT_CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
}

int main(void)
{
	struct ibv_comp_channel *ch, *ch2;
	struct ibv_cq *cq, *cq2, *cq3;
	struct cqt t;
	int x;

	cqt_open(&t);
	ch = ibv_create_comp_channel(t.ctx);
	SVT_CHECK(ch && ch->fd >= 0 && ch->context == t.ctx);
	ch2 = ibv_create_comp_channel(t.ctx);
	SVT_CHECK(ch2 && ch2->fd >= 0 && ch2->fd != ch->fd);

	cq = ibv_create_cq(t.ctx, 10, &x, ch, 0);
	SVT_CHECK(cq && cq->channel == ch && cq->cq_context == &x);
	cq2 = ibv_create_cq(t.ctx, (int)t.max_cqe, NULL, ch, 0);
	SVT_CHECK(cq2);
	cq3 = ibv_create_cq(t.ctx, 1, NULL, ch2, 0);
	SVT_CHECK(cq3);
	/* Bad comp_vector with a channel: still EINVAL. */
	errno = 0;
	SVT_CHECK(!ibv_create_cq(t.ctx, 4, NULL, ch, 99) && errno == EINVAL);

	SVT_CHECK(ibv_req_notify_cq(cq, 0) == 0);
	SVT_CHECK(ibv_req_notify_cq(cq2, 1) == 0);
	check_no_event(ch);

	SVT_CHECK(ibv_destroy_comp_channel(ch) == EBUSY);
	SVT_CHECK(ibv_destroy_cq(cq) == 0);
	SVT_CHECK(ibv_destroy_comp_channel(ch) == EBUSY);
	SVT_CHECK(ibv_destroy_cq(cq2) == 0);
	SVT_CHECK(ibv_destroy_comp_channel(ch) == 0);
	/* ch2 and cq3 are left for context teardown in the daemon. */
	SVT_CHECK(ibv_destroy_cq(cq3) == 0);
	SVT_CHECK(ibv_destroy_comp_channel(ch2) == 0);
	/* A channel and a CQ on it left open at close. */
	ch = ibv_create_comp_channel(t.ctx);
	SVT_CHECK(ch);
	SVT_CHECK(ibv_create_cq(t.ctx, 10, NULL, ch, 0));
	cqt_close(&t);
	return SVT_PASS;
}
