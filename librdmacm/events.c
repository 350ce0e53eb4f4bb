// SPDX-License-Identifier: MIT
/*
 * Events: the daemon writes a wake-up token per event into the channel's
 * socket and keeps the event; rdma_get_cm_event reads a token, fetches the
 * event (GET_EVENT) and turns it into a struct rdma_cm_event.
 * A blocking channel fd blocks, a non-blocking one gives EAGAIN, poll()
 * says when one is ready: the semantics of the kernel's ucma file.
 *
 * Two events are finished here before the application sees them, as
 * rdma-core does: a REP on an id with a QP moves the QP to RTR and RTS and
 * sends the RTU (the application sees ESTABLISHED), and a new connection
 * request gets its own rdma_cm_id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cma_priv.h"

struct cma_id_private *cma_id_lookup(uint32_t handle);
void cma_id_publish(struct cma_id_private *p);

static const char *const event_names[] = {
	[RDMA_CM_EVENT_ADDR_RESOLVED] = "RDMA_CM_EVENT_ADDR_RESOLVED",
	[RDMA_CM_EVENT_ADDR_ERROR] = "RDMA_CM_EVENT_ADDR_ERROR",
	[RDMA_CM_EVENT_ROUTE_RESOLVED] = "RDMA_CM_EVENT_ROUTE_RESOLVED",
	[RDMA_CM_EVENT_ROUTE_ERROR] = "RDMA_CM_EVENT_ROUTE_ERROR",
	[RDMA_CM_EVENT_CONNECT_REQUEST] = "RDMA_CM_EVENT_CONNECT_REQUEST",
	[RDMA_CM_EVENT_CONNECT_RESPONSE] = "RDMA_CM_EVENT_CONNECT_RESPONSE",
	[RDMA_CM_EVENT_CONNECT_ERROR] = "RDMA_CM_EVENT_CONNECT_ERROR",
	[RDMA_CM_EVENT_UNREACHABLE] = "RDMA_CM_EVENT_UNREACHABLE",
	[RDMA_CM_EVENT_REJECTED] = "RDMA_CM_EVENT_REJECTED",
	[RDMA_CM_EVENT_ESTABLISHED] = "RDMA_CM_EVENT_ESTABLISHED",
	[RDMA_CM_EVENT_DISCONNECTED] = "RDMA_CM_EVENT_DISCONNECTED",
	[RDMA_CM_EVENT_DEVICE_REMOVAL] = "RDMA_CM_EVENT_DEVICE_REMOVAL",
	[RDMA_CM_EVENT_MULTICAST_JOIN] = "RDMA_CM_EVENT_MULTICAST_JOIN",
	[RDMA_CM_EVENT_MULTICAST_ERROR] = "RDMA_CM_EVENT_MULTICAST_ERROR",
	[RDMA_CM_EVENT_ADDR_CHANGE] = "RDMA_CM_EVENT_ADDR_CHANGE",
	[RDMA_CM_EVENT_TIMEWAIT_EXIT] = "RDMA_CM_EVENT_TIMEWAIT_EXIT",
};

const char *rdma_event_str(enum rdma_cm_event_type event)
{
	if ((unsigned int)event < sizeof(event_names) / sizeof(event_names[0]))
		return event_names[event];
	return "UNKNOWN EVENT";
}

/* A connection request: the daemon made the id, the library mirrors it. */
static struct cma_id_private *new_conn_id(struct cma_id_private *listen,
					  const struct sv_cm_event *ev)
{
	struct cma_id_private *p;

	p = cma_id_alloc(listen->id.channel, listen->id.context, listen->id.ps,
			 listen->id.qp_type);
	if (!p)
		return NULL;
	/* A request's id shares the listener's channel, never owns it. */
	p->sync = false;
	p->handle = ev->id;
	cma_id_publish(p);
	/*
	 * A synchronous listener's requests are synchronous ids too. Should
	 * that fail, the id stays usable on the listener's channel.
	 */
	if (listen->sync)
		rdma_migrate_id(&p->id, NULL);
	return p;
}

static void fill_ud(struct cma_event *e, const struct sv_cm_event *ev,
		    struct cma_id_private *p)
{
	struct rdma_ud_param *ud = &e->event.param.ud;

	ud->private_data = ev->conn.pdata_len ? e->pdata : NULL;
	ud->private_data_len = ev->conn.pdata_len;
	ud->qp_num = ev->conn.qp_num;
	ud->qkey = ev->conn.qkey;
	ud->ah_attr.is_global = 1;
	ud->ah_attr.port_num = p->id.port_num;
	ud->ah_attr.grh.sgid_index = ev->ud_sgid_index;
	ud->ah_attr.grh.hop_limit = ev->ud_hop_limit;
	ud->ah_attr.grh.traffic_class = ev->ud_traffic_class;
	memcpy(ud->ah_attr.grh.dgid.raw, ev->ud_dgid, 16);
}

static void fill_conn(struct cma_event *e, const struct sv_cm_event *ev)
{
	struct rdma_conn_param *c = &e->event.param.conn;

	c->private_data = ev->conn.pdata_len ? e->pdata : NULL;
	c->private_data_len = ev->conn.pdata_len;
	c->responder_resources = ev->conn.responder_resources;
	c->initiator_depth = ev->conn.initiator_depth;
	c->flow_control = ev->conn.flow_control;
	c->retry_count = ev->conn.retry_count;
	c->rnr_retry_count = ev->conn.rnr_retry_count;
	c->srq = ev->conn.srq;
	c->qp_num = ev->conn.qp_num;
}

/* REP on an id with a QP: RTR, RTS, RTU, and the app sees ESTABLISHED. */
static void finish_conn_resp(struct cma_event *e, struct cma_id_private *p)
{
	int ret;

	if (!p->id.qp)
		return;
	ret = cma_qp_connect(p);
	if (!ret)
		ret = cma_simple(p, SV_CM_ESTABLISH, 0);
	if (ret) {
		cma_qp_to_err(p);
		cma_simple(p, SV_CM_REJECT, 0);
		e->event.event = RDMA_CM_EVENT_CONNECT_ERROR;
		e->event.status = ret;
		return;
	}
	e->event.event = RDMA_CM_EVENT_ESTABLISHED;
}

static int build_event(struct cma_event *e, const struct sv_cm_event *ev)
{
	struct cma_id_private *p, *listen = NULL;

	if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
		listen = cma_id_lookup(ev->listen_id);
		p = listen ? new_conn_id(listen, ev) : NULL;
	} else {
		p = cma_id_lookup(ev->id);
	}
	if (!p)
		return -ENOENT; /* destroyed meanwhile: nobody to tell */
	cma_apply_route(p, &ev->route);
	e->id_priv = p;
	e->event.id = &p->id;
	e->event.listen_id = listen ? &listen->id : NULL;
	e->event.event = ev->event;
	e->event.status = ev->status;
	memcpy(e->pdata, ev->conn.pdata, ev->conn.pdata_len);
	cma_ece_from_event(p, ev);
	if (p->id.qp_type == IBV_QPT_UD)
		fill_ud(e, ev, p);
	else
		fill_conn(e, ev);
	if (ev->event == RDMA_CM_EVENT_CONNECT_RESPONSE)
		finish_conn_resp(e, p);
	if (ev->event == RDMA_CM_EVENT_MULTICAST_JOIN)
		cma_mc_joined(&e->event, p);
	return 0;
}

/* One wake-up token, then the event itself from the daemon. */
static int read_event(struct rdma_event_channel *ch, struct sv_cm_event *ev)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_GET_EVENT };
	struct sv_cm_reply rep;
	ssize_t n;
	char token;
	int ret;

	cmd.chan = to_chan(ch)->handle;
	do {
		do
			n = recv(ch->fd, &token, 1, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODEV; /* the daemon went away */
		ret = cma_call(&cmd, &rep);
	} while (ret == -EAGAIN); /* a stale token: try the next one */
	if (ret)
		return ret;
	if (rep.ev.conn.pdata_len > SV_CM_PDATA_MAX)
		return -EPROTO;
	*ev = rep.ev;
	return 0;
}

int rdma_get_cm_event(struct rdma_event_channel *channel,
		      struct rdma_cm_event **event)
{
	struct sv_cm_event ev;
	struct cma_event *e;
	int ret;

	if (!channel || !event)
		return cma_errno(-EINVAL);
	for (;;) {
		ret = read_event(channel, &ev);
		if (ret)
			return cma_errno(ret);
		e = calloc(1, sizeof(*e));
		if (!e)
			return cma_errno(-ENOMEM);
		if (!build_event(e, &ev))
			break;
		free(e);
	}
	pthread_mutex_lock(&e->id_priv->lock);
	e->id_priv->events_out++;
	pthread_mutex_unlock(&e->id_priv->lock);
	*event = &e->event;
	return 0;
}

int rdma_ack_cm_event(struct rdma_cm_event *event)
{
	struct cma_event *e = (struct cma_event *)event;
	struct cma_id_private *p;

	if (!event)
		return cma_errno(-EINVAL);
	p = e->id_priv;
	pthread_mutex_lock(&p->lock);
	p->events_out--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->id.event == event)
		p->id.event = NULL;
	free(e);
	return 0;
}

/*
 * An id made without a channel: its calls return once their event is in,
 * which stays in id->event until the next call (rdma-core's ucma_complete).
 */
int cma_sync_wait(struct cma_id_private *p, enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;

	if (p->id.event)
		rdma_ack_cm_event(p->id.event);
	if (rdma_get_cm_event(p->id.channel, &ev))
		return -errno;
	p->id.event = ev;
	if (ev->status)
		return ev->status < 0 ? ev->status : -ECONNREFUSED;
	if (ev->event != want)
		return -ECONNREFUSED;
	return 0;
}
