// SPDX-License-Identifier: MIT
/*
 * Faults stay where they belong:
 *  - a QP aimed at a connected QP it is not connected to (right rkey,
 *    right address) is refused: its WRITE ends in RETRY_EXC_ERR, the
 *    victim's memory and state are untouched, and the victim's own peer
 *    still moves data;
 *  - a QP that fails locally (bad lkey) goes to ERROR with LOC_PROT_ERR and
 *    flushes its next WQE, while another QP's traffic is intact;
 *  - a requester whose own registered memory is unmapped gets a local
 *    error (LOC_PROT_ERR); the responder's QP and memory are untouched.
 */
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"
#include "svt_ep.h"

#define LEN 8192

static void ep_like(struct svt_ep *e, const struct svt_ep *base)
{
	*e = *base;
	e->cq = NULL;
	svt_ep_make(e);
}

static enum ibv_qp_state qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr a;
	struct ibv_qp_init_attr ia;

	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE, &ia));
	return a.qp_state;
}

static void write_ok(struct svt_ep *from, struct ibv_mr *lmr, uint8_t *lbuf,
		     struct ibv_mr *rmr, uint8_t *rbuf, uint8_t seed)
{
	struct ibv_sge s = { (uintptr_t)lbuf, LEN, lmr->lkey };
	int i;

	for (i = 0; i < LEN; i++)
		lbuf[i] = (uint8_t)(i * 7 + seed);
	SVT_CHECK(svt_rdma(from, IBV_WR_RDMA_WRITE, &s, (uintptr_t)rbuf,
			   rmr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_sum(lbuf, LEN) == svt_sum(rbuf, LEN));
}

/* WRITE from memory the requester unmapped after registering it. */
static void requester_fault(const struct svt_ep *base, struct ibv_mr *bmr,
			    uint8_t *bbuf)
{
	struct svt_ep a3, b3;
	struct ibv_mr *mr;
	struct ibv_sge s;
	uint32_t before = svt_sum(bbuf, LEN);
	void *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	SVT_CHECK(p != MAP_FAILED);
	memset(p, 0x33, LEN);
	ep_like(&a3, base);
	ep_like(&b3, base);
	svt_ep_connect(&a3, b3.qp->qp_num);
	svt_ep_connect(&b3, a3.qp->qp_num);
	mr = ibv_reg_mr(a3.pd, p, LEN, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	SVT_CHECK(!munmap(p, LEN));
	s = (struct ibv_sge){ (uintptr_t)p, LEN, mr->lkey };
	SVT_CHECK(svt_rdma(&a3, IBV_WR_RDMA_WRITE, &s, (uintptr_t)bbuf,
			   bmr->rkey, 0, 0) == IBV_WC_LOC_PROT_ERR);
	SVT_CHECK(qp_state(a3.qp) == IBV_QPS_ERR);
	SVT_CHECK(qp_state(b3.qp) == IBV_QPS_RTS);
	SVT_CHECK(svt_sum(bbuf, LEN) == before);
}

int main(void)
{
	static uint8_t abuf[LEN], bbuf[LEN], cbuf[LEN];
	struct svt_ep a, b, c, a2, b2;
	struct ibv_mr *amr, *bmr, *cmr;
	struct ibv_sge s;
	struct svt_daemon d;
	uint32_t before;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&a);
	ep_like(&b, &a);
	ep_like(&c, &a);
	ep_like(&a2, &a);
	ep_like(&b2, &a);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	svt_ep_connect(&c, b.qp->qp_num); /* b is not connected to c */
	svt_ep_connect(&a2, b2.qp->qp_num);
	svt_ep_connect(&b2, a2.qp->qp_num);
	amr = ibv_reg_mr(a.pd, abuf, LEN, IBV_ACCESS_LOCAL_WRITE);
	cmr = ibv_reg_mr(a.pd, cbuf, LEN, IBV_ACCESS_LOCAL_WRITE);
	bmr = ibv_reg_mr(a.pd, bbuf, LEN,
			 IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(amr && bmr && cmr);

	/* The foreign QP: refused, b untouched. */
	write_ok(&a, amr, abuf, bmr, bbuf, 1);
	before = svt_sum(bbuf, LEN);
	memset(cbuf, 0xee, LEN);
	s = (struct ibv_sge){ (uintptr_t)cbuf, LEN, cmr->lkey };
	SVT_CHECK(svt_rdma(&c, IBV_WR_RDMA_WRITE, &s, (uintptr_t)bbuf,
			   bmr->rkey, 0, 0) == IBV_WC_RETRY_EXC_ERR);
	SVT_CHECK(svt_sum(bbuf, LEN) == before);
	SVT_CHECK(qp_state(b.qp) == IBV_QPS_RTS);
	write_ok(&a, amr, abuf, bmr, bbuf, 2);

	/* A local error: only that QP goes to ERROR. */
	s = (struct ibv_sge){ (uintptr_t)abuf, 64, amr->lkey ^ 0x5a5a00 };
	SVT_CHECK(svt_rdma(&a2, IBV_WR_RDMA_WRITE, &s, (uintptr_t)bbuf,
			   bmr->rkey, 0, 0) == IBV_WC_LOC_PROT_ERR);
	s.lkey = amr->lkey;
	SVT_CHECK(svt_rdma(&a2, IBV_WR_RDMA_WRITE, &s, (uintptr_t)bbuf,
			   bmr->rkey, 0, 0) == IBV_WC_WR_FLUSH_ERR);
	SVT_CHECK(qp_state(a2.qp) == IBV_QPS_ERR);
	SVT_CHECK(qp_state(b2.qp) == IBV_QPS_RTS);
	write_ok(&a, amr, abuf, bmr, bbuf, 3);
	SVT_CHECK(qp_state(a.qp) == IBV_QPS_RTS);
	SVT_CHECK(qp_state(b.qp) == IBV_QPS_RTS);
	requester_fault(&a, bmr, bbuf);
	printf("isolation: foreign QP refused, local errors stay local\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
