// SPDX-License-Identifier: MIT
/*
 * PD/MR/MW/AH objects end to end: registration and its kernel errnos,
 * EBUSY rules, rereg, dma-buf MRs, and import through a dup()ed command FD
 * (which is also how the MR query method is reached).
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <infiniband/verbs.h>

#include "svtest.h"

#define BUF_LEN 8192

static void expect_reg_fail(struct ibv_pd *pd, void *buf, size_t len,
			    int access, int err)
{
	struct ibv_mr *mr;

	errno = 0;
	mr = ibv_reg_mr(pd, buf, len, access);
	if (mr || errno != err)
		fprintf(stderr,
			"reg access 0x%x len %zu: mr %p errno %d want %d\n",
			access, len, (void *)mr, errno, err);
	SVT_CHECK(!mr && errno == err);
}

static void test_access(struct ibv_pd *pd, void *buf)
{
	struct ibv_mr *mr;

	expect_reg_fail(pd, buf, BUF_LEN, IBV_ACCESS_REMOTE_WRITE, EINVAL);
	expect_reg_fail(pd, buf, BUF_LEN, IBV_ACCESS_REMOTE_ATOMIC, EINVAL);
	expect_reg_fail(pd, buf, BUF_LEN, 1 << 15, EINVAL);
	expect_reg_fail(pd, buf, BUF_LEN, IBV_ACCESS_ON_DEMAND | (1 << 8), EOPNOTSUPP);
	expect_reg_fail(pd, buf, 0, IBV_ACCESS_LOCAL_WRITE, EINVAL);
	/* Optional bits are accepted and ignored. */
	mr = ibv_reg_mr(pd, buf, BUF_LEN,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_RELAXED_ORDERING);
	SVT_CHECK(mr);
	SVT_CHECK(ibv_dereg_mr(mr) == 0);
}

static void test_unmapped(struct ibv_pd *pd)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	SVT_CHECK(p != MAP_FAILED);
	SVT_CHECK(munmap(p + page, page) == 0);
	/* The last byte is in the hole. */
	expect_reg_fail(pd, p, 2 * page, IBV_ACCESS_LOCAL_WRITE, EFAULT);
	munmap(p, page);
}

static void test_import(struct ibv_context *ctx, struct ibv_pd *pd,
			struct ibv_mr *mr, uint64_t iova)
{
	struct ibv_context *ictx = ibv_import_device(dup(ctx->cmd_fd));
	struct ibv_pd *ipd;
	struct ibv_mr *imr;

	SVT_CHECK(ictx);
	ipd = ibv_import_pd(ictx, pd->handle);
	SVT_CHECK(ipd && ipd->handle == pd->handle);
	imr = ibv_import_mr(ipd, mr->handle);
	SVT_CHECK(imr);
	SVT_CHECK(imr->lkey == mr->lkey && imr->rkey == mr->rkey);
	SVT_CHECK(imr->length == mr->length);
	SVT_CHECK((uint64_t)(uintptr_t)imr->addr == iova);
	ibv_unimport_mr(imr);
	/* Bad handles: the PD handle is not an MR, and 12345 is nothing. */
	SVT_CHECK(!ibv_import_mr(ipd, 12345) && errno == ENOENT);
	SVT_CHECK(!ibv_import_pd(ictx, 12345));
	ibv_unimport_pd(ipd);
	SVT_CHECK(ibv_close_device(ictx) == 0);
	/* The original context is untouched by the importer's close. */
	imr = ibv_import_mr(pd, mr->handle);
	SVT_CHECK(imr);
	ibv_unimport_mr(imr);
}

static void test_rereg(struct ibv_pd *pd, struct ibv_mr *mr, char *buf2)
{
	struct ibv_pd *pd2 = ibv_alloc_pd(pd->context);
	int ret;

	SVT_CHECK(pd2);
	ret = ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
			   IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(ret == IBV_REREG_MR_ERR_CMD && errno == EINVAL);
	ret = ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
			   IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(ret == 0);
	ret = ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, buf2,
			   BUF_LEN / 2, 0);
	SVT_CHECK(ret == 0 && mr->addr == buf2 && mr->length == BUF_LEN / 2);
	ret = ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_PD, pd2, NULL, 0, 0);
	SVT_CHECK(ret == 0 && mr->pd == pd2);
	SVT_CHECK(ibv_dealloc_pd(pd2) == EBUSY);
	ret = ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_PD, pd, NULL, 0, 0);
	SVT_CHECK(ret == 0);
	SVT_CHECK(ibv_dealloc_pd(pd2) == 0);
}

static void test_mw(struct ibv_pd *pd)
{
	struct ibv_mw *mw = ibv_alloc_mw(pd, IBV_MW_TYPE_1);
	struct ibv_mw *mw2 = ibv_alloc_mw(pd, IBV_MW_TYPE_2);

	SVT_CHECK(mw && mw2 && mw->rkey && mw->rkey != mw2->rkey);
	SVT_CHECK(mw->type == IBV_MW_TYPE_1);
	SVT_CHECK(!ibv_alloc_mw(pd, (enum ibv_mw_type)3) && errno == EINVAL);
	SVT_CHECK(ibv_dealloc_pd(pd) == EBUSY);
	SVT_CHECK(ibv_dealloc_mw(mw) == 0);
	SVT_CHECK(ibv_dealloc_mw(mw2) == 0);
}

static void test_ah(struct ibv_pd *pd)
{
	struct ibv_ah_attr attr = {.port_num = 1, .is_global = 0};
	union ibv_gid gid;
	struct ibv_ah *ah;

	SVT_CHECK(!ibv_create_ah(pd, &attr) && errno == EINVAL);
	attr.is_global = 1;
	attr.grh.sgid_index = 200;
	attr.grh.hop_limit = 64;
	SVT_CHECK(!ibv_create_ah(pd, &attr) && errno == EINVAL);
	if (ibv_query_gid(pd->context, 1, 0, &gid)) {
		fprintf(stderr, "no GID 0: AH creation not tested\n");
		return;
	}
	attr.grh.sgid_index = 0;
	attr.grh.dgid = gid;
	attr.port_num = 2;
	SVT_CHECK(!ibv_create_ah(pd, &attr) && errno == EINVAL);
	attr.port_num = 1;
	ah = ibv_create_ah(pd, &attr);
	SVT_CHECK(ah && ah->pd == pd);
	SVT_CHECK(ibv_dealloc_pd(pd) == EBUSY);
	SVT_CHECK(ibv_destroy_ah(ah) == 0);
}

static void test_dmabuf(struct ibv_pd *pd)
{
	int fd = memfd_create("svtest", MFD_CLOEXEC);
	struct ibv_mr *mr;

	SVT_CHECK(fd >= 0 && ftruncate(fd, BUF_LEN) == 0);
	mr = ibv_reg_dmabuf_mr(pd, 0, BUF_LEN, 0x10000, fd,
			       IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
	SVT_CHECK(mr && mr->lkey && mr->length == BUF_LEN);
	SVT_CHECK(!ibv_reg_dmabuf_mr(pd, BUF_LEN, BUF_LEN, 0, fd,
				     IBV_ACCESS_LOCAL_WRITE) &&
		  errno == EINVAL);
	SVT_CHECK(!ibv_reg_dmabuf_mr(pd, 0, BUF_LEN, 0, fd,
				     IBV_ACCESS_REMOTE_WRITE) &&
		  errno == EINVAL);
	SVT_CHECK(!ibv_reg_dmabuf_mr(pd, 0, BUF_LEN, 0, 9999,
				     IBV_ACCESS_LOCAL_WRITE) &&
		  errno == EBADF);
	/* A dma-buf region cannot be rereg'ed (rdma-core: input error). */
	SVT_CHECK(ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
			       0) == IBV_REREG_MR_ERR_INPUT);
	SVT_CHECK(ibv_dereg_mr(mr) == 0);
	close(fd);
}

int main(void)
{
	static char buf[BUF_LEN], buf2[BUF_LEN];
	struct ibv_context *ctx;
	struct ibv_mr *mr, *mr2;
	struct svt_daemon d;
	struct ibv_pd *pd;
	uint64_t iova = 0x7000000000ULL + ((uintptr_t)buf & 4095);

	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);

	test_access(pd, buf);
	test_unmapped(pd);

	mr = ibv_reg_mr_iova2(pd, buf, BUF_LEN, iova,
			      IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				  IBV_ACCESS_MW_BIND);
	SVT_CHECK(mr && mr->lkey && mr->addr == buf && mr->pd == pd);
	mr2 = ibv_reg_mr(pd, buf, BUF_LEN, 0);
	SVT_CHECK(mr2 && mr2->lkey != mr->lkey);
	/* The kernel wants the IOVA and the address to share a page offset. */
	SVT_CHECK(!ibv_reg_mr_iova(pd, buf, BUF_LEN, iova + 1, 0) &&
		  errno == EINVAL);
	SVT_CHECK(ibv_dealloc_pd(pd) == EBUSY);

	test_import(ctx, pd, mr, iova);
	test_rereg(pd, mr2, buf2);
	test_mw(pd);
	test_ah(pd);
	test_dmabuf(pd);

	SVT_CHECK(ibv_dereg_mr(mr) == 0);
	SVT_CHECK(ibv_dereg_mr(mr2) == 0);
	SVT_CHECK(ibv_dealloc_pd(pd) == 0);
	SVT_CHECK(ibv_close_device(ctx) == 0);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
