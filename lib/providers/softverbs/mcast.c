// SPDX-License-Identifier: MIT
/*
 * Multicast attach/detach: legacy write ATTACH_MCAST / DETACH_MCAST, as
 * rdma-core's ibv_cmd_attach_mcast() sends them. The daemon checks the QP
 * type and the GID and keeps the group table.
 */
#include <string.h>

#include "svl.h"

static int mcast_cmd(struct ibv_qp *qp, uint32_t command,
		     const union ibv_gid *gid, uint16_t lid)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_attach_mcast cmd;
	} req;

	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, command, sizeof(req), 0);
	memcpy(req.cmd.gid, gid->raw, sizeof(req.cmd.gid));
	req.cmd.qp_handle = qp->handle;
	req.cmd.mlid = lid;
	return svl_write(qp->context, &req, sizeof(req), NULL, 0, -1, NULL);
}

SVL_EXPORT int ibv_attach_mcast(struct ibv_qp *qp, const union ibv_gid *gid,
				uint16_t lid)
{
	return mcast_cmd(qp, IB_USER_VERBS_CMD_ATTACH_MCAST, gid, lid);
}

SVL_EXPORT int ibv_detach_mcast(struct ibv_qp *qp, const union ibv_gid *gid,
				uint16_t lid)
{
	return mcast_cmd(qp, IB_USER_VERBS_CMD_DETACH_MCAST, gid, lid);
}
