// SPDX-License-Identifier: MIT
/*
 * Address resolution to a host this daemon's device cannot reach: the
 * test's daemon has only the default device, which holds the host's
 * addresses but has no wire (no network behind it). Resolving another
 * address on a local interface's subnet (routable, not ours) gives
 * ADDR_ERROR with -ENODEV at once, as the kernel's rdma_cm does when no
 * RDMA device serves the route, instead of a REQ lost for a minute. The
 * id stays bound and resolves a local address afterwards; a multicast
 * group still resolves (mckey does that before joining).
 * 77 when the machine has no non-loopback IPv4 subnet to pick from.
 */
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>

#include "cm_test.h"

static bool is_local(struct ifaddrs *all, in_addr_t a)
{
	struct ifaddrs *i;

	for (i = all; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a)
			return true;
	return false;
}

/* Another host on the subnet of a local IPv4 interface (host order). */
static bool neighbour(struct sockaddr_in *out)
{
	struct ifaddrs *all, *i;
	uint32_t a, m, c;
	bool found = false;

	SVT_CHECK(getifaddrs(&all) == 0);
	for (i = all; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    !i->ifa_netmask || (i->ifa_flags & IFF_LOOPBACK) ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		for (c = (a & m) + 1; !found && (c & m) == (a & m) &&
				      (c | m) != 0xffffffff; c++)
			found = !is_local(all, htonl(c));
		if (found) {
			*out = cmt_addr(7471);
			out->sin_addr.s_addr = htonl(c - 1);
		}
	}
	freeifaddrs(all);
	return found;
}

int main(void)
{
	struct rdma_event_channel *ch;
	struct sockaddr_in far, lo = cmt_addr(7471), group = cmt_addr(0);
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	struct svt_daemon d;
	char str[INET_ADDRSTRLEN];

	if (!neighbour(&far)) {
		printf("SKIP: no IPv4 subnet on a non-loopback interface\n");
		return SVT_SKIP;
	}
	svt_daemon_start(&d);
	ch = rdma_create_event_channel();
	SVT_CHECK(ch != NULL);
	SVT_CHECK(rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) == 0);
	SVT_CHECK(rdma_resolve_addr(id, NULL, (struct sockaddr *)&far,
				    2000) == 0);
	ev = cmt_expect(ch, RDMA_CM_EVENT_ADDR_ERROR);
	SVT_CHECK(ev->status == -ENODEV);
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_get_src_port(id) != 0); /* still bound */
	SVT_CHECK(rdma_resolve_addr(id, NULL, (struct sockaddr *)&lo,
				    2000) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	SVT_CHECK(rdma_destroy_id(id) == 0);
	SVT_CHECK(rdma_create_id(ch, &id, NULL, RDMA_PS_UDP) == 0);
	group.sin_addr.s_addr = htonl(0xef010101); /* 239.1.1.1 */
	SVT_CHECK(rdma_resolve_addr(id, (struct sockaddr *)&lo,
				    (struct sockaddr *)&group, 2000) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	SVT_CHECK(rdma_destroy_id(id) == 0);
	rdma_destroy_event_channel(ch);
	svt_daemon_stop(&d);
	printf("PASS: %s: ADDR_ERROR (-ENODEV); the id then resolves 127.0.0.1\n",
	       inet_ntop(AF_INET, &far.sin_addr, str, sizeof(str)));
	return SVT_PASS;
}
