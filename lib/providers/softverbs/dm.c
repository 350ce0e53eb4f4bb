// SPDX-License-Identifier: MIT
/*
 * Device memory: ibv_alloc_dm / ibv_free_dm / ibv_memcpy_{to,from}_dm /
 * ibv_reg_dm_mr / ibv_import_dm.
 *
 * The daemon owns the memory (a sealed memfd, see daemon/verbs/std_dm.c)
 * and sends its fd with DM_ALLOC; the library maps it, so copies to and
 * from device memory are plain loads and stores, as on mlx5's MEMIC BAR.
 * The mapping is MAP_SHARED: a forked child that inherits it sees the
 * same device memory, and an importer maps the same file.
 *
 * Access rules follow mlx5: offset and length must be 4-byte aligned
 * (EINVAL) and inside the allocation (EFAULT); DM MRs are zero-based.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svl.h"
#include "svl_mr.h"
#include "svl_prov.h"

/* What ibv_reg_dm_mr accepts (mlx5's MEMIC set). */
#define DM_MR_ACCESS                                         \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |  \
	 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC | \
	 IBV_ACCESS_ZERO_BASED | IBV_ACCESS_OPTIONAL_RANGE)

struct svl_dm {
	struct ibv_dm ibdm; /* must be first: the application sees this */
	uint8_t *map;
	size_t map_len;
	uint64_t length;
};

static inline struct svl_dm *to_svl_dm(struct ibv_dm *dm)
{
	return (struct svl_dm *)dm;
}

static int dm_check(struct svl_dm *dm, uint64_t off, size_t len)
{
	if (off > dm->length || len > dm->length - off)
		return EFAULT;
	/* MEMIC's rule, kept so code written for mlx5 behaves the same. */
	if ((off & 3) || (len & 3))
		return EINVAL;
	return 0;
}

static int dm_memcpy_to(struct ibv_dm *ibdm, uint64_t off, const void *src,
			size_t len)
{
	struct svl_dm *dm = to_svl_dm(ibdm);
	int ret = dm_check(dm, off, len);

	if (!ret)
		memcpy(dm->map + off, src, len);
	return ret;
}

static int dm_memcpy_from(void *dst, struct ibv_dm *ibdm, uint64_t off,
			  size_t len)
{
	struct svl_dm *dm = to_svl_dm(ibdm);
	int ret = dm_check(dm, off, len);

	if (!ret)
		memcpy(dst, dm->map + off, len);
	return ret;
}

/* Map the device memory fd the daemon sent; the fd is closed either way. */
static struct svl_dm *dm_map(struct ibv_context *ctx, int fd, uint64_t len,
			     uint32_t handle)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct svl_dm *dm = calloc(1, sizeof(*dm));

	if (!dm) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	dm->length = len;
	dm->map_len = (len + page - 1) & ~(page - 1);
	dm->map =
	    mmap(NULL, dm->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (dm->map == MAP_FAILED) {
		free(dm);
		return NULL;
	}
	dm->ibdm.context = ctx;
	dm->ibdm.memcpy_to_dm = dm_memcpy_to;
	dm->ibdm.memcpy_from_dm = dm_memcpy_from;
	dm->ibdm.comp_mask = IBV_DM_MASK_HANDLE;
	dm->ibdm.handle = handle;
	return dm;
}

static int dm_free_cmd(struct ibv_context *ctx, uint32_t handle)
{
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_DM, UVERBS_METHOD_DM_FREE);
	svl_attr_idr(&c, UVERBS_ATTR_FREE_DM_HANDLE, handle);
	return svl_exec(ctx, &c);
}

struct ibv_dm *svl_alloc_dm(struct ibv_context *ctx,
			    struct ibv_alloc_dm_attr *attr)
{
	uint32_t align = attr->log_align_req;
	struct ib_uverbs_attr *h, *f;
	struct svl_dm *dm;
	struct svl_cmd c;

	if (attr->comp_mask)
		return svl_fail(EINVAL);
	svl_cmd_init(&c, UVERBS_OBJECT_DM, UVERBS_METHOD_DM_ALLOC);
	h = svl_attr_idr_new(&c, UVERBS_ATTR_ALLOC_DM_HANDLE);
	svl_attr_u64(&c, UVERBS_ATTR_ALLOC_DM_LENGTH, attr->length);
	svl_attr_in(&c, UVERBS_ATTR_ALLOC_DM_ALIGNMENT, &align, sizeof(align));
	f = svl_attr_fd_new(&c, SV_ATTR_ALLOC_DM_FD);
	if (svl_exec(ctx, &c))
		return NULL;
	dm = dm_map(ctx, (int)f->data_s64, attr->length, (uint32_t)h->data);
	if (!dm) {
		int err = errno;

		dm_free_cmd(ctx, (uint32_t)h->data);
		errno = err;
		return NULL;
	}
	return &dm->ibdm;
}

int svl_free_dm(struct ibv_dm *ibdm)
{
	struct svl_dm *dm = to_svl_dm(ibdm);
	int ret = dm_free_cmd(ibdm->context, ibdm->handle);

	if (ret)
		return ret; /* EBUSY: MRs still use it */
	munmap(dm->map, dm->map_len);
	free(dm);
	return 0;
}

struct ibv_mr *svl_reg_dm_mr(struct ibv_pd *pd, struct ibv_dm *dm, uint64_t off,
			     size_t len, unsigned int access)
{
	uint32_t lkey = 0, rkey = 0, acc = access;
	uint64_t len64 = len;
	struct ib_uverbs_attr *h;
	struct svl_mr *mr;
	struct svl_cmd c;

	/* DM regions are zero-based: the mapping address is private. */
	if ((access & ~DM_MR_ACCESS) || !(access & IBV_ACCESS_ZERO_BASED))
		return svl_fail(EINVAL);
	mr = svl_zalloc(sizeof(*mr));
	if (!mr)
		return NULL;
	svl_cmd_init(&c, UVERBS_OBJECT_MR, UVERBS_METHOD_DM_MR_REG);
	h = svl_attr_idr_new(&c, UVERBS_ATTR_REG_DM_MR_HANDLE);
	svl_attr_u64(&c, UVERBS_ATTR_REG_DM_MR_OFFSET, off);
	svl_attr_u64(&c, UVERBS_ATTR_REG_DM_MR_LENGTH, len64);
	svl_attr_idr(&c, UVERBS_ATTR_REG_DM_MR_PD_HANDLE, pd->handle);
	svl_attr_in(&c, UVERBS_ATTR_REG_DM_MR_ACCESS_FLAGS, &acc, sizeof(acc));
	svl_attr_idr(&c, UVERBS_ATTR_REG_DM_MR_DM_HANDLE, dm->handle);
	svl_attr_out(&c, UVERBS_ATTR_REG_DM_MR_RESP_LKEY, &lkey, sizeof(lkey));
	svl_attr_out(&c, UVERBS_ATTR_REG_DM_MR_RESP_RKEY, &rkey, sizeof(rkey));
	if (svl_exec(pd->context, &c)) {
		free(mr);
		return NULL;
	}
	mr->type = SVL_MR_DM;
	mr->ibmr.context = pd->context;
	mr->ibmr.pd = pd;
	mr->ibmr.addr = NULL; /* zero-based, as rdma-core reports it */
	mr->ibmr.length = len;
	mr->ibmr.handle = (uint32_t)h->data;
	mr->ibmr.lkey = lkey;
	mr->ibmr.rkey = rkey;
	return &mr->ibmr;
}

SVL_EXPORT struct ibv_dm *ibv_import_dm(struct ibv_context *ctx,
					uint32_t dm_handle)
{
	struct ib_uverbs_attr *f;
	struct svl_dm *dm;
	uint64_t len = 0;
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_DM, SV_METHOD_DM_QUERY);
	svl_attr_idr(&c, SV_ATTR_QUERY_DM_HANDLE, dm_handle);
	svl_attr_out(&c, SV_ATTR_QUERY_DM_LENGTH, &len, sizeof(len));
	f = svl_attr_fd_new(&c, SV_ATTR_QUERY_DM_FD);
	if (svl_exec(ctx, &c))
		return NULL;
	dm = dm_map(ctx, (int)f->data_s64, len, dm_handle);
	return dm ? &dm->ibdm : NULL;
}

/* The daemon's DM lives on; only this process's view goes away. */
SVL_EXPORT void ibv_unimport_dm(struct ibv_dm *ibdm)
{
	struct svl_dm *dm = to_svl_dm(ibdm);

	munmap(dm->map, dm->map_len);
	free(dm);
}
