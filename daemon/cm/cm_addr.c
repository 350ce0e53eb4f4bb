// SPDX-License-Identifier: MIT
/*
 * Addresses: how an IP address becomes a device, a port and a GID.
 *
 * softverbs devices are RoCEv2: each host IP address (of the device's
 * netdev, or of every interface) is a GID, IPv4 mapped as ::ffff:a.b.c.d.
 * So the device for a local address is the one whose GID table holds it,
 * and the source address for a destination is the one the host's routing
 * table picks (a connected UDP socket asks the kernel), exactly as the
 * kernel's rdma_cm resolves RoCE addresses. A destination behind a
 * device's netdev waits, as in the kernel, for its next hop's neighbour
 * entry (cm_neigh.c); any other resolution completes at once.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>

#include "cm.h"
#include "svd_mcast.h"

#define CM_EPHEMERAL_LO 32768
#define CM_EPHEMERAL_HI 60999

void cm_sa_to_gid(const union sv_cm_sockaddr *sa, uint8_t *gid)
{
	memset(gid, 0, 16);
	if (sa->sa.sa_family == AF_INET) {
		gid[10] = 0xff;
		gid[11] = 0xff;
		memcpy(gid + 12, &sa->in.sin_addr, 4);
	} else if (sa->sa.sa_family == AF_INET6) {
		memcpy(gid, &sa->in6.sin6_addr, 16);
	} else if (sa->sa.sa_family == AF_IB) {
		memcpy(gid, &sa->ib.sib_addr, 16);
	}
}

uint16_t cm_sa_port(const union sv_cm_sockaddr *sa)
{
	if (sa->sa.sa_family == AF_INET)
		return ntohs(sa->in.sin_port);
	if (sa->sa.sa_family == AF_INET6)
		return ntohs(sa->in6.sin6_port);
	if (sa->sa.sa_family == AF_IB) /* the low 16 bits of the service ID */
		return be64toh(sa->ib.sib_sid) & RDMA_IB_IP_PORT_MASK;
	return 0;
}

static void sa_set_port(union sv_cm_sockaddr *sa, uint16_t port)
{
	uint64_t sid;

	if (sa->sa.sa_family == AF_INET) {
		sa->in.sin_port = htons(port);
	} else if (sa->sa.sa_family == AF_INET6) {
		sa->in6.sin6_port = htons(port);
	} else {
		sid = be64toh(sa->ib.sib_sid) & ~(uint64_t)RDMA_IB_IP_PORT_MASK;
		sa->ib.sib_sid = htobe64(sid | port);
		sa->ib.sib_sid_mask |= htobe64(RDMA_IB_IP_PORT_MASK);
	}
}

static bool sa_is_any(const union sv_cm_sockaddr *sa)
{
	uint8_t gid[16];

	if (sa->sa.sa_family == AF_INET)
		return sa->in.sin_addr.s_addr == htonl(INADDR_ANY);
	cm_sa_to_gid(sa, gid); /* IPv6 or AF_IB: all zeros */
	return !memcmp(gid, &in6addr_any, 16);
}

static bool sa_family_ok(const union sv_cm_sockaddr *sa)
{
	return sa->sa.sa_family == AF_INET || sa->sa.sa_family == AF_INET6 ||
	       sa->sa.sa_family == AF_IB;
}

/*
 * An AF_IB address names its service ID itself. As rdma-core builds them
 * (rdma_getaddrinfo), the ID is the IP-style one, port space << 16 |
 * port: the port space must be the id's (a mask without those bits
 * leaves them to us), and the port is the low 16 bits.
 */
static int ib_sid_check(const struct cm_id *id, union sv_cm_sockaddr *sa)
{
	uint64_t sid = be64toh(sa->ib.sib_sid);
	uint64_t mask = be64toh(sa->ib.sib_sid_mask);
	uint64_t ps = (uint64_t)id->ps << 16;

	if (sa->sa.sa_family != AF_IB)
		return 0;
	if ((mask & RDMA_IB_IP_PS_MASK) &&
	    (sid & mask & RDMA_IB_IP_PS_MASK) != (ps & mask))
		return -EINVAL;
	sid = ps | (sid & RDMA_IB_IP_PORT_MASK);
	sa->ib.sib_sid = htobe64(sid);
	sa->ib.sib_sid_mask = htobe64(RDMA_IB_IP_PS_MASK |
				      (sid & RDMA_IB_IP_PORT_MASK ?
					       RDMA_IB_IP_PORT_MASK : 0));
	return 0;
}

/* The RDMA_PS_* in the top of an IB service ID (IBTA annex A11). */
uint64_t cm_service_id(const struct cm_id *id)
{
	return ((uint64_t)id->ps << 16) | cm_sa_port(&id->src);
}

int cm_gid_index(const struct svd_device *dev, const uint8_t *gid)
{
	int i;

	for (i = 0; i < SVD_MAX_GIDS; i++)
		if (dev->port.gids[i].valid &&
		    !memcmp(dev->port.gids[i].gid, gid, 16))
			return i;
	return -1;
}

/*
 * The device whose GID table holds gid. An address can be in two tables:
 * the default device's (every interface) and that of a device bound to
 * the address's interface. The bound one wins, as the kernel picks the
 * RDMA device of the netdev: only it has a wire to the network.
 */
struct svd_device *cm_dev_of_gid(const uint8_t *gid, uint32_t *index)
{
	struct svd_device *dev, *found = NULL;
	int i;

	for (dev = svd_devices(); dev; dev = dev->next) {
		i = cm_gid_index(dev, gid);
		if (i < 0 || (found && !dev->port.netdev[0]))
			continue;
		found = dev;
		*index = (uint32_t)i;
		if (dev->port.netdev[0])
			break;
	}
	return found;
}

/* Attach a local address: its device and GID index (-EADDRNOTAVAIL). */
static int attach_src(struct cm_id *id)
{
	cm_sa_to_gid(&id->src, id->sgid);
	id->dev = cm_dev_of_gid(id->sgid, &id->sgid_index);
	if (!id->dev)
		return -EADDRNOTAVAIL;
	id->mtu = id->dev->port.attr.active_mtu;
	return 0;
}

/* The same family and address (ports aside). */
static bool sa_same_host(const union sv_cm_sockaddr *a,
			 const union sv_cm_sockaddr *b)
{
	uint8_t ga[16], gb[16];

	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	cm_sa_to_gid(a, ga);
	cm_sa_to_gid(b, gb);
	return !memcmp(ga, gb, 16);
}

/* Two bindings clash if they share port and port space and overlap. */
static bool port_clash(const struct cm_id *a, const struct cm_id *b)
{
	if (a == b || !b->bound || a->ps != b->ps ||
	    cm_sa_port(&a->src) != cm_sa_port(&b->src))
		return false;
	if (a->reuseaddr && b->reuseaddr && b->state != CM_LISTEN)
		return false;
	if (sa_is_any(&a->src) || sa_is_any(&b->src))
		return true;
	return sa_same_host(&a->src, &b->src);
}

static bool port_free(const struct cm_id *id)
{
	const struct cm_id *o;

	for (o = cm_ids(); o; o = o->next)
		if (port_clash(id, o))
			return false;
	return true;
}

static int pick_port(struct cm_id *id)
{
	unsigned int span = CM_EPHEMERAL_HI - CM_EPHEMERAL_LO + 1;
	unsigned int start = (unsigned int)random() % span, i;

	for (i = 0; i < span; i++) {
		sa_set_port(&id->src,
			    CM_EPHEMERAL_LO + (start + i) % span);
		if (port_free(id))
			return 0;
	}
	return -EADDRINUSE;
}

static int bind_port(struct cm_id *id)
{
	uint16_t port = cm_sa_port(&id->src);

	if (!port)
		return pick_port(id);
	/* As the kernel: low ports need CAP_NET_BIND_SERVICE (here: root). */
	if (port < 1024 && id->file->uid != 0)
		return -EACCES;
	return port_free(id) ? 0 : -EADDRINUSE;
}

int cm_bind(struct cm_id *id, const union sv_cm_sockaddr *addr)
{
	int ret;

	if (id->bound || id->state != CM_IDLE)
		return -EINVAL;
	if (!sa_family_ok(addr))
		return -EAFNOSUPPORT;
	id->src = *addr;
	ret = ib_sid_check(id, &id->src);
	if (ret)
		return ret;
	if (!sa_is_any(&id->src)) {
		ret = attach_src(id);
		if (ret)
			return ret;
	}
	ret = bind_port(id);
	if (ret) {
		id->dev = NULL;
		return ret;
	}
	id->bound = true;
	id->state = CM_ADDR_BOUND;
	return 0;
}

/* The routing table's source address for dst (connect() on UDP asks). */
static int route_src(const union sv_cm_sockaddr *dst,
		     union sv_cm_sockaddr *src)
{
	union sv_cm_sockaddr probe = *dst;
	socklen_t len = sizeof(*src);
	int fd, ret = 0;

	if (!cm_sa_port(&probe))
		sa_set_port(&probe, 4791); /* any port: nothing is sent */
	fd = socket(dst->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, &probe.sa, dst->sa.sa_family == AF_INET ?
			sizeof(probe.in) : sizeof(probe.in6)) ||
	    getsockname(fd, &src->sa, &len))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * AF_IB has no routing table: the source is a GID of the device that
 * holds the destination GID (the same daemon), else the first GID on
 * the destination's subnet (the same 64-bit prefix), as the kernel picks
 * an IB port by subnet prefix.
 */
static int ib_route_src(const union sv_cm_sockaddr *dst,
			union sv_cm_sockaddr *src)
{
	struct svd_device *dev;
	uint32_t idx = 0;
	int i;

	memset(src, 0, sizeof(*src));
	src->ib.sib_family = AF_IB;
	src->ib.sib_pkey = htobe16(0xffff);
	dev = cm_dev_of_gid((const uint8_t *)&dst->ib.sib_addr, &idx);
	if (dev) {
		memcpy(&src->ib.sib_addr, dev->port.gids[idx].gid, 16);
		return 0;
	}
	for (dev = svd_devices(); dev; dev = dev->next)
		for (i = 0; i < SVD_MAX_GIDS; i++)
			if (dev->port.gids[i].valid &&
			    !memcmp(dev->port.gids[i].gid, &dst->ib.sib_addr,
				    8)) {
				memcpy(&src->ib.sib_addr,
				       dev->port.gids[i].gid, 16);
				return 0;
			}
	return -ENETUNREACH;
}

static int resolve_src(struct cm_id *id, const struct sv_cm_cmd *cmd)
{
	union sv_cm_sockaddr src;
	int ret;

	if (id->bound)
		return id->dev ? 0 : attach_src(id);
	if (cmd->src.sa.sa_family) {
		src = cmd->src;
	} else if (cmd->dst.sa.sa_family == AF_IB) {
		ret = ib_route_src(&cmd->dst, &src);
		if (ret)
			return ret;
	} else {
		ret = route_src(&cmd->dst, &src);
		if (ret)
			return ret;
		sa_set_port(&src, 0);
	}
	return cm_bind(id, &src);
}

/*
 * Can the id's device reach the destination? A GID of this daemon's
 * devices, a multicast group, or anything when the device has a wire.
 * A device without one (the default device) has no network behind it.
 */
static bool reachable(const struct cm_id *id)
{
	uint32_t idx;

	return id->dev->wire || svd_gid_is_mcast(id->dgid) ||
	       cm_dev_of_gid(id->dgid, &idx);
}

/*
 * Does the destination need a neighbour? Only when it is reached over
 * the device's netdev: not a GID of this daemon, not multicast.
 */
static bool needs_neigh(const struct cm_id *id)
{
	uint32_t idx;

	return id->dev->port.netdev[0] &&
	       (id->dst.sa.sa_family == AF_INET ||
		id->dst.sa.sa_family == AF_INET6) &&
	       !svd_gid_is_mcast(id->dgid) && !cm_dev_of_gid(id->dgid, &idx);
}

/* The end of address resolution: ADDR_RESOLVED, or ADDR_ERROR (status). */
void cm_addr_done(struct cm_id *id, int status)
{
	id->deadline_ms = 0;
	id->state = status ? CM_ADDR_BOUND : CM_ADDR_RESOLVED;
	cm_emit(id, status ? RDMA_CM_EVENT_ADDR_ERROR :
			     RDMA_CM_EVENT_ADDR_RESOLVED,
		status, NULL, NULL);
}

int cm_resolve_addr(struct cm_id *id, const struct sv_cm_cmd *cmd)
{
	int ret;

	if (!sa_family_ok(&cmd->dst))
		return -EAFNOSUPPORT;
	if (id->state != CM_IDLE && id->state != CM_ADDR_BOUND)
		return -EINVAL;
	ret = resolve_src(id, cmd);
	if (ret)
		return ret;
	id->dst = cmd->dst;
	ret = ib_sid_check(id, &id->dst);
	if (ret)
		return ret;
	cm_sa_to_gid(&id->dst, id->dgid);
	/*
	 * As the kernel when no RDMA device serves the route. No device at
	 * all: a source given as the wildcard address binds to none, and an
	 * id without one must never reach ROUTE_RESOLVED (fuzz_cm: a REQ
	 * built from a NULL device).
	 */
	if (!id->dev || !reachable(id)) {
		cm_addr_done(id, -ENODEV);
		return 0;
	}
	if (needs_neigh(id) && cm_neigh_query(id, cmd->arg))
		return 0; /* ADDR_QUERY: cm_neigh.c or the timer ends it */
	cm_addr_done(id, 0);
	return 0;
}

int cm_resolve_route(struct cm_id *id, int timeout_ms)
{
	if (id->state != CM_ADDR_RESOLVED && id->state != CM_ROUTE_RESOLVED)
		return -EINVAL;
	/* One path: this port to the destination GID, no SA to ask. */
	id->have_route = true;
	id->state = CM_ROUTE_RESOLVED;
	cm_emit(id, RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, NULL);
	return 0;
}

int cm_listen(struct cm_id *id, int backlog)
{
	union sv_cm_sockaddr any = { .in = { .sin_family = AF_INET } };
	int ret;

	if (id->state == CM_LISTEN) {
		id->backlog = backlog > 0 ? backlog : 1024;
		return 0;
	}
	if (!id->bound) {
		ret = cm_bind(id, &any);
		if (ret)
			return ret;
	}
	if (id->state != CM_ADDR_BOUND)
		return -EINVAL;
	id->reuseaddr = false; /* a listener owns its port */
	if (!port_free(id))
		return -EADDRINUSE;
	id->backlog = backlog > 0 ? backlog : 1024;
	id->state = CM_LISTEN;
	return 0;
}

static bool listener_matches(const struct cm_id *l,
			     const union sv_cm_sockaddr *dst)
{
	const union sv_cm_sockaddr *a = &l->src;

	/* AF_IB requests (no IP header) reach only AF_IB listeners. */
	if ((a->sa.sa_family == AF_IB) != (dst->sa.sa_family == AF_IB))
		return false;
	if (sa_is_any(a))
		return a->sa.sa_family == dst->sa.sa_family ||
		       (a->sa.sa_family == AF_INET6 && !l->afonly);
	return sa_same_host(a, dst);
}

struct cm_id *cm_find_listener(uint64_t service_id,
			       const union sv_cm_sockaddr *dst,
			       const struct svd_device *dev)
{
	struct cm_id *l;

	for (l = cm_ids(); l; l = l->next) {
		if (l->state != CM_LISTEN || cm_service_id(l) != service_id)
			continue;
		if (l->dev && l->dev != dev)
			continue;
		if (listener_matches(l, dst))
			return l;
	}
	return NULL;
}

static int opt_int(const struct sv_cm_cmd *cmd, int *val)
{
	if (cmd->optlen != sizeof(int))
		return -EINVAL;
	memcpy(val, cmd->optval, sizeof(int));
	return 0;
}

static int set_id_option(struct cm_id *id, const struct sv_cm_cmd *cmd)
{
	int v, ret = 0;

	switch (cmd->optname) {
	case RDMA_OPTION_ID_TOS:
		if (cmd->optlen != 1)
			return -EINVAL;
		id->tos = cmd->optval[0];
		id->tos_set = true;
		return 0;
	case RDMA_OPTION_ID_REUSEADDR:
		ret = opt_int(cmd, &v);
		if (!ret && id->bound && id->state != CM_IDLE && v != id->reuseaddr)
			ret = -EINVAL; /* must be set before bind */
		if (!ret)
			id->reuseaddr = v;
		return ret;
	case RDMA_OPTION_ID_AFONLY:
		ret = opt_int(cmd, &v);
		if (!ret && id->bound)
			ret = -EINVAL;
		if (!ret)
			id->afonly = v;
		return ret;
	case RDMA_OPTION_ID_ACK_TIMEOUT:
		if (cmd->optlen != 1)
			return -EINVAL;
		id->ack_timeout = cmd->optval[0] > 31 ? 31 : cmd->optval[0];
		return 0;
	}
	return -ENOSYS;
}

uint8_t cm_hop_limit(const struct cm_id *id)
{
	return id->hop_limit ? id->hop_limit : CM_HOP_LIMIT;
}

/* The primary path's MTU, no more than the port's (enum ibv_mtu). */
static int path_mtu(const struct cm_id *id, uint8_t mtu_sel)
{
	uint8_t mtu = mtu_sel & 0x3f;

	if (mtu < IBV_MTU_256 || mtu > IBV_MTU_4096)
		return -EINVAL;
	return mtu < id->dev->port.attr.active_mtu ?
		       mtu : id->dev->port.attr.active_mtu;
}

/*
 * RDMA_OPTION_IB_PATH: the application gives the route (a path record it
 * got elsewhere) instead of calling rdma_resolve_route; as the kernel's
 * ucma, the id then gets ROUTE_RESOLVED. The library passes the one
 * primary path record (struct ibv_path_record, network order); its
 * source GID must be the id's own, on the bound device.
 */
static int set_ib_path(struct cm_id *id, const struct sv_cm_cmd *cmd)
{
	struct ibv_path_record pr;
	int mtu;

	if (cmd->optlen != sizeof(pr))
		return -EINVAL;
	if ((id->state != CM_ADDR_RESOLVED && id->state != CM_ROUTE_RESOLVED) ||
	    !id->dev)
		return -EINVAL;
	memcpy(&pr, cmd->optval, sizeof(pr));
	mtu = path_mtu(id, pr.mtu);
	if (mtu < 0 || memcmp(pr.sgid.raw, id->sgid, 16) ||
	    (be16toh(pr.pkey) & 0x7fff) != 0x7fff)
		return -EINVAL;
	memcpy(id->dgid, pr.dgid.raw, 16);
	id->tos = pr.tclass;
	id->hop_limit = be32toh(pr.flowlabel_hoplimit) & 0xff;
	id->mtu = (uint8_t)mtu;
	id->have_route = true;
	id->state = CM_ROUTE_RESOLVED;
	cm_emit(id, RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, NULL);
	return 0;
}

int cm_set_option(struct cm_id *id, const struct sv_cm_cmd *cmd)
{
	if (cmd->optlen > sizeof(cmd->optval))
		return -EINVAL;
	if (cmd->level == RDMA_OPTION_ID)
		return set_id_option(id, cmd);
	if (cmd->level == RDMA_OPTION_IB && cmd->optname == RDMA_OPTION_IB_PATH)
		return set_ib_path(id, cmd);
	return -ENOSYS;
}
