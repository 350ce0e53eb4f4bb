// SPDX-License-Identifier: MIT
/*
 * Ghosts: a destroyed RC QP that had a peer over the wire answers that
 * peer's retransmissions for a while, as TCP's TIME_WAIT does.
 *
 * The last ACK of a connection can be lost on the wire (netem, a real
 * network). The peer then retransmits its last SEND or WRITE; if the
 * application on this side has already destroyed its QP (ibv_rc_pingpong's
 * server exits as soon as its last receive completed), nobody answers and
 * the peer's last work request ends in RETRY_EXC_ERR although it was
 * delivered. For ENG_GHOST_NS after the destroy, a request for the dead
 * QPN whose PSN is before the one it expected next (a duplicate: it was
 * received and executed) gets the ACK it was owed, sent to the former
 * peer's address. Nothing else is answered: a READ or an atomic needs
 * memory that is gone, and a new PSN has nobody to go to. The ACK only
 * repeats what the QP had acknowledged or owed, to the address it was
 * connected to, so a forged duplicate can make it say nothing new.
 */
#include <string.h>

#include "engine.h"

#define ENG_GHOST_NS 2000000000LL /* 2 s: longer than a few retries */

/* Under e->lock, before the QP is freed: keep what answering needs. */
void eng_ghost_keep(struct svd_engine *e, struct eng_qp *eq)
{
	const struct svd_qp *qp = eq->qp;
	const struct svd_port *port = &qp->uctx->dev->port;
	uint8_t idx = qp->attr.ah_attr.grh.sgid_index;
	struct eng_packet p;
	struct eng_ghost *g;

	if (qp->qp_type != SVD_QPT_RC || !eq->rtr_seen ||
	    qp->state == SVD_QPS_RESET)
		return;
	memset(&p.route, 0, sizeof(p.route));
	eng_req_route(qp, &p);
	if (!eng_xport_may_lose(e, &p.route) || idx >= SVD_MAX_GIDS ||
	    !port->gids[idx].valid)
		return; /* the same host loses nothing */
	/* The source address now: the QP will be gone when it is sent. */
	memcpy(p.route.sgid, port->gids[idx].gid, 16);
	p.route.has_sgid = true;
	p.route.src = NULL;
	g = &e->ghosts[e->ghost_next++ % ENG_GHOSTS];
	*g = (struct eng_ghost){
		.qpn = qp->qpn,
		.dqpn = qp->attr.dest_qp_num & 0xffffff,
		.epsn = eq->epsn,
		.msn = eq->msn,
		.until_ns = eng_now_ns() + ENG_GHOST_NS,
		.route = p.route,
	};
}

/*
 * A request for a QPN nobody has (dev->lock held). from: the sender's GID
 * if the transport knows it; it must be the ghost's former peer.
 */
void eng_ghost_answer(struct svd_engine *e, const struct eng_packet *p,
		      const uint8_t *from)
{
	struct eng_packet a = { .npsn = 1 };
	struct eng_fields f = { 0 };
	const struct eng_ghost *g = NULL;
	unsigned int i;

	if (!(p->mask & ENG_REQ) || (p->mask & (ENG_READ | ENG_ATOMIC)) ||
	    (p->f.opcode & 0xe0) != eng_transport_bits(SVD_QPT_RC))
		return;
	for (i = 0; i < ENG_GHOSTS && !g; i++)
		if (e->ghosts[i].until_ns && e->ghosts[i].qpn == p->f.dqpn)
			g = &e->ghosts[i];
	if (!g || g->until_ns < eng_now_ns() ||
	    eng_psn_cmp(p->f.psn, g->epsn) >= 0 ||
	    (from && memcmp(from, g->route.dgid, 16)))
		return;
	f.opcode = (uint8_t)(eng_transport_bits(SVD_QPT_RC) | ENG_OP_ACK);
	f.dqpn = g->dqpn;
	f.psn = (g->epsn - 1) & 0xffffff;
	f.syndrome = ENG_AETH_ACK;
	f.msn = g->msn;
	a.route = g->route;
	if (!eng_pkt_build(&a, &f))
		eng_xport_send(e, &a);
}
