// SPDX-License-Identifier: MIT
/*
 * The advertised max_qp is a limit (issue 10): QPs are created, spread
 * over two contexts of the device (the limit is the device's), until
 * ibv_query_device's max_qp exist; one more fails with ENOMEM (the
 * kernel's answer for an exhausted QP table) in either context, and
 * leaves nothing behind; after one is destroyed one can be created
 * again; and the last two QPs created, connected, move an RDMA WRITE
 * (checksummed). That 1,000 QPs move traffic at once is test_dp_scale.
 *
 * The daemon runs with --limit-qps=0: its per-user QP limit (default
 * 16384, the same as max_qp) would otherwise refuse first, with EAGAIN as
 * the kernel's rdma cgroup does, and hide the device's own limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svtest.h"
#include "svt_ep.h"

struct ctx {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
};

static void ctx_open(struct ctx *c)
{
	c->ctx = svt_open_dev("softverbs0");
	c->pd = ibv_alloc_pd(c->ctx);
	c->cq = ibv_create_cq(c->ctx, 16, NULL, NULL, 0);
	SVT_CHECK(c->pd && c->cq);
}

static struct ibv_qp *qp_new(struct ctx *c)
{
	struct ibv_qp_init_attr a = {
		.send_cq = c->cq, .recv_cq = c->cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};

	return ibv_create_qp(c->pd, &a);
}

/* One more than the limit fails with ENOMEM. */
static void refused(struct ctx *c)
{
	struct ibv_qp *qp;

	errno = 0;
	qp = qp_new(c);
	if (qp)
		fprintf(stderr, "a QP beyond max_qp was created\n");
	else if (errno != ENOMEM)
		fprintf(stderr, "beyond max_qp: errno %d (%s), want ENOMEM\n",
			errno, strerror(errno));
	SVT_CHECK(!qp && errno == ENOMEM);
}

/* The last two QPs of context c, connected: an 8 KiB WRITE lands. */
static void traffic(struct ctx *c, struct ibv_qp *q1, struct ibv_qp *q2)
{
	static uint8_t src[8192], dst[8192];
	struct svt_ep a = { .ctx = c->ctx, .pd = c->pd, .cq = c->cq, .qp = q1 };
	struct svt_ep b = a;
	struct ibv_mr *smr, *dmr;
	struct ibv_sge s;
	size_t i;

	b.qp = q2;
	svt_ep_find_gid(&a);
	svt_ep_find_gid(&b);
	svt_ep_connect(&a, q2->qp_num);
	svt_ep_connect(&b, q1->qp_num);
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	smr = ibv_reg_mr(c->pd, src, sizeof(src), 0);
	dmr = ibv_reg_mr(c->pd, dst, sizeof(dst),
			 IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(smr && dmr);
	s = (struct ibv_sge){ (uintptr_t)src, sizeof(src), smr->lkey };
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)dst,
			   dmr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_sum(src, sizeof(src)) == svt_sum(dst, sizeof(dst)));
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_device_attr da;
	struct ctx c[2];
	struct ibv_qp **qps;
	struct timespec t0, t1;
	int i, max;

	static const char *const args[] = { "--limit-qps=0", NULL };

	svt_daemon_start_args(&d, args);
	ctx_open(&c[0]);
	ctx_open(&c[1]);
	SVT_CHECK(!ibv_query_device(c[0].ctx, &da));
	max = da.max_qp;
	SVT_CHECK(max > 2 && max <= 1 << 20);
	qps = calloc((size_t)max, sizeof(*qps));
	SVT_CHECK(qps);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < max; i++) {
		qps[i] = qp_new(&c[i & 1]);
		if (!qps[i])
			fprintf(stderr, "QP %d of max_qp %d: %s\n", i, max,
				strerror(errno));
		SVT_CHECK(qps[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	refused(&c[0]);
	refused(&c[1]);
	SVT_CHECK(!ibv_destroy_qp(qps[0]));
	qps[0] = qp_new(&c[0]);
	SVT_CHECK(qps[0]);
	refused(&c[0]);
	traffic(&c[0], qps[(max - 2) & ~1], qps[0]); /* both in c[0] */
	printf("max_qp %d: all created (%.0f QPs/s), one more refused with "
	       "ENOMEM in both contexts, again after destroy + create; the "
	       "last QPs move data\n", max,
	       max / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	svt_daemon_stop(&d);
	return SVT_PASS;
}
