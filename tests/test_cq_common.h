/* SPDX-License-Identifier: MIT */
/* Shared setup of the CQ tests: a private daemon and an open context. */
#ifndef TEST_CQ_COMMON_H
#define TEST_CQ_COMMON_H

#include <infiniband/verbs.h>

#include "svtest.h"

struct cqt {
	struct svt_daemon d;
	struct ibv_device **list;
	struct ibv_context *ctx;
	uint32_t max_cqe;
};

/* Start the daemon and open softverbs0; exits 77 if that is impossible. */
static inline void cqt_open(struct cqt *t)
{
	struct ibv_device_attr attr;

	if (svt_daemon_start(&t->d))
		exit(SVT_SKIP);
	t->list = ibv_get_device_list(NULL);
	if (!t->list || !t->list[0]) {
		fprintf(stderr, "no device\n");
		svt_daemon_stop(&t->d);
		exit(SVT_SKIP);
	}
	t->ctx = ibv_open_device(t->list[0]);
	if (!t->ctx) {
		perror("ibv_open_device");
		svt_daemon_stop(&t->d);
		exit(SVT_SKIP);
	}
	t->max_cqe = 65535;
	if (!ibv_query_device(t->ctx, &attr))
		t->max_cqe = (uint32_t)attr.max_cqe;
}

static inline void cqt_close(struct cqt *t)
{
	ibv_close_device(t->ctx);
	ibv_free_device_list(t->list);
	svt_daemon_stop(&t->d);
}

#endif
