// SPDX-License-Identifier: MIT
/*
 * PD: the protection domain object, on both command paths.
 * This file is the worked example in docs/adding-a-verb.md.
 */
#include <stdlib.h>

#include "svd.h"
#include "svd_objs.h"

static int pd_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_pd *pd = uobj->object;

	/* The kernel refuses to free a PD that MRs, QPs, ... still use. */
	if (svd_destroy_busy(why, &pd->usecnt))
		return -EBUSY;
	free(pd);
	return 0;
}

SVD_DECLARE_IDR_TYPE(pd, UVERBS_OBJECT_PD, SVD_ORDER_PD, pd_destroy);

static int pd_create(struct svd_bundle *b, struct svd_uobj *uobj)
{
	struct svd_pd *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return -ENOMEM;
	pd->pdn = uobj->handle;
	pd->uctx = b->uctx;
	uobj->object = pd;
	return 0;
}

/* write(): IB_USER_VERBS_CMD_ALLOC_PD */
static int write_alloc_pd(struct svd_bundle *b)
{
	struct ib_uverbs_alloc_pd_resp resp = {};
	struct svd_uobj *uobj;
	int ret;

	uobj = svd_bundle_new_uobj(b, 0, &svd_type_pd);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	ret = pd_create(b, uobj);
	if (ret)
		return ret;
	resp.pd_handle = uobj->handle;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ioctl: driver method SV_METHOD_PD_QUERY (seed 000, like mlx5's). */
static int pd_method_query(struct svd_bundle *b)
{
	struct svd_pd *pd = svd_attr_get_obj(b, SV_ATTR_PD_QUERY_HANDLE);
	struct sv_pd_query_resp resp = { .pdn = pd->pdn };

	return svd_attr_copy_to(b, SV_ATTR_PD_QUERY_RESP, &resp, sizeof(resp));
}
SVD_DECLARE_METHOD(SV_METHOD_PD_QUERY, pd_method_query,
		   SVD_ATTR_IDR(SV_ATTR_PD_QUERY_HANDLE, &svd_type_pd,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_PD_QUERY_RESP,
				    struct sv_pd_query_resp, SVD_MANDATORY));

/*
 * ioctl: UVERBS_METHOD_PD_DESTROY. The framework holds the PD exclusively;
 * removing it may still fail with EBUSY.
 */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_PD_DESTROY,
			   UVERBS_ATTR_DESTROY_PD_HANDLE, &svd_type_pd);

const struct svd_module svd_mod_pd = {
    .name = "pd",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_PD, &svd_type_pd,
			   SVD_METHOD_REF(UVERBS_METHOD_PD_DESTROY)),
		SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			   SVD_METHOD_REF(SV_METHOD_PD_QUERY))),
    SVD_WRITE_CMDS(SVD_WRITE(IB_USER_VERBS_CMD_ALLOC_PD, write_alloc_pd,
			     struct ib_uverbs_alloc_pd,
			     struct ib_uverbs_alloc_pd_resp),
		   SVD_WRITE_DESTROY(IB_USER_VERBS_CMD_DEALLOC_PD,
				     struct ib_uverbs_dealloc_pd, pd_handle,
				     &svd_type_pd)),
};
