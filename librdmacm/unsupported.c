// SPDX-License-Identifier: MIT
/*
 * rdma_cm calls whose feature softverbs does not provide yet. They fail
 * with EOPNOTSUPP (the README status names them):
 *  - multicast: softverbs has no multicast groups (max_mcast_grp is 0);
 *  - ECE (enhanced connection establishment): the devices report no
 *    vendor options to negotiate.
 */
#include <errno.h>

#include "cma_priv.h"

int rdma_join_multicast(struct rdma_cm_id *id, struct sockaddr *addr,
			void *context)
{
	return cma_errno(-EOPNOTSUPP);
}

int rdma_join_multicast_ex(struct rdma_cm_id *id,
			   struct rdma_cm_join_mc_attr_ex *mc_join_attr,
			   void *context)
{
	return cma_errno(-EOPNOTSUPP);
}

int rdma_leave_multicast(struct rdma_cm_id *id, struct sockaddr *addr)
{
	return cma_errno(-EOPNOTSUPP);
}

int rdma_set_local_ece(struct rdma_cm_id *id, struct ibv_ece *ece)
{
	return cma_errno(-EOPNOTSUPP);
}

int rdma_get_remote_ece(struct rdma_cm_id *id, struct ibv_ece *ece)
{
	return cma_errno(-EOPNOTSUPP);
}
