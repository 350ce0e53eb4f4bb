// SPDX-License-Identifier: MIT
/*
 * UD multicast delivery. A UD send whose address names a multicast group
 * (a multicast GID, or on IB a LID in 0xc000..0xfffe) reaches every QP
 * attached to that group on this device: a copy each, each consuming its
 * own receive WQE and checking its own Q_Key, as the unicast path does.
 * The sender gets a copy only if it is attached itself (mlx5's default
 * loopback).
 */
#include "engine.h"
#include "eng_xport.h"
#include "svd_mcast.h"

/* Does this UD packet name a multicast group rather than one QP? */
bool eng_mcast_addr(const struct eng_packet *p)
{
	const struct svd_qp *src = p->route.src;

	if (p->route.global && svd_gid_is_mcast(p->route.dgid))
		return true;
	/*
	 * Multicast LIDs exist on IB ports only: a RoCE address has no LID
	 * (UCX puts its UDP source port, 0xc000 and up, in the AH's dlid).
	 */
	return src && src->uctx->dev->port.attr.link_layer == SVD_LINK_IB &&
	       p->route.dlid >= 0xc000 && p->route.dlid != 0xffff;
}

/* Called with dev->lock held, like eng_xport_send(). */
int eng_mcast_deliver(struct svd_engine *e, struct eng_packet *p)
{
	uint32_t qpns[SVD_MCAST_MAX_QP_ATTACH];
	struct eng_fields f = p->f;
	unsigned int n, i;
	int ret = 0;

	n = svd_mcast_members(e->dev, p->route.global ? p->route.dgid : NULL,
			      p->route.dlid, qpns);
	for (i = 0; i < n; i++) {
		struct eng_packet copy = *p;

		/* A copy each, addressed to the member's QP. */
		f.dqpn = qpns[i];
		if (eng_pkt_build(&copy, &f))
			continue;
		/* The sender's own memory failing is the only answer kept. */
		if (e->local->ops->send(e->local, &copy) == -EFAULT)
			ret = -EFAULT;
	}
	return ret;
}
