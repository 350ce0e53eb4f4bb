// SPDX-License-Identifier: MIT
/*
 * Transport interface. Today: loopback delivery to a QP of this daemon's
 * device, synchronously (the answer comes back in *ack). A RoCEv2/UDP
 * transport would serialize the packet here (BTH/RETH/... per the opcode
 * table), segment by path MTU, and feed the answer to the completer from
 * its receive path instead.
 */
#include "engine.h"
#include "svd_xuser.h"

/* Called with dev->lock held (the QP map is read under it). */
void eng_xmit(struct svd_engine *e, const struct eng_pkt *pkt,
	      struct eng_ack *ack)
{
	struct svd_qp *dest = svd_dev_qp_find(e->dev, pkt->dest_qpn);

	ack->syndrome = ENG_AETH_DROPPED;
	/* UD to a group: a copy to each attached QP (eng_mcast.c). */
	if (pkt->src->qp_type == SVD_QPT_UD && eng_mcast_addr(pkt)) {
		eng_mcast_xmit(e, pkt, ack);
		return;
	}
	/* A LID or GID this port does not own reaches no one here. */
	if (!svd_dev_addr_is_local(e->dev, pkt->dlid,
				   pkt->global ? pkt->dgid : NULL))
		return;
	if (!dest)
		return; /* nobody there: RC retries and times out */
	/* Another user's QP that did not ask for this sender: the same. */
	if (!svd_xuser_allowed(pkt->src, dest))
		return;
	eng_resp_recv(e, dest, pkt, ack);
}
