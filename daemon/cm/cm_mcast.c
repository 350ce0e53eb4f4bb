// SPDX-License-Identifier: MIT
/*
 * rdma_join_multicast on a UD id. softverbs devices are RoCE ports with no
 * SA to register with, so a join completes at once: MULTICAST_JOIN carries
 * the ud parameters to reach the group (the MGID as the AH's dgid, QPN
 * 0xffffff, RDMA_UDP_QKEY). The MGID is the group address mapped as rdma_cm
 * maps it on RoCEv2: IPv4 a.b.c.d is ::ffff:a.b.c.d, IPv6 is itself.
 * Attaching the QP (and detaching on leave) is the library's job, as in
 * rdma-core, so the daemon keeps no per-join state.
 */
#include <errno.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "cm.h"
#include "svd_mcast.h"

int cm_join_mcast(struct cm_id *id, const union sv_cm_sockaddr *group)
{
	struct sv_cm_event ud = { 0 };
	struct sv_cm_conn c = { 0 };

	/* The kernel's rule: a bound (or resolved) UD id. */
	if (id->qp_type != IBV_QPT_UD || !id->dev)
		return -EINVAL;
	cm_sa_to_gid(group, ud.ud_dgid);
	if (!svd_gid_is_mcast(ud.ud_dgid))
		return -EINVAL;
	c.qp_num = 0xffffff;
	c.qkey = RDMA_UDP_QKEY;
	ud.ud_sgid_index = id->sgid_index;
	ud.ud_hop_limit = CM_HOP_LIMIT;
	ud.ud_traffic_class = id->tos;
	cm_emit(id, RDMA_CM_EVENT_MULTICAST_JOIN, 0, &c, &ud);
	return 0;
}
