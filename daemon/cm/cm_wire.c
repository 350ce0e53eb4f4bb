// SPDX-License-Identifier: MIT
/*
 * Where CM MADs go. A CM message is a 256-byte MAD for QP1 of the port
 * that holds the destination GID. Until the NIC's packet transport carries
 * QP1 traffic between hosts, the daemon delivers a MAD itself when the
 * destination GID belongs to one of its own devices, and drops it
 * otherwise (the sender's retransmission timer then gives up, as it would
 * on a silent wire). Delivery goes through a FIFO drained after each
 * command, so a handler never runs inside another one.
 */
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "cm_mad.h"

struct cm_packet {
	struct svd_device *src_dev;
	uint8_t sgid[16];
	uint8_t dgid[16];
	uint8_t mad[CM_MAD_SIZE];
	struct cm_packet *next;
};

static struct cm_packet *q_head, **q_tail = &q_head;

void cm_send_mad_to(struct svd_device *dev, const uint8_t *sgid,
		    const uint8_t *dgid, const uint8_t *mad)
{
	struct cm_packet *p = malloc(sizeof(*p));

	if (!p)
		return; /* a lost MAD: the retransmission timer covers it */
	p->src_dev = dev;
	memcpy(p->sgid, sgid, 16);
	memcpy(p->dgid, dgid, 16);
	memcpy(p->mad, mad, CM_MAD_SIZE);
	p->next = NULL;
	*q_tail = p;
	q_tail = &p->next;
}

void cm_send_mad(struct cm_id *id, const uint8_t *mad)
{
	cm_send_mad_to(id->dev, id->sgid, id->dgid, mad);
}

static void deliver(struct cm_packet *p)
{
	struct svd_device *dst;
	uint32_t index;

	dst = cm_dev_of_gid(p->dgid, &index);
	if (!dst)
		return; /* not on this host: no wire yet */
	cm_recv_mad(dst, p->sgid, p->dgid, p->mad);
}

void cm_wire_drain(void)
{
	struct cm_packet *p;

	while ((p = q_head)) {
		q_head = p->next;
		if (!q_head)
			q_tail = &q_head;
		deliver(p);
		free(p);
	}
}
