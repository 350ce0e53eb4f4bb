// SPDX-License-Identifier: MIT
/*
 * Shared XRC target QPs: the handle list behind ibv_open_qp (see
 * svd_qp_share.h). Commands (main thread) add and drop handles; the
 * engine walks the list to raise an event, so both hold s->lock.
 */
#include <stdlib.h>

#include "svd_qp_share.h"

struct qp_handle {
	const struct svd_uobj *uobj; /* identity only: the uobject */
	struct svd_ucontext *uctx; /* where its events go */
	uint64_t user_handle; /* the event's element in that context */
	struct svd_xrcd *xrcd; /* its use count is ours */
	uint32_t events; /* queued to this handle */
	struct qp_handle *next;
};

struct svd_qp_share {
	struct svd_ufile home_file; /* the creator's device and uid */
	struct svd_ucontext home;
	uint32_t xrcdn;
	pthread_mutex_t lock; /* handles */
	struct qp_handle *handles;
};

struct svd_qp_share *svd_qp_share_new(const struct svd_ucontext *creator,
				      uint32_t xrcdn)
{
	struct svd_qp_share *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->home_file.dev = creator->dev;
	s->home_file.fd = -1;
	if (creator->ufile) {
		s->home_file.uid = creator->ufile->uid;
		s->home_file.creator_pid = creator->ufile->creator_pid;
	}
	s->home_file.uctx = &s->home;
	s->home.dev = creator->dev;
	s->home.ufile = &s->home_file;
	s->home.async_fd = -1; /* events go to the handles instead */
	pthread_mutex_init(&s->home.lock, NULL);
	s->xrcdn = xrcdn;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void handle_free(struct qp_handle *h)
{
	atomic_fetch_sub(&h->xrcd->usecnt, 1);
	free(h);
}

void svd_qp_share_free(struct svd_qp_share *s)
{
	struct qp_handle *h;

	if (!s)
		return;
	while ((h = s->handles)) {
		s->handles = h->next;
		handle_free(h);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->home.lock);
	free(s);
}

struct svd_ucontext *svd_qp_share_home(struct svd_qp_share *s)
{
	return &s->home;
}

uint32_t svd_qp_share_xrcdn(const struct svd_qp_share *s)
{
	return s->xrcdn;
}

int svd_qp_share_add(struct svd_qp_share *s, struct svd_uobj *uobj,
		     struct svd_xrcd *xrcd)
{
	struct qp_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->uobj = uobj;
	h->uctx = uobj->uctx;
	h->user_handle = uobj->user_handle;
	h->xrcd = xrcd;
	atomic_fetch_add(&xrcd->usecnt, 1);
	pthread_mutex_lock(&s->lock);
	h->next = s->handles;
	s->handles = h;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* The link that points at uobj's handle, or NULL; under s->lock. */
static struct qp_handle **handle_find(struct svd_qp_share *s,
				      const struct svd_uobj *uobj)
{
	struct qp_handle **pp;

	for (pp = &s->handles; *pp; pp = &(*pp)->next)
		if ((*pp)->uobj == uobj)
			return pp;
	return NULL;
}

bool svd_qp_share_close(struct svd_qp_share *s, const struct svd_uobj *uobj)
{
	struct qp_handle **pp, *h = NULL;
	bool others;

	pthread_mutex_lock(&s->lock);
	pp = handle_find(s, uobj);
	if (pp) {
		h = *pp;
		*pp = h->next;
	}
	others = s->handles != NULL;
	pthread_mutex_unlock(&s->lock);
	if (h)
		handle_free(h);
	return others;
}

uint32_t svd_qp_share_events(struct svd_qp_share *s,
			     const struct svd_uobj *uobj)
{
	struct qp_handle **pp;
	uint32_t n = 0;

	pthread_mutex_lock(&s->lock);
	pp = handle_find(s, uobj);
	if (pp)
		n = (*pp)->events;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void svd_qp_share_event(struct svd_qp_share *s, uint32_t event_type)
{
	struct qp_handle *h;

	pthread_mutex_lock(&s->lock);
	for (h = s->handles; h; h = h->next) {
		h->events++;
		svd_uctx_async_event(h->uctx, h->user_handle, event_type);
	}
	pthread_mutex_unlock(&s->lock);
}
