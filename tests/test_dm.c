// SPDX-License-Identifier: MIT
/*
 * Device memory: max_dm_size, allocation rules and the device-wide budget
 * (in pages, which also bounds the memfds the daemon holds),
 * memcpy to/from DM with mlx5's errnos, zero-based DM MRs as the remote
 * and the local side of RDMA WRITE/READ, atomics and SEND, EBUSY while an
 * MR uses the DM, import through a dup()ed command FD, and a forked child
 * allocating on its parent's context.
 */
#include <sys/wait.h>

#include "svtest.h"
#include "svt_ep.h"

#define DM_LEN 8192

static uint64_t max_dm;

static void test_alloc_rules(struct ibv_context *ctx)
{
	struct ibv_alloc_dm_attr a = {.length = 64};
	struct ibv_dm *dm[3];

	a.comp_mask = 1;
	SVT_CHECK(!ibv_alloc_dm(ctx, &a) && errno == EINVAL);
	a.comp_mask = 0;
	a.length = max_dm + 1;
	SVT_CHECK(!ibv_alloc_dm(ctx, &a) && errno == EINVAL);
	a.length = 0;
	SVT_CHECK(!ibv_alloc_dm(ctx, &a) && errno == EINVAL);
	a.length = 64;
	a.log_align_req = 13;
	SVT_CHECK(!ibv_alloc_dm(ctx, &a) && errno == EINVAL);
	/* The budget is device-wide: two halves fit, a third byte does not. */
	a.log_align_req = 6;
	a.length = max_dm / 2;
	dm[0] = ibv_alloc_dm(ctx, &a);
	dm[1] = ibv_alloc_dm(ctx, &a);
	SVT_CHECK(dm[0] && dm[1]);
	a.length = 4;
	dm[2] = ibv_alloc_dm(ctx, &a);
	SVT_CHECK(!dm[2] && errno == ENOMEM);
	SVT_CHECK(!ibv_free_dm(dm[1]));
	dm[2] = ibv_alloc_dm(ctx, &a);
	SVT_CHECK(dm[2]);
	SVT_CHECK(!ibv_free_dm(dm[2]) && !ibv_free_dm(dm[0]));
}

/* Allocations take whole pages (MEMIC's rule): at most max_dm / 4 KiB. */
static void test_alloc_count(struct ibv_context *ctx)
{
	struct ibv_alloc_dm_attr a = {.length = 4};
	struct ibv_dm *dms[1024];
	unsigned int n = 0;

	while (n < 1024 && (dms[n] = ibv_alloc_dm(ctx, &a)))
		n++;
	SVT_CHECK(n == max_dm / 4096 && errno == ENOMEM);
	while (n)
		SVT_CHECK(!ibv_free_dm(dms[--n]));
}

static void test_memcpy(struct ibv_dm *dm)
{
	uint8_t in[DM_LEN], out[DM_LEN];
	unsigned int i;

	for (i = 0; i < DM_LEN; i++)
		in[i] = (uint8_t)(i * 13 + 1);
	SVT_CHECK(!ibv_memcpy_to_dm(dm, 0, in, DM_LEN));
	memset(out, 0, sizeof(out));
	SVT_CHECK(!ibv_memcpy_from_dm(out, dm, 0, DM_LEN));
	SVT_CHECK(!memcmp(in, out, DM_LEN));
	SVT_CHECK(ibv_memcpy_to_dm(dm, 3, in, 4) == EINVAL);
	SVT_CHECK(ibv_memcpy_from_dm(out, dm, 4, 3) == EINVAL);
	SVT_CHECK(ibv_memcpy_to_dm(dm, DM_LEN + 4, in, 4) == EFAULT);
	SVT_CHECK(ibv_memcpy_from_dm(out, dm, 0, DM_LEN + 4) == EFAULT);
}

static void test_reg_rules(struct ibv_pd *pd, struct ibv_dm *dm)
{
	int zb = IBV_ACCESS_ZERO_BASED | IBV_ACCESS_LOCAL_WRITE;
	struct ibv_mr *mr;

	SVT_CHECK(!ibv_reg_dm_mr(pd, dm, 0, 64, IBV_ACCESS_LOCAL_WRITE) &&
		  errno == EINVAL);
	SVT_CHECK(!ibv_reg_dm_mr(pd, dm, 0, DM_LEN + 4, zb) && errno == EINVAL);
	SVT_CHECK(!ibv_reg_dm_mr(pd, dm, DM_LEN - 4, 8, zb) && errno == EINVAL);
	SVT_CHECK(
	    !ibv_reg_dm_mr(pd, dm, 0, 64,
			   IBV_ACCESS_ZERO_BASED | IBV_ACCESS_REMOTE_WRITE) &&
	    errno == EINVAL);
	mr = ibv_reg_dm_mr(pd, dm, 0, 0, zb); /* zero length is legal */
	SVT_CHECK(mr && !mr->addr && mr->length == 0);
	SVT_CHECK(ibv_free_dm(dm) == EBUSY);
	SVT_CHECK(!ibv_dereg_mr(mr));
}

/* DM MR of B as the remote side, a VA MR of A as the local one. */
static void test_remote(struct svt_ep *a, struct svt_ep *b, struct ibv_dm *dm)
{
	static uint8_t va[DM_LEN];
	struct ibv_mr *vmr, *dmr;
	struct ibv_sge s;
	uint8_t back[DM_LEN];
	uint64_t v = 0;
	unsigned int i;

	vmr = ibv_reg_mr(a->pd, va, sizeof(va), IBV_ACCESS_LOCAL_WRITE);
	dmr =
	    ibv_reg_dm_mr(b->pd, dm, 0, DM_LEN,
			  IBV_ACCESS_ZERO_BASED | IBV_ACCESS_LOCAL_WRITE |
			      IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
			      IBV_ACCESS_REMOTE_ATOMIC);
	SVT_CHECK(vmr && dmr);
	for (i = 0; i < DM_LEN; i++)
		va[i] = (uint8_t)(i * 7 + 5);
	s = (struct ibv_sge){(uintptr_t)va, 4096, vmr->lkey};
	/* Zero-based: remote address 100 is byte 100 of the region. */
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, 100, dmr->rkey, 0, 0) ==
		  IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_memcpy_from_dm(back, dm, 100, 4096));
	SVT_CHECK(svt_sum(back, 4096) == svt_sum(va, 4096));
	memset(va, 0, 4096);
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_READ, &s, 100, dmr->rkey, 0, 0) ==
		  IBV_WC_SUCCESS);
	SVT_CHECK(svt_sum(back, 4096) == svt_sum(va, 4096));
	SVT_CHECK(!ibv_memcpy_to_dm(dm, 64, &v, sizeof(v)));
	s.length = 8;
	SVT_CHECK(svt_rdma(a, IBV_WR_ATOMIC_FETCH_AND_ADD, &s, 64, dmr->rkey, 0,
			   5) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_rdma(a, IBV_WR_ATOMIC_CMP_AND_SWP, &s, 64, dmr->rkey, 5,
			   42) == IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_memcpy_from_dm(&v, dm, 64, sizeof(v)) && v == 42);
	/* Past the region's end: remote access error. */
	s.length = 64;
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, DM_LEN - 32, dmr->rkey, 0,
			   0) == IBV_WC_REM_ACCESS_ERR);
	SVT_CHECK(!ibv_dereg_mr(dmr) && !ibv_dereg_mr(vmr));
}

/* DM MR of A as the local side: WRITE from it, READ into it, SEND it. */
static void test_local(struct svt_ep *a, struct svt_ep *b, struct ibv_dm *dm)
{
	static uint8_t va[DM_LEN];
	uint8_t pattern[1024], back[1024];
	struct ibv_recv_wr rwr = {.num_sge = 1}, *rbad;
	struct ibv_send_wr swr = {.num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED},
			   *sbad;
	struct ibv_mr *vmr, *dmr;
	struct ibv_sge s, r;
	unsigned int i;

	vmr = ibv_reg_mr(b->pd, va, sizeof(va),
			 IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			     IBV_ACCESS_REMOTE_READ);
	dmr = ibv_reg_dm_mr(a->pd, dm, 1024, 2048,
			    IBV_ACCESS_ZERO_BASED | IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(vmr && dmr);
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i ^ 0x5a);
	SVT_CHECK(!ibv_memcpy_to_dm(dm, 1024, pattern, sizeof(pattern)));
	s = (struct ibv_sge){0, 1024, dmr->lkey}; /* region byte 0 */
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)va, vmr->rkey,
			   0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(va, pattern, sizeof(pattern)));
	s.addr = 1024; /* READ back into the second KiB of the region */
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_READ, &s, (uintptr_t)va, vmr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_memcpy_from_dm(back, dm, 2048, sizeof(back)));
	SVT_CHECK(!memcmp(back, pattern, sizeof(pattern)));
	r = (struct ibv_sge){(uintptr_t)va + 4096, 1024, vmr->lkey};
	rwr.sg_list = &r;
	SVT_CHECK(!ibv_post_recv(b->qp, &rwr, &rbad));
	s.addr = 0;
	swr.sg_list = &s;
	SVT_CHECK(!ibv_post_send(a->qp, &swr, &sbad));
	SVT_CHECK(svt_poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(svt_poll1(b->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(va + 4096, pattern, sizeof(pattern)));
	SVT_CHECK(!ibv_dereg_mr(dmr) && !ibv_dereg_mr(vmr));
}

static void test_import(struct ibv_context *ctx, struct ibv_dm *dm)
{
	struct ibv_context *ictx = ibv_import_device(dup(ctx->cmd_fd));
	uint32_t v = 0xfeedbeef, w = 0;
	struct ibv_dm *idm;

	SVT_CHECK(ictx);
	idm = ibv_import_dm(ictx, dm->handle);
	SVT_CHECK(idm && idm->handle == dm->handle);
	SVT_CHECK(!ibv_memcpy_to_dm(dm, 16, &v, sizeof(v)));
	SVT_CHECK(!ibv_memcpy_from_dm(&w, idm, 16, sizeof(w)) && w == v);
	SVT_CHECK(!ibv_import_dm(ictx, dm->handle + 1000) && errno);
	ibv_unimport_dm(idm);
	SVT_CHECK(!ibv_close_device(ictx));
}

/* rdma-core's test: a forked child allocates on the parent's context. */
static void test_fork(struct ibv_context *ctx)
{
	int status;
	pid_t pid = fork();

	SVT_CHECK(pid >= 0);
	if (!pid) {
		struct ibv_alloc_dm_attr a = {.length = 256};
		struct ibv_dm *dm = ibv_alloc_dm(ctx, &a);
		uint32_t v = 7, w = 0;

		if (!dm || ibv_memcpy_to_dm(dm, 0, &v, 4) ||
		    ibv_memcpy_from_dm(&w, dm, 0, 4) || w != 7 ||
		    ibv_free_dm(dm))
			_exit(1);
		_exit(0);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	struct ibv_alloc_dm_attr attr = {.length = DM_LEN};
	struct ibv_device_attr_ex dx;
	struct svt_ep a, b;
	struct svt_daemon d;
	struct ibv_dm *dm;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&a);
	svt_ep_open(&b);
	SVT_CHECK(!ibv_query_device_ex(a.ctx, NULL, &dx));
	max_dm = dx.max_dm_size;
	SVT_CHECK(max_dm >= 2 * DM_LEN);
	test_alloc_rules(a.ctx);
	test_alloc_count(a.ctx);
	dm = ibv_alloc_dm(a.ctx, &attr);
	SVT_CHECK(dm && (dm->comp_mask & IBV_DM_MASK_HANDLE));
	test_memcpy(dm);
	test_reg_rules(a.pd, dm);
	test_import(a.ctx, dm);
	test_fork(a.ctx);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	test_local(&a, &b, dm);
	SVT_CHECK(!ibv_free_dm(dm));
	dm = ibv_alloc_dm(b.ctx, &attr);
	SVT_CHECK(dm);
	test_remote(&a, &b, dm);
	SVT_CHECK(!ibv_free_dm(dm));
	SVT_CHECK(waitpid(d.pid, NULL, WNOHANG) == 0); /* daemon alive */
	svt_daemon_stop(&d);
	puts("test_dm: ok");
	return SVT_PASS;
}
