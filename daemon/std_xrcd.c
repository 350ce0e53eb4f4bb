// SPDX-License-Identifier: MIT
/*
 * XRC domains: legacy write OPEN_XRCD / CLOSE_XRCD.
 *
 * fd == -1 opens a new, private domain. Sharing a domain between
 * processes through an inode is not supported (EOPNOTSUPP), which
 * ibv_open_xrcd(3) allows a device to refuse.
 */
#include <stdlib.h>

#include "svd_qpn.h"

static int xrcd_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_xrcd *x = uobj->object;

	/* Like a PD: XRC_TGT QPs and XRC SRQs keep it alive. */
	if (why == SVD_REMOVE_DESTROY && atomic_load(&x->usecnt))
		return -EBUSY;
	free(x);
	return 0;
}

const struct svd_obj_type svd_type_xrcd = {
	.name = "xrcd",
	.uapi_id = UVERBS_OBJECT_XRCD,
	/* After QPs (0) and SRQs, before PDs (4). */
	.destroy_order = 3,
	.destroy = xrcd_destroy,
};

/* write(): IB_USER_VERBS_CMD_OPEN_XRCD */
static int write_open_xrcd(struct svd_bundle *b)
{
	const struct ib_uverbs_open_xrcd *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_open_xrcd_resp resp = {};
	struct svd_uobj *uobj;
	struct svd_xrcd *x;

	if ((int32_t)cmd->fd != -1)
		return -EOPNOTSUPP;
	uobj = svd_bundle_new_uobj(b, 0, &svd_type_xrcd);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->uctx = b->uctx;
	x->xrcdn = uobj->handle;
	uobj->object = x;
	resp.xrcd_handle = uobj->handle;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* write(): IB_USER_VERBS_CMD_CLOSE_XRCD */
static int write_close_xrcd(struct svd_bundle *b)
{
	const struct ib_uverbs_close_xrcd *cmd = svd_write_req(b, NULL);

	return svd_write_destroy(b, &svd_type_xrcd, cmd->xrcd_handle);
}

static const struct svd_write_cmd xrcd_write_cmds[] = {
	{ IB_USER_VERBS_CMD_OPEN_XRCD, false,
	  sizeof(struct ib_uverbs_open_xrcd),
	  sizeof(struct ib_uverbs_open_xrcd_resp), write_open_xrcd, true },
	{ IB_USER_VERBS_CMD_CLOSE_XRCD, false,
	  sizeof(struct ib_uverbs_close_xrcd), 0, write_close_xrcd, true },
};

const struct svd_module svd_mod_xrcd = {
	.name = "xrcd",
	.write_cmds = xrcd_write_cmds,
	.nwrite_cmds = SVD_ARRAY_SIZE(xrcd_write_cmds),
};
