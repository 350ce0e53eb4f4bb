// SPDX-License-Identifier: MIT
/*
 * rsockets: the socket's life (rs.h). rsocket, rbind, rlisten, raccept,
 * rconnect, rshutdown, rclose, options, names and rfcntl. Connection set-up
 * is rdma_cm on the rsocket's own channel; it completes within the call
 * (the exchange is local and quick), also for a non-blocking socket,
 * which a socket may do.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rdma/rsocket.h>

#include "rs.h"

#define RS_CM_TIMEOUT_MS 5000
#define RS_MAX_SOCKETS 65536

static pthread_mutex_t rs_table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rsock **rs_table;

struct rsock *rs_get(int socket)
{
	struct rsock *rs = NULL;

	pthread_mutex_lock(&rs_table_lock);
	if (rs_table && socket >= 0 && socket < RS_MAX_SOCKETS)
		rs = rs_table[socket];
	pthread_mutex_unlock(&rs_table_lock);
	if (!rs)
		errno = EBADF;
	return rs;
}

static int rs_insert(struct rsock *rs)
{
	int ret = 0;

	pthread_mutex_lock(&rs_table_lock);
	if (!rs_table)
		rs_table = calloc(RS_MAX_SOCKETS, sizeof(*rs_table));
	if (!rs_table || rs->index >= RS_MAX_SOCKETS)
		ret = -ENFILE;
	else
		rs_table[rs->index] = rs;
	pthread_mutex_unlock(&rs_table_lock);
	return ret;
}

static void rs_remove(struct rsock *rs)
{
	pthread_mutex_lock(&rs_table_lock);
	if (rs_table && rs->index >= 0 && rs->index < RS_MAX_SOCKETS)
		rs_table[rs->index] = NULL;
	pthread_mutex_unlock(&rs_table_lock);
}

static int rs_fail(int err)
{
	errno = err < 0 ? -err : err;
	return -1;
}

static struct rsock *rs_alloc(int domain)
{
	struct rsock *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->domain = domain;
	rs->index = -1;
	rs->ch = rdma_create_event_channel();
	if (!rs->ch) {
		free(rs);
		return NULL;
	}
	/* Our own progress polls it; events must never block us. */
	fcntl(rs->ch->fd, F_SETFL, fcntl(rs->ch->fd, F_GETFL) | O_NONBLOCK);
	rs->index = rs->ch->fd;
	rs->send_free = RS_SEND_SLOTS >= 32 ? ~0u : (1u << RS_SEND_SLOTS) - 1;
	pthread_mutex_init(&rs->lock, NULL);
	if (rs_insert(rs)) {
		rdma_destroy_event_channel(rs->ch);
		free(rs);
		return NULL;
	}
	return rs;
}

int rsocket(int domain, int type, int protocol)
{
	int kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), ret;
	struct rsock *rs;

	if (domain != AF_INET && domain != AF_INET6)
		return rs_fail(EAFNOSUPPORT);
	if (kind != SOCK_STREAM && kind != SOCK_DGRAM)
		return rs_fail(ENOTSUP);
	rs = rs_alloc(domain);
	if (!rs)
		return -1;
	rs->type = kind;
	if (kind == SOCK_DGRAM)
		ret = rs_ds_init(rs);
	else
		ret = rdma_create_id(rs->ch, &rs->id, rs, RDMA_PS_TCP) ? -errno :
									 0;
	if (ret) {
		rclose(rs->index);
		return rs_fail(ret);
	}
	if (type & SOCK_NONBLOCK)
		rs->fl_flags |= O_NONBLOCK;
	return rs->index;
}

int rbind(int socket, const struct sockaddr *addr, socklen_t addrlen)
{
	struct rsock *rs = rs_get(socket);
	int one = 1, ret;

	if (!rs)
		return -1;
	if (rs->reuseaddr)
		rdma_set_option(rs->id, RDMA_OPTION_ID,
				RDMA_OPTION_ID_REUSEADDR, &one, sizeof(one));
	if (rs->type == SOCK_DGRAM) {
		ret = rs_ds_bind(rs, addr);
		return ret ? rs_fail(ret) : 0;
	}
	if (rdma_bind_addr(rs->id, (struct sockaddr *)addr))
		return -1;
	rs->state = RS_BOUND;
	return 0;
}

int rlisten(int socket, int backlog)
{
	struct rsock *rs = rs_get(socket);

	if (!rs)
		return -1;
	if (rs->type == SOCK_DGRAM)
		return rs_fail(EOPNOTSUPP);
	if (rdma_listen(rs->id, backlog))
		return -1;
	rs->state = RS_LISTENING;
	return 0;
}

/* The next event on the rsocket's channel within the timeout. */
static int rs_cm_wait(struct rsock *rs, struct rdma_cm_event **ev,
		      int timeout_ms)
{
	struct pollfd pfd = { .fd = rs->ch->fd, .events = POLLIN };

	for (;;) {
		if (!rdma_get_cm_event(rs->ch, ev))
			return 0;
		if (errno != EAGAIN)
			return -errno;
		if (!timeout_ms)
			return -EAGAIN;
		if (poll(&pfd, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
	}
}

static int rs_cm_expect(struct rsock *rs, enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type got;
	int ret = rs_cm_wait(rs, &ev, RS_CM_TIMEOUT_MS);

	if (ret)
		return ret;
	got = ev->event;
	ret = ev->status;
	rdma_ack_cm_event(ev);
	if (got == want)
		return 0;
	if (got == RDMA_CM_EVENT_REJECTED)
		return -ECONNREFUSED;
	return ret < 0 ? ret : -ECONNRESET;
}

static int rs_buffers(struct rsock *rs)
{
	size_t rlen = (size_t)(RS_RECV_SLOTS + RS_CTRL_SLOTS) * RS_SLOT;
	size_t slen = (size_t)RS_SEND_SLOTS * RS_SLOT;

	rs->rbuf = calloc(1, rlen);
	rs->sbuf = calloc(1, slen);
	if (!rs->rbuf || !rs->sbuf)
		return -ENOMEM;
	rs->rmr = ibv_reg_mr(rs->id->pd, rs->rbuf, rlen,
			     IBV_ACCESS_LOCAL_WRITE);
	rs->smr = ibv_reg_mr(rs->id->pd, rs->sbuf, slen, 0);
	return rs->rmr && rs->smr ? 0 : -ENOMEM;
}

/* The QP, its CQ and the slots; every receive slot posted. */
int rs_setup_conn(struct rsock *rs)
{
	struct ibv_qp_init_attr a = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = RS_SEND_SLOTS + 4,
			 .max_recv_wr = RS_RECV_SLOTS + RS_CTRL_SLOTS,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	int i, ret, depth = RS_SEND_SLOTS + RS_RECV_SLOTS + RS_CTRL_SLOTS + 8;

	if (!rs->id->verbs)
		return -ENODEV;
	rs->cc = ibv_create_comp_channel(rs->id->verbs);
	rs->cq = rs->cc ? ibv_create_cq(rs->id->verbs, depth, rs, rs->cc, 0) :
			  NULL;
	if (!rs->cq)
		return -ENOMEM;
	fcntl(rs->cc->fd, F_SETFL, fcntl(rs->cc->fd, F_GETFL) | O_NONBLOCK);
	a.send_cq = a.recv_cq = rs->cq;
	if (rdma_create_qp(rs->id, rs->id->pd, &a))
		return -errno;
	ret = rs_buffers(rs);
	for (i = 0; !ret && i < RS_RECV_SLOTS + RS_CTRL_SLOTS; i++)
		ret = rs_post_recv(rs, i);
	rs->credits = RS_RECV_SLOTS;
	return ret;
}

static int rs_connect_cm(struct rsock *rs, const struct sockaddr *addr)
{
	struct rdma_conn_param p = { .responder_resources = 1,
				     .initiator_depth = 1, .retry_count = 7,
				     .rnr_retry_count = 7 };
	int ret;

	if (rdma_resolve_addr(rs->id, NULL, (struct sockaddr *)addr,
			      RS_CM_TIMEOUT_MS))
		return -errno;
	ret = rs_cm_expect(rs, RDMA_CM_EVENT_ADDR_RESOLVED);
	if (!ret && rdma_resolve_route(rs->id, RS_CM_TIMEOUT_MS))
		ret = -errno;
	if (!ret)
		ret = rs_cm_expect(rs, RDMA_CM_EVENT_ROUTE_RESOLVED);
	if (!ret)
		ret = rs_setup_conn(rs);
	if (!ret && rdma_connect(rs->id, &p))
		ret = -errno;
	if (!ret)
		ret = rs_cm_expect(rs, RDMA_CM_EVENT_ESTABLISHED);
	return ret;
}

int rconnect(int socket, const struct sockaddr *addr, socklen_t addrlen)
{
	struct rsock *rs = rs_get(socket);
	int ret;

	if (!rs)
		return -1;
	if (rs->type == SOCK_DGRAM) {
		ret = rs_ds_connect(rs, addr, addrlen);
		return ret ? rs_fail(ret) : 0;
	}
	if (rs->state == RS_CONNECTED)
		return rs_fail(EISCONN);
	ret = rs_connect_cm(rs, addr);
	if (ret) {
		rs->err = -ret;
		return rs_fail(ret);
	}
	rs->state = RS_CONNECTED;
	return 0;
}

/* A new rsocket for a request on the listener: own channel, QP, accept. */
static int rs_accept_one(struct rsock *l, struct rdma_cm_id *id)
{
	struct rdma_conn_param p = { .responder_resources = 1,
				     .initiator_depth = 1,
				     .rnr_retry_count = 7 };
	struct rsock *rs = rs_alloc(l->domain);
	int ret;

	if (!rs) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return -ENOMEM;
	}
	rs->id = id;
	id->context = rs;
	ret = rdma_migrate_id(id, rs->ch) ? -errno : rs_setup_conn(rs);
	if (!ret && rdma_accept(id, &p))
		ret = -errno;
	if (!ret)
		ret = rs_cm_expect(rs, RDMA_CM_EVENT_ESTABLISHED);
	if (ret) {
		rclose(rs->index);
		return ret;
	}
	rs->state = RS_CONNECTED;
	rs->nodelay = l->nodelay;
	return rs->index;
}

int raccept(int socket, struct sockaddr *addr, socklen_t *addrlen)
{
	struct rsock *l = rs_get(socket);
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	int ret;

	if (!l)
		return -1;
	if (l->type == SOCK_DGRAM)
		return rs_fail(EOPNOTSUPP);
	if (l->state != RS_LISTENING)
		return rs_fail(EINVAL);
	do {
		ret = rs_cm_wait(l, &ev, (l->fl_flags & O_NONBLOCK) ? 0 : -1);
		if (ret)
			return rs_fail(ret == -ETIMEDOUT ? EAGAIN : ret);
		id = ev->event == RDMA_CM_EVENT_CONNECT_REQUEST ? ev->id : NULL;
		rdma_ack_cm_event(ev);
	} while (!id);
	ret = rs_accept_one(l, id);
	if (ret < 0)
		return rs_fail(ret);
	if (addr && addrlen)
		rgetpeername(ret, addr, addrlen);
	return ret;
}

int rshutdown(int socket, int how)
{
	struct rsock *rs = rs_get(socket);

	if (!rs)
		return -1;
	if (rs->type == SOCK_DGRAM) /* nothing to tell a peer */
		return 0;
	if (rs->state != RS_CONNECTED)
		return rs->state == RS_DISCONNECTED ? 0 : rs_fail(ENOTCONN);
	if ((how == SHUT_WR || how == SHUT_RDWR) && !rs->shut_wr) {
		/* Best effort: a full send queue just means no EOF marker. */
		rs_progress(rs);
		rs_send_ctrl(rs, RS_MSG_CLOSE, NULL, 0);
		rs->shut_wr = true;
	}
	return 0;
}

static void rs_free_maps(struct rs_iomap *m)
{
	struct rs_iomap *next;

	for (; m; m = next) {
		next = m->next;
		if (m->mr)
			ibv_dereg_mr(m->mr);
		free(m);
	}
}

/*
 * What was sent must arrive before the disconnect flushes the QP: wait
 * (bounded) until every send completed, i.e. the peer acknowledged it.
 */
static void rs_drain_sends(struct rsock *rs)
{
	uint32_t all = RS_SEND_SLOTS >= 32 ? ~0u : (1u << RS_SEND_SLOTS) - 1;
	int i;

	for (i = 0; i < 100 && rs->send_free != all && !rs->err; i++)
		rs_wait(rs, 10);
}

int rclose(int socket)
{
	struct rsock *rs = rs_get(socket);

	if (!rs)
		return -1;
	if (rs->state == RS_CONNECTED) {
		rshutdown(socket, SHUT_WR);
		rs_drain_sends(rs);
		rdma_disconnect(rs->id);
	}
	rs_remove(rs);
	rs_free_maps(rs->local_maps);
	rs_free_maps(rs->remote_maps);
	if (rs->id) {
		rdma_destroy_qp(rs->id);
		rdma_destroy_id(rs->id);
	}
	rs_ds_free(rs);
	if (rs->rmr)
		ibv_dereg_mr(rs->rmr);
	if (rs->smr)
		ibv_dereg_mr(rs->smr);
	if (rs->cq)
		ibv_destroy_cq(rs->cq);
	if (rs->cc)
		ibv_destroy_comp_channel(rs->cc);
	rdma_destroy_event_channel(rs->ch);
	free(rs->rbuf);
	free(rs->sbuf);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
	return 0;
}

static int rs_name(const struct sockaddr *sa, struct sockaddr *addr,
		   socklen_t *addrlen)
{
	socklen_t len = sa->sa_family == AF_INET6 ?
				sizeof(struct sockaddr_in6) :
				sizeof(struct sockaddr_in);

	if (!addr || !addrlen)
		return rs_fail(EFAULT);
	memcpy(addr, sa, *addrlen < len ? *addrlen : len);
	*addrlen = len;
	return 0;
}

int rgetpeername(int socket, struct sockaddr *addr, socklen_t *addrlen)
{
	struct rsock *rs = rs_get(socket);

	if (!rs)
		return -1;
	if (rs->type == SOCK_DGRAM)
		return rs_ds_peername(rs, addr, addrlen);
	if (rs->state != RS_CONNECTED && rs->state != RS_DISCONNECTED)
		return rs_fail(ENOTCONN);
	return rs_name(rdma_get_peer_addr(rs->id), addr, addrlen);
}

int rgetsockname(int socket, struct sockaddr *addr, socklen_t *addrlen)
{
	struct rsock *rs = rs_get(socket);

	if (!rs)
		return -1;
	return rs_name(rdma_get_local_addr(rs->id), addr, addrlen);
}

static int *rs_int_opt(struct rsock *rs, int level, int optname)
{
	if (level == SOL_SOCKET && optname == SO_SNDBUF)
		return &rs->sndbuf;
	if (level == SOL_SOCKET && optname == SO_RCVBUF)
		return &rs->rcvbuf;
	return NULL;
}

static bool *rs_bool_opt(struct rsock *rs, int level, int optname)
{
	if (level == SOL_SOCKET && optname == SO_KEEPALIVE)
		return &rs->keepalive;
	if (level == SOL_SOCKET && optname == SO_REUSEADDR)
		return &rs->reuseaddr;
	if (level == IPPROTO_TCP && optname == TCP_NODELAY)
		return &rs->nodelay;
	return NULL;
}

int rsetsockopt(int socket, int level, int optname, const void *optval,
		socklen_t optlen)
{
	struct rsock *rs = rs_get(socket);
	int *ip, val;
	bool *bp;

	if (!rs)
		return -1;
	if (!optval || optlen < sizeof(int))
		return level == SOL_SOCKET && optname == SO_LINGER ?
			       0 : rs_fail(EINVAL);
	memcpy(&val, optval, sizeof(val));
	ip = rs_int_opt(rs, level, optname);
	bp = rs_bool_opt(rs, level, optname);
	if (ip)
		*ip = val;
	else if (bp)
		*bp = val != 0;
	else if (level == IPPROTO_IPV6 && optname == IPV6_V6ONLY)
		return rdma_set_option(rs->id, RDMA_OPTION_ID,
				       RDMA_OPTION_ID_AFONLY, &val,
				       sizeof(val));
	else if (level == SOL_RDMA || (level == SOL_SOCKET &&
				       optname == SO_LINGER))
		return 0; /* sizes and inline are this library's own */
	else
		return rs_fail(ENOPROTOOPT);
	return 0;
}

int rgetsockopt(int socket, int level, int optname, void *optval,
		socklen_t *optlen)
{
	struct rsock *rs = rs_get(socket);
	int val, *ip;
	bool *bp;

	if (!rs)
		return -1;
	if (!optval || !optlen || *optlen < sizeof(int))
		return rs_fail(EINVAL);
	ip = rs_int_opt(rs, level, optname);
	bp = rs_bool_opt(rs, level, optname);
	if (level == SOL_SOCKET && optname == SO_ERROR) {
		val = rs->err;
		rs->err = 0;
	} else if (ip) {
		val = *ip ? *ip : RS_SLOT * RS_RECV_SLOTS;
	} else if (bp) {
		val = *bp;
	} else {
		return rs_fail(ENOPROTOOPT);
	}
	memcpy(optval, &val, sizeof(val));
	*optlen = sizeof(val);
	return 0;
}

int rfcntl(int socket, int cmd, ...)
{
	struct rsock *rs = rs_get(socket);
	va_list ap;
	int arg;

	if (!rs)
		return -1;
	switch (cmd) {
	case F_GETFL:
		return rs->fl_flags;
	case F_SETFL:
		va_start(ap, cmd);
		arg = va_arg(ap, int);
		va_end(ap);
		rs->fl_flags = arg & O_NONBLOCK;
		return 0;
	}
	return rs_fail(ENOSYS);
}
