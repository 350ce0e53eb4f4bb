// SPDX-License-Identifier: MIT
/*
 * Doorbell pages (include/softverbs/abi.h, struct sv_db_page).
 *
 * std_db.c registers each page it hands to a context. A QP is bound to its
 * context's page and to slot QPN & (SV_DB_SLOTS - 1); the library sets the
 * slot's bit when it posts. Harvesting exchanges the summary word, then the
 * pending words it names, and puts the QPs of every rung slot on the run
 * queue: the engine never looks at a QP nobody rang.
 *
 * Everything in the page is untrusted. A client that sets every bit only
 * makes the engine look at its own QPs (a page belongs to one context and
 * only that context's QPs are bound to it).
 */
#include <fcntl.h>
#include <stdlib.h>

#include "eng_db.h"
#include "engine.h"

/* Per page: the QPs of each slot (allocated when the first QP binds). */
struct eng_db_slots {
	struct eng_qp *head[SV_DB_SLOTS];
};

int eng_db_init(struct svd_engine *e)
{
	e->slots = calloc(e->dev->max_db_pages, sizeof(*e->slots));
	return e->slots ? 0 : -ENOMEM;
}

void eng_db_fini(struct svd_engine *e)
{
	uint32_t i;

	for (i = 0; i < e->dev->max_db_pages; i++)
		free(e->slots[i]);
	free(e->slots);
}

static uint32_t qp_slot(const struct eng_qp *eq)
{
	return eq->qp->qpn & (SV_DB_SLOTS - 1);
}

/* Bind eq to its page if the page is its context's; else it is polled. */
void eng_db_bind(struct svd_engine *e, struct eng_qp *eq)
{
	uint32_t idx = eq->qp->db_page_index;
	struct eng_db_slots **s;

	/* An XRC target has no SQ to ring for (nor its creator's context). */
	if (eq->db_page >= 0 || eq->qp->qp_type == SVD_QPT_XRC_TGT)
		return;
	if (idx >= e->dev->max_db_pages || !e->pages[idx].page ||
	    e->pages[idx].uctx != eq->qp->uctx)
		goto poll;
	s = &e->slots[idx];
	if (!*s)
		*s = calloc(1, sizeof(**s));
	if (!*s)
		goto poll;
	eq->slot_next = (*s)->head[qp_slot(eq)];
	(*s)->head[qp_slot(eq)] = eq;
	eq->db_page = (int32_t)idx;
	return;
poll:
	/* No usable doorbell: look at it every pass (correct, not cheap). */
	if (!eq->polled) {
		eq->polled = true;
		eq->poll.next = e->pollq.next;
		eq->poll.prev = &e->pollq;
		e->pollq.next->prev = &eq->poll;
		e->pollq.next = &eq->poll;
	}
}

void eng_db_unbind(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_qp **pp;

	if (eq->polled) {
		eq->poll.prev->next = eq->poll.next;
		eq->poll.next->prev = eq->poll.prev;
		eq->polled = false;
	}
	if (eq->db_page < 0)
		return;
	pp = &e->slots[eq->db_page]->head[qp_slot(eq)];
	for (; *pp; pp = &(*pp)->slot_next) {
		if (*pp == eq) {
			*pp = eq->slot_next;
			break;
		}
	}
	eq->slot_next = NULL;
	eq->db_page = -1;
}

static void activate_word(struct svd_engine *e, struct eng_db_slots *s,
			  uint32_t w, uint64_t bits)
{
	struct eng_qp *eq;

	while (bits) {
		uint32_t slot = w * 64 + (uint32_t)__builtin_ctzll(bits);

		bits &= bits - 1;
		for (eq = s->head[slot]; eq; eq = eq->slot_next)
			eng_activate(e, eq);
	}
}

static void harvest_page(struct svd_engine *e, uint32_t idx)
{
	struct sv_db_page *p = e->pages[idx].page;
	uint64_t sum, bits;

	if (!atomic_load_explicit((_Atomic uint64_t *)&p->summary,
				  memory_order_relaxed))
		return;
	sum = atomic_exchange((_Atomic uint64_t *)&p->summary, 0);
	e->ring_cpu = atomic_load_explicit((_Atomic uint32_t *)&p->ring_cpu,
					   memory_order_relaxed);
	while (sum) {
		uint32_t w = (uint32_t)__builtin_ctzll(sum);

		sum &= sum - 1;
		bits = atomic_exchange((_Atomic uint64_t *)&p->pending[w], 0);
		if (bits && e->slots[idx])
			activate_word(e, e->slots[idx], w, bits);
	}
}

/*
 * Every pass harvests, so it scans only up to the highest page in use:
 * the default 1024 slots cost 1.3 us a pass when scanned whole, a fifth
 * of a SEND hop.
 */
void eng_db_harvest(struct svd_engine *e)
{
	uint32_t i;

	for (i = 0; i < e->pages_hi; i++)
		if (e->pages[i].page)
			harvest_page(e, i);
}

/* Has any page been rung since its last harvest? (e->lock held) */
bool eng_db_rung(struct svd_engine *e)
{
	uint32_t i;

	for (i = 0; i < e->pages_hi; i++)
		if (e->pages[i].page &&
		    atomic_load((_Atomic uint64_t *)&e->pages[i].page->summary))
			return true;
	return false;
}

void eng_db_set_sleeping(struct svd_engine *e, uint32_t v)
{
	uint32_t i;

	/* Pages of the waiter threads keep 'sleeping' set (eng_wait.c). */
	for (i = 0; i < e->pages_hi && i < ENG_PAGES_PER_WAITER; i++)
		if (e->pages[i].page)
			atomic_store((_Atomic uint32_t *)&e->pages[i]
					     .page->sleeping,
				     v);
}

/* The page's ringers wake uctx's user's wake page: a new fd of it or -1. */
static int db_wake_fd(struct svd_engine *e, struct svd_ucontext *uctx)
{
	uid_t uid = uctx && uctx->ufile ? uctx->ufile->uid : 0;
	int w = eng_wake_of(e, uid);

	return w < 0 ? -1 : fcntl(e->wakes[w].fd, F_DUPFD_CLOEXEC, 0);
}

int svd_engine_db_add(struct svd_device *dev, struct sv_db_page *page,
		      struct svd_ucontext *uctx, uint32_t *index,
		      int *wake_fd)
{
	struct svd_engine *e = eng_of(dev);
	uint32_t i;
	int ret = -ENOMEM;

	if (!e)
		return -ENODEV;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < dev->max_db_pages; i++) {
		if (!e->pages[i].page) {
			e->pages[i].page = page;
			e->pages[i].uctx = uctx;
			/* Asked for (wake_fd) and given: no waiting on it. */
			if (wake_fd)
				*wake_fd = db_wake_fd(e, uctx);
			e->pages[i].woken = wake_fd && *wake_fd >= 0;
			if (i >= e->pages_hi)
				e->pages_hi = i + 1;
			*index = i;
			atomic_fetch_add(&dev->db_pages_used, 1);
			eng_waiters_cover(e, i);
			eng_pages_changed(e);
			eng_poke(e); /* to wait on it too */
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

/* QPs still bound to a page that goes away fall back to polling. */
static void unbind_page(struct svd_engine *e, uint32_t index)
{
	struct eng_qp *eq;

	for (eq = e->qps; eq; eq = eq->next) {
		if (eq->db_page == (int32_t)index) {
			eng_db_unbind(e, eq);
			eng_db_bind(e, eq);
		}
	}
	free(e->slots[index]);
	e->slots[index] = NULL;
}

void svd_engine_db_del(struct svd_device *dev, uint32_t index)
{
	struct svd_engine *e = eng_of(dev);

	if (!e || index >= dev->max_db_pages)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->pages[index].page) {
		e->pages[index].page = NULL;
		e->pages[index].uctx = NULL;
		e->pages[index].woken = false;
		while (e->pages_hi && !e->pages[e->pages_hi - 1].page)
			e->pages_hi--;
		atomic_fetch_sub(&dev->db_pages_used, 1);
		if (e->slots[index])
			unbind_page(e, index);
		eng_pages_changed(e);
	}
	pthread_mutex_unlock(&e->lock);
}

/* Stats: the QPs the engine finds through page index (the caller's). */
uint32_t svd_engine_db_page_qps(struct svd_device *dev, uint32_t index,
				struct svd_ucontext *uctx)
{
	struct svd_engine *e = eng_of(dev);
	const struct eng_qp *eq;
	uint32_t n = 0;

	if (!e || index >= dev->max_db_pages)
		return 0;
	pthread_mutex_lock(&e->lock);
	if (e->pages[index].page && e->pages[index].uctx == uctx)
		for (eq = e->qps; eq; eq = eq->next)
			n += eq->db_page == (int32_t)index;
	pthread_mutex_unlock(&e->lock);
	return n;
}
