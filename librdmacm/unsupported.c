// SPDX-License-Identifier: MIT
/*
 * rdma_cm calls whose feature softverbs does not provide yet. They fail
 * with EOPNOTSUPP (the README status names them):
 *  - ECE (enhanced connection establishment): the devices report no
 *    vendor options to negotiate.
 */
#include <errno.h>

#include "cma_priv.h"

int rdma_set_local_ece(struct rdma_cm_id *id, struct ibv_ece *ece)
{
	return cma_errno(-EOPNOTSUPP);
}

int rdma_get_remote_ece(struct rdma_cm_id *id, struct ibv_ece *ece)
{
	return cma_errno(-EOPNOTSUPP);
}
