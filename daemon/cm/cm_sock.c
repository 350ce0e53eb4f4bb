// SPDX-License-Identifier: MIT
/*
 * $RUNDIR/cm.sock: the connection manager's door, the daemon's side of
 * <softverbs/cm_abi.h>. One cm_file per connected process; its cm_ids and
 * event channels live until it closes the connection or dies, and then
 * every id is shut down as rdma_destroy_id would (peers are told).
 *
 * Events wait in their channel's queue until the library fetches them
 * (GET_EVENT); the channel's socketpair only carries a one-byte wake-up
 * token per event, written without blocking (a timer retries the tokens a
 * full socket refused), so a slow reader never stalls the daemon and an
 * id's unread events can follow it to another channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>

#include "svd_limits.h"
#include "cm.h"
#include "svd_main.h"

#define CM_RETRY_FLUSH_MS 10
#define CM_MAX_IDS_PER_FILE 65536
#define CM_MAX_CHANS_PER_FILE 1024

struct cm_event_q {
	struct sv_cm_event ev;
	struct cm_event_q *next;
};

static int listen_fd = -1, timer_fd = -1;
static void *listen_tag, *timer_tag;
static struct cm_file *files;
static struct cm_id *ids;
static uint32_t next_handle;

struct cm_id *cm_ids(void)
{
	return ids;
}

uint64_t cm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t new_handle(void)
{
	if (!++next_handle)
		++next_handle;
	return next_handle;
}

/* ---------------------------------------------------------------------- */
/* Events                                                                 */
/* ---------------------------------------------------------------------- */

void cm_route_of(const struct cm_id *id, struct sv_cm_route *r)
{
	memset(r, 0, sizeof(*r));
	r->src = id->src;
	r->dst = id->dst;
	r->port_num = id->dev ? 1 : 0;
	r->node_guid = id->dev ? id->dev->node_guid : 0;
	r->have_path = id->have_route;
	r->pkey = 0xffff;
	memcpy(r->sgid, id->sgid, 16);
	memcpy(r->dgid, id->dgid, 16);
	r->traffic_class = id->tos;
	r->hop_limit = cm_hop_limit(id);
	r->mtu = id->mtu;
	r->sgid_index = id->sgid_index;
}

/* Wake-up tokens the socket had no room for are written later. */
static void chan_flush(struct cm_chan *ch)
{
	static const char token = 'e';
	ssize_t n;

	while (ch->tokens_owed) {
		n = send(ch->fd, &token, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n != 1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			       errno == ENOBUFS))
			return;
		ch->tokens_owed--; /* sent, or the reader is gone */
	}
}

static void chan_append(struct cm_chan *ch, struct cm_event_q *q)
{
	struct cm_event_q **pp;

	q->next = NULL;
	for (pp = &ch->pending; *pp; pp = &(*pp)->next)
		;
	*pp = q;
	ch->tokens_owed++;
	chan_flush(ch);
}

void cm_emit(struct cm_id *id, uint32_t event, int status,
	     const struct sv_cm_conn *conn, struct sv_cm_event *extra)
{
	struct cm_event_q *q;

	if (!id->chan)
		return;
	q = calloc(1, sizeof(*q));
	if (!q)
		return; /* out of memory: the event is lost, as a MAD could be */
	if (extra)
		q->ev = *extra;
	q->ev.event = event;
	q->ev.status = status;
	q->ev.id = id->handle;
	cm_route_of(id, &q->ev.route);
	if (conn)
		q->ev.conn = *conn;
	chan_append(id->chan, q);
}

/* GET_EVENT: the oldest event of the channel (its token was read). */
static int chan_pop(struct cm_chan *ch, struct sv_cm_event *ev)
{
	struct cm_event_q *q = ch->pending;

	if (!q)
		return -EAGAIN; /* a stale token: its event moved or died */
	ch->pending = q->next;
	*ev = q->ev;
	free(q);
	return 0;
}

/*
 * Move (migrate) or drop (destroy) the events of one id still waiting in
 * its channel, as ucma does with its event list. The old channel keeps
 * the tokens; GET_EVENT answers EAGAIN for them.
 */
static void chan_take_events(struct cm_chan *from, uint32_t handle,
			     struct cm_chan *to)
{
	struct cm_event_q **pp = &from->pending, *q;

	while ((q = *pp)) {
		if (q->ev.id != handle) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		if (to)
			chan_append(to, q);
		else
			free(q);
	}
}

/* ---------------------------------------------------------------------- */
/* Ids and channels                                                       */
/* ---------------------------------------------------------------------- */

static int file_count_ids(const struct cm_file *f)
{
	const struct cm_id *id;
	int n = 0;

	for (id = ids; id; id = id->next)
		n += id->file == f;
	return n;
}

struct cm_id *cm_id_new(struct cm_file *f, struct cm_chan *ch)
{
	struct cm_id *id;

	if (file_count_ids(f) >= CM_MAX_IDS_PER_FILE)
		return NULL;
	id = calloc(1, sizeof(*id));
	if (!id)
		return NULL;
	id->handle = new_handle();
	id->file = f;
	id->chan = ch;
	id->next = ids;
	ids = id;
	return id;
}

void cm_id_free(struct cm_id *id)
{
	struct cm_id **pp, *o;

	for (o = ids; o; o = o->next)
		if (o->listener == id)
			o->listener = NULL;
	for (pp = &ids; *pp; pp = &(*pp)->next) {
		if (*pp == id) {
			*pp = id->next;
			break;
		}
	}
	free(id);
}

static struct cm_id *id_get(struct cm_file *f, uint32_t handle)
{
	struct cm_id *id;

	for (id = ids; id; id = id->next)
		if (id->handle == handle && id->file == f)
			return id;
	return NULL;
}

static struct cm_chan *chan_get(struct cm_file *f, uint32_t handle)
{
	struct cm_chan *ch;

	for (ch = f->chans; ch; ch = ch->next)
		if (ch->handle == handle && !ch->destroyed)
			return ch;
	return NULL;
}

static void chan_free(struct cm_chan *ch)
{
	struct cm_event_q *q;

	while ((q = ch->pending)) {
		ch->pending = q->next;
		free(q);
	}
	close(ch->fd);
	free(ch);
}

static int chan_create(struct cm_file *f, int fd, struct sv_cm_reply *rep)
{
	struct cm_chan *ch;
	int n = 0, type = 0;
	socklen_t len = sizeof(type);

	for (ch = f->chans; ch; ch = ch->next)
		n++;
	/* It must be a SOCK_SEQPACKET socket: one event per message. */
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) ||
	    type != SOCK_SEQPACKET || n >= CM_MAX_CHANS_PER_FILE)
		return -EINVAL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->handle = new_handle();
	ch->fd = fd;
	ch->file = f;
	ch->next = f->chans;
	f->chans = ch;
	rep->id = ch->handle;
	return 0;
}

static bool chan_in_use(const struct cm_chan *ch)
{
	const struct cm_id *id;

	for (id = ids; id; id = id->next)
		if (id->chan == ch)
			return true;
	return false;
}

/* Has the library closed its end of the channel (for good)? */
static bool chan_orphaned(const struct cm_chan *ch)
{
	char c;

	return recv(ch->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0;
}

/*
 * A destroyed channel keeps its socket until the library's end is really
 * closed: another thread of the application may still sit in
 * rdma_get_cm_event() on it, and with the kernel's ucma that read just
 * never returns. Closing our end would wake it with an error instead.
 */
static void chans_reap(struct cm_file *f)
{
	struct cm_chan **pp = &f->chans, *ch;

	while ((ch = *pp)) {
		if (ch->destroyed && chan_orphaned(ch)) {
			*pp = ch->next;
			chan_free(ch);
		} else {
			pp = &ch->next;
		}
	}
}

/*
 * GET_EVENT after a token was read. On a channel destroyed meanwhile
 * (another thread of the application destroyed it while this one sat in
 * rdma_get_cm_event: rping does so as it exits) the token is stale, as
 * one of a destroyed id is: with the kernel's ucma that reader just keeps
 * waiting, so it must not get an error (rping's would exit(-1)).
 */
static int chan_get_event(struct cm_file *f, uint32_t handle,
			  struct sv_cm_event *ev)
{
	struct cm_chan *ch;

	for (ch = f->chans; ch; ch = ch->next)
		if (ch->handle == handle)
			return ch->destroyed ? -EAGAIN : chan_pop(ch, ev);
	return -ENOENT;
}

static int chan_destroy(struct cm_file *f, uint32_t handle)
{
	struct cm_chan *ch = chan_get(f, handle);
	struct cm_event_q *q;

	if (!ch)
		return -ENOENT;
	if (chan_in_use(ch))
		return -EBUSY; /* as rdma-core: destroy the ids first */
	ch->destroyed = true;
	while ((q = ch->pending)) {
		ch->pending = q->next;
		free(q);
	}
	return 0;
}

static void id_destroy(struct cm_id *id)
{
	cm_id_shutdown(id);
	if (id->chan)
		chan_take_events(id->chan, id->handle, NULL);
	cm_id_free(id);
}

/* ---------------------------------------------------------------------- */
/* Commands                                                               */
/* ---------------------------------------------------------------------- */

static int cmd_create_id(struct cm_file *f, const struct sv_cm_cmd *cmd,
			 struct sv_cm_reply *rep)
{
	struct cm_chan *ch = chan_get(f, cmd->chan);
	struct cm_id *id;

	if (!ch)
		return -ENOENT;
	switch (cmd->ps) {
	case RDMA_PS_TCP:
	case RDMA_PS_UDP:
	case RDMA_PS_IB:
	case RDMA_PS_IPOIB:
		break;
	default:
		return -EINVAL;
	}
	if (cmd->qp_type != IBV_QPT_RC && cmd->qp_type != IBV_QPT_UD &&
	    cmd->qp_type != IBV_QPT_UC)
		return -EINVAL;
	id = cm_id_new(f, ch);
	if (!id)
		return -ENOMEM;
	id->ps = cmd->ps;
	id->qp_type = cmd->qp_type;
	id->qkey = cmd->ps == RDMA_PS_IPOIB ? 0 : RDMA_UDP_QKEY;
	rep->id = id->handle;
	return 0;
}

static int cmd_migrate(struct cm_file *f, struct cm_id *id,
		       const struct sv_cm_cmd *cmd)
{
	struct cm_chan *ch = chan_get(f, cmd->chan);

	if (!ch)
		return -ENOENT;
	if (ch != id->chan)
		chan_take_events(id->chan, id->handle, ch);
	id->chan = ch;
	return 0;
}

static int cmd_on_id(struct cm_file *f, struct cm_id *id,
		     const struct sv_cm_cmd *cmd, struct sv_cm_reply *rep)
{
	switch (cmd->op) {
	case SV_CM_DESTROY_ID:
		id_destroy(id);
		return 0;
	case SV_CM_BIND:
		return cm_bind(id, &cmd->src);
	case SV_CM_RESOLVE_ADDR:
		return cm_resolve_addr(id, cmd);
	case SV_CM_RESOLVE_ROUTE:
		return cm_resolve_route(id, cmd->arg);
	case SV_CM_LISTEN:
		return cm_listen(id, cmd->arg);
	case SV_CM_CONNECT:
		return cm_connect(id, &cmd->conn);
	case SV_CM_ACCEPT:
		return cm_accept(id, &cmd->conn);
	case SV_CM_REJECT:
		return cm_reject(id, &cmd->conn, cmd->arg);
	case SV_CM_DISCONNECT:
		return cm_disconnect(id);
	case SV_CM_ESTABLISH:
		return cm_establish(id);
	case SV_CM_MIGRATE:
		return cmd_migrate(f, id, cmd);
	case SV_CM_SET_OPTION:
		return cm_set_option(id, cmd);
	case SV_CM_INIT_QP_ATTR:
		return cm_init_qp_attr(id, cmd->arg, &rep->attr);
	case SV_CM_NOTIFY:
		return id->state == CM_IDLE ? -EINVAL : 0;
	case SV_CM_QUERY:
		return 0;
	case SV_CM_JOIN_MCAST:
		return cm_join_mcast(id, &cmd->dst);
	}
	return -EINVAL;
}

static int cmd_run(struct cm_file *f, const struct sv_cm_cmd *cmd, int fd,
		   struct sv_cm_reply *rep)
{
	struct cm_id *id;
	int ret;

	if (cmd->op == SV_CM_CREATE_CHANNEL)
		return chan_create(f, fd, rep);
	if (cmd->op == SV_CM_DESTROY_CHANNEL)
		return chan_destroy(f, cmd->chan);
	if (cmd->op == SV_CM_CREATE_ID)
		return cmd_create_id(f, cmd, rep);
	if (cmd->op == SV_CM_GET_EVENT)
		return chan_get_event(f, cmd->chan, &rep->ev);
	id = id_get(f, cmd->id);
	if (!id)
		return -ENOENT;
	ret = cmd_on_id(f, id, cmd, rep);
	if (cmd->op != SV_CM_DESTROY_ID)
		cm_route_of(id, &rep->route);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* The socket and the timer                                               */
/* ---------------------------------------------------------------------- */

/* After anything happened: deliver MADs, flush events, re-arm the timer. */
void cm_settle(void)
{
	struct cm_file *f;
	struct cm_chan *ch;

	cm_wire_drain();
	for (f = files; f; f = f->next) {
		chans_reap(f);
		for (ch = f->chans; ch; ch = ch->next)
			chan_flush(ch);
	}
	cm_timer_update();
}

void cm_timer_update(void)
{
	struct itimerspec its = { 0 };
	uint64_t next = 0, now = cm_now_ms(), at;
	struct cm_file *f;
	struct cm_chan *ch;
	struct cm_id *id;

	for (id = ids; id; id = id->next)
		if (id->deadline_ms && (!next || id->deadline_ms < next))
			next = id->deadline_ms;
	for (f = files; f; f = f->next)
		for (ch = f->chans; ch; ch = ch->next)
			if (ch->tokens_owed &&
			    (!next || now + CM_RETRY_FLUSH_MS < next))
				next = now + CM_RETRY_FLUSH_MS;
	if (next) {
		at = next > now ? next - now : 1;
		its.it_value.tv_sec = at / 1000;
		its.it_value.tv_nsec = (at % 1000) * 1000000;
	}
	timerfd_settime(timer_fd, 0, &its, NULL);
}

static void on_timer(struct svd_ev_hook *h)
{
	uint64_t ticks, now = cm_now_ms();
	struct cm_id *id, *next;

	if (read(timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (id = ids; id; id = next) {
		next = id->next;
		if (id->deadline_ms && id->deadline_ms <= now)
			cm_timeout(id);
	}
	cm_settle();
}

static struct svd_ev_hook timer_hook = { .fn = on_timer };

static void file_close(struct cm_file *f)
{
	struct cm_file **pp;
	struct cm_id *id, *next;
	struct cm_chan *ch;

	for (id = ids; id; id = next) {
		next = id->next;
		if (id->file == f)
			id_destroy(id);
	}
	while ((ch = f->chans)) {
		f->chans = ch->next;
		chan_free(ch);
	}
	for (pp = &files; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	svd_ev_unwatch(f->fd, f->ev_tag);
	svd_limit_uncharge(f->charge);
	close(f->fd);
	free(f);
}

/* Read one command and the fd it may carry. */
static ssize_t recv_cmd(int fd, struct sv_cm_cmd *cmd, int *passed)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = cmd, .iov_len = sizeof(*cmd) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*passed = -1;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	for (c = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c;
	     c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(passed, CMSG_DATA(c), sizeof(int));
	if (n >= 0 && msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		n = -2; /* oversized or with extra fds: refused */
	return n;
}

static void on_file(struct svd_ev_hook *h)
{
	struct cm_file *f = (struct cm_file *)h; /* the hook comes first */
	struct sv_cm_reply rep = { 0 };
	struct sv_cm_cmd cmd;
	int passed, ret;
	ssize_t n;

	n = recv_cmd(f->fd, &cmd, &passed);
	if (n < 0 && n != -2 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0 || (n < 0 && n != -2)) {
		file_close(f);
		cm_settle();
		return;
	}
	ret = n == sizeof(cmd) ? cmd_run(f, &cmd, passed, &rep) : -EINVAL;
	if (passed >= 0 && (ret || cmd.op != SV_CM_CREATE_CHANNEL))
		close(passed); /* kept only by a channel that took it */
	rep.status = ret;
	send(f->fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_NOSIGNAL);
	cm_settle();
}

static void on_listen(struct svd_ev_hook *h)
{
	struct cm_file *f;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!svd_serve_accepted(fd)) /* out of fds: paused, never spinning */
		return;
	f = calloc(1, sizeof(*f));
	if (!f || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		goto fail;
	/* Each connection holds a daemon fd: counted per user, as ufiles. */
	f->charge = svd_limit_charge(cred.uid, SVD_LIM_CONNECTIONS);
	if (!f->charge)
		goto fail;
	f->fd = fd;
	f->pid = cred.pid;
	f->uid = cred.uid;
	f->hook.fn = on_file;
	if (svd_ev_watch(fd, &f->hook, &f->ev_tag))
		goto fail;
	f->next = files;
	files = f;
	return;
fail:
	if (f)
		svd_limit_uncharge(f->charge);
	free(f);
	close(fd);
}

static struct svd_ev_hook listen_hook = { .fn = on_listen };

static int cm_listen_sock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", svd_rundir(),
		     SV_CM_SOCK) >= (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* Any local user may use rdma_cm, as /dev/infiniband/rdma_cm. */
	chmod(sa.sun_path, 0666);
	return fd;
}

int svd_cm_start(void)
{
	int ret;

	listen_fd = cm_listen_sock();
	if (listen_fd < 0)
		return listen_fd;
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer_fd < 0)
		return -errno;
	srandom((unsigned int)(cm_now_ms() ^ getpid()));
	ret = svd_ev_watch_listener(listen_fd, &listen_hook, &listen_tag);
	if (!ret)
		ret = svd_ev_watch(timer_fd, &timer_hook, &timer_tag);
	if (!ret)
		ret = cm_wire_start();
	return ret;
}

void svd_cm_stop(void)
{
	char path[300];

	while (files)
		file_close(files);
	cm_wire_stop();
	cm_neigh_stop();
	if (listen_fd >= 0) {
		svd_ev_unwatch(listen_fd, listen_tag);
		close(listen_fd);
		snprintf(path, sizeof(path), "%s/%s", svd_rundir(), SV_CM_SOCK);
		unlink(path);
	}
	if (timer_fd >= 0) {
		svd_ev_unwatch(timer_fd, timer_tag);
		close(timer_fd);
	}
	listen_fd = timer_fd = -1;
}

/* A device is going away: its ids lose it, as on DEVICE_REMOVAL. */
void svd_cm_device_removed(struct svd_device *dev)
{
	struct cm_id *id;

	for (id = ids; id; id = id->next) {
		if (id->dev != dev)
			continue;
		id->deadline_ms = 0;
		id->state = CM_IDLE;
		cm_emit(id, RDMA_CM_EVENT_DEVICE_REMOVAL, 0, NULL, NULL);
		id->dev = NULL;
	}
	cm_settle();
}
