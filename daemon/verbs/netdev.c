// SPDX-License-Identifier: MIT
/*
 * Binding devices to network interfaces, as RoCE does: a device's GID
 * table follows the addresses of its interface (IPv4 as ::ffff:a.b.c.d,
 * IPv6 as is), added and removed as they change, and its port's active
 * MTU follows the interface's MTU. Changes come from a NETLINK_ROUTE
 * socket subscribed to address and link notifications, which needs no
 * privilege; the main loop (serve.c) watches it and calls
 * svd_netdev_refresh() for each device when something changed. The NIC
 * learns of it through nic->port_changed (its wire rebinds its sockets).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svd.h"
#include "svd_nic.h"

/* What RoCEv2 puts around the IBTA payload: IPv6 + UDP + BTH + ... + ICRC. */
#define ROCE_OVERHEAD 80

int svd_netdev_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
			     RTMGRP_IPV6_IFADDR,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Drain the socket: true if an address or a link changed (or messages
 * were lost: ENOBUFS, so everything must be re-read anyway).
 */
bool svd_netdev_event(int fd)
{
	char buf[8192] __attribute__((aligned(4)));
	bool changed = false;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) != 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return changed || errno == ENOBUFS;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == RTM_NEWADDR ||
			    h->nlmsg_type == RTM_DELADDR ||
			    h->nlmsg_type == RTM_NEWLINK ||
			    h->nlmsg_type == RTM_DELLINK)
				changed = true;
	}
	return changed;
}

/* The largest IB MTU whose packets fit the interface's MTU. */
static uint8_t ib_mtu_of(int mtu)
{
	uint8_t m = 5; /* IBV_MTU_4096 */

	while (m > 1 && (128 << m) > mtu - ROCE_OVERHEAD)
		m--;
	return m;
}

static int if_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = -1;

	if (fd < 0)
		return -1;
	if (strlen(ifname) < IFNAMSIZ)
		memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	if (ifr.ifr_name[0] && !ioctl(fd, SIOCGIFMTU, &ifr))
		mtu = ifr.ifr_mtu;
	close(fd);
	return mtu;
}

/* Re-read a device's addresses and MTU; tell its NIC. */
int svd_netdev_refresh(struct svd_device *dev)
{
	struct svd_port *p = &dev->port;
	int ret, mtu;

	if (p->attr.link_layer == SVD_LINK_IB)
		return 0;
	if (p->netdev[0]) {
		mtu = if_mtu(p->netdev);
		if (mtu < 0)
			return -ENODEV; /* the interface went away */
		p->attr.active_mtu = ib_mtu_of(mtu);
	}
	ret = svd_dev_refresh_gids(dev);
	if (!ret)
		ret = svd_dev_write_facts(dev, svd_rundir());
	if (!ret && dev->nic->port_changed)
		ret = dev->nic->port_changed(dev);
	return ret;
}
