// SPDX-License-Identifier: MIT
/*
 * Where CM MADs go. A CM message is a 256-byte MAD for QP1 of the port
 * that holds the destination GID:
 *
 *  - a GID of one of this daemon's devices: delivered here, through a FIFO
 *    drained after each command, so a handler never runs inside another;
 *  - any other GID: sent on the wire of the device the id is bound to
 *    (a device bound to a network interface), as a RoCE port sends it: a
 *    UD SEND from QP1 to QP1 (nic/wire_gsi.c). Without a wire the MAD is
 *    lost, and the sender's retransmission timer gives up as on a silent
 *    network.
 *
 * MADs received on a wire arrive on that wire's receive thread; they are
 * queued (bounded) and an eventfd wakes the main loop, which hands them
 * to the CM like local ones. The receiving device is found again by the
 * destination GID, so a device removed meanwhile is never touched.
 *
 * SOFTVERBS_CM_WIRE_DROP=N (a test knob) loses the first N MADs sent on a
 * wire, to show that the CM's timers recover from loss.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cm.h"
#include "cm_mad.h"
#include "wire.h"

/* MADs received and not yet handled: beyond this, drop (the peer retries). */
#define CM_WIRE_RXQ_MAX 4096

struct cm_packet {
	struct svd_device *src_dev;
	uint8_t sgid[16];
	uint8_t dgid[16];
	uint8_t mad[CM_MAD_SIZE];
	struct cm_packet *next;
};

struct cm_fifo {
	struct cm_packet *head, **tail;
	unsigned int len;
};

static struct cm_fifo out = { .tail = &out.head };
static struct cm_fifo in = { .tail = &in.head }; /* under in_lock */
static pthread_mutex_t in_lock = PTHREAD_MUTEX_INITIALIZER;
static int in_efd = -1;
static void *in_tag;
static int drop_budget;

static void fifo_put(struct cm_fifo *q, struct cm_packet *p)
{
	p->next = NULL;
	*q->tail = p;
	q->tail = &p->next;
	q->len++;
}

/* The whole list, leaving q empty. */
static struct cm_packet *fifo_take(struct cm_fifo *q)
{
	struct cm_packet *p = q->head;

	q->head = NULL;
	q->tail = &q->head;
	q->len = 0;
	return p;
}

static struct cm_packet *packet_new(const uint8_t *sgid, const uint8_t *dgid,
				    const uint8_t *mad)
{
	struct cm_packet *p = malloc(sizeof(*p));

	if (!p)
		return NULL; /* a lost MAD: the retransmission timer covers it */
	memcpy(p->sgid, sgid, 16);
	memcpy(p->dgid, dgid, 16);
	memcpy(p->mad, mad, CM_MAD_SIZE);
	p->src_dev = NULL;
	return p;
}

void cm_send_mad_to(struct svd_device *dev, const uint8_t *sgid,
		    const uint8_t *dgid, const uint8_t *mad)
{
	struct cm_packet *p = packet_new(sgid, dgid, mad);

	if (!p)
		return;
	p->src_dev = dev;
	fifo_put(&out, p);
}

void cm_send_mad(struct cm_id *id, const uint8_t *mad)
{
	cm_send_mad_to(id->dev, id->sgid, id->dgid, mad);
}

static void wire_out(const struct cm_packet *p)
{
	if (!p->src_dev || !p->src_dev->wire)
		return; /* no network behind this device: lost */
	if (drop_budget > 0) {
		drop_budget--;
		return;
	}
	/* A failure (no route, address gone) is a lost MAD, counted by the wire. */
	wire_gsi_send(p->src_dev->wire, p->sgid, p->dgid, p->mad);
}

static void deliver(struct cm_packet *p)
{
	struct svd_device *dst;
	uint32_t index;

	dst = cm_dev_of_gid(p->dgid, &index);
	if (dst)
		cm_recv_mad(dst, p->sgid, p->dgid, p->mad);
	else
		wire_out(p);
}

void cm_wire_drain(void)
{
	struct cm_packet *p, *next;

	/* Handlers may queue more: take batches until none is left. */
	while ((p = fifo_take(&out))) {
		for (; p; p = next) {
			next = p->next;
			deliver(p);
			free(p);
		}
	}
}

/* ---- from the wire ---- */

/* A receive thread: keep a copy and wake the main loop. */
static void wire_mad_in(struct svd_device *dev, const uint8_t *sgid,
			const uint8_t *dgid, uint32_t src_qpn,
			const uint8_t *mad)
{
	static const uint64_t one = 1;
	struct cm_packet *p;

	(void)dev; /* found again by GID on the main thread */
	(void)src_qpn; /* every CM answers to QP1 */
	pthread_mutex_lock(&in_lock);
	p = in.len < CM_WIRE_RXQ_MAX ? packet_new(sgid, dgid, mad) : NULL;
	if (p)
		fifo_put(&in, p);
	pthread_mutex_unlock(&in_lock);
	if (p && write(in_efd, &one, sizeof(one)) < 0)
		return; /* the counter is saturated: a wake-up is pending */
}

/* One MAD from the wire, on the main thread: checked, then the CM's. */
void cm_wire_input(const uint8_t *sgid, const uint8_t *dgid,
		   const uint8_t *mad)
{
	struct svd_device *dev;
	uint32_t index;

	dev = cm_dev_of_gid(dgid, &index);
	if (dev) /* cm_recv_mad checks the MAD header and ignores the rest */
		cm_recv_mad(dev, sgid, dgid, mad);
}

static void on_wire_rx(struct svd_ev_hook *h)
{
	struct cm_packet *p, *next;
	uint64_t n;

	(void)h;
	if (read(in_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&in_lock);
	p = fifo_take(&in);
	pthread_mutex_unlock(&in_lock);
	for (; p; p = next) {
		next = p->next;
		cm_wire_input(p->sgid, p->dgid, p->mad);
		free(p);
	}
	cm_settle();
}

static struct svd_ev_hook wire_rx_hook = { .fn = on_wire_rx };

int cm_wire_start(void)
{
	const char *drop = getenv("SOFTVERBS_CM_WIRE_DROP");

	drop_budget = drop ? atoi(drop) : 0;
	in_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in_efd < 0)
		return -errno;
	wire_gsi_set_receiver(wire_mad_in);
	return svd_ev_watch(in_efd, &wire_rx_hook, &in_tag);
}

void cm_wire_stop(void)
{
	struct cm_packet *p, *next;

	wire_gsi_set_receiver(NULL); /* no receive thread is inside it now */
	cm_wire_drain();
	if (in_efd >= 0) {
		svd_ev_unwatch(in_efd, in_tag);
		close(in_efd);
	}
	in_efd = -1;
	for (p = fifo_take(&in); p; p = next) {
		next = p->next;
		free(p);
	}
}
