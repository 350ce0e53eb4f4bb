// SPDX-License-Identifier: MIT
/*
 * Device-wide number maps: QPN -> QP and SRQN -> SRQ.
 *
 * A small chained hash per kind, keyed by (device, number). Entries of all
 * devices share the buckets, so a private mutex guards them; it nests
 * inside dev->lock, which callers hold to keep the object alive.
 *
 * Numbers are a keyed permutation (svd_perm.h) of an allocation counter:
 * unique until the 24-bit space wraps, yet a peer cannot predict the next
 * QPN from the ones it has seen, nor aim at a QP by counting.
 */
#include <stdlib.h>

#include "svd_perm.h"
#include "svd_mcast.h"
#include "svd_qpn.h"

#define NUM_BUCKETS 1024

struct num_ent {
	struct svd_device *dev;
	uint32_t num;
	void *obj;
	struct num_ent *next;
};

struct num_map {
	pthread_mutex_t lock;
	struct num_ent *b[NUM_BUCKETS];
	uint32_t next; /* allocation cursor (shared: numbers stay unique) */
	enum svd_perm_domain domain;
};

static struct num_map qp_map = { .lock = PTHREAD_MUTEX_INITIALIZER,
				 .domain = SVD_PERM_QPN };
static struct num_map srq_map = { .lock = PTHREAD_MUTEX_INITIALIZER,
				  .domain = SVD_PERM_SRQN };

static unsigned int bucket(const struct svd_device *dev, uint32_t num)
{
	return (unsigned int)((num ^ ((uintptr_t)dev >> 6)) % NUM_BUCKETS);
}

static struct num_ent *map_find(struct num_map *m, struct svd_device *dev,
				uint32_t num)
{
	struct num_ent *e;

	for (e = m->b[bucket(dev, num)]; e; e = e->next)
		if (e->dev == dev && e->num == num)
			return e;
	return NULL;
}

/* Next free number in [2, 2^24); -ENOSPC if every one is taken. */
static int map_insert(struct num_map *m, struct svd_device *dev, void *obj,
		      uint32_t *out)
{
	struct num_ent *e = calloc(1, sizeof(*e));
	uint32_t n, tries;

	if (!e)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	for (tries = 0; tries <= SVD_QPN_MASK; tries++) {
		n = svd_perm24(m->domain, m->next++ & SVD_QPN_MASK);
		if (n < 2 || map_find(m, dev, n))
			continue;
		e->dev = dev;
		e->num = n;
		e->obj = obj;
		e->next = m->b[bucket(dev, n)];
		m->b[bucket(dev, n)] = e;
		pthread_mutex_unlock(&m->lock);
		*out = n;
		return 0;
	}
	pthread_mutex_unlock(&m->lock);
	free(e);
	return -ENOSPC;
}

static void map_remove(struct num_map *m, struct svd_device *dev,
		       uint32_t num, void *obj)
{
	struct num_ent **pp, *e;

	pthread_mutex_lock(&m->lock);
	for (pp = &m->b[bucket(dev, num)]; (e = *pp); pp = &e->next) {
		if (e->dev == dev && e->num == num && e->obj == obj) {
			*pp = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

static void *map_lookup(struct num_map *m, struct svd_device *dev,
			uint32_t num)
{
	struct num_ent *e;
	void *obj;

	pthread_mutex_lock(&m->lock);
	e = map_find(m, dev, num & SVD_QPN_MASK);
	obj = e && e->num == num ? e->obj : NULL;
	pthread_mutex_unlock(&m->lock);
	return obj;
}

/* The advertised max_qp is a real limit: ENOMEM beyond it, as rxe. */
int svd_qpn_insert(struct svd_device *dev, struct svd_qp *qp)
{
	int ret = -ENOMEM;

	svd_dev_lock(dev);
	if (dev->nr_qps < dev->attr.max_qp)
		ret = map_insert(&qp_map, dev, qp, &qp->qpn);
	if (!ret)
		dev->nr_qps++;
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

void svd_qpn_remove(struct svd_device *dev, struct svd_qp *qp)
{
	svd_dev_lock(dev);
	map_remove(&qp_map, dev, qp->qpn, qp);
	svd_mcast_qp_gone(dev, qp->qpn); /* a reused QPN joins nothing */
	dev->nr_qps--;
	pthread_mutex_unlock(&dev->lock);
}

struct svd_qp *svd_dev_qp_find(struct svd_device *dev, uint32_t qpn)
{
	return map_lookup(&qp_map, dev, qpn);
}

int svd_srqn_insert(struct svd_device *dev, struct svd_srq *srq)
{
	int ret;

	svd_dev_lock(dev);
	ret = map_insert(&srq_map, dev, srq, &srq->srqn);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

void svd_srqn_remove(struct svd_device *dev, struct svd_srq *srq)
{
	svd_dev_lock(dev);
	map_remove(&srq_map, dev, srq->srqn, srq);
	pthread_mutex_unlock(&dev->lock);
}

struct svd_srq *svd_dev_srq_find(struct svd_device *dev, uint32_t srqn)
{
	return map_lookup(&srq_map, dev, srqn);
}
