// SPDX-License-Identifier: MIT
/*
 * The direct-verbs table behind <softverbs/softverbs_dv.h>: softverbs'
 * counterparts of mlx5dv calls, reached by the header's inline wrappers
 * through verbs_context.priv (libibverbs/ops.c installs it).
 */
#include <string.h>

#include <softverbs/softverbs_dv.h>

#include "svl.h"
#include "svl_prov.h"

_Static_assert((int)SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT ==
		   (int)SV_REG_DMABUF_ACCESS_DATA_DIRECT,
	       "the public flag is the wire flag");

/* SV_METHOD_GET_DATA_DIRECT_PATH: ENODEV without the device. */
static int dv_get_data_direct_path(struct ibv_context *ctx, char *buf,
				   size_t buf_len)
{
	struct svl_cmd c;

	if (buf_len > UINT16_MAX)
		buf_len = UINT16_MAX; /* an attribute's length is 16 bits */
	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_GET_DATA_DIRECT_PATH);
	svl_attr_out(&c, SV_ATTR_GET_DATA_DIRECT_PATH, buf, buf_len);
	return svl_exec(ctx, &c);
}

static struct ibv_mr *dv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
				       size_t length, uint64_t iova, int fd,
				       int access, int sv_access)
{
	return svl_reg_dmabuf_mr(pd, offset, length, iova, fd, access,
				 (uint32_t)sv_access);
}

const struct softverbsdv_ops svl_softverbs_dv_ops = {
    .magic = SOFTVERBSDV_OPS_MAGIC,
    .size = sizeof(struct softverbsdv_ops),
    .get_data_direct_sysfs_path = dv_get_data_direct_path,
    .reg_dmabuf_mr = dv_reg_dmabuf_mr,
    .query_device = svl_dv_query_device,
    .create_qp = svl_dv_create_qp,
    .query_qp = svl_dv_query_qp,
    .query_cq = svl_dv_query_cq,
    .query_srq = svl_dv_query_srq,
};
