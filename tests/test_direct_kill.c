// SPDX-License-Identifier: MIT
/*
 * Issue 17: the target process is killed (SIGKILL) while the initiator
 * streams direct RDMA WRITEs and READs of 1 MiB into its memory. The
 * initiator must get an error completion (not hang, not crash), its QP
 * then flushes, and the daemon keeps serving: a new connection in the
 * initiator still works.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (8 << 20)
#define CHUNK (1 << 20)

static void target(struct svt_dx *x)
{
	char c;

	svt_dx_open(x, LEN);
	svt_dx_link(x);
	for (;;)
		svt_dx_get(x, &c, 1); /* until killed */
}

/* Two QPs of one new context, connected to each other: still served? */
static void still_served(void)
{
	struct svt_ep a, b;
	static char buf[4096];
	struct ibv_mr *mr;
	struct ibv_sge s;

	svt_ep_open(&a);
	b = a;
	b.cq = NULL;
	svt_ep_make(&b);
	mr = ibv_reg_mr(a.pd, buf, sizeof(buf), SVT_DX_ACC);
	SVT_CHECK(mr);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	s = (struct ibv_sge){ (uintptr_t)buf, 64, mr->lkey };
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)buf + 2048,
			   mr->rkey, 0, 0) == IBV_WC_SUCCESS);
}

int main(void)
{
	struct svt_daemon d;
	struct svt_dx x = {};
	struct ibv_wc wc;
	unsigned long ok = 0;

	setenv("SOFTVERBS_DIRECT", "1", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	svt_dx_fork(&x, target);
	svt_dx_open(&x, LEN);
	svt_dx_link(&x);
	for (;;) {
		if (ok == 20)
			SVT_CHECK(!kill(x.child, SIGKILL));
		svt_dx_post(&x, ok & 1 ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE,
			    0, (ok * CHUNK) % LEN, CHUNK, true);
		wc = svt_poll1(x.ep.cq);
		if (wc.status != IBV_WC_SUCCESS)
			break;
		ok++;
	}
	printf("%lu transfers, then after the kill: %s\n", ok,
	       ibv_wc_status_str(wc.status));
	SVT_CHECK(ok >= 20);
	svt_dx_post(&x, IBV_WR_RDMA_WRITE, 0, 0, 64, true);
	wc = svt_poll1(x.ep.cq);
	SVT_CHECK(wc.status == IBV_WC_WR_FLUSH_ERR);
	(void)svt_dx_wait(&x); /* killed */
	still_served();
	printf("the initiator flushed and the daemon still serves: PASS\n");
	return SVT_PASS;
}
