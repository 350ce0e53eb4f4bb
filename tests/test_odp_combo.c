// SPDX-License-Identifier: MIT
/*
 * On-demand paging with the other seeds' features (issue 19, docs/odp.md):
 *
 *   import (seed 000)   A opens its own context, registers an explicit ODP
 *                       MR over 64 GiB of untouched address space and an
 *                       implicit MR, and sends its command FD to this
 *                       process (B). B imports the PD and both MRs, makes
 *                       its own QPs on A's PD and WRITEs, READs and adds
 *                       into A's memory by A's rkeys; A checks the bytes
 *                       in its own address space. When A is gone, B's next
 *                       access completes with a remote access error (an
 *                       ODP region follows its registrar's page tables, as
 *                       the kernel's does) and the daemon is healthy.
 *   parent domains      explicit and implicit ODP MRs registered on a
 *   (seed 002)          parent domain, traffic on a QP of that parent
 *                       domain, ibv_advise_mr through it.
 *   dma-buf (seed 003)  refused with EINVAL, as documented: ON_DEMAND on
 *                       ibv_reg_dmabuf_mr (alone, or with the data-direct
 *                       flag) and on a device-memory MR.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <softverbs/softverbs_dv.h>

#include "svtest.h"
#include "svt_mem.h"

#define BIG SVT_BIG
#define PG 4096ULL
#define ODP_RW (SVT_ACCESS_ALL | IBV_ACCESS_ON_DEMAND)

static struct svt_daemon d;

/* ------------------------------------------------------------- import */

struct a_msg {
	uint32_t pd, odp_mr, imp_mr;
	uint64_t big, heap; /* A's sparse region and a malloc buffer */
};

/* A: registrar in its own context; answers B's "check" requests. */
static int role_a(int sk)
{
	struct ibv_context *ctx = svt_open_dev(NULL);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	uint8_t *big = svt_reserve_sparse(), *heap = malloc(PG), c;
	struct ibv_mr *odp, *imp;
	struct a_msg m;

	SVT_CHECK(pd && heap);
	memset(heap, 0, PG);
	odp = ibv_reg_mr(pd, big, BIG, ODP_RW);
	imp = ibv_reg_mr(pd, NULL, SIZE_MAX, ODP_RW);
	SVT_CHECK(odp && imp);
	m = (struct a_msg){ pd->handle, odp->handle, imp->handle,
			    (uintptr_t)big, (uintptr_t)heap };
	svt_send_fd(sk, ctx->cmd_fd, &m, sizeof(m));
	/* 'c': B wrote 0x5b to pages 0..7 and added 3 at heap[0]. */
	SVT_CHECK(read(sk, &c, 1) == 1 && c == 'c');
	for (int i = 0; i < 8; i++)
		SVT_CHECK(big[svt_sparse_off(i)] == 0x5b &&
			  big[svt_sparse_off(i) + PG - 1] == 0x5b);
	SVT_CHECK(*(uint64_t *)(void *)heap == 3);
	SVT_CHECK(write(sk, "k", 1) == 1);
	return SVT_PASS; /* exits: its address space goes */
}

static enum ibv_wc_status b_op(struct svt_ep *e, enum ibv_wr_opcode op,
			       void *buf, uint32_t len, struct ibv_mr *lmr,
			       uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge s = svt_sge(buf, len, lmr->lkey);

	return svt_rdma(e, op, &s, raddr, rkey, 0, op == IBV_WR_RDMA_WRITE ||
				   op == IBV_WR_RDMA_READ ? 0 : 3);
}

static void test_import(void)
{
	struct svt_ep e = { 0 }, f;
	struct ibv_mr *odp, *imp, *lmr;
	uint8_t *buf = aligned_alloc(PG, 2 * PG), c;
	int sk[2], st, i;
	struct a_msg m;
	pid_t pid;

	SVT_CHECK(buf && !socketpair(AF_UNIX, SOCK_STREAM, 0, sk));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid) {
		close(sk[0]);
		_exit(role_a(sk[1]));
	}
	close(sk[1]);
	e.ctx = ibv_import_device(svt_recv_fd(sk[0], &m, sizeof(m)));
	SVT_CHECK(e.ctx);
	e.pd = ibv_import_pd(e.ctx, m.pd);
	odp = ibv_import_mr(e.pd, m.odp_mr);
	imp = ibv_import_mr(e.pd, m.imp_mr);
	SVT_CHECK(e.pd && odp && imp);
	SVT_CHECK(odp->length == BIG && (uintptr_t)odp->addr == m.big);
	SVT_CHECK(imp->length == SIZE_MAX);
	lmr = ibv_reg_mr(e.pd, buf, 2 * PG, SVT_ACCESS_ALL);
	SVT_CHECK(lmr);
	svt_mem_pair(e.ctx, e.pd, &e, NULL, &f);
	memset(buf, 0x5b, PG);
	for (i = 0; i < 8; i++) {
		SVT_CHECK(b_op(&e, IBV_WR_RDMA_WRITE, buf, PG, lmr,
			       m.big + svt_sparse_off(i), odp->rkey) == IBV_WC_SUCCESS);
		SVT_CHECK(b_op(&e, IBV_WR_RDMA_READ, buf + PG, PG, lmr,
			       m.big + svt_sparse_off(i), imp->rkey) == IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(buf, buf + PG, PG));
	}
	SVT_CHECK(b_op(&e, IBV_WR_ATOMIC_FETCH_AND_ADD, buf + PG, 8, lmr,
		       m.heap, imp->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(write(sk[0], "c", 1) == 1 && read(sk[0], &c, 1) == 1 &&
		  c == 'k');
	SVT_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  !WEXITSTATUS(st));
	/* A is gone: its pages with it. */
	SVT_CHECK(b_op(&e, IBV_WR_RDMA_WRITE, buf, PG, lmr, m.big,
		       odp->rkey) == IBV_WC_REM_ACCESS_ERR);
	svt_mem_pair(e.ctx, e.pd, &e, NULL, &f);
	SVT_CHECK(b_op(&e, IBV_WR_RDMA_READ, buf, 8, lmr, m.heap,
		       imp->rkey) == IBV_WC_REM_ACCESS_ERR);
	svt_daemon_alive(&d);
	ibv_unimport_mr(odp);
	ibv_unimport_mr(imp);
	close(sk[0]);
	printf("import: B used A's explicit and implicit ODP MRs; after A "
	       "exited, remote access errors\n");
}

/* ------------------------------------------------------ parent domain */

static void test_parent_domain(struct ibv_context *ctx)
{
	struct ibv_pd *pd = ibv_alloc_pd(ctx), *par;
	struct ibv_parent_domain_init_attr pa = { 0 };
	struct ibv_mr *odp, *imp;
	uint8_t *big = svt_reserve_sparse(), *src = malloc(PG);
	struct ibv_sge s;
	struct svt_ep a, b;

	SVT_CHECK(pd && src);
	pa.pd = pd;
	par = ibv_alloc_parent_domain(ctx, &pa);
	SVT_CHECK(par);
	odp = ibv_reg_mr(par, big, BIG, ODP_RW);
	imp = ibv_reg_mr(par, NULL, SIZE_MAX, ODP_RW);
	SVT_CHECK(odp && imp);
	svt_mem_pair(ctx, par, &a, NULL, &b);
	memset(src, 0x6c, PG);
	s = svt_sge(src, PG, imp->lkey); /* malloc memory, implicit MR */
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s,
			   (uintptr_t)big + svt_sparse_off(5), odp->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(src, big + svt_sparse_off(5), PG));
	s = svt_sge(big + svt_sparse_off(6), PG, odp->lkey);
	SVT_CHECK(!ibv_advise_mr(par, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE,
				 IBV_ADVISE_MR_FLAG_FLUSH, &s, 1));
	s = svt_sge(big + svt_sparse_off(6), PG, imp->lkey);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_READ, &s,
			   (uintptr_t)big + svt_sparse_off(5), odp->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(src, big + svt_sparse_off(6), PG));
	SVT_CHECK(!ibv_destroy_qp(a.qp) && !ibv_destroy_qp(b.qp));
	SVT_CHECK(!ibv_dereg_mr(odp) && !ibv_dereg_mr(imp));
	SVT_CHECK(!ibv_dealloc_pd(par));
	munmap(big, BIG);
	free(src);
	printf("parent domain: explicit and implicit ODP MRs, traffic, "
	       "advise ok\n");
}

/* ---------------------------------------------------- dma-buf and DM */

static void test_refused(struct ibv_context *ctx)
{
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_alloc_dm_attr da = { .length = 4096 };
	int fd = memfd_create("svt-odp-dmabuf", MFD_CLOEXEC);
	struct ibv_dm *dm;

	SVT_CHECK(pd && fd >= 0 && !ftruncate(fd, 1 << 20));
	errno = 0;
	SVT_CHECK(!ibv_reg_dmabuf_mr(pd, 0, 1 << 20, 0, fd, ODP_RW) &&
		  errno == EINVAL);
	errno = 0;
	SVT_CHECK(!softverbsdv_reg_dmabuf_mr(
			  pd, 0, 1 << 20, 0, fd, ODP_RW,
			  SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT) &&
		  errno == EINVAL);
	dm = ibv_alloc_dm(ctx, &da);
	SVT_CHECK(dm);
	errno = 0;
	SVT_CHECK(!ibv_reg_dm_mr(pd, dm, 0, 4096,
				 IBV_ACCESS_ZERO_BASED | ODP_RW) &&
		  errno == EINVAL);
	SVT_CHECK(!ibv_free_dm(dm) && !ibv_dealloc_pd(pd));
	close(fd);
	printf("dma-buf, data-direct and DM MRs with ON_DEMAND: EINVAL\n");
}

int main(void)
{
	struct ibv_context *ctx;

	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	test_import();
	test_parent_domain(ctx);
	test_refused(ctx);
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	printf("test_odp_combo: ok\n");
	return SVT_PASS;
}
