// SPDX-License-Identifier: MIT
/*
 * DM: device memory, softverbs' counterpart of mlx5's on-chip MEMIC.
 *
 * The memory belongs to the device: a memfd the daemon creates, sealed so
 * no client can shrink or grow it (a shrunk file would fault the engine),
 * and handed to the client (DM_ALLOC's SV_ATTR_ALLOC_DM_FD) to map;
 * ibv_memcpy_to/from_dm are then plain stores and loads in the library. A
 * DM MR (UVERBS_METHOD_DM_MR_REG) maps its range into the daemon like a
 * dma-buf MR, so the engine reaches it with direct copies. Regions are
 * always zero-based: the client's mapping address is its own business.
 *
 * Like MEMIC, device memory is a device-wide budget of SV_MAX_DM_SIZE bytes
 * (query_device_ex's max_dm_size) shared by every context, allocated in
 * page units. A DM cannot be freed while MRs use it (EBUSY, as the
 * kernel's uverbs_free_dm).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svd_dm.h"
#include "svd_keys.h"

/*
 * Allocation granule: a page, as mlx5's MEMIC allocator. It also bounds
 * the memfds (one daemon fd each) a client can make the daemon hold to
 * SV_MAX_DM_SIZE / DM_UNIT per device.
 */
#define DM_UNIT 4096
#define DM_PAGE_SHIFT 12 /* the memfd is page-aligned: alignments up to it */
/* What a DM MR may ask for (mlx5's MEMIC access set). */
#define DM_MR_ACCESS                                                     \
	(IB_UVERBS_ACCESS_LOCAL_WRITE | IB_UVERBS_ACCESS_REMOTE_WRITE |  \
	 IB_UVERBS_ACCESS_REMOTE_READ | IB_UVERBS_ACCESS_REMOTE_ATOMIC | \
	 IB_UVERBS_ACCESS_ZERO_BASED)

struct svd_dm {
	struct svd_device *dev;
	int fd;		   /* the sealed memfd; the client maps a copy */
	uint64_t length;   /* as allocated by the user */
	uint64_t charged;  /* bytes taken from dev->dm_used */
	atomic_int usecnt; /* MRs on it */
};

/* Take n bytes of the device's budget, or fail with ENOMEM. */
static int dm_charge(struct svd_device *dev, uint64_t n)
{
	uint64_t used = atomic_load(&dev->dm_used);

	do {
		if (n > SV_MAX_DM_SIZE - used)
			return -ENOMEM;
	} while (!atomic_compare_exchange_weak(&dev->dm_used, &used, used + n));
	return 0;
}

/* A memfd of len bytes (page-rounded) with its size sealed. */
static int dm_memfd(uint64_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t size = (len + (uint64_t)page - 1) & ~((uint64_t)page - 1);

	return svd_memfd_sealed("softverbs-dm", size);
}

static void dm_free(struct svd_dm *dm)
{
	close(dm->fd);
	atomic_fetch_sub(&dm->dev->dm_used, dm->charged);
	free(dm);
}

static struct svd_dm *dm_new(struct svd_device *dev, uint64_t len)
{
	uint64_t charged = (len + DM_UNIT - 1) & ~(uint64_t)(DM_UNIT - 1);
	struct svd_dm *dm;
	int ret;

	ret = dm_charge(dev, charged);
	if (ret)
		return svd_err_ptr(ret);
	dm = calloc(1, sizeof(*dm));
	ret = dm ? dm_memfd(len) : -ENOMEM;
	if (ret < 0) {
		free(dm);
		atomic_fetch_sub(&dev->dm_used, charged);
		return svd_err_ptr(ret);
	}
	dm->dev = dev;
	dm->fd = ret;
	dm->length = len;
	dm->charged = charged;
	return dm;
}

void svd_dm_mr_gone(struct svd_dm *dm)
{
	atomic_fetch_sub(&dm->usecnt, 1);
}

static int dm_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_dm *dm = uobj->object;

	if (!dm)
		return 0;
	if (svd_destroy_busy(why, &dm->usecnt))
		return -EBUSY;
	dm_free(dm);
	uobj->object = NULL;
	return 0;
}

SVD_DECLARE_IDR_TYPE(dm, UVERBS_OBJECT_DM, SVD_ORDER_CQ_XRCD_DM, dm_destroy);

/* Send a copy of the DM's fd back in an FD-out attribute, if asked for. */
static int dm_fd_out(struct svd_bundle *b, uint16_t id, struct svd_dm *dm)
{
	if (!svd_attr_is_present(b, id))
		return 0;
	return svd_attr_fd_out(b, id, fcntl(dm->fd, F_DUPFD_CLOEXEC, 0));
}

/* ioctl: UVERBS_METHOD_DM_ALLOC */
static int dm_method_alloc(struct svd_bundle *b)
{
	struct svd_uobj *uobj;
	struct svd_dm *dm;
	uint32_t align;
	uint64_t len;

	if (svd_attr_get_u64(b, UVERBS_ATTR_ALLOC_DM_LENGTH, &len) ||
	    svd_attr_get_u32(b, UVERBS_ATTR_ALLOC_DM_ALIGNMENT, &align))
		return -EINVAL;
	if (!len || len > SV_MAX_DM_SIZE || align > DM_PAGE_SHIFT)
		return -EINVAL;
	uobj = b->new_uobj; /* UVERBS_ATTR_ALLOC_DM_HANDLE */
	dm = dm_new(b->dev, len);
	if (svd_is_err(dm))
		return (int)svd_ptr_err(dm);
	uobj->object = dm; /* an abort frees it */
	return dm_fd_out(b, SV_ATTR_ALLOC_DM_FD, dm);
}
SVD_DECLARE_METHOD(
    UVERBS_METHOD_DM_ALLOC, dm_method_alloc,
    SVD_ATTR_IDR(UVERBS_ATTR_ALLOC_DM_HANDLE, &svd_type_dm, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_DM_LENGTH, uint64_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_ALLOC_DM_ALIGNMENT, uint32_t, SVD_MANDATORY),
    /* A new fd, not an fd object: the type only satisfies the validator. */
    SVD_ATTR_FD(SV_ATTR_ALLOC_DM_FD, &svd_type_dm, SVD_ACCESS_NEW,
		SVD_OPTIONAL));

/* ioctl: UVERBS_METHOD_DM_FREE */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_DM_FREE, UVERBS_ATTR_FREE_DM_HANDLE,
			   &svd_type_dm);

/* ioctl: SV_METHOD_DM_QUERY, for ibv_import_dm (mlx5's DM_QUERY). */
static int dm_method_query(struct svd_bundle *b)
{
	struct svd_dm *dm = svd_attr_get_obj(b, SV_ATTR_QUERY_DM_HANDLE);
	int ret;

	ret = svd_attr_copy_to(b, SV_ATTR_QUERY_DM_LENGTH, &dm->length,
			       sizeof(dm->length));
	return ret ? ret : dm_fd_out(b, SV_ATTR_QUERY_DM_FD, dm);
}
SVD_DECLARE_METHOD(SV_METHOD_DM_QUERY, dm_method_query,
		   SVD_ATTR_IDR(SV_ATTR_QUERY_DM_HANDLE, &svd_type_dm,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_QUERY_DM_LENGTH, uint64_t,
				    SVD_MANDATORY),
		   SVD_ATTR_FD(SV_ATTR_QUERY_DM_FD, &svd_type_dm,
			       SVD_ACCESS_NEW, SVD_MANDATORY));

struct dm_mr_args {
	uint64_t offset, length;
	uint32_t access;
};

/* The kernel's DM_MR_REG checks, in its order. */
static int dm_mr_args(struct svd_bundle *b, const struct svd_dm *dm,
		      struct dm_mr_args *a)
{
	int ret;

	if (svd_attr_get_u64(b, UVERBS_ATTR_REG_DM_MR_OFFSET, &a->offset) ||
	    svd_attr_get_u64(b, UVERBS_ATTR_REG_DM_MR_LENGTH, &a->length) ||
	    svd_attr_get_u32(b, UVERBS_ATTR_REG_DM_MR_ACCESS_FLAGS, &a->access))
		return -EINVAL;
	ret = svd_mr_check_access(a->access);
	if (ret)
		return ret;
	if (!(a->access & IB_UVERBS_ACCESS_ZERO_BASED) ||
	    (a->access & ~DM_MR_ACCESS))
		return -EINVAL;
	if (a->offset > dm->length || a->length > dm->length - a->offset)
		return -EINVAL;
	return 0;
}

/*
 * The daemon's own mapping of the range. A zero-length region (allowed, as
 * in the kernel) maps one byte so every MR has a umem, and reports 0.
 */
static struct svd_umem *dm_mr_umem(struct svd_dm *dm,
				   const struct dm_mr_args *a)
{
	struct svd_umem *umem;

	if (!a->length) {
		umem = svd_umem_get_mapped(dm->fd, 0, 1);
		if (!svd_is_err(umem))
			umem->length = 0;
		return umem;
	}
	return svd_umem_get_mapped(dm->fd, a->offset, a->length);
}

static int dm_mr_keys_out(struct svd_bundle *b, const struct svd_mr *mr)
{
	int ret;

	ret = svd_attr_copy_to(b, UVERBS_ATTR_REG_DM_MR_RESP_LKEY, &mr->lkey,
			       sizeof(mr->lkey));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_REG_DM_MR_RESP_RKEY,
				       &mr->rkey, sizeof(mr->rkey));
	return ret;
}

/* ioctl: UVERBS_METHOD_DM_MR_REG (on the MR object) */
static int dm_method_mr_reg(struct svd_bundle *b)
{
	struct svd_pd *pd =
	    svd_attr_get_obj(b, UVERBS_ATTR_REG_DM_MR_PD_HANDLE);
	struct svd_dm *dm =
	    svd_attr_get_obj(b, UVERBS_ATTR_REG_DM_MR_DM_HANDLE);
	struct svd_umem *umem;
	struct svd_uobj *uobj;
	struct dm_mr_args a;
	struct svd_mr *mr;
	int ret;

	ret = dm_mr_args(b, dm, &a);
	if (ret)
		return ret;
	uobj = b->new_uobj; /* UVERBS_ATTR_REG_DM_MR_HANDLE */
	umem = dm_mr_umem(dm, &a);
	if (svd_is_err(umem))
		return (int)svd_ptr_err(umem);
	ret = svd_mr_create(b, uobj, pd, umem, 0, a.access);
	if (ret) {
		svd_umem_release(umem);
		return ret;
	}
	mr = uobj->object;
	mr->dm = dm;
	atomic_fetch_add(&dm->usecnt, 1);
	return dm_mr_keys_out(b, mr);
}
SVD_DECLARE_METHOD(
    UVERBS_METHOD_DM_MR_REG, dm_method_mr_reg,
    SVD_ATTR_IDR(UVERBS_ATTR_REG_DM_MR_HANDLE, &svd_type_mr, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_REG_DM_MR_OFFSET, uint64_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_REG_DM_MR_LENGTH, uint64_t, SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_REG_DM_MR_PD_HANDLE, &svd_type_pd, SVD_ACCESS_READ,
		 SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_REG_DM_MR_ACCESS_FLAGS, UINT32_MAX,
		      SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_REG_DM_MR_DM_HANDLE, &svd_type_dm, SVD_ACCESS_READ,
		 SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_REG_DM_MR_RESP_LKEY, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_REG_DM_MR_RESP_RKEY, uint32_t, SVD_MANDATORY));

const struct svd_module svd_mod_dm = {
    .name = "dm",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DM, &svd_type_dm,
			   SVD_METHOD_REF(UVERBS_METHOD_DM_ALLOC),
			   SVD_METHOD_REF(UVERBS_METHOD_DM_FREE),
			   SVD_METHOD_REF(SV_METHOD_DM_QUERY)),
		SVD_OBJECT(UVERBS_OBJECT_MR, &svd_type_mr,
			   SVD_METHOD_REF(UVERBS_METHOD_DM_MR_REG))),
};
