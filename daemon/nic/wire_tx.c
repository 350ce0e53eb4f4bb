// SPDX-License-Identifier: MIT
/*
 * Batched sending for the engine (docs/wire.md, "Speed"). One sendmsg per
 * packet of one path MTU made the system call and the stack's per-packet
 * work the wire's cost. The engine's wire transport therefore queues the
 * packets of a pass here (wire_send_batch()) and sends them when the pass
 * ends (wire_flush()):
 *
 * - Consecutive packets of one flow (same source socket and destination)
 *   with the same length (the last may be shorter) form a train that goes
 *   out as ONE UDP GSO datagram (UDP_SEGMENT = the packet length): the
 *   kernel cuts it into the original packets, each with its own UDP/IP
 *   header, as late as it can (on a veth, not at all until the receiver).
 *   Every packet carries its own BTH and ICRC. IPv4 segment i of a GSO
 *   send leaves with IP ID i (the kernel numbers segments from the ID of
 *   the whole, 0 for an unconnected DF socket: checked with tbf, which
 *   segments, and tshark), so its ICRC is computed for ID i.
 * - Every train of a flush goes in one sendmmsg per socket.
 * - A packet the lossy knob marks CE (wire_cc.c) travels alone, with that
 *   TOS / traffic class in a control message.
 *
 * A kernel or device without UDP GSO (EIO) turns it off; a train the
 * kernel refuses otherwise is sent again packet by packet, recomputing
 * the ICRCs for ID 0. Packets are counted sent when the kernel took them.
 * Only the engine thread (under its lock) batches; wire_send() stays
 * immediate for other callers.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wire_int.h"

#define TX_BUF (256U * 1024)
#define TX_TRAINS 64
#define GSO_SEGS_MAX 64 /* UDP_MAX_SEGMENTS of older kernels */
#define GSO_BYTES_MAX 65000U /* one IP datagram: 65535 less headers */

struct wire_train {
	int ai, slot; /* w->addr[ai].fd[slot] */
	uint8_t dgid[16];
	uint32_t off, seg, n, bytes; /* seg: each packet, ICRC included */
	uint8_t ecn; /* 0: the socket's ECT(0) */
	bool closed; /* a shorter packet (or a marked one) ends it */
};

struct wire_tx {
	uint8_t buf[TX_BUF];
	uint32_t used;
	struct wire_train t[TX_TRAINS];
	unsigned int n;
	bool no_gso;
};

struct wire_tx *wire_tx_new(void)
{
	return calloc(1, sizeof(struct wire_tx));
}

void wire_tx_free(struct wire_tx *tx)
{
	free(tx);
}

/* The ends of packet k of train t (its IP ID: GSO numbers segments). */
static void train_ends(const struct wire *w, const struct wire_train *t,
		       uint32_t k, bool gso, struct wire_ends *e)
{
	const struct wire_addr *a = &w->addr[t->ai];

	memset(e, 0, sizeof(*e));
	memcpy(e->sgid, a->gid, 16);
	memcpy(e->dgid, t->dgid, 16);
	e->sport = a->port[t->slot];
	e->dport = WIRE_UDP_PORT;
	if (gso && wire_gid_is_v4(t->dgid))
		e->ip_id = (uint16_t)k;
}

/* Packet k of t gets the ICRC for its ends; traced if asked. */
static void train_icrc(struct wire *w, struct wire_tx *tx,
		       const struct wire_train *t, uint32_t k, bool gso,
		       bool trace)
{
	uint8_t *p = tx->buf + t->off + k * t->seg;
	size_t len = (k + 1 == t->n ? t->bytes - k * t->seg : t->seg) -
		     WIRE_ICRC_LEN;
	struct wire_ends e;
	uint32_t icrc;

	train_ends(w, t, k, gso, &e);
	icrc = wire_icrc(&e, p, len);
	if (trace)
		wire_trace_pkt(w, &e, p, len, icrc);
	icrc = htole32(icrc);
	memcpy(p + len, &icrc, 4);
}

struct tx_msg {
	struct sockaddr_storage to;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
};

static void cmsg_put(struct msghdr *mh, int level, int type, const void *v,
		     size_t n)
{
	struct cmsghdr *c = (struct cmsghdr *)((char *)mh->msg_control +
					       mh->msg_controllen);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(n);
	memcpy(CMSG_DATA(c), v, n);
	mh->msg_controllen += CMSG_SPACE(n);
}

/* One message for packets [k, k + cnt) of t (cnt > 1: a GSO train). */
static void msg_build(const struct wire *w, struct wire_tx *tx,
		      const struct wire_train *t, uint32_t k, uint32_t cnt,
		      struct tx_msg *m, struct msghdr *mh)
{
	const struct wire_addr *a = &w->addr[t->ai];
	uint32_t end = k + cnt == t->n ? t->bytes : (k + cnt) * t->seg;

	m->iov = (struct iovec){ tx->buf + t->off + k * t->seg,
				 end - k * t->seg };
	*mh = (struct msghdr){ .msg_name = &m->to, .msg_iov = &m->iov,
			       .msg_iovlen = 1, .msg_control = m->ctl.buf };
	mh->msg_namelen = wire_sockaddr(t->dgid, WIRE_UDP_PORT, a->ifindex,
					&m->to);
	if (cnt > 1) {
		uint16_t seg = (uint16_t)t->seg;

		cmsg_put(mh, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg));
	}
	if (t->ecn) {
		int tos = t->ecn;

		if (wire_gid_is_v4(t->dgid))
			cmsg_put(mh, IPPROTO_IP, IP_TOS, &tos, 1);
		else
			cmsg_put(mh, IPPROTO_IPV6, IPV6_TCLASS, &tos,
				 sizeof(tos));
	}
	if (!mh->msg_controllen)
		mh->msg_control = NULL;
}

/* sendmsg, waiting a little while the socket's buffer is full. */
int wire_sendmsg_wait(struct wire *w, int fd, struct msghdr *mh)
{
	for (int tries = 0; tries < 100; tries++) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (sendmsg(fd, mh, MSG_DONTWAIT) >= 0)
			return 0;
		if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			return -errno;
		atomic_fetch_add(&w->cnt.send_backoff, 1);
		poll(&pfd, 1, 1);
	}
	return -EAGAIN;
}

static void count_sent(struct wire *w, int ret, uint32_t pkts, uint64_t b)
{
	if (ret) {
		atomic_fetch_add(&w->cnt.send_err, pkts);
		return;
	}
	atomic_fetch_add(&w->cnt.sent_pkts, pkts);
	atomic_fetch_add(&w->cnt.sent_bytes, b);
}

/* The kernel refused the train as one: its packets one by one, ID 0. */
static void train_split(struct wire *w, struct wire_tx *tx,
			const struct wire_train *t, int fd)
{
	for (uint32_t k = 0; k < t->n; k++) {
		struct tx_msg m;
		struct msghdr mh;

		train_icrc(w, tx, t, k, false, false);
		msg_build(w, tx, t, k, 1, &m, &mh);
		count_sent(w, wire_sendmsg_wait(w, fd, &mh), 1,
			   m.iov.iov_len);
	}
}

/* Trains [i, j) share a socket: one sendmmsg, then what it left. */
static void send_group(struct wire *w, struct wire_tx *tx, unsigned int i,
		       unsigned int j, int fd)
{
	struct tx_msg m[TX_TRAINS];
	struct mmsghdr mm[TX_TRAINS];
	unsigned int k;
	int sent, ret;

	for (k = i; k < j; k++)
		msg_build(w, tx, &tx->t[k], 0, tx->t[k].n, &m[k - i],
			  &mm[k - i].msg_hdr);
	sent = sendmmsg(fd, mm, j - i, MSG_DONTWAIT);
	for (k = i; k < j; k++) {
		const struct wire_train *t = &tx->t[k];

		if (sent > (int)(k - i)) {
			count_sent(w, 0, t->n, t->bytes);
			continue;
		}
		/* Full buffer, or this message refused: one at a time. */
		ret = wire_sendmsg_wait(w, fd, &mm[k - i].msg_hdr);
		if (ret && t->n > 1) {
			if (ret == -EIO)
				tx->no_gso = true; /* no UDP GSO here */
			train_split(w, tx, t, fd);
			continue;
		}
		count_sent(w, ret, t->n, t->bytes);
	}
}

/* Send and forget everything batched; w->lock held. */
static void tx_flush_locked(struct wire *w, struct wire_tx *tx)
{
	unsigned int i = 0, j;

	while (i < tx->n) {
		const struct wire_train *t = &tx->t[i];
		const struct wire_addr *a = &w->addr[t->ai];
		int fd = a->used ? a->fd[t->slot] : -1;

		for (j = i + 1; j < tx->n && tx->t[j].ai == t->ai &&
				tx->t[j].slot == t->slot;
		     j++)
			;
		/* The address went away since (wire_sync_addrs). */
		if (fd < 0)
			for (unsigned int k = i; k < j; k++)
				count_sent(w, -EADDRNOTAVAIL, tx->t[k].n, 0);
		else
			send_group(w, tx, i, j, fd);
		i = j;
	}
	tx->n = 0;
	tx->used = 0;
}

void wire_flush(struct wire *w)
{
	if (!w->tx->n)
		return;
	pthread_mutex_lock(&w->lock);
	tx_flush_locked(w, w->tx);
	pthread_mutex_unlock(&w->lock);
}

static bool train_takes(const struct wire_tx *tx, const struct wire_train *t,
			int ai, int slot, const uint8_t *dgid, uint32_t plen)
{
	return !tx->no_gso && !t->closed && t->ai == ai && t->slot == slot &&
	       plen <= t->seg && t->n < GSO_SEGS_MAX &&
	       t->bytes + plen <= GSO_BYTES_MAX && !memcmp(t->dgid, dgid, 16);
}

/* The train a packet of plen bytes joins (flushing if there is no room). */
static struct wire_train *train_for(struct wire *w, struct wire_tx *tx,
				    int ai, int slot, const uint8_t *dgid,
				    uint32_t plen, uint8_t ecn)
{
	struct wire_train *t = tx->n ? &tx->t[tx->n - 1] : NULL;

	if (tx->used + plen > TX_BUF || tx->n == TX_TRAINS)
		tx_flush_locked(w, tx);
	else if (t && !ecn && train_takes(tx, t, ai, slot, dgid, plen))
		return t;
	t = &tx->t[tx->n++];
	*t = (struct wire_train){ .ai = ai, .slot = slot, .off = tx->used,
				  .seg = plen, .ecn = ecn, .closed = ecn };
	memcpy(t->dgid, dgid, 16);
	return t;
}

int wire_send_batch(struct wire *w, const uint8_t *sgid,
		    const uint8_t *dgid, uint32_t entropy, const uint8_t *ib,
		    size_t len)
{
	uint32_t plen = (uint32_t)(len + WIRE_ICRC_LEN);
	struct wire_tx *tx = w->tx;
	struct wire_train *t;
	int ai;

	if (len < WIRE_BTH_LEN || plen > WIRE_PKT_MAX)
		return -EINVAL;
	wire_window_wait(w, &w->win, plen);
	pthread_mutex_lock(&w->lock);
	ai = wire_addr_index(w, sgid);
	if (ai < 0 || wire_gid_is_v4(sgid) != wire_gid_is_v4(dgid)) {
		pthread_mutex_unlock(&w->lock);
		atomic_fetch_add(&w->cnt.send_err, 1);
		return -EADDRNOTAVAIL;
	}
	t = train_for(w, tx, ai, 1 + (int)(entropy % WIRE_SPORTS), dgid, plen,
		      wire_ce_mark(w));
	memcpy(tx->buf + tx->used, ib, len);
	tx->used += plen;
	t->bytes += plen;
	t->closed |= plen < t->seg;
	train_icrc(w, tx, t, t->n++, true, true);
	pthread_mutex_unlock(&w->lock);
	return 0;
}
