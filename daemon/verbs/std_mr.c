// SPDX-License-Identifier: MIT
/*
 * MR: memory regions, on both command paths.
 *
 * A VA region stays in the client: the daemon holds a handle on the
 * registrar's address space (its /proc/PID/mem, bound to its mm: mem.c).
 * The registrar is the sender of the registering command, so a region
 * registered by a forked child names the child's memory. A region in a
 * shared file mapping comes with the file, which the daemon maps
 * (file_umem(): it outlives the registrar), at registration and at a
 * rereg to a new address alike.
 *
 * Reaching another process's memory needs ptrace access: same uid, and
 * under Yama ptrace_scope=1 the client must name the daemon as its tracer;
 * the library does so with prctl(PR_SET_PTRACER) before its first
 * registration. Where it is still not permitted (scope 2/3, another uid,
 * a non-dumpable client) registration fails with EPERM or EACCES from the
 * probe below rather than later on the data path.
 *
 * dma-buf regions (REG_DMABUF_MR) are memfd/shm files mapped into the
 * daemon; the fd is closed once mapped.
 */
#include <stdlib.h>
#include <unistd.h>

#include "svd_dd.h"
#include "svd_dm.h"
#include "svd_keys.h"
#include "svd_mem.h"

#define MR_ACCESS_KNOWN                                                  \
	(IB_UVERBS_ACCESS_LOCAL_WRITE | IB_UVERBS_ACCESS_REMOTE_WRITE |  \
	 IB_UVERBS_ACCESS_REMOTE_READ | IB_UVERBS_ACCESS_REMOTE_ATOMIC | \
	 IB_UVERBS_ACCESS_MW_BIND | IB_UVERBS_ACCESS_ZERO_BASED |        \
	 IB_UVERBS_ACCESS_ON_DEMAND | IB_UVERBS_ACCESS_HUGETLB)
/* IB_UVERBS_ACCESS_FLUSH_GLOBAL/PERSISTENT: newer headers only. */
#define MR_ACCESS_FLUSH ((1U << 8) | (1U << 9))
/* enum ib_mr_rereg_flags (kernel-internal, no uapi header). */
#define IB_MR_REREG_TRANS (1U << 0)
#define IB_MR_REREG_PD (1U << 1)
#define IB_MR_REREG_ACCESS (1U << 2)
#define MR_REREG_ALL (IB_MR_REREG_TRANS | IB_MR_REREG_PD | IB_MR_REREG_ACCESS)
/* What the kernel's REG_DMABUF_MR accepts in its flags attribute. */
#define MR_DMABUF_ACCESS                                                  \
	(IB_UVERBS_ACCESS_LOCAL_WRITE | IB_UVERBS_ACCESS_REMOTE_READ |    \
	 IB_UVERBS_ACCESS_REMOTE_WRITE | IB_UVERBS_ACCESS_REMOTE_ATOMIC | \
	 IB_UVERBS_ACCESS_RELAXED_ORDERING)

int svd_mr_check_access(uint32_t flags)
{
	if ((flags & (IB_UVERBS_ACCESS_REMOTE_WRITE |
		      IB_UVERBS_ACCESS_REMOTE_ATOMIC)) &&
	    !(flags & IB_UVERBS_ACCESS_LOCAL_WRITE))
		return -EINVAL;
	if (flags & ~(MR_ACCESS_KNOWN | MR_ACCESS_FLUSH |
		      IB_UVERBS_ACCESS_OPTIONAL_RANGE))
		return -EINVAL;
	/* On-demand paging yes (docs/odp.md), persistent-memory flush no. */
	if (flags & MR_ACCESS_FLUSH)
		return -EOPNOTSUPP;
	return 0;
}

/* The kernel requires the IOVA and the address to share a page offset. */
static bool same_page_offset(uint64_t a, uint64_t b)
{
	uint64_t mask = (uint64_t)sysconf(_SC_PAGESIZE) - 1;

	return (a & mask) == (b & mask);
}

static int check_length(struct svd_device *dev, uint64_t len)
{
	if (!len)
		return -EINVAL;
	if (dev->attr.max_mr_size && len > dev->attr.max_mr_size)
		return -EINVAL;
	return 0;
}

static void mr_free(struct svd_device *dev, struct svd_mr *mr)
{
	/* Unpublish first (under dev->lock): the engine can no longer see it.
	 */
	if (mr->lkey)
		svd_keys_remove(dev, mr->lkey);
	/* The engine may still hold mr->umem from a lookup: let it finish. */
	svd_keys_quiesce(dev);
	if (mr->pd)
		atomic_fetch_sub(&mr->pd->usecnt, 1);
	if (mr->dm)
		svd_dm_mr_gone(mr->dm);
	svd_umem_release(mr->umem);
	free(mr);
}

static int mr_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_mr *mr = uobj->object;

	/* Bound memory windows keep the region busy, as in the kernel. */
	if (svd_destroy_busy(why, &mr->usecnt))
		return -EBUSY;
	mr_free(uobj->uctx->dev, mr);
	return 0;
}

SVD_DECLARE_IDR_TYPE(mr, UVERBS_OBJECT_MR, SVD_ORDER_MR, mr_destroy);

/*
 * Build and publish the region; on success uobj owns it (and the umem).
 * On failure the caller still owns umem.
 */
int svd_mr_create(struct svd_bundle *b, struct svd_uobj *uobj,
		     struct svd_pd *pd, struct svd_umem *umem, uint64_t iova,
		     uint32_t access)
{
	struct svd_mr *mr = calloc(1, sizeof(*mr));
	uint32_t key;
	int ret;

	if (!mr)
		return -ENOMEM;
	mr->pd = pd;
	mr->uctx = b->uctx;
	mr->access = access;
	mr->iova = iova;
	mr->length = umem->length;
	mr->umem = umem;
	/* Keys are set before publishing so a lookup never sees key 0. */
	ret = svd_keys_insert(b->dev, mr, &key);
	if (ret) {
		free(mr);
		return ret;
	}
	svd_dev_lock(b->dev);
	mr->lkey = mr->rkey = key;
	pthread_mutex_unlock(&b->dev->lock);
	atomic_fetch_add(&pd->usecnt, 1);
	uobj->object = mr;
	return 0;
}

/*
 * Implicit ODP (start 0, length U64_MAX): the whole address space, IOVA ==
 * address. As in mlx5, only with ON_DEMAND and a zero IOVA.
 */
static int check_implicit(uint64_t start, uint64_t len, uint64_t iova,
			  uint32_t access)
{
	if (start || len != UINT64_MAX)
		return 0;
	if (iova || !(access & IB_UVERBS_ACCESS_ON_DEMAND))
		return -EINVAL;
	return 0;
}

/*
 * An ON_DEMAND region may cover memory not mapped yet: it is not probed,
 * and a page still unmapped when the engine reaches it fails that access
 * (an error completion), as a failed ODP page fault does in the kernel.
 */
static int va_umem(struct svd_bundle *b, uint64_t start, uint64_t len,
		   uint32_t access, struct svd_umem **out)
{
	struct svd_umem *umem;
	int ret;

	ret = check_length(b->dev, len);
	if (ret)
		return ret;
	umem = svd_umem_get_va(b, start, len);
	if (svd_is_err(umem))
		return (int)svd_ptr_err(umem);
	/* Fail now, not on the data path: unmapped (EFAULT) or unreachable. */
	ret = 0;
	if (!(access & IB_UVERBS_ACCESS_ON_DEMAND))
		ret = svd_mem_probe(umem);
	if (ret) {
		svd_umem_release(umem);
		return ret;
	}
	*out = umem;
	return 0;
}

/*
 * The library found the open file behind the range (a shared mapping):
 * map it, so the region is a direct copy and outlives its registrar.
 * -ENOENT: the command names no file (a plain VA region). An ON_DEMAND
 * region is always a VA region: it follows the registrar's page tables,
 * as the kernel's ODP does (an munmap takes the pages away).
 */
static int file_umem(struct svd_bundle *b, uint64_t len, uint32_t access,
		     struct svd_umem **out)
{
	struct sv_reg_mr_req req = {};
	struct svd_umem *umem;
	int ret;

	if (svd_uhw_copy_from(b, &req, sizeof(req)) ||
	    !(req.flags & SV_REG_MR_FILE) ||
	    (access & IB_UVERBS_ACCESS_ON_DEMAND))
		return -ENOENT;
	if ((req.flags & ~SV_REG_MR_FILE) || req.reserved || b->nfds < 2)
		return -EINVAL;
	ret = check_length(b->dev, len);
	if (ret)
		return ret;
	umem = svd_umem_get_mapped(b->fds[1], req.file_offset, len);
	if (svd_is_err(umem))
		return (int)svd_ptr_err(umem);
	*out = umem;
	return 0;
}

/* The memory of a registration or a new translation: a file, else VA. */
static int range_umem(struct svd_bundle *b, uint64_t start, uint64_t len,
		      uint32_t access, struct svd_umem **out)
{
	int ret = file_umem(b, len, access, out);

	if (!ret)
		(*out)->client_va = start; /* the direct path's local side */
	if (ret == -ENOENT)
		ret = va_umem(b, start, len, access, out);
	return ret;
}

/* write(): the PD named by a legacy command; a bad handle is EINVAL. */
static struct svd_uobj *pd_get(struct svd_bundle *b, uint32_t handle)
{
	struct svd_uobj *u;

	u = svd_uobj_lookup(b->uctx, &svd_type_pd, handle, SVD_LOOKUP_READ);
	if (svd_is_err(u) && svd_ptr_err(u) == -ENOENT)
		return svd_err_ptr(-EINVAL);
	return u;
}

/* write(): IB_USER_VERBS_CMD_REG_MR */
static int write_reg_mr(struct svd_bundle *b)
{
	const struct ib_uverbs_reg_mr *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_reg_mr_resp resp = {};
	struct svd_uobj *uobj, *pdu;
	struct svd_umem *umem;
	struct svd_mr *mr;
	int ret;

	if (!same_page_offset(cmd->start, cmd->hca_va))
		return -EINVAL;
	ret = svd_mr_check_access(cmd->access_flags);
	if (!ret)
		ret = check_implicit(cmd->start, cmd->length, cmd->hca_va,
				     cmd->access_flags);
	if (ret)
		return ret;
	uobj = svd_bundle_new_uobj(b, 0, &svd_type_mr);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	pdu = pd_get(b, cmd->pd_handle);
	if (svd_is_err(pdu))
		return (int)svd_ptr_err(pdu);
	ret = range_umem(b, cmd->start, cmd->length, cmd->access_flags, &umem);
	if (!ret) {
		ret = svd_mr_create(b, uobj, pdu->object, umem, cmd->hca_va,
				cmd->access_flags);
		if (ret)
			svd_umem_release(umem);
	}
	svd_uobj_unlock(pdu, SVD_LOOKUP_READ);
	if (ret)
		return ret;
	mr = uobj->object;
	resp.mr_handle = uobj->handle;
	resp.lkey = mr->lkey;
	resp.rkey = mr->rkey;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* REREG with IB_MR_REREG_TRANS: a new client range for the same keys. */
static int rereg_trans(struct svd_bundle *b, struct svd_mr *mr,
		       const struct ib_uverbs_rereg_mr *cmd)
{
	uint32_t access = (cmd->flags & IB_MR_REREG_ACCESS) ?
				  cmd->access_flags : mr->access;
	struct svd_umem *umem, *old;
	int ret;

	ret = range_umem(b, cmd->start, cmd->length, access, &umem);
	if (ret)
		return ret;
	svd_dev_lock(b->dev);
	old = mr->umem;
	mr->umem = umem;
	mr->iova = cmd->hca_va;
	mr->length = umem->length;
	mr->revoked = false;
	svd_direct_mr_changed(b->dev, mr);
	pthread_mutex_unlock(&b->dev->lock);
	svd_keys_quiesce(b->dev);
	svd_umem_release(old);
	return 0;
}

static int rereg_pd(struct svd_bundle *b, struct svd_mr *mr, uint32_t handle)
{
	struct svd_uobj *pdu = pd_get(b, handle);
	struct svd_pd *old;

	if (svd_is_err(pdu))
		return (int)svd_ptr_err(pdu);
	svd_dev_lock(b->dev);
	old = mr->pd;
	mr->pd = pdu->object;
	svd_direct_mr_changed(b->dev, mr);
	pthread_mutex_unlock(&b->dev->lock);
	atomic_fetch_add(&mr->pd->usecnt, 1);
	atomic_fetch_sub(&old->usecnt, 1);
	svd_uobj_unlock(pdu, SVD_LOOKUP_READ);
	return 0;
}

/*
 * write(): IB_USER_VERBS_CMD_REREG_MR. Every check runs before anything
 * changes, so a failed rereg leaves the region as it was (the library's
 * IBV_REREG_MR_ERR_CMD promise).
 */
static int write_rereg_mr(struct svd_bundle *b)
{
	const struct ib_uverbs_rereg_mr *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_rereg_mr_resp resp = {};
	struct svd_uobj *uobj;
	struct svd_mr *mr;
	int ret = 0;

	if (!cmd->flags)
		return -EINVAL;
	if (cmd->flags & ~MR_REREG_ALL)
		return -EOPNOTSUPP;
	if ((cmd->flags & IB_MR_REREG_TRANS) &&
	    (!cmd->start || !cmd->hca_va || !cmd->length ||
	     !same_page_offset(cmd->start, cmd->hca_va)))
		return -EINVAL;
	uobj = svd_uobj_lookup(b->uctx, &svd_type_mr, cmd->mr_handle,
			       SVD_LOOKUP_WRITE);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	mr = uobj->object;
	if (cmd->flags & IB_MR_REREG_ACCESS)
		ret = svd_mr_check_access(cmd->access_flags);
	/* Windows bound to the old translation or PD would dangle. */
	if (!ret && (cmd->flags & (IB_MR_REREG_TRANS | IB_MR_REREG_PD)) &&
	    atomic_load(&mr->usecnt))
		ret = -EBUSY;
	if (!ret && (cmd->flags & IB_MR_REREG_TRANS))
		ret = rereg_trans(b, mr, cmd);
	if (!ret && (cmd->flags & IB_MR_REREG_PD))
		ret = rereg_pd(b, mr, cmd->pd_handle);
	if (!ret && (cmd->flags & IB_MR_REREG_ACCESS)) {
		svd_dev_lock(b->dev);
		mr->access = cmd->access_flags;
		svd_direct_mr_changed(b->dev, mr);
		pthread_mutex_unlock(&b->dev->lock);
	}
	resp.lkey = mr->lkey;
	resp.rkey = mr->rkey;
	svd_uobj_unlock(uobj, SVD_LOOKUP_WRITE);
	if (ret)
		return ret;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ioctl: UVERBS_METHOD_MR_DESTROY */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_MR_DESTROY,
			   UVERBS_ATTR_DESTROY_MR_HANDLE, &svd_type_mr);

/* ioctl: UVERBS_METHOD_QUERY_MR (IOVA out: seed 000, optional). */
static int mr_method_query(struct svd_bundle *b)
{
	struct svd_mr *mr = svd_attr_get_obj(b, UVERBS_ATTR_QUERY_MR_HANDLE);
	uint64_t len = mr->length, iova = mr->iova;
	int ret;

	ret = svd_attr_copy_to(b, UVERBS_ATTR_QUERY_MR_RESP_LKEY, &mr->lkey,
			       sizeof(mr->lkey));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_QUERY_MR_RESP_RKEY,
				       &mr->rkey, sizeof(mr->rkey));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_QUERY_MR_RESP_LENGTH,
				       &len, sizeof(len));
	if (!ret && svd_attr_is_present(b, UVERBS_ATTR_QUERY_MR_RESP_IOVA))
		ret = svd_attr_copy_to(b, UVERBS_ATTR_QUERY_MR_RESP_IOVA, &iova,
				       sizeof(iova));
	return ret;
}
SVD_DECLARE_METHOD(
    UVERBS_METHOD_QUERY_MR, mr_method_query,
    SVD_ATTR_IDR(UVERBS_ATTR_QUERY_MR_HANDLE, &svd_type_mr, SVD_ACCESS_READ,
		 SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_MR_RESP_LKEY, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_MR_RESP_RKEY, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_MR_RESP_LENGTH, uint64_t, SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_MR_RESP_IOVA, uint64_t, SVD_OPTIONAL));

/* ioctl: UVERBS_METHOD_ADVISE_MR (ODP prefetch; mr_advise.c). */
static int mr_method_advise(struct svd_bundle *b)
{
	struct svd_pd *pd = svd_attr_get_obj(b, UVERBS_ATTR_ADVISE_MR_PD_HANDLE);
	uint16_t len = 0;
	const void *sge = svd_attr_get_ptr(b, UVERBS_ATTR_ADVISE_MR_SGE_LIST,
					   &len);

	return svd_mr_advise(b, pd,
			     (uint32_t)svd_attr_get(b, UVERBS_ATTR_ADVISE_MR_ADVICE)->data,
			     (uint32_t)svd_attr_get(b, UVERBS_ATTR_ADVISE_MR_FLAGS)->data,
			     sge, len / sizeof(struct ib_uverbs_sge));
}
SVD_DECLARE_METHOD(
    UVERBS_METHOD_ADVISE_MR, mr_method_advise,
    SVD_ATTR_IDR(UVERBS_ATTR_ADVISE_MR_PD_HANDLE, &svd_type_pd,
		 SVD_ACCESS_READ, SVD_MANDATORY),
    SVD_ATTR_CONST_IN(UVERBS_ATTR_ADVISE_MR_ADVICE, UINT32_MAX, SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_ADVISE_MR_FLAGS,
		      IB_UVERBS_ADVISE_MR_FLAG_FLUSH, SVD_MANDATORY),
    SVD_ATTR_PTR_IN_MIN(UVERBS_ATTR_ADVISE_MR_SGE_LIST,
			sizeof(struct ib_uverbs_sge), SVD_MANDATORY));

struct dmabuf_args {
	uint64_t offset, length, iova;
	uint32_t access;
	bool data_direct; /* SV_REG_DMABUF_ACCESS_DATA_DIRECT (seed 003) */
};

/* The attributes, in the order the kernel's handler and mlx5 check them. */
static int dmabuf_args(struct svd_bundle *b, struct dmabuf_args *a)
{
	uint32_t sv_access = 0;
	int ret;

	ret = svd_attr_get_u64(b, UVERBS_ATTR_REG_DMABUF_MR_OFFSET, &a->offset);
	if (!ret)
		ret = svd_attr_get_u64(b, UVERBS_ATTR_REG_DMABUF_MR_LENGTH,
				       &a->length);
	if (!ret)
		ret = svd_attr_get_u64(b, UVERBS_ATTR_REG_DMABUF_MR_IOVA,
				       &a->iova);
	if (ret)
		return -EINVAL;
	a->access = 0;
	if (svd_attr_is_present(b, UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS) &&
	    svd_attr_get_u32(b, UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS,
			     &a->access))
		return -EINVAL;
	ret = svd_mr_check_access(a->access);
	if (ret)
		return ret;
	if (svd_attr_is_present(b, SV_ATTR_REG_DMABUF_MR_ACCESS_FLAGS) &&
	    svd_attr_get_u32(b, SV_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, &sv_access))
		return -EINVAL;
	a->data_direct = sv_access & SV_REG_DMABUF_ACCESS_DATA_DIRECT;
	if (!a->data_direct)
		return 0;
	/* mlx5: no such device is ENODEV, an unaligned IOVA EOPNOTSUPP. */
	if (!svd_dd_is_on(b->dev))
		return -ENODEV;
	if (a->iova & ((uint64_t)sysconf(_SC_PAGESIZE) - 1))
		return -EOPNOTSUPP;
	a->access &= ~IB_UVERBS_ACCESS_RELAXED_ORDERING;
	return 0;
}

/*
 * The dma-buf's pages: a bad fd is EBADF (the NCCL/UCX probe passes -1
 * with length 0 and must see EBADF, so the fd goes first), a bad range
 * EINVAL, as ib_umem_dmabuf_get().
 */
static struct svd_umem *dmabuf_umem(struct svd_bundle *b,
				    const struct dmabuf_args *a)
{
	struct svd_umem *umem;
	int fd, ret;

	fd = svd_attr_take_fd(b, UVERBS_ATTR_REG_DMABUF_MR_FD);
	if (fd < 0)
		return svd_err_ptr(-EBADF);
	umem = svd_umem_get_mapped(fd, a->offset, a->length);
	close(fd); /* the mapping keeps the memory */
	if (svd_is_err(umem))
		return umem;
	ret = check_length(b->dev, a->length);
	if (!ret && !same_page_offset(a->offset, a->iova))
		ret = -EINVAL;
	if (!ret && a->data_direct)
		ret = svd_dd_attach(b->dev, umem);
	if (ret) {
		svd_umem_release(umem);
		return svd_err_ptr(ret);
	}
	return umem;
}

/* ioctl: UVERBS_METHOD_REG_DMABUF_MR */
static int mr_method_reg_dmabuf(struct svd_bundle *b)
{
	struct svd_pd *pd =
	    svd_attr_get_obj(b, UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE);
	struct svd_umem *umem;
	struct dmabuf_args a;
	struct svd_uobj *uobj;
	struct svd_mr *mr;
	int ret;

	ret = dmabuf_args(b, &a);
	if (ret)
		return ret;
	umem = dmabuf_umem(b, &a);
	if (svd_is_err(umem))
		return (int)svd_ptr_err(umem);
	uobj = b->new_uobj; /* UVERBS_ATTR_REG_DMABUF_MR_HANDLE */
	ret = svd_mr_create(b, uobj, pd, umem, a.iova, a.access);
	if (ret) {
		svd_umem_release(umem);
		return ret;
	}
	mr = uobj->object;
	ret = svd_attr_copy_to(b, UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY,
			       &mr->lkey, sizeof(mr->lkey));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY,
				       &mr->rkey, sizeof(mr->rkey));
	return ret;
}
SVD_DECLARE_METHOD(
    UVERBS_METHOD_REG_DMABUF_MR, mr_method_reg_dmabuf,
    SVD_ATTR_IDR(UVERBS_ATTR_REG_DMABUF_MR_HANDLE, &svd_type_mr, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE, &svd_type_pd,
		 SVD_ACCESS_READ, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_REG_DMABUF_MR_OFFSET, uint64_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_REG_DMABUF_MR_LENGTH, uint64_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_REG_DMABUF_MR_IOVA, uint64_t, SVD_MANDATORY),
    /* A raw fd (no object type): .obj = NULL. */
    SVD_ATTR_FD(UVERBS_ATTR_REG_DMABUF_MR_FD, NULL, SVD_ACCESS_READ,
		SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, MR_DMABUF_ACCESS,
		      SVD_OPTIONAL),
    /* softverbs' own flags, as mlx5's MLX5_IB_ATTR_REG_DMABUF_MR_ACCESS_FLAGS */
    SVD_ATTR_FLAGS_IN(SV_ATTR_REG_DMABUF_MR_ACCESS_FLAGS,
		      SV_REG_DMABUF_ACCESS_DATA_DIRECT, SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY, uint32_t,
		     SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY, uint32_t,
		     SVD_MANDATORY));

const struct svd_module svd_mod_mr = {
    .name = "mr",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_MR, &svd_type_mr,
			   SVD_METHOD_REF(UVERBS_METHOD_MR_DESTROY),
			   SVD_METHOD_REF(UVERBS_METHOD_QUERY_MR),
			   SVD_METHOD_REF(UVERBS_METHOD_ADVISE_MR),
			   SVD_METHOD_REF(UVERBS_METHOD_REG_DMABUF_MR))),
    SVD_WRITE_CMDS(
	SVD_WRITE(IB_USER_VERBS_CMD_REG_MR, write_reg_mr,
		  struct ib_uverbs_reg_mr, struct ib_uverbs_reg_mr_resp),
	SVD_WRITE(IB_USER_VERBS_CMD_REREG_MR, write_rereg_mr,
		  struct ib_uverbs_rereg_mr, struct ib_uverbs_rereg_mr_resp),
	SVD_WRITE_DESTROY(IB_USER_VERBS_CMD_DEREG_MR, struct ib_uverbs_dereg_mr,
			  mr_handle, &svd_type_mr)),
};
