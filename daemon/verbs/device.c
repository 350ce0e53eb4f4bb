// SPDX-License-Identifier: MIT
/*
 * The device model: what a softverbs device reports (device and port
 * attributes, GID table) and the fact files that stand in for sysfs.
 *
 * A softverbs device has one port that is always ACTIVE. By default it is
 * a RoCEv2-like Ethernet device whose GIDs come from the host's IP
 * addresses, so that rdma-core consumers that pick "a RoCE v2 GID with an
 * IP" (rdma_cm, pyverbs tests) find one. A "type ib" device has an
 * InfiniBand port instead: a LID unique among the daemon's devices, the
 * daemon as its subnet manager, and one GID, the default subnet prefix with
 * the port GUID. Its addresses need no GRH.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "svd.h"
#include "svd_mcast.h"
#include "svd_nic.h"

#define SVD_FW_VER ((1ULL << 32) | (0ULL << 16) | 1ULL) /* 1.0.1 */

/* FNV-1a: only needs to spread bits, not resist attacks. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * A GUID unique per device instance: two daemons on one host (or a device
 * deleted and re-added) must not collide, or CM/path resolution would mix
 * them up. The locally administered bit marks it as not from an OUI.
 */
/*
 * Doorbell pages per device: SOFTVERBS_MAX_DB_PAGES (2..65536), default
 * 1024. Small values let tests and users see resource-domain exhaustion.
 */
static uint32_t dev_db_pages(void)
{
	const char *s = getenv("SOFTVERBS_MAX_DB_PAGES");
	unsigned long v = s ? strtoul(s, NULL, 0) : 0;

	return v >= 2 && v <= 65536 ? (uint32_t)v : 1024;
}

static uint64_t make_guid(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct timespec ts;
	char host[256] = "";
	pid_t pid = getpid();

	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	h = fnv1a(h, host, strlen(host));
	h = fnv1a(h, name, strlen(name));
	h = fnv1a(h, &pid, sizeof(pid));
	h = fnv1a(h, &ts, sizeof(ts));
	/* Byte 0 (most significant): local bit on, group bit off. */
	h &= ~(0x01ULL << 56);
	h |= 0x02ULL << 56;
	return h;
}

static void init_device_attr(struct svd_device *dev)
{
	struct ib_uverbs_query_device_resp *a = &dev->attr;

	memset(a, 0, sizeof(*a));
	a->fw_ver = SVD_FW_VER;
	a->node_guid = htobe64(dev->node_guid);
	a->sys_image_guid = htobe64(dev->sys_image_guid);
	a->max_mr_size = UINT64_MAX;
	a->page_size_cap = 0xfffff000; /* 4 KiB and up */
	a->vendor_id = SV_VENDOR_ID;
	a->vendor_part_id = SV_VENDOR_PART_ID;
	a->hw_ver = 1;
	a->max_qp = 16384;
	a->max_qp_wr = 16384;
	a->device_cap_flags = IB_UVERBS_DEVICE_CURR_QP_STATE_MOD |
			      IB_UVERBS_DEVICE_SHUTDOWN_PORT |
			      IB_UVERBS_DEVICE_PORT_ACTIVE_EVENT |
			      IB_UVERBS_DEVICE_SYS_IMAGE_GUID |
			      IB_UVERBS_DEVICE_RC_RNR_NAK_GEN |
			      IB_UVERBS_DEVICE_SRQ_RESIZE |
			      IB_UVERBS_DEVICE_N_NOTIFY_CQ |
			      IB_UVERBS_DEVICE_MEM_WINDOW |
			      IB_UVERBS_DEVICE_XRC |
			      IB_UVERBS_DEVICE_MEM_MGT_EXTENSIONS |
			      IB_UVERBS_DEVICE_MEM_WINDOW_TYPE_2B;
	a->max_sge = 32;
	a->max_sge_rd = 32;
	a->max_cq = 16384;
	a->max_cqe = 65535;
	a->max_mr = 65536;
	a->max_pd = 65536;
	a->max_qp_rd_atom = 128;
	a->max_res_rd_atom = 128 * 16384;
	a->max_qp_init_rd_atom = 128;
	a->atomic_cap = 1; /* IBV_ATOMIC_HCA */
	a->max_mw = 65536;
	a->max_mcast_grp = SVD_MCAST_MAX_GRP; /* enforced by std_mcast.c */
	a->max_mcast_qp_attach = SVD_MCAST_MAX_QP_ATTACH;
	a->max_total_mcast_qp_attach =
		SVD_MCAST_MAX_GRP * SVD_MCAST_MAX_QP_ATTACH;
	a->max_ah = 65536;
	a->max_srq = 16384;
	a->max_srq_wr = 16384;
	a->max_srq_sge = 32;
	a->max_pkeys = 1;
	a->local_ca_ack_delay = 15;
	a->phys_port_cnt = 1;
}

static void init_port_attr(struct svd_port *p, bool ib)
{
	struct ib_uverbs_query_port_resp *a = &p->attr;

	memset(a, 0, sizeof(*a));
	/* RoCE: CM supported, GIDs come from IPs. IB: CM supported. */
	a->port_cap_flags = ib ? 1U << 16 : (1U << 16) | (1U << 26);
	a->max_msg_sz = 1U << 30;
	a->gid_tbl_len = SVD_MAX_GIDS;
	a->pkey_tbl_len = 1;
	a->state = 4; /* IBV_PORT_ACTIVE */
	a->max_mtu = 5; /* IBV_MTU_4096 */
	a->active_mtu = 5;
	a->max_vl_num = 1;
	a->active_width = 2; /* 4X */
	a->active_speed = 32; /* EDR: 25 Gb/s per lane */
	a->phys_state = 5; /* LinkUp */
	a->link_layer = ib ? SVD_LINK_IB : SVD_LINK_ETH;
	a->sm_lid = ib ? SVD_SM_LID : 0; /* the LID comes with the device list */
}

static bool gid_present(const struct svd_port *p, const uint8_t *gid)
{
	int i;

	for (i = 0; i < SVD_MAX_GIDS; i++)
		if (p->gids[i].valid && !memcmp(p->gids[i].gid, gid, 16))
			return true;
	return false;
}

static void gid_add(struct svd_port *p, const uint8_t *gid, uint32_t ifindex)
{
	int i;

	if (gid_present(p, gid))
		return;
	for (i = 0; i < SVD_MAX_GIDS; i++) {
		struct svd_gid_entry *e = &p->gids[i];

		if (e->valid)
			continue;
		memcpy(e->gid, gid, 16);
		e->gid_type = p->attr.link_layer == SVD_LINK_IB ?
				      IB_UVERBS_GID_TYPE_IB :
				      IB_UVERBS_GID_TYPE_ROCE_V2;
		e->netdev_ifindex = ifindex;
		e->valid = true;
		return;
	}
}

/* An interface address as a GID: IPv4 maps to ::ffff:a.b.c.d (RoCEv2). */
static bool addr_to_gid(const struct sockaddr *sa, uint8_t *gid)
{
	memset(gid, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		gid[10] = 0xff;
		gid[11] = 0xff;
		memcpy(gid + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(gid, &in6->sin6_addr, 16);
		return true;
	}
	return false;
}

/* Index 0: fe80::/64 with the GUID as interface id, like RoCE's MAC one. */
static void link_local_gid(const struct svd_device *dev, uint8_t *gid)
{
	uint64_t be = htobe64(dev->node_guid);

	memset(gid, 0, 16);
	gid[0] = 0xfe;
	gid[1] = 0x80;
	memcpy(gid + 8, &be, 8);
	/* IB: the default subnet prefix plus the port GUID, exactly. */
	if (dev->port.attr.link_layer != SVD_LINK_IB)
		gid[8] ^= 0x02; /* modified EUI-64: flip the U/L bit back */
}

/*
 * A GID keeps its index while its address exists, as in the kernel's GID
 * cache: a QP or AH made with index N must not start sending from another
 * address because an earlier one went away. Entries whose address is gone
 * are cleared (a hole); new addresses fill the first hole.
 */
static void gids_keep(struct svd_port *p, const struct svd_port *fresh)
{
	struct svd_gid_entry before[SVD_MAX_GIDS];
	int i;

	memcpy(before, p->gids, sizeof(before));

	for (i = 1; i < SVD_MAX_GIDS; i++)
		if (p->gids[i].valid && !gid_present(fresh, p->gids[i].gid))
			memset(&p->gids[i], 0, sizeof(p->gids[i]));
	for (i = 0; i < SVD_MAX_GIDS; i++)
		if (fresh->gids[i].valid)
			gid_add(p, fresh->gids[i].gid,
				fresh->gids[i].netdev_ifindex);
	/* Libraries check modifies against the table they saw (qp_rules.h). */
	if (memcmp(before, p->gids, sizeof(before)))
		p->gid_gen++;
}

int svd_dev_refresh_gids(struct svd_device *dev)
{
	struct svd_port *p = &dev->port, *fresh;
	const char *nd = p->netdev[0] ? p->netdev : NULL;
	struct ifaddrs *ifa, *i;
	uint32_t ifindex = nd ? if_nametoindex(nd) : 0;
	uint8_t gid[16];

	if (nd && !ifindex)
		return -ENODEV;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	if (getifaddrs(&ifa)) {
		free(fresh);
		return -errno;
	}
	fresh->attr.link_layer = p->attr.link_layer;
	link_local_gid(dev, gid);
	gid_add(fresh, gid, ifindex);
	/* An IB port's only GID is its subnet prefix plus port GUID. */
	for (i = p->attr.link_layer == SVD_LINK_IB ? NULL : ifa; i;
	     i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
			continue;
		if (nd && strcmp(i->ifa_name, nd))
			continue;
		if (!addr_to_gid(i->ifa_addr, gid))
			continue;
		gid_add(fresh, gid, if_nametoindex(i->ifa_name));
	}
	freeifaddrs(ifa);
	gids_keep(p, fresh);
	free(fresh);
	return 0;
}

struct svd_device *svd_dev_create(const char *name, const char *netdev,
				  bool ib)
{
	struct svd_device *dev;
	int ret;

	if (!name || strlen(name) >= SVD_NAME_MAX)
		return svd_err_ptr(-EINVAL);
	if (netdev && (strlen(netdev) >= SVD_NAME_MAX || ib))
		return svd_err_ptr(-EINVAL); /* IB ports have no netdev */
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return svd_err_ptr(-ENOMEM);
	strcpy(dev->name, name);
	if (netdev && *netdev)
		strcpy(dev->port.netdev, netdev);
	dev->listen_fd = -1;
	dev->nic = &svd_soft_nic_ops;
	dev->node_guid = make_guid(name);
	dev->sys_image_guid = dev->node_guid;
	dev->next_qpn = 0x11; /* QPN 0/1 are special; start like hardware */
	dev->next_key = 1;
	dev->max_db_pages = dev_db_pages();
	pthread_mutex_init(&dev->lock, NULL);
	init_device_attr(dev);
	init_port_attr(&dev->port, ib);
	ret = svd_dev_refresh_gids(dev);
	if (ret) {
		svd_dev_destroy(dev);
		return svd_err_ptr(ret);
	}
	return dev;
}

void svd_dev_destroy(struct svd_device *dev)
{
	if (!dev)
		return;
	if (dev->listen_fd >= 0)
		close(dev->listen_fd);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

/*
 * Give an IB port the lowest LID that no device on the list 'others' (the
 * daemon's devices) holds, before the device joins that list.
 */
int svd_dev_assign_lid(struct svd_device *dev,
		       const struct svd_device *others)
{
	const struct svd_device *d;
	uint32_t lid;

	if (dev->port.attr.link_layer != SVD_LINK_IB)
		return 0;
	for (lid = SVD_SM_LID + 1; lid <= SVD_MAX_UCAST_LID; lid++) {
		for (d = others; d; d = d->next)
			if (d != dev && d->port.attr.lid == lid)
				break;
		if (!d) {
			dev->port.attr.lid = (uint16_t)lid;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Address resolution for the engine: does a packet for (dlid, dgid) land on
 * this device's port? A RoCE port is reached through its GIDs, which are
 * the host's, so everything sent on it is local -- unless the device is
 * bound to an interface: then only its own GIDs (and multicast) are, and
 * the rest goes on the wire (docs/wire.md). An IB port is reached by
 * its LID, or by its GID when the address has a GRH (dgid non-NULL); a LID
 * of another device, or of nobody, is not delivered here.
 */
bool svd_dev_addr_is_local(const struct svd_device *dev, uint16_t dlid,
			   const uint8_t *dgid)
{
	const struct svd_port *p = &dev->port;

	if (p->attr.link_layer != SVD_LINK_IB && (!p->netdev[0] || !dgid))
		return true;
	if (dgid && p->attr.link_layer != SVD_LINK_IB)
		return svd_gid_is_mcast(dgid) || gid_present(p, dgid);
	if (dgid)
		return !memcmp(dgid, p->gids[0].gid, 16) ||
		       (dgid[0] == 0xff); /* multicast: the port's groups */
	return dlid == p->attr.lid || dlid == 0xffff;
}
