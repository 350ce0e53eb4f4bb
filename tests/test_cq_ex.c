// SPDX-License-Identifier: MIT
/* Extended CQs: creation flags, empty polling, bad flows (tests.test_cqex). */
#include "test_cq_common.h"

static struct ibv_cq_ex *mk(struct cqt *t, uint32_t cqe, uint64_t wc_flags,
			    uint32_t comp_mask, uint32_t flags)
{
	struct ibv_cq_init_attr_ex a = {
		.cqe = cqe, .wc_flags = wc_flags, .comp_mask = comp_mask,
		.flags = flags,
	};

	errno = 0;
	return ibv_create_cq_ex(t->ctx, &a);
}

static void check_empty(struct ibv_cq_ex *cq)
{
	struct ibv_poll_cq_attr pa = {};
	struct ibv_wc wc;

	SVT_CHECK(ibv_start_poll(cq, &pa) == ENOENT);
	/* A second start after ENOENT must not deadlock. */
	SVT_CHECK(ibv_start_poll(cq, &pa) == ENOENT);
	SVT_CHECK(ibv_poll_cq(ibv_cq_ex_to_cq(cq), 1, &wc) == 0);
}

int main(void)
{
	struct ibv_cq_ex *cq;
	struct cqt t;
	unsigned int i;

	cqt_open(&t);
	cq = mk(&t, 2000, IBV_WC_STANDARD_FLAGS, 0, 0);
	SVT_CHECK(cq && cq->cqe >= 2000);
	check_empty(cq);
	SVT_CHECK(ibv_destroy_cq(ibv_cq_ex_to_cq(cq)) == 0);

	/* Each standard flag and TM info (test_tm.c) work; the others are
	 * EOPNOTSUPP. */
	for (i = 0; i < 12; i++) {
		uint64_t f = 1ULL << i;

		cq = mk(&t, 10, f, 0, 0);
		if (f & (IBV_WC_STANDARD_FLAGS | IBV_WC_EX_WITH_TM_INFO)) {
			SVT_CHECK(cq);
			check_empty(cq);
			SVT_CHECK(!ibv_destroy_cq(ibv_cq_ex_to_cq(cq)));
		} else {
			SVT_CHECK(!cq && errno == EOPNOTSUPP);
		}
	}
	cq = mk(&t, 10, 0, IBV_CQ_INIT_ATTR_MASK_FLAGS,
		IBV_CREATE_CQ_ATTR_SINGLE_THREADED |
			IBV_CREATE_CQ_ATTR_IGNORE_OVERRUN);
	SVT_CHECK(cq);
	SVT_CHECK(!ibv_destroy_cq(ibv_cq_ex_to_cq(cq)));
	SVT_CHECK(!mk(&t, 10, 0, IBV_CQ_INIT_ATTR_MASK_FLAGS, 1U << 5) &&
		  errno == EOPNOTSUPP);
	SVT_CHECK(!mk(&t, 10, 0, 1U << 7, 0) && errno == EINVAL);
	SVT_CHECK(!mk(&t, t.max_cqe + 1, 0, 0, 0) && errno == EINVAL);
	{
		struct ibv_cq_init_attr_ex a = { .cqe = 10 };

		a.comp_vector = (uint32_t)t.ctx->num_comp_vectors + 1;
		errno = 0;
		SVT_CHECK(!ibv_create_cq_ex(t.ctx, &a) && errno == EINVAL);
	}
	cqt_close(&t);
	return SVT_PASS;
}
