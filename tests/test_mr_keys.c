// SPDX-License-Identifier: MIT
/*
 * The library's lkey registry (lib/providers/softverbs/mr_keys.c) names
 * regions by iova, as SGEs do, for both of its users:
 *
 *  - capture at post time: a region registered with an iova that overlaps
 *    its own addresses (iova = addr + 1 page) sends the bytes at the iova's
 *    offset, not the bytes at the address the SGE's number happens to be;
 *    and they are the bytes of post time (a SEND held in RNR while its
 *    source changes), so the capture was used;
 *  - ODP PREFETCH_WRITE: an ODP region at an iova far from its address is
 *    write-faulted where the SGE's iova lies, also after an access-only
 *    ibv_rereg_mr (the region keeps its iova), and not in a forked child
 *    (its copy of the pages is not the registrar's memory).
 *
 * Runs with SOFTVERBS_DIRECT=0 (the direct path would take the SEND).
 */
#include <stdint.h>
#include <sys/mman.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_fork.h"
#include "svt_pagemap.h"

#define PG 4096UL
#define ODP_RW                                                                 \
	(IBV_ACCESS_ON_DEMAND | IBV_ACCESS_LOCAL_WRITE |                       \
	 IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ)

static void post_recv(struct svt_ep *b, struct ibv_mr *mr, uint8_t *buf)
{
	struct ibv_sge s = { (uintptr_t)buf, 64, mr->lkey };
	struct ibv_recv_wr wr = { .sg_list = &s, .num_sge = 1 }, *bad;

	SVT_CHECK(!ibv_post_recv(b->qp, &wr, &bad));
}

/* An 8-byte SEND from iova, held in RNR while its source changes. */
static void capture_iova(struct svt_ep *a, struct svt_ep *b)
{
	uint8_t *src = aligned_alloc(PG, 4 * PG), *dst = aligned_alloc(PG, PG);
	uint64_t iova = (uintptr_t)src + PG; /* overlaps src's addresses */
	struct ibv_mr *smr, *dmr;
	struct ibv_send_wr wr = { .num_sge = 1, .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct ibv_sge s;
	struct ibv_wc wc;

	SVT_CHECK(src && dst);
	memcpy(src, "iova-one", 8); /* what the key names at iova */
	memcpy(src + PG, "wrong-va", 8); /* what lies at address iova */
	smr = ibv_reg_mr_iova(a->pd, src, 2 * PG, iova,
			      IBV_ACCESS_LOCAL_WRITE);
	dmr = ibv_reg_mr(b->pd, dst, PG, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(smr && dmr);
	s = (struct ibv_sge){ iova, 8, smr->lkey };
	wr.sg_list = &s;
	SVT_CHECK(!ibv_post_send(a->qp, &wr, &bad));
	nanosleep(&ts, NULL);
	SVT_CHECK(ibv_poll_cq(a->cq, 1, &wc) == 0); /* still in RNR */
	memcpy(src, "modified", 8);
	post_recv(b, dmr, dst);
	SVT_CHECK(svt_poll1(a->cq).status == IBV_WC_SUCCESS);
	wc = svt_poll1(b->cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 8);
	if (memcmp(dst, "iova-one", 8)) {
		fprintf(stderr, "received '%.8s', not 'iova-one'\n", dst);
		exit(SVT_FAIL);
	}
	SVT_CHECK(!ibv_dereg_mr(smr) && !ibv_dereg_mr(dmr));
	free(src);
	free(dst);
}

static int prefetch_write(struct ibv_pd *pd, uint64_t iova, uint32_t len,
			  uint32_t lkey)
{
	struct ibv_sge s = { iova, len, lkey };

	return ibv_advise_mr(pd, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE, 0, &s,
			     1);
}

/* In a forked child the parent's ODP entry faults nothing of the child's. */
static void odp_child(struct ibv_pd *pd, struct ibv_mr *mr, uint8_t *p,
		      uint64_t iova)
{
	pid_t pid = fork();

	SVT_CHECK(pid >= 0);
	if (pid == 0) {
		/* The daemon may serve it or not; the child's pages stay. */
		(void)prefetch_write(pd, iova + 2 * PG, PG, mr->lkey);
		_exit(svt_written_pages(p + 2 * PG, 1) == 0 ? 0 : 1);
	}
	svt_wait_pass(pid);
}

/* ODP at an iova far from its address, before and after a rereg. */
static void odp_iova(struct ibv_pd *pd)
{
	uint8_t *p = svt_map_private(8 * PG);
	uint64_t iova = 0x40000000000ULL;
	struct ibv_mr *mr;

	mr = ibv_reg_mr_iova(pd, p, 8 * PG, iova, ODP_RW);
	SVT_CHECK(mr && svt_written_pages(p, 8) == 0);
	odp_child(pd, mr, p, iova);
	SVT_CHECK(!prefetch_write(pd, iova + PG, (uint32_t)PG, mr->lkey));
	SVT_CHECK(svt_written_pages(p, 8) == 1);
	SVT_CHECK(svt_written_pages(p + PG, 1) == 1);
	SVT_CHECK(!ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
				ODP_RW & ~IBV_ACCESS_REMOTE_READ));
	SVT_CHECK(!prefetch_write(pd, iova + 4 * PG, (uint32_t)(2 * PG),
				  mr->lkey));
	SVT_CHECK(svt_written_pages(p, 8) == 3);
	SVT_CHECK(svt_written_pages(p + 4 * PG, 2) == 2);
	SVT_CHECK(!ibv_dereg_mr(mr));
	munmap(p, 8 * PG);
}

int main(void)
{
	struct svt_daemon d;
	struct svt_ep a, b;

	setenv("SOFTVERBS_DIRECT", "0", 1);
	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&a);
	b = a;
	b.cq = NULL;
	svt_ep_make(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	capture_iova(&a, &b);
	odp_iova(a.pd);
	printf("test_mr_keys: capture and ODP prefetch by iova, after rereg, "
	       "not in a forked child: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
