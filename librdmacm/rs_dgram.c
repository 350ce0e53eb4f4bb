// SPDX-License-Identifier: MIT
/*
 * Datagram rsockets (SOCK_DGRAM): UDP-like sockets over UD QPs
 * (docs/rdma-cm.md). The socket's rdma_cm id holds its address in
 * RDMA_PS_UDP and listens there, so a peer learns our QP number with SIDR:
 * each SIDR request is accepted with the QP of the device it arrived on.
 *
 * The first datagram to an address resolves it with SIDR on a temporary
 * id (rdma_connect on a UD id) and keeps the address handle, QPN and
 * Q_Key it returns. A datagram received from an address we never sent to
 * teaches us the way back: its work completion and GRH give the address
 * handle and QPN, as a UDP reply goes where the request came from.
 *
 * Each datagram starts with a small header naming the sender's socket
 * address (IP and port), which is what rrecvfrom() reports. This framing
 * is softverbs' own: both ends must use this library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rdma/rsocket.h>

#include "rs.h"

#define DS_RECV_SLOTS 256
#define DS_SEND_SLOTS 32
#define DS_GRH 40
#define DS_MAX_MTU 4096
#define DS_SLOT (DS_GRH + DS_MAX_MTU)
#define DS_RING (RS_DS_MAX_QPS * DS_RECV_SLOTS)
#define DS_WR_SEND 0x10000
#define DS_VERSION 1
#define DS_CM_TIMEOUT_MS 5000
#define DS_BACKLOG 1024
/* Consumed receive slots go back to the QP this many at a time. */
#define DS_REPOST_BATCH 32

/* In front of every datagram: who sent it (the sender's socket name). */
struct ds_hdr {
	uint8_t version;
	uint8_t ipver; /* 4 or 6 */
	uint16_t port; /* network order */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
};

union ds_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* The socket's UD QP on one device. */
struct ds_qp {
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	uint8_t *buf; /* receive slots, then send slots */
	uint32_t send_free; /* bitmask */
	uint32_t max_msg; /* the port's MTU less the header */
	int repost[DS_REPOST_BATCH]; /* read slots not yet posted again */
	int nrepost;
};

/* A peer address we can send to. */
struct ds_dest {
	union ds_addr addr;
	struct ds_qp *dqp;
	struct ibv_ah *ah;
	uint32_t qpn, qkey;
	struct ds_hdr self; /* our name as this peer knows it */
	struct ds_dest *next;
};

/* A received datagram still in its slot. */
struct ds_rx {
	struct ds_qp *dqp;
	int slot;
	uint32_t len; /* payload bytes after the header */
	union ds_addr src;
};

struct rs_ds {
	struct ds_qp qps[RS_DS_MAX_QPS];
	int nqps;
	struct ds_dest *dests;
	union ds_addr peer; /* rconnect()'s default destination */
	bool connected, listening;
	struct ds_rx ring[DS_RING];
	int head, count;
};

static int ds_fail(int err)
{
	errno = err < 0 ? -err : err;
	return -1;
}

static socklen_t ds_addrlen(const union ds_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

static bool ds_same(const union ds_addr *a, const union ds_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
}

static int ds_copy_addr(union ds_addr *to, const struct sockaddr *sa,
			socklen_t len)
{
	memset(to, 0, sizeof(*to));
	if (!sa)
		return -EFAULT;
	if (sa->sa_family == AF_INET && len >= sizeof(to->in))
		memcpy(&to->in, sa, sizeof(to->in));
	else if (sa->sa_family == AF_INET6 && len >= sizeof(to->in6))
		memcpy(&to->in6, sa, sizeof(to->in6));
	else
		return -EAFNOSUPPORT;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Header                                                                 */
/* ---------------------------------------------------------------------- */

static void ds_hdr_to_addr(const struct ds_hdr *h, union ds_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (h->ipver == 4) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = h->port;
		memcpy(&a->in.sin_addr, h->addr, 4);
	} else {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = h->port;
		memcpy(&a->in6.sin6_addr, h->addr, 16);
	}
}

/* Our name as seen through a GID of ours (IPv4-mapped: an IPv4 name). */
static int ds_self_from_gid(struct rsock *rs, struct ds_qp *dqp,
			    int sgid_index, struct ds_hdr *h)
{
	static const uint8_t v4map[12] = { [10] = 0xff, [11] = 0xff };
	union ibv_gid gid;

	if (ibv_query_gid(dqp->verbs, 1, sgid_index, &gid))
		return -EADDRNOTAVAIL;
	memset(h, 0, sizeof(*h));
	h->version = DS_VERSION;
	h->port = rdma_get_src_port(rs->id);
	if (!memcmp(gid.raw, v4map, 12)) {
		h->ipver = 4;
		memcpy(h->addr, gid.raw + 12, 4);
	} else {
		h->ipver = 6;
		memcpy(h->addr, gid.raw, 16);
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* QPs                                                                    */
/* ---------------------------------------------------------------------- */

static uint8_t *ds_slot(struct ds_qp *dqp, int slot)
{
	return dqp->buf + (size_t)slot * DS_SLOT;
}

/* Post receive slots, one chained list (one doorbell). */
static int ds_post_recvs(struct ds_qp *dqp, const int *slots, int n)
{
	struct ibv_sge sge[DS_REPOST_BATCH];
	struct ibv_recv_wr wr[DS_REPOST_BATCH], *bad;
	int i;

	for (i = 0; i < n; i++) {
		sge[i] = (struct ibv_sge){ (uintptr_t)ds_slot(dqp, slots[i]),
					   DS_SLOT, dqp->mr->lkey };
		wr[i] = (struct ibv_recv_wr){ .wr_id = slots[i],
					      .sg_list = &sge[i], .num_sge = 1,
					      .next = i + 1 < n ? &wr[i + 1] :
								  NULL };
	}
	return n && ibv_post_recv(dqp->qp, wr, &bad) ? -EIO : 0;
}

/* A slot read: back to the QP with the next batch (fewer doorbells). */
static void ds_post_recv(struct ds_qp *dqp, int slot)
{
	dqp->repost[dqp->nrepost++] = slot;
	if (dqp->nrepost < DS_REPOST_BATCH)
		return;
	ds_post_recvs(dqp, dqp->repost, dqp->nrepost);
	dqp->nrepost = 0;
}

/* INIT, RTR, RTS with rdma_cm's UD Q_Key, as rdma_create_qp would. */
static int ds_qp_ready(struct ds_qp *dqp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = RDMA_UDP_QKEY };

	if (ibv_modify_qp(dqp->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				       IBV_QP_PORT | IBV_QP_QKEY))
		return -EIO;
	a.qp_state = IBV_QPS_RTR;
	if (ibv_modify_qp(dqp->qp, &a, IBV_QP_STATE))
		return -EIO;
	a.qp_state = IBV_QPS_RTS;
	a.sq_psn = 0;
	return ibv_modify_qp(dqp->qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN) ?
		       -EIO : 0;
}

static int ds_qp_mtu(struct ds_qp *dqp)
{
	struct ibv_port_attr pa;
	uint32_t bytes;

	if (ibv_query_port(dqp->verbs, 1, &pa))
		return -EIO;
	bytes = 1u << (pa.active_mtu + 7); /* IBV_MTU_256 is 1 */
	if (bytes > DS_MAX_MTU)
		bytes = DS_MAX_MTU;
	dqp->max_msg = bytes - sizeof(struct ds_hdr);
	return 0;
}

static int ds_qp_objects(struct ds_qp *dqp)
{
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_UD,
		.cap = { .max_send_wr = DS_SEND_SLOTS,
			 .max_recv_wr = DS_RECV_SLOTS,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	size_t len = (size_t)(DS_RECV_SLOTS + DS_SEND_SLOTS) * DS_SLOT;

	dqp->pd = ibv_alloc_pd(dqp->verbs);
	dqp->cc = ibv_create_comp_channel(dqp->verbs);
	if (!dqp->pd || !dqp->cc)
		return -ENOMEM;
	fcntl(dqp->cc->fd, F_SETFL, fcntl(dqp->cc->fd, F_GETFL) | O_NONBLOCK);
	dqp->cq = ibv_create_cq(dqp->verbs, DS_RECV_SLOTS + DS_SEND_SLOTS,
				dqp, dqp->cc, 0);
	if (!dqp->cq)
		return -ENOMEM;
	qa.send_cq = qa.recv_cq = dqp->cq;
	dqp->qp = ibv_create_qp(dqp->pd, &qa);
	dqp->buf = calloc(1, len);
	if (!dqp->qp || !dqp->buf)
		return -ENOMEM;
	dqp->mr = ibv_reg_mr(dqp->pd, dqp->buf, len, IBV_ACCESS_LOCAL_WRITE);
	return dqp->mr ? 0 : -ENOMEM;
}

static void ds_qp_destroy(struct ds_qp *dqp)
{
	if (dqp->qp)
		ibv_destroy_qp(dqp->qp);
	if (dqp->mr)
		ibv_dereg_mr(dqp->mr);
	if (dqp->cq)
		ibv_destroy_cq(dqp->cq);
	if (dqp->cc)
		ibv_destroy_comp_channel(dqp->cc);
	if (dqp->pd)
		ibv_dealloc_pd(dqp->pd);
	free(dqp->buf);
	memset(dqp, 0, sizeof(*dqp));
}

static int ds_qp_create(struct ds_qp *dqp, struct ibv_context *verbs)
{
	int i, ret, slots[DS_REPOST_BATCH];

	dqp->verbs = verbs;
	dqp->send_free = DS_SEND_SLOTS >= 32 ? ~0u :
					      (1u << DS_SEND_SLOTS) - 1;
	ret = ds_qp_objects(dqp);
	if (!ret)
		ret = ds_qp_mtu(dqp);
	if (!ret)
		ret = ds_qp_ready(dqp);
	for (i = 0; !ret && i < DS_RECV_SLOTS; i++) {
		slots[i % DS_REPOST_BATCH] = i;
		if (i % DS_REPOST_BATCH == DS_REPOST_BATCH - 1)
			ret = ds_post_recvs(dqp, slots, DS_REPOST_BATCH);
	}
	if (ret)
		ds_qp_destroy(dqp);
	return ret;
}

/* The socket's QP on a device, made on first use. */
static struct ds_qp *ds_qp_get(struct rs_ds *ds, struct ibv_context *verbs)
{
	int i, ret;

	if (!verbs)
		return NULL;
	for (i = 0; i < ds->nqps; i++)
		if (ds->qps[i].verbs == verbs)
			return &ds->qps[i];
	if (ds->nqps == RS_DS_MAX_QPS) {
		errno = ENOBUFS;
		return NULL;
	}
	ret = ds_qp_create(&ds->qps[ds->nqps], verbs);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	return &ds->qps[ds->nqps++];
}

/* ---------------------------------------------------------------------- */
/* Peers asking for our QP (SIDR)                                         */
/* ---------------------------------------------------------------------- */

static void ds_answer_req(struct rsock *rs, struct rdma_cm_id *id)
{
	struct ds_qp *dqp = ds_qp_get(rs->ds, id->verbs);
	struct rdma_conn_param p = { 0 };

	if (dqp) {
		p.qp_num = dqp->qp->qp_num;
		rdma_accept(id, &p);
	} else {
		rdma_reject(id, NULL, 0);
	}
}

/* Answer every SIDR request waiting on the socket's channel. */
static void ds_serve_cm(struct rsock *rs)
{
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;

	while (rs->ds->listening && !rdma_get_cm_event(rs->ch, &ev)) {
		id = ev->event == RDMA_CM_EVENT_CONNECT_REQUEST ? ev->id : NULL;
		if (id)
			ds_answer_req(rs, id);
		rdma_ack_cm_event(ev);
		if (id)
			rdma_destroy_id(id); /* SIDR keeps no connection */
	}
}

/* ---------------------------------------------------------------------- */
/* Completions and the received-datagram ring                             */
/* ---------------------------------------------------------------------- */

static struct ds_dest *ds_find(struct rs_ds *ds, const union ds_addr *a)
{
	struct ds_dest *d;

	for (d = ds->dests; d; d = d->next)
		if (ds_same(&d->addr, a))
			return d;
	return NULL;
}

static struct ds_dest *ds_dest_add(struct rs_ds *ds, const union ds_addr *a,
				   struct ds_qp *dqp, struct ibv_ah *ah)
{
	struct ds_dest *d = calloc(1, sizeof(*d));

	if (!d) {
		ibv_destroy_ah(ah);
		return NULL;
	}
	d->addr = *a;
	d->dqp = dqp;
	d->ah = ah;
	d->qkey = RDMA_UDP_QKEY;
	d->next = ds->dests;
	ds->dests = d;
	return d;
}

/* A sender we never resolved: the way back is where it came from. */
static void ds_learn(struct rsock *rs, struct ds_qp *dqp, struct ibv_wc *wc,
		     const union ds_addr *src)
{
	struct ibv_ah_attr attr;
	struct ibv_ah *ah;
	struct ds_dest *d;

	if (ds_find(rs->ds, src))
		return;
	if (ibv_init_ah_from_wc(dqp->verbs, 1, wc,
				(struct ibv_grh *)ds_slot(dqp, wc->wr_id),
				&attr))
		return;
	ah = ibv_create_ah(dqp->pd, &attr);
	d = ah ? ds_dest_add(rs->ds, src, dqp, ah) : NULL;
	if (!d)
		return;
	d->qpn = wc->src_qp;
	if (ds_self_from_gid(rs, dqp, attr.grh.sgid_index, &d->self))
		d->self.version = 0; /* unusable: resolved again on send */
}

static void ds_on_recv(struct rsock *rs, struct ds_qp *dqp, struct ibv_wc *wc)
{
	struct rs_ds *ds = rs->ds;
	int slot = (int)wc->wr_id;
	struct ds_hdr h;
	struct ds_rx *rx;

	if (wc->status != IBV_WC_SUCCESS)
		return; /* flushed: the QP is going away */
	if (wc->byte_len < DS_GRH + sizeof(h) || ds->count == DS_RING)
		goto drop;
	memcpy(&h, ds_slot(dqp, slot) + DS_GRH, sizeof(h));
	if (h.version != DS_VERSION || (h.ipver != 4 && h.ipver != 6))
		goto drop;
	rx = &ds->ring[(ds->head + ds->count) % DS_RING];
	rx->dqp = dqp;
	rx->slot = slot;
	rx->len = wc->byte_len - DS_GRH - sizeof(h);
	ds_hdr_to_addr(&h, &rx->src);
	ds->count++;
	ds_learn(rs, dqp, wc, &rx->src);
	return;
drop:
	ds_post_recv(dqp, slot);
}

static void ds_poll_qp(struct rsock *rs, struct ds_qp *dqp)
{
	struct ibv_wc wc[16];
	int i, n;

	do {
		n = ibv_poll_cq(dqp->cq, 16, wc);
		for (i = 0; i < n; i++) {
			if (wc[i].wr_id & DS_WR_SEND)
				dqp->send_free |= 1u << (wc[i].wr_id & 0xff);
			else
				ds_on_recv(rs, dqp, &wc[i]);
		}
	} while (n == 16);
}

static void ds_progress(struct rsock *rs)
{
	int i;

	ds_serve_cm(rs);
	for (i = 0; i < rs->ds->nqps; i++)
		ds_poll_qp(rs, &rs->ds->qps[i]);
}

/* The fds a waiter sleeps on: the CM channel and each armed CQ. */
int rs_ds_wait_fds(struct rsock *rs, struct pollfd *set)
{
	struct ds_qp *dqp;
	int i, n = 0;

	set[n++] = (struct pollfd){ .fd = rs->ch->fd, .events = POLLIN };
	for (i = 0; i < rs->ds->nqps; i++) {
		dqp = &rs->ds->qps[i];
		if (!ibv_req_notify_cq(dqp->cq, 0))
			set[n++] = (struct pollfd){ .fd = dqp->cc->fd,
						    .events = POLLIN };
	}
	return n;
}

void rs_ds_ack_wakeups(struct rsock *rs)
{
	struct ibv_cq *cq;
	void *ctx;
	int i;

	for (i = 0; i < rs->ds->nqps; i++)
		if (!ibv_get_cq_event(rs->ds->qps[i].cc, &cq, &ctx))
			ibv_ack_cq_events(cq, 1);
}

static void ds_wait(struct rsock *rs, int timeout_ms)
{
	struct pollfd set[1 + RS_DS_MAX_QPS];
	int n = rs_ds_wait_fds(rs, set);

	ds_progress(rs); /* armed: nothing that comes now is missed */
	if (rs->ds->count)
		return;
	poll(set, n, timeout_ms);
	rs_ds_ack_wakeups(rs);
	ds_progress(rs);
}

short rs_ds_revents(struct rsock *rs, short events)
{
	short rev = 0;
	int i;

	ds_progress(rs);
	if (rs->ds->count)
		rev |= events & (POLLIN | POLLRDNORM);
	for (i = 0; i < rs->ds->nqps; i++)
		if (rs->ds->qps[i].send_free)
			break;
	/* No QP yet: the first send makes one, so it can go now. */
	if (i < rs->ds->nqps || !rs->ds->nqps)
		rev |= events & (POLLOUT | POLLWRNORM);
	return rev;
}

/* ---------------------------------------------------------------------- */
/* Binding and resolving                                                  */
/* ---------------------------------------------------------------------- */

/* QPs on the bound address's device, or on every device (wildcard). */
static int ds_bound_qps(struct rsock *rs)
{
	struct ibv_context **devs;
	int i, n, ret = 0;

	if (rs->id->verbs)
		return ds_qp_get(rs->ds, rs->id->verbs) ? 0 : -errno;
	devs = rdma_get_devices(&n);
	if (!devs)
		return -ENODEV;
	for (i = 0; i < n && !ret; i++)
		if (!ds_qp_get(rs->ds, devs[i]))
			ret = -errno;
	rdma_free_devices(devs);
	return ret;
}

int rs_ds_bind(struct rsock *rs, const struct sockaddr *addr)
{
	int ret;

	if (rdma_bind_addr(rs->id, (struct sockaddr *)addr))
		return -errno;
	ret = ds_bound_qps(rs);
	if (!ret && rdma_listen(rs->id, DS_BACKLOG))
		ret = -errno;
	if (ret)
		return ret;
	rs->ds->listening = true;
	rs->state = RS_BOUND;
	return 0;
}

static int ds_elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - t0->tv_sec) * 1000 +
		     (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * The next event of a resolving id (on its own channel). Meanwhile the
 * socket keeps answering SIDR requests: the peer may be resolving us.
 */
static int ds_cm_wait(struct rsock *rs, struct rdma_event_channel *ch,
		      enum rdma_cm_event_type want, struct rdma_cm_event **evp)
{
	struct pollfd pfd[2] = { { .fd = ch->fd, .events = POLLIN },
				 { .fd = rs->ch->fd, .events = POLLIN } };
	enum rdma_cm_event_type got;
	struct timespec t0;
	int left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ds_serve_cm(rs);
		if (!rdma_get_cm_event(ch, evp))
			break;
		left = DS_CM_TIMEOUT_MS - ds_elapsed_ms(&t0);
		if (errno != EAGAIN || left <= 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		poll(pfd, 2, left);
	}
	got = (*evp)->event;
	if (got == want)
		return 0;
	rdma_ack_cm_event(*evp);
	return got == RDMA_CM_EVENT_ADDR_ERROR ? -EHOSTUNREACH : -ECONNREFUSED;
}

static int ds_cm_step(struct rsock *rs, struct rdma_event_channel *ch,
		      enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;
	int ret = ds_cm_wait(rs, ch, want, &ev);

	if (!ret)
		rdma_ack_cm_event(ev);
	return ret;
}

/* An unbound socket takes the source the route to dst gives, any port. */
static int ds_autobind(struct rsock *rs, struct rdma_cm_id *tmp)
{
	union ds_addr src;
	int ret;

	if (rs->state != RS_INIT)
		return 0;
	ret = ds_copy_addr(&src, rdma_get_local_addr(tmp), sizeof(src));
	if (ret)
		return ret;
	if (src.sa.sa_family == AF_INET)
		src.in.sin_port = 0;
	else
		src.in6.sin6_port = 0;
	return rs_ds_bind(rs, &src.sa);
}

/* Our bound address with port 0: the source for resolving a peer. */
static struct sockaddr *ds_resolve_src(struct rsock *rs, union ds_addr *src)
{
	union ds_addr *bound = (union ds_addr *)rdma_get_local_addr(rs->id);

	if (rs->state == RS_INIT || !rs->id->verbs)
		return NULL;
	*src = *bound;
	if (src->sa.sa_family == AF_INET)
		src->in.sin_port = 0;
	else
		src->in6.sin6_port = 0;
	return &src->sa;
}

static struct ds_dest *ds_dest_from_ud(struct rsock *rs,
				       struct rdma_cm_id *tmp,
				       const union ds_addr *a,
				       struct rdma_ud_param *ud)
{
	struct ds_qp *dqp = ds_qp_get(rs->ds, tmp->verbs);
	struct ibv_ah *ah = dqp ? ibv_create_ah(dqp->pd, &ud->ah_attr) : NULL;
	struct ds_dest *d = ah ? ds_dest_add(rs->ds, a, dqp, ah) : NULL;

	if (!d)
		return NULL;
	d->qpn = ud->qp_num;
	d->qkey = ud->qkey;
	if (ds_self_from_gid(rs, dqp, ud->ah_attr.grh.sgid_index, &d->self))
		d->self.version = 0;
	return d;
}

/* SIDR on a temporary id: the peer's QPN, Q_Key and address handle. */
static int ds_sidr(struct rsock *rs, struct rdma_event_channel *ch,
		   struct rdma_cm_id *tmp, const union ds_addr *a,
		   struct ds_dest **dp)
{
	struct rdma_conn_param p = { 0 };
	struct rdma_cm_event *ev;
	union ds_addr src;
	int ret = 0;

	if (rdma_resolve_addr(tmp, ds_resolve_src(rs, &src),
			      (struct sockaddr *)&a->sa, DS_CM_TIMEOUT_MS))
		return -errno;
	ret = ds_cm_step(rs, ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	if (!ret)
		ret = ds_autobind(rs, tmp);
	if (!ret && rdma_resolve_route(tmp, DS_CM_TIMEOUT_MS))
		ret = -errno;
	if (!ret)
		ret = ds_cm_step(rs, ch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	if (!ret && rdma_connect(tmp, &p))
		ret = -errno;
	if (!ret)
		ret = ds_cm_wait(rs, ch, RDMA_CM_EVENT_ESTABLISHED, &ev);
	if (ret)
		return ret;
	*dp = ds_dest_from_ud(rs, tmp, a, &ev->param.ud);
	rdma_ack_cm_event(ev);
	return *dp ? 0 : -ENOMEM;
}

static int ds_resolve(struct rsock *rs, const union ds_addr *a,
		      struct ds_dest **dp)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_cm_id *tmp = NULL;
	int ret;

	if (!ch)
		return -errno;
	fcntl(ch->fd, F_SETFL, fcntl(ch->fd, F_GETFL) | O_NONBLOCK);
	ret = rdma_create_id(ch, &tmp, NULL, RDMA_PS_UDP) ? -errno : 0;
	if (!ret)
		ret = ds_sidr(rs, ch, tmp, a, dp);
	if (tmp)
		rdma_destroy_id(tmp);
	rdma_destroy_event_channel(ch);
	return ret;
}

static int ds_dest_get(struct rsock *rs, const union ds_addr *a,
		       struct ds_dest **dp)
{
	*dp = ds_find(rs->ds, a);
	if (*dp && (*dp)->self.version)
		return 0;
	if (*dp) { /* learned, but our own name was unknown: ask again */
		(*dp)->addr.sa.sa_family = AF_UNSPEC;
		*dp = NULL;
	}
	return ds_resolve(rs, a, dp);
}

int rs_ds_connect(struct rsock *rs, const struct sockaddr *addr,
		  socklen_t len)
{
	struct ds_dest *d;
	union ds_addr a;
	int ret = ds_copy_addr(&a, addr, len);

	if (!ret)
		ret = ds_dest_get(rs, &a, &d);
	if (ret)
		return ret;
	rs->ds->peer = a;
	rs->ds->connected = true;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Sending and receiving                                                  */
/* ---------------------------------------------------------------------- */

static bool ds_nonblock(struct rsock *rs, int flags)
{
	return (rs->fl_flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
}

static int ds_post_send(struct ds_dest *d, int slot, uint32_t len)
{
	struct ds_qp *dqp = d->dqp;
	struct ibv_sge sge = { (uintptr_t)ds_slot(dqp, DS_RECV_SLOTS + slot),
			       len, dqp->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = DS_WR_SEND | slot,
				  .sg_list = &sge, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	wr.wr.ud.ah = d->ah;
	wr.wr.ud.remote_qpn = d->qpn;
	wr.wr.ud.remote_qkey = d->qkey;
	return ibv_post_send(dqp->qp, &wr, &bad) ? -EIO : 0;
}

/* A free send slot of the destination's QP, waiting unless told not. */
static int ds_send_slot(struct rsock *rs, struct ds_qp *dqp, int flags)
{
	int slot;

	for (;;) {
		ds_poll_qp(rs, dqp);
		if (dqp->send_free)
			break;
		if (ds_nonblock(rs, flags))
			return -EAGAIN;
		ds_wait(rs, -1);
	}
	slot = __builtin_ctz(dqp->send_free);
	dqp->send_free &= ~(1u << slot);
	return slot;
}

static ssize_t ds_send(struct rsock *rs, struct ds_dest *d, const void *buf,
		       size_t len, int flags)
{
	uint8_t *p;
	int slot, ret;

	if (len > d->dqp->max_msg)
		return ds_fail(EMSGSIZE);
	slot = ds_send_slot(rs, d->dqp, flags);
	if (slot < 0)
		return ds_fail(slot);
	p = ds_slot(d->dqp, DS_RECV_SLOTS + slot);
	memcpy(p, &d->self, sizeof(d->self));
	memcpy(p + sizeof(d->self), buf, len);
	ret = ds_post_send(d, slot, (uint32_t)(sizeof(d->self) + len));
	if (ret) {
		d->dqp->send_free |= 1u << slot;
		return ds_fail(ret);
	}
	return (ssize_t)len;
}

ssize_t rs_ds_sendto(struct rsock *rs, const void *buf, size_t len,
		     int flags, const struct sockaddr *to, socklen_t tolen)
{
	struct ds_dest *d;
	union ds_addr a;
	int ret;

	if (to)
		ret = ds_copy_addr(&a, to, tolen);
	else if (rs->ds->connected)
		ret = 0, a = rs->ds->peer;
	else
		ret = -EDESTADDRREQ;
	if (!ret)
		ret = ds_dest_get(rs, &a, &d);
	if (ret)
		return ds_fail(ret);
	return ds_send(rs, d, buf, len, flags);
}

/* Copy the oldest datagram out (the rest of a longer one is dropped). */
static ssize_t ds_take(struct rsock *rs, void *buf, size_t len,
		       struct sockaddr *from, socklen_t *fromlen)
{
	struct rs_ds *ds = rs->ds;
	struct ds_rx *rx = &ds->ring[ds->head];
	size_t n = rx->len < len ? rx->len : len;
	socklen_t alen = ds_addrlen(&rx->src);

	memcpy(buf, ds_slot(rx->dqp, rx->slot) + DS_GRH +
	       sizeof(struct ds_hdr), n);
	if (from && fromlen) {
		memcpy(from, &rx->src, *fromlen < alen ? *fromlen : alen);
		*fromlen = alen;
	}
	ds_post_recv(rx->dqp, rx->slot);
	ds->head = (ds->head + 1) % DS_RING;
	ds->count--;
	return (ssize_t)n;
}

ssize_t rs_ds_recvfrom(struct rsock *rs, void *buf, size_t len, int flags,
		       struct sockaddr *from, socklen_t *fromlen)
{
	if (rs->state == RS_INIT)
		return ds_fail(EINVAL); /* as UDP: nothing bound, nothing comes */
	for (;;) {
		ds_progress(rs);
		if (rs->ds->count)
			return ds_take(rs, buf, len, from, fromlen);
		if (ds_nonblock(rs, flags))
			return ds_fail(EAGAIN);
		ds_wait(rs, -1);
	}
}

int rs_ds_peername(struct rsock *rs, struct sockaddr *addr,
		   socklen_t *addrlen)
{
	socklen_t len = ds_addrlen(&rs->ds->peer);

	if (!rs->ds->connected)
		return ds_fail(ENOTCONN);
	if (!addr || !addrlen)
		return ds_fail(EFAULT);
	memcpy(addr, &rs->ds->peer, *addrlen < len ? *addrlen : len);
	*addrlen = len;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Life                                                                   */
/* ---------------------------------------------------------------------- */

int rs_ds_init(struct rsock *rs)
{
	rs->ds = calloc(1, sizeof(*rs->ds));
	if (!rs->ds)
		return -ENOMEM;
	return rdma_create_id(rs->ch, &rs->id, rs, RDMA_PS_UDP) ? -errno : 0;
}

/*
 * A datagram handed to rsendto() is on its way, as with UDP: before its
 * QP goes, wait (up to 1 s) until every posted send has completed.
 */
static void ds_drain(struct rsock *rs)
{
	const uint32_t all = DS_SEND_SLOTS >= 32 ? ~0u :
						   (1u << DS_SEND_SLOTS) - 1;
	struct ds_qp *dqp;
	int i, tries;

	for (i = 0; i < rs->ds->nqps; i++) {
		dqp = &rs->ds->qps[i];
		for (tries = 0; tries < 1000 && dqp->send_free != all; tries++) {
			ds_poll_qp(rs, dqp);
			if (dqp->send_free != all)
				usleep(1000);
		}
	}
}

void rs_ds_free(struct rsock *rs)
{
	struct rs_ds *ds = rs->ds;
	struct ds_dest *d;
	int i;

	if (!ds)
		return;
	ds_drain(rs);
	while ((d = ds->dests)) {
		ds->dests = d->next;
		ibv_destroy_ah(d->ah);
		free(d);
	}
	for (i = 0; i < ds->nqps; i++)
		ds_qp_destroy(&ds->qps[i]);
	free(ds);
	rs->ds = NULL;
}
