// SPDX-License-Identifier: MIT
/*
 * The sockets of a device's wire. For every address of its interface
 * (every GID that is a real address) the device binds one UDP socket to
 * ADDR:4791, which receives, and WIRE_SPORTS more to ADDR:0 (ports the
 * kernel picks) that send: a QP always sends from the same one of them,
 * which gives the UDP source-port entropy RoCE's ECMP hashing expects
 * without any privilege. All are unconnected and use IP_PMTUDISC_DO, so
 * IPv4 packets leave with DF and ID 0 (what the ICRC was computed for).
 *
 * A receive thread per device waits on all of them, validates every
 * datagram (wire_pkt.c), counts and drops what fails, and hands the rest
 * to the receiver (the engine's wire transport) with the bytes it owns.
 * When the addresses change (netdev.c) the thread is stopped, the sockets
 * are rebuilt and the thread starts again: addresses change rarely.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "eng_idle.h"
#include "svd.h"
#include "wire.h"
#include "wire_int.h"

/* Datagrams per recvmmsg; each may be a GRO batch of up to 64 KiB. */
#define RX_BATCH 8
#define RX_DGRAM 65536
#define ECN_ECT0 0x02

static void addr_close(struct wire_addr *a)
{
	for (int i = 0; i <= WIRE_SPORTS; i++)
		if (a->fd[i] >= 0)
			close(a->fd[i]);
	memset(a, 0, sizeof(*a));
	for (int i = 0; i <= WIRE_SPORTS; i++)
		a->fd[i] = -1;
}

/* A GID as a socket address (the port in host order). */
socklen_t wire_sockaddr(const uint8_t *gid, uint16_t port, uint32_t ifindex,
			struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (wire_gid_is_v4(gid)) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, gid + 12, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	memcpy(&in6->sin6_addr, gid, 16);
	if (gid[0] == 0xfe && (gid[1] & 0xc0) == 0x80)
		in6->sin6_scope_id = ifindex; /* link-local */
	return sizeof(*in6);
}

/* The GID and port of a socket address; false if neither family. */
bool wire_gid_of(const struct sockaddr_storage *ss, uint8_t *gid,
		 uint16_t *port)
{
	memset(gid, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		gid[10] = gid[11] = 0xff;
		memcpy(gid + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		memcpy(gid, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/*
 * Options that only help (an older kernel may lack them): big buffers,
 * GRO batches on receipt, ECT(0) on what we send (ECN-capable: a router
 * may mark CE instead of dropping) and the received ECN bits reported.
 */
static void sock_opts_soft(int fd, int family)
{
	int on = 1, ect = ECN_ECT0;
	int buf = 8 << 20; /* capped at net.core.[rw]mem_max */

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
	if (family == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_TOS, &ect, sizeof(ect));
		setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &ect, sizeof(ect));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on));
	}
}

static int sock_opts(int fd, int family)
{
	int on = 1, pmtu = family == AF_INET ? IP_PMTUDISC_DO :
					      IPV6_PMTUDISC_DO;

	sock_opts_soft(fd, family);
	if (family == AF_INET)
		return setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu,
				  sizeof(pmtu));
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)))
		return -1;
	return setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu,
			  sizeof(pmtu));
}

/* One bound socket: fd, with *port the port it got. */
static int sock_bind(const uint8_t *gid, uint16_t port, uint32_t ifindex,
		     uint16_t *got)
{
	struct sockaddr_storage ss;
	socklen_t sl = wire_sockaddr(gid, port, ifindex, &ss);
	uint8_t g[16];
	int fd, err;

	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	if (sock_opts(fd, ss.ss_family) ||
	    bind(fd, (struct sockaddr *)&ss, sl))
		goto err;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    !wire_gid_of(&ss, g, got))
		goto err;
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}

static int addr_open(struct wire_addr *a, const uint8_t *gid,
		     uint32_t ifindex)
{
	int ret;

	addr_close(a);
	memcpy(a->gid, gid, 16);
	a->ifindex = ifindex;
	for (int i = 0; i <= WIRE_SPORTS; i++) {
		ret = sock_bind(gid, i ? 0 : WIRE_UDP_PORT, ifindex,
				&a->port[i]);
		if (ret < 0) {
			addr_close(a);
			return ret;
		}
		a->fd[i] = ret;
	}
	a->used = true;
	return 0;
}

/* ---- the receive thread ---- */

static void rx_deliver(struct wire *w, struct wire_rx *rx)
{
	struct wire_counters *c = &w->cnt;
	int drop = WIRE_DROP_NOTRANSPORT;
	wire_rx_fn fn;
	void *ctx;

	atomic_fetch_add(&c->rcvd_pkts, 1);
	atomic_fetch_add(&c->rcvd_bytes, rx->len + WIRE_ICRC_LEN);
	if (rx->bth.dest_qpn == WIRE_GSI_QPN) {
		drop = wire_gsi_input(w, rx); /* the CM's, not the engine's */
	} else {
		pthread_mutex_lock(&w->rx_lock);
		fn = w->rx_fn;
		ctx = w->rx_ctx;
		if (fn)
			drop = fn(ctx, rx);
		pthread_mutex_unlock(&w->rx_lock);
	}
	if (drop) {
		atomic_fetch_add(&c->dropped[drop], 1);
		wire_rx_free(rx);
	}
}

/*
 * A datagram of n bytes in rx->ib, its ends filled in: trace it, validate
 * it, count it and hand it on or drop it. The fuzzer enters here too.
 */
void wire_input(struct wire *w, struct wire_rx *rx, size_t n, bool trunc)
{
	uint32_t icrc;
	int ret;

	ret = trunc ? -WIRE_DROP_SHORT :
		      wire_parse(&rx->ends, rx->ib, n, &rx->bth);
	if (n >= WIRE_ICRC_LEN && n <= sizeof(rx->ib)) {
		memcpy(&icrc, rx->ib + n - WIRE_ICRC_LEN, 4);
		wire_trace_pkt(w, &rx->ends, rx->ib, n - WIRE_ICRC_LEN,
			       le32toh(icrc));
	}
	if (ret) {
		atomic_fetch_add(&w->cnt.dropped[-ret], 1);
		wire_rx_free(rx);
		return;
	}
	rx->len = (uint32_t)(n - WIRE_ICRC_LEN);
	rx_deliver(w, rx);
}

/* The receive thread's buffers: RX_BATCH datagrams (GRO batches). */
struct rx_bufs {
	uint8_t data[RX_BATCH][RX_DGRAM];
	struct sockaddr_storage from[RX_BATCH];
	union {
		char buf[2 * CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct mmsghdr mm[RX_BATCH];
};

/* What the control messages say: GRO segment size, ECN bits. */
static void rx_cmsgs(struct msghdr *mh, int *seg, uint8_t *ecn)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int v = 0;

		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
			v = *(uint8_t *)CMSG_DATA(c);
		else if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&v, CMSG_DATA(c), sizeof(v));
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
			*seg = v;
		else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
			 (c->cmsg_level == IPPROTO_IPV6 &&
			  c->cmsg_type == IPV6_TCLASS))
			*ecn = (uint8_t)(v & 3);
	}
}

/*
 * Buffers of received packets (4 KiB each, one per packet) are kept for
 * the next ones, up to RX_CACHE_MAX: freed and allocated at the wire's
 * rate, glibc trimmed and regrew its heap, and faulting fresh pages in
 * took a tenth of the receiving daemon's time.
 */
#define RX_CACHE_MAX 256
static pthread_mutex_t rx_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wire_rx *rx_cache;
static unsigned int rx_cached;

static struct wire_rx *rx_alloc(void)
{
	struct wire_rx *rx;

	pthread_mutex_lock(&rx_cache_lock);
	rx = rx_cache;
	if (rx) {
		rx_cache = rx->next;
		rx_cached--;
	}
	pthread_mutex_unlock(&rx_cache_lock);
	return rx ? rx : malloc(sizeof(*rx));
}

/* One packet of a datagram to socket slot (a, i); 'idx' its place. */
static void rx_one(struct wire *w, const uint8_t *d, size_t n,
		   const struct sockaddr_storage *from, bool trunc,
		   const struct wire_addr *a, int i, uint32_t idx, uint8_t ecn)
{
	struct wire_rx *rx = rx_alloc();

	if (!rx)
		return;
	memset(&rx->ends, 0, sizeof(rx->ends));
	memcpy(rx->ends.dgid, a->gid, 16);
	rx->ends.dport = a->port[i];
	/* A GSO train's i-th packet left with IPv4 ID i (wire_tx.c). */
	rx->ends.ip_id = (uint16_t)idx;
	rx->ecn = ecn;
	if (!wire_gid_of(from, rx->ends.sgid, &rx->ends.sport))
		trunc = true;
	if (n > sizeof(rx->ib)) {
		n = sizeof(rx->ib);
		trunc = true;
	}
	memcpy(rx->ib, d, n);
	wire_input(w, rx, n, trunc);
}

/* One datagram: a packet, or a GRO batch of packets of 'seg' bytes. */
static void rx_dgram(struct wire *w, struct rx_bufs *b, int j,
		     const struct wire_addr *a, int i)
{
	struct msghdr *mh = &b->mm[j].msg_hdr;
	size_t n = b->mm[j].msg_len, off = 0;
	bool trunc = mh->msg_flags & MSG_TRUNC;
	uint8_t ecn = 0;
	int seg = 0;
	uint32_t idx = 0;

	rx_cmsgs(mh, &seg, &ecn);
	if (seg <= 0 || (size_t)seg >= n)
		seg = (int)n;
	do {
		size_t len = n - off < (size_t)seg ? n - off : (size_t)seg;

		rx_one(w, b->data[j] + off, len, &b->from[j], trunc, a, i,
		       idx++, ecn);
		off += len;
	} while (off < n);
}

/* Read what one socket holds, a batch at a time. */
static void rx_drain(struct wire *w, struct rx_bufs *b,
		     const struct wire_addr *a, int i)
{
	int n;

	for (int k = 0; k < RX_BATCH; k++) {
		b->iov[k] = (struct iovec){ b->data[k], RX_DGRAM };
		b->mm[k].msg_hdr = (struct msghdr){
			.msg_name = &b->from[k],
			.msg_namelen = sizeof(b->from[k]),
			.msg_iov = &b->iov[k],
			.msg_iovlen = 1,
			.msg_control = b->ctl[k].buf,
			.msg_controllen = sizeof(b->ctl[k].buf)
		};
	}
	n = recvmmsg(a->fd[i], b->mm, RX_BATCH, MSG_DONTWAIT, NULL);
	for (int j = 0; j < n; j++)
		rx_dgram(w, b, j, a, i);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *rx_thread(void *arg)
{
	struct wire *w = arg;
	struct rx_bufs *b = malloc(sizeof(*b));
	struct epoll_event ev[16];
	struct eng_prio prio;
	int n;

	if (!b)
		return NULL;
	/*
	 * The engine thread's scheduling class (eng_prio.c), as dd.c's
	 * worker: every received packet waits for this thread, and in the
	 * fair class on a loaded machine it waited a scheduler slice for its
	 * turn. Like the engine, real time only for the start of a burst: a
	 * flood keeps it awake in the fair class until it next sleeps.
	 */
	eng_prio_setup(&prio);
	eng_prio_woke(&prio, mono_ns());
	for (;;) {
		/* A burst lasts while sockets stay ready without a sleep. */
		n = epoll_wait(w->epfd, ev, 16, 0);
		if (n == 0) {
			eng_prio_sleeping(&prio);
			n = epoll_wait(w->epfd, ev, 16, -1);
			eng_prio_woke(&prio, mono_ns());
		}
		if (n < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			uint32_t tag = ev[k].data.u32;

			if (tag == UINT32_MAX)
				goto out; /* stop: the eventfd */
			rx_drain(w, b, &w->addr[tag / 16], tag % 16);
		}
		eng_prio_worked(&prio, mono_ns());
	}
out:
	free(b);
	return NULL;
}

static void rx_stop(struct wire *w)
{
	uint64_t one = 1;

	if (!w->rx_running)
		return;
	if (write(w->stopfd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write cannot fail this way */
	pthread_join(w->rx_tid, NULL);
	if (read(w->stopfd, &one, sizeof(one)) < 0)
		one = 0;
	w->rx_running = false;
}

static int rx_start(struct wire *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	close(w->epfd);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	ev.data.u32 = UINT32_MAX;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stopfd, &ev);
	for (uint32_t a = 0; a < SVD_MAX_GIDS; a++) {
		for (uint32_t i = 0; w->addr[a].used && i <= WIRE_SPORTS; i++) {
			ev.data.u32 = a * 16 + i;
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->addr[a].fd[i], &ev);
		}
	}
	ret = pthread_create(&w->rx_tid, NULL, rx_thread, w);
	if (ret)
		return -ret;
	w->rx_running = true;
	return 0;
}

/* ---- the device's wire ---- */

struct wire *wire_create(struct svd_device *dev)
{
	struct wire *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->dev = dev;
	w->epfd = -1;
	w->stopfd = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->rx_lock, NULL);
	pthread_mutex_init(&w->trace_lock, NULL);
	wire_window_init(&w->win);
	for (int a = 0; a < SVD_MAX_GIDS; a++)
		addr_close(&w->addr[a]);
	w->tx = wire_tx_new();
	if (w->stopfd < 0 || !w->tx) {
		if (w->stopfd >= 0)
			close(w->stopfd);
		wire_tx_free(w->tx);
		free(w);
		return NULL;
	}
	return w;
}

void wire_destroy(struct wire *w)
{
	if (!w)
		return;
	rx_stop(w);
	for (int a = 0; a < SVD_MAX_GIDS; a++)
		addr_close(&w->addr[a]);
	wire_trace(w, NULL);
	close(w->epfd);
	close(w->stopfd);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->rx_lock);
	pthread_mutex_destroy(&w->trace_lock);
	wire_tx_free(w->tx);
	free(w);
}

void wire_set_receiver(struct wire *w, wire_rx_fn fn, void *ctx)
{
	pthread_mutex_lock(&w->rx_lock);
	w->rx_fn = fn;
	w->rx_ctx = ctx;
	pthread_mutex_unlock(&w->rx_lock);
}

/*
 * Bind every address GID of the port. A GID that is no address here (the
 * port's synthetic link-local one, or an IPv6 address still in duplicate
 * address detection) does not bind: netdev.c calls again when it changes.
 */
/* Does slot a need (re)binding for GID entry g? */
static bool addr_stale(const struct wire_addr *a, const struct svd_gid_entry *g)
{
	if (!g->valid)
		return a->used;
	return !a->used || memcmp(a->gid, g->gid, 16);
}

int wire_sync_addrs(struct wire *w)
{
	const struct svd_port *p = &w->dev->port;
	bool stopped = false;
	int n = 0;

	for (int a = 0; a < SVD_MAX_GIDS; a++) {
		const struct svd_gid_entry *g = &p->gids[a];

		/* Addresses that stay keep their sockets: no packet lost. */
		if (!addr_stale(&w->addr[a], g) && (n += w->addr[a].used))
			continue;
		if (!stopped)
			rx_stop(w);
		stopped = true;
		pthread_mutex_lock(&w->lock);
		addr_close(&w->addr[a]);
		if (g->valid && !addr_open(&w->addr[a], g->gid,
					   g->netdev_ifindex))
			n++;
		pthread_mutex_unlock(&w->lock);
	}
	if (!stopped && w->rx_running)
		return n;
	return rx_start(w) ?: n;
}

int wire_addr_index(const struct wire *w, const uint8_t *gid)
{
	for (int a = 0; a < SVD_MAX_GIDS; a++)
		if (w->addr[a].used && !memcmp(w->addr[a].gid, gid, 16))
			return a;
	return -1;
}

static const struct wire_addr *addr_find(const struct wire *w,
					 const uint8_t *gid)
{
	int a = wire_addr_index(w, gid);

	return a < 0 ? NULL : &w->addr[a];
}

static int send_locked(struct wire *w, const struct wire_addr *a,
		       const uint8_t *dgid, uint32_t entropy,
		       const uint8_t *ib, size_t len)
{
	int slot = 1 + (int)(entropy % WIRE_SPORTS);
	struct wire_ends e = { .sport = a->port[slot],
			       .dport = WIRE_UDP_PORT };
	struct sockaddr_storage to;
	uint32_t icrc;
	struct iovec iov[2] = { { (void *)ib, len }, { &icrc, 4 } };
	struct msghdr mh = { .msg_name = &to, .msg_iov = iov,
			     .msg_iovlen = 2 };

	memcpy(e.sgid, a->gid, 16);
	memcpy(e.dgid, dgid, 16);
	mh.msg_namelen = wire_sockaddr(dgid, WIRE_UDP_PORT, a->ifindex, &to);
	icrc = wire_icrc(&e, ib, len);
	wire_trace_pkt(w, &e, ib, len, icrc);
	icrc = htole32(icrc);
	return wire_sendmsg_wait(w, a->fd[slot], &mh);
}

int wire_send(struct wire *w, const uint8_t *sgid, const uint8_t *dgid,
	      uint32_t entropy, const uint8_t *ib, size_t len)
{
	wire_window_wait(w, &w->win, len + WIRE_ICRC_LEN);
	return wire_send_now(w, sgid, dgid, entropy, ib, len);
}

int wire_send_now(struct wire *w, const uint8_t *sgid, const uint8_t *dgid,
		  uint32_t entropy, const uint8_t *ib, size_t len)
{
	const struct wire_addr *a;
	int ret = -EADDRNOTAVAIL;

	if (len < WIRE_BTH_LEN || len + WIRE_ICRC_LEN > WIRE_PKT_MAX)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	a = addr_find(w, sgid);
	if (a && wire_gid_is_v4(sgid) == wire_gid_is_v4(dgid))
		ret = send_locked(w, a, dgid, entropy, ib, len);
	pthread_mutex_unlock(&w->lock);
	if (ret) {
		atomic_fetch_add(&w->cnt.send_err, 1);
		return ret;
	}
	atomic_fetch_add(&w->cnt.sent_pkts, 1);
	atomic_fetch_add(&w->cnt.sent_bytes, len + WIRE_ICRC_LEN);
	return 0;
}

struct wire_counters *wire_counters(struct wire *w)
{
	return &w->cnt;
}

void wire_rx_free(struct wire_rx *rx)
{
	if (!rx)
		return;
	pthread_mutex_lock(&rx_cache_lock);
	if (rx_cached < RX_CACHE_MAX) {
		rx->next = rx_cache;
		rx_cache = rx;
		rx_cached++;
		rx = NULL;
	}
	pthread_mutex_unlock(&rx_cache_lock);
	free(rx);
}
