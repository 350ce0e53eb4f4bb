// SPDX-License-Identifier: MIT
/*
 * rdma_cm ids and event channels: each call becomes one request to
 * softverbsd's connection manager (transport.c), which runs the IBTA CM
 * exchange; the library only keeps the application-visible structures in
 * step and, as rdma-core does, drives the QP through INIT/RTR/RTS itself.
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cma_priv.h"

/* handle -> id, for events (a tree, as rdma-core keeps it). */
static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static void *ids_root;

static int id_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct cma_id_private *)a)->handle;
	uint32_t y = ((const struct cma_id_private *)b)->handle;

	return x < y ? -1 : x > y;
}

struct cma_id_private *cma_id_lookup(uint32_t handle)
{
	struct cma_id_private key = { .handle = handle }, **found;

	pthread_mutex_lock(&ids_lock);
	found = tfind(&key, &ids_root, id_cmp);
	pthread_mutex_unlock(&ids_lock);
	return found ? *found : NULL;
}

void cma_id_publish(struct cma_id_private *p)
{
	pthread_mutex_lock(&ids_lock);
	tsearch(p, &ids_root, id_cmp);
	pthread_mutex_unlock(&ids_lock);
}

static void cma_id_unpublish(struct cma_id_private *p)
{
	pthread_mutex_lock(&ids_lock);
	tdelete(p, &ids_root, id_cmp);
	pthread_mutex_unlock(&ids_lock);
}

struct rdma_event_channel *rdma_create_event_channel(void)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_CREATE_CHANNEL };
	struct sv_cm_reply rep;
	struct cma_channel *ch;
	int sv[2], ret;

	ret = cma_devices_init();
	if (ret)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return NULL;
	ret = cma_call_fd(&cmd, &rep, sv[1]);
	close(sv[1]);
	ch = ret ? NULL : calloc(1, sizeof(*ch));
	if (!ch) {
		close(sv[0]);
		ret = ret ? ret : -ENOMEM;
		goto fail;
	}
	ch->ch.fd = sv[0];
	ch->handle = rep.id;
	return &ch->ch;
fail:
	errno = -ret;
	return NULL;
}

void rdma_destroy_event_channel(struct rdma_event_channel *channel)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_DESTROY_CHANNEL };

	if (!channel)
		return;
	cmd.chan = to_chan(channel)->handle;
	cma_call(&cmd, NULL);
	close(channel->fd);
	free(to_chan(channel));
}

/* rdma-core's rule: the port space says which QP type an id is for. */
static enum ibv_qp_type ps_qp_type(enum rdma_port_space ps)
{
	return ps == RDMA_PS_UDP || ps == RDMA_PS_IPOIB ? IBV_QPT_UD :
							  IBV_QPT_RC;
}

struct cma_id_private *cma_id_alloc(struct rdma_event_channel *ch,
				    void *context, enum rdma_port_space ps,
				    enum ibv_qp_type qpt)
{
	struct cma_id_private *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (!ch) {
		ch = rdma_create_event_channel();
		if (!ch) {
			free(p);
			return NULL;
		}
		p->sync = true;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->id.channel = ch;
	p->id.context = context;
	p->id.ps = ps;
	p->id.qp_type = qpt;
	p->initiator_depth = RDMA_MAX_INIT_DEPTH;
	p->responder_resources = RDMA_MAX_RESP_RES;
	return p;
}

void cma_id_free(struct cma_id_private *p)
{
	cma_mc_free_all(p);
	if (p->sync)
		rdma_destroy_event_channel(p->id.channel);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int create_id(struct rdma_event_channel *ch, struct rdma_cm_id **id,
		     void *context, enum rdma_port_space ps,
		     enum ibv_qp_type qpt)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_CREATE_ID, .ps = ps };
	struct sv_cm_reply rep;
	struct cma_id_private *p;
	int ret;

	if (!id)
		return cma_errno(-EINVAL);
	ret = cma_devices_init();
	if (ret)
		return cma_errno(ret);
	p = cma_id_alloc(ch, context, ps, qpt);
	if (!p)
		return -1;
	cmd.chan = to_chan(p->id.channel)->handle;
	cmd.qp_type = qpt;
	ret = cma_call(&cmd, &rep);
	if (ret) {
		cma_id_free(p);
		return cma_errno(ret);
	}
	p->handle = rep.id;
	cma_id_publish(p);
	*id = &p->id;
	return 0;
}

int rdma_create_id(struct rdma_event_channel *channel, struct rdma_cm_id **id,
		   void *context, enum rdma_port_space ps)
{
	return create_id(channel, id, context, ps, ps_qp_type(ps));
}

/* Exported under this name by newer rdma-core only; used by create_ep. */
int cma_create_id2(struct rdma_event_channel *ch, struct rdma_cm_id **id,
		   void *context, enum rdma_port_space ps,
		   enum ibv_qp_type qpt)
{
	return create_id(ch, id, context, ps, qpt);
}

int rdma_destroy_id(struct rdma_cm_id *id)
{
	struct cma_id_private *p = to_priv(id);
	struct sv_cm_cmd cmd = { .op = SV_CM_DESTROY_ID };
	int ret;

	cmd.id = p->handle;
	ret = cma_call(&cmd, NULL);
	if (ret && ret != -ENOENT && ret != -ENODEV)
		return cma_errno(ret);
	if (id->event)
		rdma_ack_cm_event(id->event);
	/* As ucma: wait until the application acked this id's events. */
	pthread_mutex_lock(&p->lock);
	while (p->events_out)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	cma_id_unpublish(p);
	cma_id_free(p);
	return 0;
}

/* Fill id.route and id.verbs from the daemon's view of the id. */
void cma_apply_route(struct cma_id_private *p, const struct sv_cm_route *r)
{
	struct rdma_addr *a = &p->id.route.addr;
	struct ibv_sa_path_rec *pr = &p->path;

	memcpy(&a->src_storage, &r->src, sizeof(r->src));
	memcpy(&a->dst_storage, &r->dst, sizeof(r->dst));
	memcpy(a->addr.ibaddr.sgid.raw, r->sgid, 16);
	memcpy(a->addr.ibaddr.dgid.raw, r->dgid, 16);
	a->addr.ibaddr.pkey = htobe16(r->pkey);
	/* As rdma-core: a bound id gets the device's context and its PD. */
	if (r->node_guid && !p->dev) {
		p->dev = cma_device_by_guid(r->node_guid);
		if (p->dev)
			p->id.verbs = p->dev->verbs;
		if (p->dev && !p->id.pd)
			p->id.pd = cma_default_pd(p->dev);
	}
	p->id.port_num = r->port_num;
	if (!r->have_path)
		return;
	memset(pr, 0, sizeof(*pr));
	memcpy(pr->sgid.raw, r->sgid, 16);
	memcpy(pr->dgid.raw, r->dgid, 16);
	pr->pkey = htobe16(r->pkey);
	pr->hop_limit = r->hop_limit;
	pr->traffic_class = r->traffic_class;
	pr->mtu = r->mtu;
	pr->mtu_selector = 2; /* exactly */
	pr->reversible = 1;
	pr->numb_path = 1;
	pr->packet_life_time = 14;
	pr->rate = 3; /* IBV_RATE_10_GBPS, as reported by the port */
	p->id.route.path_rec = pr;
	p->id.route.num_paths = 1;
}

/* A request about one id whose reply carries its new route. */
static int cma_route_call(struct cma_id_private *p, struct sv_cm_cmd *cmd)
{
	struct sv_cm_reply rep;
	int ret;

	cmd->id = p->handle;
	ret = cma_call(cmd, &rep);
	if (!ret)
		cma_apply_route(p, &rep.route);
	return ret;
}

int cma_simple(struct cma_id_private *p, uint32_t op, int arg)
{
	struct sv_cm_cmd cmd = { .op = op, .arg = arg };

	return cma_route_call(p, &cmd);
}

static socklen_t sa_len(const struct sockaddr *sa)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	if (sa->sa_family == AF_IB)
		return sizeof(struct sockaddr_ib);
	return 0;
}

static int copy_sa(union sv_cm_sockaddr *dst, const struct sockaddr *sa)
{
	socklen_t len = sa_len(sa);

	if (!len)
		return -EINVAL;
	memcpy(dst, sa, len);
	return 0;
}

/* JOIN_MCAST: the daemon checks the group and queues MULTICAST_JOIN. */
int cma_join_call(struct cma_id_private *p, const struct sockaddr *group)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_JOIN_MCAST };
	int ret = copy_sa(&cmd.dst, group);

	return ret ? ret : cma_route_call(p, &cmd);
}

int rdma_bind_addr(struct rdma_cm_id *id, struct sockaddr *addr)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_BIND };
	int ret = copy_sa(&cmd.src, addr);

	if (!ret)
		ret = cma_route_call(to_priv(id), &cmd);
	return cma_errno(ret);
}

int rdma_resolve_addr(struct rdma_cm_id *id, struct sockaddr *src_addr,
		      struct sockaddr *dst_addr, int timeout_ms)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_RESOLVE_ADDR, .arg = timeout_ms };
	struct cma_id_private *p = to_priv(id);
	int ret = copy_sa(&cmd.dst, dst_addr);

	if (!ret && src_addr && src_addr->sa_family)
		ret = copy_sa(&cmd.src, src_addr);
	if (!ret)
		ret = cma_route_call(p, &cmd);
	if (!ret && p->sync)
		ret = cma_sync_wait(p, RDMA_CM_EVENT_ADDR_RESOLVED);
	return cma_errno(ret);
}

int rdma_resolve_route(struct rdma_cm_id *id, int timeout_ms)
{
	struct cma_id_private *p = to_priv(id);
	int ret = cma_simple(p, SV_CM_RESOLVE_ROUTE, timeout_ms);

	if (!ret && p->sync)
		ret = cma_sync_wait(p, RDMA_CM_EVENT_ROUTE_RESOLVED);
	return cma_errno(ret);
}

int rdma_listen(struct rdma_cm_id *id, int backlog)
{
	struct cma_id_private *p = to_priv(id);

	p->backlog = backlog;
	return cma_errno(cma_simple(p, SV_CM_LISTEN, backlog));
}

int rdma_migrate_id(struct rdma_cm_id *id, struct rdma_event_channel *channel)
{
	struct cma_id_private *p = to_priv(id);
	struct sv_cm_cmd cmd = { .op = SV_CM_MIGRATE, .id = p->handle };
	struct rdma_event_channel *ch = channel, *old = id->channel;
	int ret;

	if (!ch) {
		ch = rdma_create_event_channel();
		if (!ch)
			return -1;
	}
	cmd.chan = to_chan(ch)->handle;
	ret = cma_call(&cmd, NULL);
	if (ret) {
		if (!channel)
			rdma_destroy_event_channel(ch);
		return cma_errno(ret);
	}
	/*
	 * Events of this id handed out on the old channel must be acked; a
	 * synchronous id's last one is ours to ack (rdma-core does too).
	 */
	if (id->event) {
		rdma_ack_cm_event(id->event);
		id->event = NULL;
	}
	pthread_mutex_lock(&p->lock);
	while (p->events_out)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if (p->sync)
		rdma_destroy_event_channel(old);
	id->channel = ch;
	p->sync = !channel;
	return 0;
}

/*
 * RDMA_OPTION_IB_PATH takes an array of struct ibv_path_data; as the
 * kernel's ucma, only the primary, bidirectional path of a GMP is used
 * (alternate paths are ignored: rdma_cm has no LAP). The daemon gets
 * that one path record and answers with ROUTE_RESOLVED.
 */
static int ib_path_option(struct sv_cm_cmd *cmd, const void *optval,
			  size_t optlen)
{
	const uint32_t want = IBV_PATH_FLAG_GMP | IBV_PATH_FLAG_PRIMARY |
			      IBV_PATH_FLAG_BIDIRECTIONAL;
	const struct ibv_path_data *pd = optval;
	size_t i, n = optlen / sizeof(*pd);

	if (!n || optlen % sizeof(*pd))
		return -EINVAL;
	for (i = 0; i < n && pd[i].flags != want; i++)
		;
	if (i == n)
		return -EINVAL;
	memcpy(cmd->optval, &pd[i].path, sizeof(pd[i].path));
	cmd->optlen = sizeof(pd[i].path);
	return 0;
}

int rdma_set_option(struct rdma_cm_id *id, int level, int optname,
		    void *optval, size_t optlen)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_SET_OPTION };
	struct cma_id_private *p = to_priv(id);
	bool path = level == RDMA_OPTION_IB && optname == RDMA_OPTION_IB_PATH;
	int ret = 0;

	if (!optval)
		return cma_errno(-EINVAL);
	cmd.level = level;
	cmd.optname = optname;
	if (path)
		ret = ib_path_option(&cmd, optval, optlen);
	else if (optlen > sizeof(cmd.optval))
		ret = -EINVAL;
	else
		cmd.optlen = optlen;
	if (!ret && !path)
		memcpy(cmd.optval, optval, optlen);
	if (!ret)
		ret = cma_route_call(p, &cmd);
	if (!ret && path && p->sync)
		ret = cma_sync_wait(p, RDMA_CM_EVENT_ROUTE_RESOLVED);
	return cma_errno(ret);
}

int rdma_notify(struct rdma_cm_id *id, enum ibv_event_type event)
{
	return cma_errno(cma_simple(to_priv(id), SV_CM_NOTIFY, event));
}

static __be16 sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_port;
	if (sa->sa_family == AF_INET6)
		return ((const struct sockaddr_in6 *)sa)->sin6_port;
	if (sa->sa_family == AF_IB) /* the service ID's low 16 bits */
		return htobe16(be64toh(((const struct sockaddr_ib *)sa)->sib_sid) &
			       RDMA_IB_IP_PORT_MASK);
	return 0;
}

__be16 rdma_get_src_port(struct rdma_cm_id *id)
{
	return sa_port(&id->route.addr.src_addr);
}

__be16 rdma_get_dst_port(struct rdma_cm_id *id)
{
	return sa_port(&id->route.addr.dst_addr);
}
