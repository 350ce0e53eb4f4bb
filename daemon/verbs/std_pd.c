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
	if (why == SVD_REMOVE_DESTROY && atomic_load(&pd->usecnt))
		return -EBUSY;
	free(pd);
	return 0;
}

const struct svd_obj_type svd_type_pd = {
	.name = "pd",
	.uapi_id = UVERBS_OBJECT_PD,
	.destroy_order = 4,
	.destroy = pd_destroy,
};

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

/* write(): IB_USER_VERBS_CMD_DEALLOC_PD */
static int write_dealloc_pd(struct svd_bundle *b)
{
	const struct ib_uverbs_dealloc_pd *cmd = svd_write_req(b, NULL);

	return svd_write_destroy(b, &svd_type_pd, cmd->pd_handle);
}

/* ioctl: UVERBS_METHOD_PD_DESTROY. The framework already holds the PD
 * exclusively; removing it may still fail with EBUSY. */
static int pd_method_destroy(struct svd_bundle *b)
{
	return svd_attr_remove_uobj(b, UVERBS_ATTR_DESTROY_PD_HANDLE);
}

/* ioctl: driver method SV_METHOD_PD_QUERY (seed 000, like mlx5's). */
static int pd_method_query(struct svd_bundle *b)
{
	struct svd_pd *pd = svd_attr_get_obj(b, SV_ATTR_PD_QUERY_HANDLE);
	struct sv_pd_query_resp resp = { .pdn = pd->pdn };

	return svd_attr_copy_to(b, SV_ATTR_PD_QUERY_RESP, &resp, sizeof(resp));
}

static const struct svd_attr_spec pd_destroy_attrs[] = {
	SVD_ATTR_IDR(UVERBS_ATTR_DESTROY_PD_HANDLE, &svd_type_pd,
		     SVD_ACCESS_DESTROY, true),
};

static const struct svd_attr_spec pd_query_attrs[] = {
	SVD_ATTR_IDR(SV_ATTR_PD_QUERY_HANDLE, &svd_type_pd, SVD_ACCESS_READ,
		     true),
	SVD_ATTR_PTR_OUT(SV_ATTR_PD_QUERY_RESP, struct sv_pd_query_resp, true),
};

static const struct svd_method pd_methods[] = {
	SVD_METHOD(UVERBS_METHOD_PD_DESTROY, pd_method_destroy,
		   pd_destroy_attrs),
};

static const struct svd_method pd_device_methods[] = {
	SVD_METHOD(SV_METHOD_PD_QUERY, pd_method_query, pd_query_attrs),
};

static const struct svd_object pd_objects[] = {
	{ .id = UVERBS_OBJECT_PD, .type = &svd_type_pd, .methods = pd_methods,
	  .nmethods = SVD_ARRAY_SIZE(pd_methods) },
	{ .id = UVERBS_OBJECT_DEVICE, .methods = pd_device_methods,
	  .nmethods = SVD_ARRAY_SIZE(pd_device_methods) },
};

static const struct svd_write_cmd pd_write_cmds[] = {
	{ IB_USER_VERBS_CMD_ALLOC_PD, false,
	  sizeof(struct ib_uverbs_alloc_pd),
	  sizeof(struct ib_uverbs_alloc_pd_resp), write_alloc_pd, true },
	{ IB_USER_VERBS_CMD_DEALLOC_PD, false,
	  sizeof(struct ib_uverbs_dealloc_pd), 0, write_dealloc_pd, true },
};

const struct svd_module svd_mod_pd = {
	.name = "pd",
	.objects = pd_objects,
	.nobjects = SVD_ARRAY_SIZE(pd_objects),
	.write_cmds = pd_write_cmds,
	.nwrite_cmds = SVD_ARRAY_SIZE(pd_write_cmds),
};
