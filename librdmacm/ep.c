// SPDX-License-Identifier: MIT
/*
 * The convenience API: rdma_getaddrinfo, rdma_create_ep / rdma_destroy_ep
 * and rdma_get_request. Endpoints are synchronous ids (no channel of their
 * own in the application's hands), so each step waits for its event.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "cma_priv.h"

int cma_create_id2(struct rdma_event_channel *ch, struct rdma_cm_id **id,
		   void *context, enum rdma_port_space ps,
		   enum ibv_qp_type qpt);

#define EP_TIMEOUT_MS 2000

static int ep_passive(struct rdma_cm_id *id, struct rdma_addrinfo *res,
		      struct ibv_qp_init_attr *qp_init_attr)
{
	struct cma_id_private *p = to_priv(id);

	if (rdma_bind_addr(id, res->ai_src_addr))
		return -1;
	if (!qp_init_attr)
		return 0;
	p->ep_qp_attr = malloc(sizeof(*qp_init_attr));
	if (!p->ep_qp_attr)
		return cma_errno(-ENOMEM);
	*p->ep_qp_attr = *qp_init_attr;
	return 0;
}

static int ep_active(struct rdma_cm_id *id, struct rdma_addrinfo *res,
		     struct ibv_pd *pd, struct ibv_qp_init_attr *qp_init_attr)
{
	if (rdma_resolve_addr(id, res->ai_src_addr, res->ai_dst_addr,
			      EP_TIMEOUT_MS))
		return -1;
	if (rdma_resolve_route(id, EP_TIMEOUT_MS))
		return -1;
	if (qp_init_attr && rdma_create_qp(id, id->pd, qp_init_attr))
		return -1;
	return 0;
}

int rdma_create_ep(struct rdma_cm_id **id, struct rdma_addrinfo *res,
		   struct ibv_pd *pd, struct ibv_qp_init_attr *qp_init_attr)
{
	struct rdma_cm_id *cm_id;
	int ret;

	if (!id || !res || (!res->ai_dst_addr && !res->ai_src_addr))
		return cma_errno(-EINVAL);
	if (cma_create_id2(NULL, &cm_id, NULL, res->ai_port_space,
			   res->ai_qp_type))
		return -1;
	cm_id->pd = pd;
	if (res->ai_flags & RAI_PASSIVE)
		ret = ep_passive(cm_id, res, qp_init_attr);
	else
		ret = ep_active(cm_id, res, pd, qp_init_attr);
	if (ret) {
		int err = errno;

		rdma_destroy_ep(cm_id);
		errno = err;
		return -1;
	}
	*id = cm_id;
	return 0;
}

void rdma_destroy_ep(struct rdma_cm_id *id)
{
	struct cma_id_private *p = to_priv(id);

	if (id->qp)
		rdma_destroy_qp(id);
	if (id->srq)
		rdma_destroy_srq(id);
	free(p->ep_qp_attr);
	p->ep_qp_attr = NULL;
	rdma_destroy_id(id);
}

static int request_setup(struct cma_id_private *listen, struct rdma_cm_id *id)
{
	struct ibv_qp_init_attr attr;

	if (listen->id.pd)
		id->pd = listen->id.pd; /* rdma_create_ep's PD, if one was given */
	if (!listen->ep_qp_attr)
		return 0;
	attr = *listen->ep_qp_attr;
	return rdma_create_qp(id, id->pd, &attr);
}

int rdma_get_request(struct rdma_cm_id *listen, struct rdma_cm_id **id)
{
	struct cma_id_private *lp = to_priv(listen);
	struct rdma_cm_event *ev;
	int ret;

	if (!lp->sync || !id)
		return cma_errno(-EINVAL);
	if (listen->event)
		rdma_ack_cm_event(listen->event);
	if (rdma_get_cm_event(listen->channel, &ev))
		return -1;
	if (ev->status || ev->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
		ret = ev->status ? ev->status : -EINVAL;
		rdma_ack_cm_event(ev);
		return cma_errno(ret);
	}
	ev->id->event = ev;
	if (request_setup(lp, ev->id)) {
		ret = -errno;
		rdma_reject(ev->id, NULL, 0);
		rdma_destroy_id(ev->id);
		return cma_errno(ret);
	}
	*id = ev->id;
	return 0;
}

static struct sockaddr *dup_sa(const struct sockaddr *sa, socklen_t len,
			       socklen_t *out_len)
{
	struct sockaddr *copy = malloc(len);

	if (copy) {
		memcpy(copy, sa, len);
		*out_len = len;
	}
	return copy;
}

/* AF_IB hints (with RAI_FAMILY and a numeric host): the node is a GID. */
static bool want_ib(const struct rdma_addrinfo *hints)
{
	const int need = RAI_FAMILY | RAI_NUMERICHOST;

	return hints && hints->ai_family == AF_IB &&
	       (hints->ai_flags & need) == need;
}

/* The GID and port as a sockaddr_ib: service ID port space << 16 | port. */
static struct sockaddr *ib_sa(const struct addrinfo *ai, int ps,
			      socklen_t *out_len)
{
	const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;
	struct sockaddr_ib *sib;
	uint16_t port;

	if (ai->ai_family != AF_INET6)
		return NULL;
	sib = calloc(1, sizeof(*sib));
	if (!sib)
		return NULL;
	port = ntohs(in6->sin6_port);
	sib->sib_family = AF_IB;
	sib->sib_pkey = htobe16(0xffff);
	sib->sib_flowinfo = in6->sin6_flowinfo;
	memcpy(&sib->sib_addr, &in6->sin6_addr, 16);
	sib->sib_sid = htobe64(((uint64_t)ps << 16) | port);
	sib->sib_sid_mask = htobe64(RDMA_IB_IP_PS_MASK |
				    (port ? RDMA_IB_IP_PORT_MASK : 0));
	sib->sib_scope_id = in6->sin6_scope_id;
	*out_len = sizeof(*sib);
	return (struct sockaddr *)sib;
}

static struct sockaddr *rai_addr(const struct rdma_addrinfo *rai,
				 const struct addrinfo *ai,
				 const struct rdma_addrinfo *hints,
				 socklen_t *out_len)
{
	if (want_ib(hints))
		return ib_sa(ai, rai->ai_port_space, out_len);
	return dup_sa(ai->ai_addr, ai->ai_addrlen, out_len);
}

static int rai_fill(struct rdma_addrinfo *rai, const struct addrinfo *ai,
		    const struct rdma_addrinfo *hints)
{
	bool passive = hints && hints->ai_flags & RAI_PASSIVE;

	rai->ai_flags = hints ? hints->ai_flags : 0;
	rai->ai_family = ai->ai_family;
	rai->ai_qp_type = hints && hints->ai_qp_type ? hints->ai_qp_type :
						       IBV_QPT_RC;
	rai->ai_port_space = hints && hints->ai_port_space ?
		hints->ai_port_space :
		(rai->ai_qp_type == IBV_QPT_UD ? RDMA_PS_UDP : RDMA_PS_TCP);
	if (want_ib(hints))
		rai->ai_family = AF_IB;
	if (passive) {
		rai->ai_src_addr = rai_addr(rai, ai, hints, &rai->ai_src_len);
		return rai->ai_src_addr ? 0 : -ENOMEM;
	}
	rai->ai_dst_addr = rai_addr(rai, ai, hints, &rai->ai_dst_len);
	if (!rai->ai_dst_addr)
		return -ENOMEM;
	if (hints && hints->ai_src_addr && hints->ai_src_len) {
		rai->ai_src_addr = dup_sa(hints->ai_src_addr,
					  hints->ai_src_len, &rai->ai_src_len);
		if (!rai->ai_src_addr)
			return -ENOMEM;
	}
	return 0;
}

static int gai_errno(int gai)
{
	if (gai == EAI_SYSTEM)
		return -errno;
	return gai == EAI_MEMORY ? -ENOMEM : -EADDRNOTAVAIL;
}

/* No node and no service: the addresses are the hints' own (rdma-core). */
static int rai_from_hints(struct rdma_addrinfo *rai,
			  const struct rdma_addrinfo *h)
{
	const struct sockaddr *any = h->ai_src_addr ? h->ai_src_addr :
						      h->ai_dst_addr;

	rai->ai_flags = h->ai_flags;
	rai->ai_family = any->sa_family;
	rai->ai_qp_type = h->ai_qp_type ? h->ai_qp_type : IBV_QPT_RC;
	rai->ai_port_space = h->ai_port_space ? h->ai_port_space :
		(rai->ai_qp_type == IBV_QPT_UD ? RDMA_PS_UDP : RDMA_PS_TCP);
	if (h->ai_src_addr && h->ai_src_len) {
		rai->ai_src_addr = dup_sa(h->ai_src_addr, h->ai_src_len,
					  &rai->ai_src_len);
		if (!rai->ai_src_addr)
			return -ENOMEM;
	}
	if (h->ai_dst_addr && h->ai_dst_len) {
		rai->ai_dst_addr = dup_sa(h->ai_dst_addr, h->ai_dst_len,
					  &rai->ai_dst_len);
		if (!rai->ai_dst_addr)
			return -ENOMEM;
	}
	return 0;
}

static int rai_resolve(struct rdma_addrinfo *rai, const char *node,
		       const char *service, const struct rdma_addrinfo *hints)
{
	struct addrinfo ah = { .ai_socktype = SOCK_STREAM }, *ai;
	int ret;

	if (hints) {
		if (hints->ai_flags & RAI_PASSIVE)
			ah.ai_flags |= AI_PASSIVE;
		if (hints->ai_flags & RAI_NUMERICHOST)
			ah.ai_flags |= AI_NUMERICHOST;
		if (hints->ai_family == AF_INET || hints->ai_family == AF_INET6)
			ah.ai_family = hints->ai_family;
		if (want_ib(hints)) /* a GID is written as an IPv6 address */
			ah.ai_family = AF_INET6;
	}
	ret = getaddrinfo(node, service, &ah, &ai);
	if (ret)
		return gai_errno(ret);
	ret = rai_fill(rai, ai, hints);
	freeaddrinfo(ai);
	return ret;
}

int rdma_getaddrinfo(const char *node, const char *service,
		     const struct rdma_addrinfo *hints,
		     struct rdma_addrinfo **res)
{
	bool from_hints = !node && !service && hints &&
			  (hints->ai_src_addr || hints->ai_dst_addr);
	struct rdma_addrinfo *rai;
	int ret;

	if (!res || (!node && !service && !from_hints))
		return cma_errno(-EINVAL);
	rai = calloc(1, sizeof(*rai));
	if (!rai)
		return cma_errno(-ENOMEM);
	ret = from_hints ? rai_from_hints(rai, hints) :
			   rai_resolve(rai, node, service, hints);
	if (ret) {
		rdma_freeaddrinfo(rai);
		return cma_errno(ret);
	}
	*res = rai;
	return 0;
}

void rdma_freeaddrinfo(struct rdma_addrinfo *res)
{
	struct rdma_addrinfo *next;

	for (; res; res = next) {
		next = res->ai_next;
		free(res->ai_src_addr);
		free(res->ai_dst_addr);
		free(res->ai_src_canonname);
		free(res->ai_dst_canonname);
		free(res->ai_route);
		free(res->ai_connect);
		free(res);
	}
}
