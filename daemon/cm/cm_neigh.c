// SPDX-License-Identifier: MIT
/*
 * Neighbour resolution for rdma_resolve_addr on a device bound to a
 * netdev, as the kernel's rdma_cm does for RoCE: the next hop (the
 * destination, or its gateway) must have a link-layer address before
 * ADDR_RESOLVED; if it gets none within the application's timeout_ms,
 * the id gets ADDR_ERROR with -ETIMEDOUT.
 *
 * The host kernel does the ARP/ND: a one-byte UDP datagram to the
 * destination's discard port starts it (no privilege needed), and the
 * kernel's neighbour table, read over rtnetlink, says when it is done.
 * Nothing here blocks: the id waits in CM_ADDR_QUERY with a deadline on
 * the CM's timer, and one netlink socket in the daemon's loop, joined to
 * RTNLGRP_NEIGH, hears each entry change (and the answer to our
 * RTM_GETNEIGH for an entry that was already there).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>

#include "cm.h"

#define CM_DISCARD_PORT 9
/* The states with a usable link-layer address (the kernel's NUD_VALID). */
#define CM_NUD_VALID (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | \
		      NUD_PROBE | NUD_STALE | NUD_DELAY)

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct rtmsg rt;
		struct ndmsg nd;
	};
	char attrs[64];
};

static int nl_fd = -1;
static void *nl_tag;

static unsigned int addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static void add_attr(struct nlmsghdr *nh, unsigned short type,
		     const void *data, unsigned int len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh +
					       NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* The next hop from RTM_NEWROUTE: its interface, and the gateway if any. */
static int parse_route(struct nlmsghdr *m, size_t len, struct cm_id *id)
{
	struct rtmsg *rt = NLMSG_DATA(m);
	struct rtattr *a;
	int alen;

	if (!NLMSG_OK(m, len) || m->nlmsg_type != RTM_NEWROUTE)
		return -ENETUNREACH;
	if (rt->rtm_type != RTN_UNICAST)
		return -EHOSTUNREACH; /* local, broadcast...: no neighbour */
	alen = (int)RTM_PAYLOAD(m);
	for (a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&id->nh_ifindex, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_GATEWAY &&
			 RTA_PAYLOAD(a) == addr_len(id->nh_family))
			memcpy(id->nh_addr, RTA_DATA(a), RTA_PAYLOAD(a));
	}
	return id->nh_ifindex > 0 ? 0 : -ENETUNREACH;
}

/*
 * Ask the routing table for the next hop. rtnetlink answers in send()'s
 * own context, so the reply is queued before recv() and never waited for.
 */
static int next_hop(struct cm_id *id)
{
	struct nl_req req = { 0 };
	char buf[4096] __attribute__((aligned(4)));
	unsigned int alen = addr_len(id->nh_family);
	ssize_t n = -1;
	int fd;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.rt.rtm_family = id->nh_family;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	add_attr(&req.nh, RTA_DST, id->nh_addr, alen);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) >= 0)
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	close(fd);
	if (n < 0)
		return -ENETUNREACH;
	return parse_route((struct nlmsghdr *)buf, (size_t)n, id);
}

/* A datagram to the discard port: the kernel resolves its next hop. */
static void nudge(const union sv_cm_sockaddr *dst)
{
	union sv_cm_sockaddr to = *dst;
	socklen_t len;
	int fd;

	if (to.sa.sa_family == AF_INET) {
		to.in.sin_port = htons(CM_DISCARD_PORT);
		len = sizeof(to.in);
	} else {
		to.in6.sin6_port = htons(CM_DISCARD_PORT);
		len = sizeof(to.in6);
	}
	fd = socket(to.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return;
	sendto(fd, "", 1, MSG_DONTWAIT, &to.sa, len);
	close(fd);
}

/* Our RTM_GETNEIGH: an entry already resolved answers it at once. */
static void ask_neigh(const struct cm_id *id)
{
	struct nl_req req = { 0 };

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nd.ndm_family = id->nh_family;
	req.nd.ndm_ifindex = id->nh_ifindex;
	add_attr(&req.nh, NDA_DST, id->nh_addr, addr_len(id->nh_family));
	send(nl_fd, &req, req.nh.nlmsg_len, MSG_DONTWAIT);
}

static bool waits_for(const struct cm_id *id, const struct ndmsg *nd,
		      const void *dst, unsigned int len)
{
	return id->state == CM_ADDR_QUERY && id->nh_family == nd->ndm_family &&
	       id->nh_ifindex == nd->ndm_ifindex &&
	       len == addr_len(id->nh_family) && !memcmp(id->nh_addr, dst, len);
}

/*
 * One neighbour entry, new or changed. A valid one resolves the ids
 * waiting for it. An incomplete or failed one is not final: as in the
 * kernel, only the application's timeout ends the wait.
 */
static void neigh_changed(struct nlmsghdr *m)
{
	struct ndmsg *nd = NLMSG_DATA(m);
	struct rtattr *a;
	struct cm_id *id;
	int alen;

	if (m->nlmsg_type != RTM_NEWNEIGH ||
	    m->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)) ||
	    !(nd->ndm_state & CM_NUD_VALID))
		return;
	alen = (int)(m->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	for (a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type != NDA_DST)
			continue;
		for (id = cm_ids(); id; id = id->next)
			if (waits_for(id, nd, RTA_DATA(a), RTA_PAYLOAD(a)))
				cm_addr_done(id, 0);
	}
}

/* Messages were lost (the socket overflowed): ask again for every id. */
static void ask_all(void)
{
	struct cm_id *id;

	for (id = cm_ids(); id; id = id->next)
		if (id->state == CM_ADDR_QUERY)
			ask_neigh(id);
}

static void on_netlink(struct svd_ev_hook *h)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *m;
	ssize_t n;
	size_t len;

	while ((n = recv(nl_fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			if (errno == ENOBUFS) {
				ask_all();
				continue;
			}
			break;
		}
		len = (size_t)n;
		for (m = (struct nlmsghdr *)buf; NLMSG_OK(m, len);
		     m = NLMSG_NEXT(m, len))
			neigh_changed(m);
	}
	cm_settle();
}

static struct svd_ev_hook nl_hook = { .fn = on_netlink };

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_NEIGH };
	int fd;

	if (nl_fd >= 0)
		return 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    svd_ev_watch(fd, &nl_hook, &nl_tag)) {
		close(fd);
		return -EIO;
	}
	nl_fd = fd;
	return 0;
}

/*
 * Start resolving the id's destination: 1 when the id now waits
 * (ADDR_QUERY, ending in cm_addr_done), 0 when there is no neighbour to
 * wait for (a local address) or the host gives no way to watch one;
 * then the address resolves at once, as before.
 */
int cm_neigh_query(struct cm_id *id, int timeout_ms)
{
	id->nh_family = id->dst.sa.sa_family;
	id->nh_ifindex = 0;
	memcpy(id->nh_addr, id->nh_family == AF_INET ? id->dgid + 12 : id->dgid,
	       addr_len(id->nh_family));
	if (next_hop(id) || nl_open())
		return 0;
	nudge(&id->dst);
	id->state = CM_ADDR_QUERY;
	id->deadline_ms = cm_now_ms() + (uint64_t)(timeout_ms > 0 ?
						   timeout_ms : 1);
	ask_neigh(id);
	return 1;
}

void cm_neigh_stop(void)
{
	if (nl_fd < 0)
		return;
	svd_ev_unwatch(nl_fd, nl_tag);
	close(nl_fd);
	nl_fd = -1;
}
