// SPDX-License-Identifier: MIT
/*
 * The subnet's switch: LID routing between the daemon's InfiniBand
 * devices, as one switch joins the ports of a subnet (docs/ucx-mpi.md).
 *
 * Every "type ib" device's engine has a switch port here, registered under
 * its LID. A packet whose DLID is not the sending port's own goes to the
 * port that holds that LID: the sending engine makes the payload owned,
 * records who sent it (the sender's user, QP and path, read under the
 * sender's dev->lock: the receiver cannot look at another device's
 * objects), queues it on the destination port and kicks that engine.
 * The destination engine's pass (poll, its own dev->lock held) checks it
 * as the same-host transport would -- the address is this port's, the
 * cross-user policy and the connected QP's path (xuser.c) -- and hands it
 * to eng_recv(). Two devices' locks are never held together.
 *
 * A DLID nobody holds is dropped and counted (UD loses the datagram, RC
 * retries and ends in IBV_WC_RETRY_EXC_ERR), as a switch without a
 * forwarding entry does.
 *
 * Flow control: an IB link does not drop for lack of buffers (credits).
 * A port queues at most SW_QUEUE_BYTES of payload; a sender with a larger
 * packet waits for the destination to take its queue, at most SW_WAIT_NS
 * (two engines sending bulk data to each other could otherwise wait for
 * each other), then drops it (counted; RC recovers it). Packets without
 * bulk payload (ACKs, NAKs, READ requests, atomics) never wait, so an
 * engine that is waiting never keeps the other from answering.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "eng_xport.h"
#include "svd_switch.h"
#include "svd_xuser.h"

#define SW_QUEUE_BYTES (8U << 20)
#define SW_WAIT_NS (5LL * 1000 * 1000)
#define SW_SMALL 256 /* payload bytes a packet may carry and never wait */

/* A packet on its way between two ports, and who sent it. */
struct sw_pkt {
	struct eng_packet p;
	struct svd_xuser_from from;
	struct sw_pkt *next;
};

struct sw_port {
	struct eng_xport x;
	uint16_t lid;
	pthread_mutex_t qlock;
	pthread_cond_t room; /* the queue was taken */
	struct sw_pkt *head, **tail;
	size_t bytes; /* payload queued, not yet taken */
	struct sw_port *next; /* the switch's ports */
	/* Packets this port forwarded, sent to no LID, or lost to a full
	 * destination (counted on the sender), and received. */
	atomic_ulong fwd, noroute, full, rcvd;
};

/*
 * The forwarding table. Senders hold it for reading while they queue (and
 * wait for room), so a port leaves it -- and is freed -- only when no
 * packet is on its way into it. Writers first: a port being removed does
 * not wait behind a stream of senders.
 */
static pthread_rwlock_t sw_lock;
static pthread_once_t sw_once = PTHREAD_ONCE_INIT;
static struct sw_port *sw_ports;

static void sw_lock_init(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(
		&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sw_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

static struct sw_port *sw_of(struct eng_xport *x)
{
	return (struct sw_port *)x;
}

/* The port holding lid (table held). */
static struct sw_port *sw_find(uint16_t lid)
{
	struct sw_port *sp;

	for (sp = sw_ports; sp; sp = sp->next)
		if (sp->lid == lid)
			return sp;
	return NULL;
}

static void sw_pkt_free(struct sw_pkt *k)
{
	free(k->p.owned);
	free(k);
}

/*
 * An owned copy of p with its sender's identity, or NULL with *err:
 * -EFAULT when the sender's memory could not be read (its local error),
 * 0 when the packet is simply lost (no memory, its sender QP is gone).
 */
static struct sw_pkt *sw_pkt_make(struct svd_engine *e,
				  const struct eng_packet *p, int *err)
{
	const struct svd_qp *src = p->route.src;
	struct sw_pkt *k;

	*err = 0;
	if (!src)
		src = svd_dev_qp_find(e->dev, p->route.src_qpn);
	k = src ? calloc(1, sizeof(*k)) : NULL;
	if (!k)
		return NULL;
	k->p = *p;
	k->p.next = NULL;
	k->p.owned = NULL;
	if (p->owned && p->len) {
		k->p.sgl = NULL;
		k->p.owned = malloc(p->len);
		if (k->p.owned)
			memcpy(k->p.owned, p->owned, p->len);
	}
	if ((p->owned && p->len && !k->p.owned) ||
	    (*err = eng_pkt_own(&k->p))) {
		*err = *err == -EFAULT ? -EFAULT : 0;
		sw_pkt_free(k);
		return NULL;
	}
	k->p.route.src = NULL;
	svd_xuser_from(src, &k->from);
	return k;
}

static void deadline_after(struct timespec *ts, long long ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000LL);
	ts->tv_nsec = (long)(ns % 1000000000LL);
}

/* Room for len more bytes in to's queue, waiting if the packet is bulk. */
static bool sw_room(struct sw_port *to, uint32_t len)
{
	struct timespec until;
	bool armed = false;

	while (len > SW_SMALL && to->bytes &&
	       to->bytes + len > SW_QUEUE_BYTES) {
		if (!armed) {
			deadline_after(&until, SW_WAIT_NS);
			armed = true;
		}
		if (pthread_cond_timedwait(&to->room, &to->qlock, &until))
			return to->bytes + len <= SW_QUEUE_BYTES;
	}
	return true;
}

/* Queue k on to (table held), or drop it for lack of room: false. */
static bool sw_enqueue(struct sw_port *to, struct sw_pkt *k)
{
	pthread_mutex_lock(&to->qlock);
	if (!sw_room(to, k->p.len)) {
		pthread_mutex_unlock(&to->qlock);
		sw_pkt_free(k);
		return false;
	}
	*to->tail = k;
	to->tail = &k->next;
	to->bytes += k->p.len;
	pthread_mutex_unlock(&to->qlock);
	eng_kick(to->x.e);
	return true;
}

/* Forward p to the port holding its DLID (sender's dev->lock held). */
static int sw_send(struct eng_xport *x, struct eng_packet *p)
{
	struct sw_port *me = sw_of(x), *to;
	struct sw_pkt *k;
	int err = 0;

	pthread_rwlock_rdlock(&sw_lock);
	to = sw_find(p->route.dlid);
	if (!to || to == me) {
		/* No such LID (our own one with a GID not ours: the same). */
		atomic_fetch_add(&me->noroute, 1);
	} else if ((k = sw_pkt_make(x->e, p, &err))) {
		atomic_fetch_add(sw_enqueue(to, k) ? &me->fwd : &me->full, 1);
	}
	pthread_rwlock_unlock(&sw_lock);
	return err;
}

/*
 * A packet the port received, checked as the same-host transport checks
 * its own (dev->lock held): the GID it names (with a GRH) is this
 * port's, its QP exists, and the cross-user policy and path allow it.
 */
static void sw_deliver(struct sw_port *sp, struct sw_pkt *k)
{
	struct svd_engine *e = sp->x.e;
	struct eng_packet *p = &k->p;
	struct svd_qp *qp;

	if (p->route.global &&
	    !svd_dev_addr_is_local(e->dev, p->route.dlid, p->route.dgid))
		return;
	if (eng_pkt_parse(p))
		return;
	qp = svd_dev_qp_find(e->dev, p->f.dqpn);
	if (!qp || !qp->eng || !svd_xuser_from_allowed(qp, &k->from))
		return; /* nobody there, or not for them: RC retries */
	atomic_fetch_add(&sp->rcvd, 1);
	eng_recv(e, p);
}

/* Engine pass, dev->lock held: take the queue, make room, deliver. */
static void sw_poll(struct eng_xport *x, int64_t *deadline_ns)
{
	struct sw_port *sp = sw_of(x);
	struct sw_pkt *k, *next;

	(void)deadline_ns;
	pthread_mutex_lock(&sp->qlock);
	k = sp->head;
	sp->head = NULL;
	sp->tail = &sp->head;
	sp->bytes = 0;
	pthread_cond_broadcast(&sp->room);
	pthread_mutex_unlock(&sp->qlock);
	for (; k; k = next) {
		next = k->next;
		sw_deliver(sp, k);
		sw_pkt_free(k);
	}
}

static uint32_t sw_seg_max(const struct eng_xport *x)
{
	(void)x;
	return ENG_CHUNK; /* GSO, as on the same-host transport */
}

/* The engine has stopped: leave the table (no sender is inside), free. */
static void sw_destroy(struct eng_xport *x)
{
	struct sw_port *sp = sw_of(x), **pp;
	struct sw_pkt *k;

	pthread_rwlock_wrlock(&sw_lock);
	for (pp = &sw_ports; *pp; pp = &(*pp)->next) {
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	}
	pthread_rwlock_unlock(&sw_lock);
	while ((k = sp->head)) {
		sp->head = k->next;
		sw_pkt_free(k);
	}
	pthread_cond_destroy(&sp->room);
	pthread_mutex_destroy(&sp->qlock);
	free(sp);
}

static const struct eng_xport_ops sw_ops = {
	.name = "switch",
	.send = sw_send,
	.poll = sw_poll,
	.seg_max = sw_seg_max,
	.destroy = sw_destroy,
};

/* An IB device's port on the switch, under its LID; RoCE ports have none. */
int eng_switch_attach(struct svd_engine *e)
{
	struct sw_port *sp;
	pthread_condattr_t ca;

	pthread_once(&sw_once, sw_lock_init);
	if (e->dev->port.attr.link_layer != SVD_LINK_IB)
		return 0;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->x.ops = &sw_ops;
	sp->x.e = e;
	sp->lid = e->dev->port.attr.lid;
	sp->tail = &sp->head;
	pthread_mutex_init(&sp->qlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sp->room, &ca);
	pthread_condattr_destroy(&ca);
	pthread_rwlock_wrlock(&sw_lock);
	sp->next = sw_ports;
	sw_ports = sp;
	pthread_rwlock_unlock(&sw_lock);
	e->sw = &sp->x;
	return 0;
}

void svd_switch_describe(struct svd_device *dev, char *buf, size_t len)
{
	struct svd_engine *e = eng_of(dev);
	struct sw_port *sp = e && e->sw ? sw_of(e->sw) : NULL;

	if (!sp) {
		*buf = 0;
		return;
	}
	snprintf(buf, len, " lid_fwd=%lu lid_rcvd=%lu lid_noroute=%lu "
			   "lid_full=%lu",
		 atomic_load(&sp->fwd), atomic_load(&sp->rcvd),
		 atomic_load(&sp->noroute), atomic_load(&sp->full));
}
