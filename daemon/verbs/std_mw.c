// SPDX-License-Identifier: MIT
/*
 * MW: memory windows (type 1 and 2). A window is a struct svd_mr with
 * is_mw set, published in the key map under its rkey from allocation on.
 * Until bound its length is 0 and it has no parent, so every access with
 * its rkey fails. Binding (a bind WQE or ibv_bind_mw, executed by the
 * engine) goes through svd_mw_bind() and takes a use count on the MR, which
 * keeps the MR from being deregistered (EBUSY) while the window is bound.
 */
#include <stdlib.h>

#include "svd_keys.h"

/* enum ibv_mw_type / ib_mw_type values (no uapi header has them). */
enum { SVD_MW_TYPE_1 = 1, SVD_MW_TYPE_2 = 2 };

/* Drop the binding: caller holds dev->lock (or the window is private). */
static void mw_unbind(struct svd_mw *mw)
{
	if (mw->parent)
		atomic_fetch_sub(&mw->parent->usecnt, 1);
	mw->parent = NULL;
	mw->mr.umem = NULL; /* borrowed from the parent, never owned */
	mw->mr.length = 0;
	mw->mr.iova = 0;
	mw->mr.access = 0;
}

int svd_mw_bind(struct svd_mr *mwr, struct svd_mr *mr, uint64_t addr,
		uint64_t len, uint32_t access, uint32_t new_rkey)
{
	struct svd_mw *mw = svd_to_mw(mwr);

	if (!mwr->is_mw || !mr || mr->is_mw)
		return -EINVAL;
	if (SVD_KEY_INDEX(new_rkey) != SVD_KEY_INDEX(mwr->rkey))
		return -EINVAL;
	if (mr->pd != mwr->pd)
		return -EPERM;
	if (!(mr->access & IB_UVERBS_ACCESS_MW_BIND))
		return -EACCES;
	if ((access & (IB_UVERBS_ACCESS_REMOTE_WRITE |
		       IB_UVERBS_ACCESS_REMOTE_ATOMIC)) &&
	    !(mr->access & IB_UVERBS_ACCESS_LOCAL_WRITE))
		return -EACCES;
	if (addr < mr->iova || addr - mr->iova > mr->length ||
	    len > mr->length - (addr - mr->iova))
		return -EINVAL;
	/* A type 2 window must be invalidated before it is bound again. */
	if (mwr->mw_type == SVD_MW_TYPE_2 && mw->parent)
		return -EINVAL;
	mw_unbind(mw);
	atomic_fetch_add(&mr->usecnt, 1);
	mw->parent = mr;
	mwr->umem = mr->umem;
	mwr->iova = addr;
	mwr->length = len;
	mwr->access = access;
	mwr->rkey = new_rkey;
	return 0;
}

int svd_mw_invalidate(struct svd_mr *mwr, uint32_t rkey)
{
	if (!mwr->is_mw || mwr->rkey != rkey)
		return -EINVAL;
	mw_unbind(svd_to_mw(mwr));
	return 0;
}

int svd_mw_bind_wqe(struct svd_qp *qp, uint32_t mw_handle, uint32_t mr_lkey,
		    uint64_t addr, uint64_t len, uint32_t access,
		    uint32_t new_rkey)
{
	struct svd_device *dev = qp->uctx->dev;
	struct svd_uobj *u;
	struct svd_mr *mr;
	int ret = -EINVAL;

	u = svd_uobj_lookup(qp->uctx, &svd_type_mw, mw_handle, SVD_LOOKUP_READ);
	if (svd_is_err(u))
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	mr = svd_dev_key_find(dev, mr_lkey);
	if (mr && !mr->is_mw && mr->lkey == mr_lkey) {
		struct svd_mr *mwr = u->object;

		ret = mwr->pd == qp->pd
			  ? svd_mw_bind(mwr, mr, addr, len, access, new_rkey)
			  : -EPERM;
	}
	pthread_mutex_unlock(&dev->lock);
	svd_uobj_unlock(u, SVD_LOOKUP_READ);
	return ret;
}

int svd_mw_invalidate_key(struct svd_device *dev, const struct svd_pd *pd,
			  uint32_t rkey)
{
	struct svd_mr *mwr;
	int ret = -EINVAL;

	pthread_mutex_lock(&dev->lock);
	mwr = svd_dev_key_find(dev, rkey);
	if (mwr && mwr->is_mw && mwr->mw_type == SVD_MW_TYPE_2 && mwr->pd == pd)
		ret = svd_mw_invalidate(mwr, rkey);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

static int mw_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_mw *mw = uobj->object;
	struct svd_device *dev = uobj->uctx->dev;

	/* Unpublish first, then drop the binding under the engine's lock. */
	svd_keys_remove(dev, mw->mr.rkey);
	pthread_mutex_lock(&dev->lock);
	mw_unbind(mw);
	pthread_mutex_unlock(&dev->lock);
	svd_keys_quiesce(dev);
	atomic_fetch_sub(&mw->mr.pd->usecnt, 1);
	free(mw);
	return 0;
}

SVD_DECLARE_IDR_TYPE(mw, UVERBS_OBJECT_MW, SVD_ORDER_SRQ_MW_AH, mw_destroy);

static int mw_create(struct svd_bundle *b, struct svd_uobj *uobj,
		     struct svd_pd *pd, uint32_t type)
{
	struct svd_mw *mw = calloc(1, sizeof(*mw));
	uint32_t key;
	int ret;

	if (!mw)
		return -ENOMEM;
	mw->mr.is_mw = true;
	mw->mr.mw_type = type;
	mw->mr.pd = pd;
	mw->mr.uctx = b->uctx;
	ret = svd_keys_insert(b->dev, &mw->mr, &key);
	if (ret) {
		free(mw);
		return ret;
	}
	pthread_mutex_lock(&b->dev->lock);
	mw->mr.rkey = key; /* no lkey: a window is only reached remotely */
	pthread_mutex_unlock(&b->dev->lock);
	atomic_fetch_add(&pd->usecnt, 1);
	uobj->object = mw;
	return 0;
}

/* write(): IB_USER_VERBS_CMD_ALLOC_MW */
static int write_alloc_mw(struct svd_bundle *b)
{
	const struct ib_uverbs_alloc_mw *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_alloc_mw_resp resp = {};
	struct svd_uobj *uobj, *pdu;
	struct svd_mw *mw;
	int ret;

	if (cmd->mw_type != SVD_MW_TYPE_1 && cmd->mw_type != SVD_MW_TYPE_2)
		return -EINVAL;
	ret = svd_write_new_on_pd(b, &svd_type_mw, cmd->pd_handle, &uobj, &pdu);
	if (ret)
		return ret;
	ret = mw_create(b, uobj, pdu->object, cmd->mw_type);
	svd_uobj_unlock(pdu, SVD_LOOKUP_READ);
	if (ret)
		return ret;
	mw = uobj->object;
	resp.mw_handle = uobj->handle;
	resp.rkey = mw->mr.rkey;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ioctl: UVERBS_METHOD_MW_DESTROY */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_MW_DESTROY,
			   UVERBS_ATTR_DESTROY_MW_HANDLE, &svd_type_mw);

const struct svd_module svd_mod_mw = {
    .name = "mw",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_MW, &svd_type_mw,
			   SVD_METHOD_REF(UVERBS_METHOD_MW_DESTROY))),
    SVD_WRITE_CMDS(SVD_WRITE(IB_USER_VERBS_CMD_ALLOC_MW, write_alloc_mw,
			     struct ib_uverbs_alloc_mw,
			     struct ib_uverbs_alloc_mw_resp),
		   SVD_WRITE_DESTROY(IB_USER_VERBS_CMD_DEALLOC_MW,
				     struct ib_uverbs_dealloc_mw, mw_handle,
				     &svd_type_mw)),
};
