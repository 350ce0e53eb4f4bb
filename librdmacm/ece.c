// SPDX-License-Identifier: MIT
/*
 * Enhanced connection establishment (ECE): a vendor ID and option bits
 * that each side offers in its REQ or REP and the other reads, so two
 * NICs can agree on extensions (docs/rdma-cm.md). As in rdma-core, the
 * id keeps the local values (rdma_set_local_ece, or the QP's own through
 * ibv_query_ece when librdmacm creates the QP) and the peer's from the
 * CONNECT_REQUEST or the REP; the daemon carries them in the MADs where
 * the kernel's CM does: the vendor ID in the REQ's and REP's reserved
 * bytes, the options in the MAD header's attribute modifier.
 */
#include <errno.h>

#include "cma_priv.h"

/* For an application's own QP (none made through librdmacm). */
int rdma_set_local_ece(struct rdma_cm_id *id, struct ibv_ece *ece)
{
	struct cma_id_private *p = to_priv(id);

	if (!id || id->qp || !ece || !ece->vendor_id || ece->comp_mask)
		return cma_errno(-EINVAL);
	p->local_ece.vendor_id = ece->vendor_id;
	p->local_ece.options = ece->options;
	return 0;
}

int rdma_get_remote_ece(struct rdma_cm_id *id, struct ibv_ece *ece)
{
	struct cma_id_private *p = to_priv(id);

	if (!id || id->qp || !ece)
		return cma_errno(-EINVAL);
	ece->vendor_id = p->remote_ece.vendor_id;
	ece->options = p->remote_ece.options;
	ece->comp_mask = 0;
	return 0;
}

/* A QP librdmacm made offers what its provider supports (none: zeros). */
void cma_ece_from_qp(struct cma_id_private *p)
{
	struct ibv_ece ece = { 0 };

	if (p->id.qp && !ibv_query_ece(p->id.qp, &ece)) {
		p->local_ece.vendor_id = ece.vendor_id;
		p->local_ece.options = ece.options;
	}
}

void cma_ece_to_conn(const struct cma_id_private *p, struct sv_cm_conn *c)
{
	c->ece_vendor_id = p->local_ece.vendor_id;
	c->ece_options = p->local_ece.options;
}

/* The peer's offer, from a CONNECT_REQUEST or a REP. */
void cma_ece_from_event(struct cma_id_private *p, const struct sv_cm_event *ev)
{
	if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST &&
	    ev->event != RDMA_CM_EVENT_CONNECT_RESPONSE)
		return;
	p->remote_ece.vendor_id = ev->conn.ece_vendor_id;
	p->remote_ece.options = ev->conn.ece_options;
}
