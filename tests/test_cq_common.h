/* SPDX-License-Identifier: MIT */
/* Shared setup of the CQ tests: a private daemon and an open context. */
#ifndef TEST_CQ_COMMON_H
#define TEST_CQ_COMMON_H

#include <infiniband/verbs.h>

#include "svtest.h"

struct cqt {
	struct svt_daemon d;
	struct ibv_context *ctx;
	uint32_t max_cqe;
};

/* Start the daemon and open softverbs0 (failing the test if impossible). */
static inline void cqt_open(struct cqt *t)
{
	struct ibv_device_attr attr;

	t->ctx = svt_start(&t->d);
	t->max_cqe = 65535;
	if (!ibv_query_device(t->ctx, &attr))
		t->max_cqe = (uint32_t)attr.max_cqe;
}

static inline void cqt_close(struct cqt *t)
{
	ibv_close_device(t->ctx);
	svt_daemon_stop(&t->d);
}

#endif
