// SPDX-License-Identifier: MIT
/*
 * CQ create / poll / arm / resize / destroy without traffic, and the
 * bad-flow errnos rdma-core's tests.test_cq expects.
 */
#include "test_cq_common.h"

static void check_create_bad(struct cqt *t)
{
	struct ibv_cq *cq;

	errno = 0;
	cq = ibv_create_cq(t->ctx, (int)t->max_cqe + 1, NULL, NULL, 0);
	SVT_CHECK(!cq && errno == EINVAL);
	errno = 0;
	cq = ibv_create_cq(t->ctx, 100, NULL, NULL,
			   t->ctx->num_comp_vectors + 1);
	SVT_CHECK(!cq && errno == EINVAL);
	errno = 0;
	cq = ibv_create_cq(t->ctx, 0, NULL, NULL, 0);
	SVT_CHECK(!cq && errno == EINVAL);
	errno = 0;
	cq = ibv_create_cq(t->ctx, -5, NULL, NULL, 0);
	SVT_CHECK(!cq && errno == EINVAL);
}

static void check_sizes(struct cqt *t)
{
	int sizes[] = { 1, 2, 3, 100, (int)t->max_cqe / 2, (int)t->max_cqe };
	struct ibv_wc wc[4];
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ibv_cq *cq = ibv_create_cq(t->ctx, sizes[i], &wc, NULL,
						  t->ctx->num_comp_vectors - 1);

		SVT_CHECK(cq);
		SVT_CHECK(cq->cqe >= sizes[i]);
		SVT_CHECK(cq->context == t->ctx && cq->cq_context == &wc);
		SVT_CHECK(ibv_poll_cq(cq, 4, wc) == 0);
		SVT_CHECK(ibv_req_notify_cq(cq, 0) == 0);
		SVT_CHECK(ibv_req_notify_cq(cq, 1) == 0);
		SVT_CHECK(ibv_destroy_cq(cq) == 0);
	}
}

static void check_resize(struct cqt *t)
{
	struct ibv_cq *cq = ibv_create_cq(t->ctx, 3, NULL, NULL, 0);
	struct ibv_wc wc;

	SVT_CHECK(cq);
	SVT_CHECK(ibv_resize_cq(cq, 1) == 0 && cq->cqe >= 1);
	SVT_CHECK(ibv_resize_cq(cq, 7) == 0 && cq->cqe >= 7);
	SVT_CHECK(ibv_resize_cq(cq, 1000) == 0 && cq->cqe >= 1000);
	SVT_CHECK(ibv_resize_cq(cq, (int)t->max_cqe + 1) == EINVAL);
	SVT_CHECK(ibv_resize_cq(cq, 0) == EINVAL);
	SVT_CHECK(cq->cqe >= 1000);
	SVT_CHECK(ibv_poll_cq(cq, 1, &wc) == 0);
	SVT_CHECK(ibv_req_notify_cq(cq, 0) == 0);
	SVT_CHECK(ibv_destroy_cq(cq) == 0);
}

int main(void)
{
	struct ibv_cq *cqs[64];
	struct cqt t;
	int i;

	cqt_open(&t);
	check_create_bad(&t);
	check_sizes(&t);
	check_resize(&t);
	/* Many at once, destroyed out of order; leftovers go with close. */
	for (i = 0; i < 64; i++) {
		cqs[i] = ibv_create_cq(t.ctx, 16 + i, NULL, NULL, 0);
		SVT_CHECK(cqs[i]);
	}
	for (i = 0; i < 64; i += 2)
		SVT_CHECK(ibv_destroy_cq(cqs[i]) == 0);
	cqt_close(&t);
	return SVT_PASS;
}
