// SPDX-License-Identifier: MIT
/*
 * Completions of the direct path (direct.h).
 *
 * The daemon is the only producer of a CQ's shared ring, so the direct
 * path writes its completions to a second, private ring of the CQ. Each
 * entry carries a stamp: the shared ring's prod when it was pushed. Polling
 * takes the direct ring's head once every daemon completion written before
 * it has been taken (stamp - cons <= 0), else the daemon ring's head. A QP
 * goes direct only after its daemon completions were written and goes back
 * to the daemon after its direct ones were pushed, so each QP's
 * completions come out in the order its work requests completed.
 *
 * Everything here runs under cq->lock.
 */
#include <stdlib.h>
#include <string.h>

#include "direct.h"

struct svl_dcq *svl_dcq_get(struct svl_cq *cq)
{
	struct svl_dcq *d = cq->dcq;

	if (d)
		return d;
	d = svl_lines_zalloc(sizeof(*d));
	if (!d)
		return NULL;
	d->entries = cq->entries;
	pthread_mutex_init(&d->war_lock, NULL);
	d->ring = calloc(d->entries, sizeof(*d->ring));
	d->stamp = calloc(d->entries, sizeof(*d->stamp));
	if (!d->ring || !d->stamp) {
		pthread_mutex_destroy(&d->war_lock);
		free(d->ring);
		free(d->stamp);
		free(d);
		return NULL;
	}
	/* Release: svl_cq_seems_empty() reads it without the lock. */
	__atomic_store_n(&cq->dcq, d, __ATOMIC_RELEASE);
	return d;
}

/*
 * Nothing to poll? Read without cq->lock: a stream that asks for a
 * completion every Nth work request polls an empty CQ N - 1 times, and
 * the lock was most of that poll's cost. An answer made stale by a
 * concurrent push or pop is the one a poll a moment earlier would have
 * given. Receive rings to drain (direct_rx.c): not empty. cq->db may be
 * a ring that a concurrent ibv_resize_cq replaced: cq.c keeps replaced
 * rings mapped until the CQ is destroyed.
 */
bool svl_cq_seems_empty(struct svl_cq *cq)
{
	const struct svl_dcq *d = __atomic_load_n(&cq->dcq, __ATOMIC_ACQUIRE);
	const struct sv_dbrec *db = __atomic_load_n(&cq->db, __ATOMIC_ACQUIRE);

	if (cq->no_lock)
		return false; /* one thread: the full poll costs no lock */
	if (d && (__atomic_load_n(&d->rxs, __ATOMIC_RELAXED) ||
		  __atomic_load_n(&d->prod, __ATOMIC_ACQUIRE) !=
			  __atomic_load_n(&d->cons, __ATOMIC_RELAXED)))
		return false;
	return __atomic_load_n(&cq->cons, __ATOMIC_RELAXED) ==
	       svl_load_acquire(&db->prod);
}

void svl_dcq_free(struct svl_cq *cq)
{
	if (!cq->dcq)
		return;
	pthread_mutex_destroy(&cq->dcq->war_lock);
	free(cq->dcq->ring);
	free(cq->dcq->stamp);
	free(cq->dcq);
	cq->dcq = NULL;
}

const struct sv_cqe *svl_cq_peek(struct svl_cq *cq)
{
	struct svl_dcq *d = cq->dcq;
	uint32_t prod;

	/* Direct SENDs to our QPs become completions here. */
	if (d && d->rxs)
		svl_direct_rx_drain(cq);
	prod = svl_load_acquire(&cq->db->prod);

	if (d && d->cons != d->prod) {
		uint32_t i = d->cons & (d->entries - 1);

		if ((int32_t)(d->stamp[i] - cq->cons) <= 0 || cq->cons == prod) {
			d->cur_direct = true;
			return &d->ring[i];
		}
	}
	if (cq->cons == prod)
		return NULL;
	if (d)
		d->cur_direct = false;
	return &cq->ring[cq->cons & (cq->entries - 1)];
}

/* A daemon completion was taken: count it for the QP that waits for it. */
static void watch_note(struct svl_dcq *d, const struct sv_cqe *e)
{
	struct svl_dqp *w;

	if (e->opcode >= IBV_WC_RECV)
		return;
	for (w = d->watch; w; w = w->wnext) {
		if (w->qpn != e->qp_num)
			continue;
		if (w->stale) {
			w->stale--; /* svl_dcq_all_written() counted it */
			continue;
		}
		w->seen++;
		if (e->status != IBV_WC_SUCCESS)
			w->failed = true;
	}
}

void svl_cq_pop(struct svl_cq *cq)
{
	struct svl_dcq *d = cq->dcq;

	if (d && d->cur_direct) {
		d->cons++;
		d->cur_direct = false;
		return;
	}
	if (d && d->watch)
		watch_note(d, &cq->ring[cq->cons & (cq->entries - 1)]);
	cq->cons++;
}

/* Modify to RESET: the QP's direct completions go with its others. */
void svl_dcq_clean(struct svl_cq *cq, uint32_t qpn)
{
	struct svl_dcq *d = cq->dcq;
	uint32_t src, dst, mask;

	if (!d)
		return;
	mask = d->entries - 1;
	for (src = dst = d->prod; src != d->cons;) {
		src--;
		if (d->ring[src & mask].qp_num == qpn)
			continue;
		dst--;
		d->ring[dst & mask] = d->ring[src & mask];
		d->stamp[dst & mask] = d->stamp[src & mask];
	}
	d->cons = dst;
}

int svl_dcq_reserve(struct svl_cq *cq)
{
	struct svl_dcq *d = svl_dcq_get(cq);

	/* Full (or resized smaller meanwhile): the daemon path decides. */
	if (!d || d->entries != cq->entries ||
	    d->prod + d->reserved - d->cons >= d->entries)
		return -1;
	d->reserved++;
	return 0;
}

void svl_dcq_unreserve(struct svl_cq *cq)
{
	cq->dcq->reserved--;
}

void svl_dcq_push(struct svl_cq *cq, const struct sv_cqe *e)
{
	struct svl_dcq *d = cq->dcq;
	uint32_t i = d->prod & (d->entries - 1);

	d->reserved--;
	d->ring[i] = *e;
	d->stamp[i] = svl_load_acquire(&cq->db->prod);
	__atomic_store_n(&d->prod, d->prod + 1, __ATOMIC_RELEASE);
}

int svl_dcq_watch(struct svl_cq *cq, struct svl_dqp *w)
{
	struct svl_dcq *d = svl_dcq_get(cq);

	if (!d)
		return -1;
	if (!w->watching) {
		w->wnext = d->watch;
		d->watch = w;
		w->watching = true;
	}
	return 0;
}

/*
 * Are all the daemon completions w waits for in the daemon's ring, polled
 * or not? Its send completions not polled yet are counted (a failed one
 * fails w, as its poll would), the first w->stale of them being an
 * earlier stay's. If so they become stale: the polls that take them do
 * not count them, and a direct completion pushed now is stamped after
 * every one of them and polled after them.
 */
bool svl_dcq_all_written(struct svl_cq *cq, struct svl_dqp *w)
{
	uint32_t prod = svl_load_acquire(&cq->db->prod), i, n = 0;

	for (i = cq->cons; i != prod; i++) {
		const struct sv_cqe *e = &cq->ring[i & (cq->entries - 1)];

		if (e->opcode >= IBV_WC_RECV || e->qp_num != w->qpn)
			continue;
		n++;
		if (e->status != IBV_WC_SUCCESS)
			w->failed = true;
	}
	if (n < w->stale || w->seen + (n - w->stale) < w->sig)
		return false;
	w->stale = n;
	return true;
}

void svl_dcq_unwatch(struct svl_cq *cq, struct svl_dqp *w)
{
	struct svl_dqp **pp;

	if (!w->watching || !cq->dcq)
		return;
	for (pp = &cq->dcq->watch; *pp; pp = &(*pp)->wnext) {
		if (*pp == w) {
			*pp = w->wnext;
			break;
		}
	}
	w->watching = false;
}
