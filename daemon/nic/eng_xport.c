// SPDX-License-Identifier: MIT
/*
 * Transports (eng_xport.h): routing a packet to one, the same-host
 * transport, and the receive dispatch eng_recv(). Everything here runs
 * with dev->lock held (the QP map and the keys are read under it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "eng_xport.h"
#include "svd_xuser.h"

/* The QP that sent p, if it is one of this daemon's (for xuser). */
static const struct svd_qp *recv_src(struct svd_engine *e,
				     const struct eng_packet *p)
{
	if (p->route.src || !p->route.held)
		return p->route.src;
	return svd_dev_qp_find(e->dev, p->route.src_qpn);
}

static const struct eng_xport_ops local_ops;

int eng_recv(struct svd_engine *e, struct eng_packet *p)
{
	const struct svd_qp *src;
	struct svd_qp *qp;

	if (eng_pkt_parse(p))
		return 0; /* garbage: dropped */
	qp = svd_dev_qp_find(e->dev, p->f.dqpn);
	if (!qp) {
		eng_ghost_answer(e, p, NULL); /* a lost last ACK, again */
		return 0; /* else nobody there: RC retries and times out */
	}
	if (!qp->eng)
		return 0;
	src = recv_src(e, p);
	if (p->route.held && !src)
		return 0; /* its sender is gone */
	/* Another user's QP that did not ask for this sender: the same. */
	if (src && !svd_xuser_allowed(src, qp))
		return 0;
	if (p->mask & ENG_REQ)
		return eng_resp_recv(e, qp->eng, p);
	return eng_comp_recv(e, qp->eng, p);
}

int eng_xport_send(struct svd_engine *e, struct eng_packet *p)
{
	const struct eng_route *r = &p->route;

	/* UD to a group: a copy to each attached QP (eng_mcast.c). */
	if ((p->f.opcode & 0xe0) == ENG_TR_UD && eng_mcast_addr(p))
		return eng_mcast_deliver(e, p);
	if (svd_dev_addr_is_local(e->dev, r->dlid, r->global ? r->dgid : NULL))
		return e->local->ops->send(e->local, p);
	if (e->sw) /* IB: another port of the subnet, by DLID */
		return e->sw->ops->send(e->sw, p);
	if (e->wire)
		return e->wire->ops->send(e->wire, p);
	return 0; /* no wire yet: a LID or GID not ours reaches no one */
}

uint32_t eng_xport_seg(struct svd_engine *e, const struct eng_route *r,
		       unsigned int mtu)
{
	struct eng_xport *x = e->local;
	uint32_t seg;

	if (!svd_dev_addr_is_local(e->dev, r->dlid, r->global ? r->dgid : NULL)
	    && (e->sw || e->wire))
		x = e->sw ? e->sw : e->wire;
	seg = x->ops->seg_max(x);
	seg -= seg % mtu;
	return seg ? seg : mtu;
}

bool eng_xport_is_sync(const struct svd_engine *e, const struct eng_route *r)
{
	return e->local->ops == &local_ops &&
	       svd_dev_addr_is_local(e->dev, r->dlid,
				     r->global ? r->dgid : NULL);
}

/* Only the same-host transport, which holds nothing between passes. */
bool eng_xport_plain(const struct svd_engine *e)
{
	return e->local->ops == &local_ops && !e->wire && !e->sw;
}

bool eng_xport_may_lose(const struct svd_engine *e, const struct eng_route *r)
{
	if (svd_dev_addr_is_local(e->dev, r->dlid, r->global ? r->dgid : NULL))
		return e->local->ops != &local_ops;
	return !e->sw && e->wire;
}

/* End of a pass (e->lock held): a batching transport sends what it holds. */
void eng_xport_flush(struct svd_engine *e)
{
	struct eng_xport *xs[] = { e->local, e->wire, e->sw };

	for (unsigned int i = 0; i < SVD_ARRAY_SIZE(xs); i++)
		if (xs[i] && xs[i]->ops->flush)
			xs[i]->ops->flush(xs[i]);
}

void eng_xport_poll(struct svd_engine *e, int64_t *deadline_ns)
{
	struct eng_xport *xs[] = { e->local, e->wire, e->sw };
	unsigned int i, n = 0;

	for (i = 0; i < SVD_ARRAY_SIZE(xs); i++)
		if (xs[i] && xs[i]->ops->poll)
			xs[n++] = xs[i];
	if (!n)
		return;
	pthread_mutex_lock(&e->dev->lock);
	for (i = 0; i < n; i++)
		xs[i]->ops->poll(xs[i], deadline_ns);
	pthread_mutex_unlock(&e->dev->lock);
}

/* ---- the same-host transport ---- */

static int local_send(struct eng_xport *x, struct eng_packet *p)
{
	return eng_recv(x->e, p);
}

static uint32_t local_seg_max(const struct eng_xport *x)
{
	(void)x;
	return ENG_CHUNK;
}

static void local_destroy(struct eng_xport *x)
{
	free(x);
}

static const struct eng_xport_ops local_ops = {
	.name = "local",
	.send = local_send,
	.seg_max = local_seg_max,
	.destroy = local_destroy,
};

struct eng_xport *eng_xport_local_new(struct svd_engine *e)
{
	struct eng_xport *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->ops = &local_ops;
	x->e = e;
	return x;
}

/* The same-host transport, wrapped by the lossy one if SOFTVERBS_LOSS says. */
int eng_xport_init(struct svd_engine *e)
{
	const char *spec = getenv("SOFTVERBS_LOSS");
	struct eng_loss_cfg cfg;
	struct eng_xport *x;

	e->local = eng_xport_local_new(e);
	if (!e->local || eng_switch_attach(e))
		return -ENOMEM;
	if (!spec || !*spec)
		return 0;
	if (eng_loss_parse(spec, &cfg)) {
		fprintf(stderr, "softverbsd: bad SOFTVERBS_LOSS '%s' (want "
				"drop=PCT,dup=PCT,reorder=PCT,delay_us=N,seed=N)\n",
			spec);
		return -EINVAL;
	}
	x = eng_xport_loss_new(e, e->local, &cfg);
	if (!x)
		return -ENOMEM;
	e->local = x;
	return 0;
}

void eng_xport_fini(struct svd_engine *e)
{
	if (e->sw)
		e->sw->ops->destroy(e->sw);
	if (e->wire)
		e->wire->ops->destroy(e->wire);
	if (e->local)
		e->local->ops->destroy(e->local);
	e->wire = e->local = e->sw = NULL;
}
