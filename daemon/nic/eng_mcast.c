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
#include "svd_mcast.h"
#include "svd_xuser.h"

/* Does this UD packet name a multicast group rather than one QP? */
bool eng_mcast_addr(const struct eng_pkt *pkt)
{
	if (pkt->global && svd_gid_is_mcast(pkt->dgid))
		return true;
	/*
	 * Multicast LIDs exist on IB ports only: a RoCE address has no LID
	 * (UCX puts its UDP source port, 0xc000 and up, in the AH's dlid).
	 */
	return pkt->src->uctx->dev->port.attr.link_layer == SVD_LINK_IB &&
	       pkt->dlid >= 0xc000 && pkt->dlid != 0xffff;
}

/* Called with dev->lock held, like eng_xmit(). */
void eng_mcast_xmit(struct svd_engine *e, const struct eng_pkt *pkt,
		    struct eng_ack *ack)
{
	uint32_t qpns[SVD_MCAST_MAX_QP_ATTACH];
	unsigned int n;

	n = svd_mcast_members(e->dev, pkt->global ? pkt->dgid : NULL,
			      pkt->dlid, qpns);
	ack->syndrome = ENG_AETH_DROPPED;
	for (unsigned int i = 0; i < n; i++) {
		struct svd_qp *dest = svd_dev_qp_find(e->dev, qpns[i]);
		struct eng_pkt copy = *pkt;
		struct eng_ack one;

		if (!dest || !svd_xuser_allowed(pkt->src, dest))
			continue;
		copy.dest_qpn = qpns[i];
		eng_resp_recv(e, dest, &copy, &one);
		/* The sender's own memory failing is the only answer kept. */
		if (one.syndrome == ENG_AETH_LOCAL)
			*ack = one;
	}
}
