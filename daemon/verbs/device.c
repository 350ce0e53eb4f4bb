// SPDX-License-Identifier: MIT
/*
 * The device model: what a softverbs device reports (device and port
 * attributes, GID table) and the fact files that stand in for sysfs.
 *
 * A softverbs device is a RoCEv2-like Ethernet device with one port that is
 * always ACTIVE. Its GIDs come from the host's IP addresses, so that
 * rdma-core consumers that pick "a RoCE v2 GID with an IP" (rdma_cm,
 * pyverbs tests) find one.
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
	a->max_mcast_grp = 8192;
	a->max_mcast_qp_attach = 56;
	a->max_total_mcast_qp_attach = 8192 * 56;
	a->max_ah = 65536;
	a->max_srq = 16384;
	a->max_srq_wr = 16384;
	a->max_srq_sge = 32;
	a->max_pkeys = 1;
	a->local_ca_ack_delay = 15;
	a->phys_port_cnt = 1;
}

static void init_port_attr(struct svd_port *p)
{
	struct ib_uverbs_query_port_resp *a = &p->attr;

	memset(a, 0, sizeof(*a));
	/* What a RoCE NIC reports: CM supported, GIDs come from IPs. */
	a->port_cap_flags = (1U << 16) | (1U << 26);
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
	a->link_layer = 2; /* IBV_LINK_LAYER_ETHERNET */
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
		e->gid_type = IB_UVERBS_GID_TYPE_ROCE_V2;
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
	gid[8] ^= 0x02; /* modified EUI-64: flip the U/L bit back */
}

int svd_dev_refresh_gids(struct svd_device *dev)
{
	struct svd_port *p = &dev->port;
	const char *nd = p->netdev[0] ? p->netdev : NULL;
	struct ifaddrs *ifa, *i;
	uint32_t ifindex = nd ? if_nametoindex(nd) : 0;
	uint8_t gid[16];

	if (nd && !ifindex)
		return -ENODEV;
	if (getifaddrs(&ifa))
		return -errno;
	memset(p->gids, 0, sizeof(p->gids));
	link_local_gid(dev, gid);
	gid_add(p, gid, ifindex);
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
			continue;
		if (nd && strcmp(i->ifa_name, nd))
			continue;
		if (!addr_to_gid(i->ifa_addr, gid))
			continue;
		gid_add(p, gid, if_nametoindex(i->ifa_name));
	}
	freeifaddrs(ifa);
	return 0;
}

struct svd_device *svd_dev_create(const char *name, const char *netdev)
{
	struct svd_device *dev;
	int ret;

	if (!name || strlen(name) >= SVD_NAME_MAX)
		return svd_err_ptr(-EINVAL);
	if (netdev && strlen(netdev) >= SVD_NAME_MAX)
		return svd_err_ptr(-EINVAL);
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
	dev->max_db_pages = 1024;
	pthread_mutex_init(&dev->lock, NULL);
	init_device_attr(dev);
	init_port_attr(&dev->port);
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

/* ---------------------------------------------------------------------- */
/* Fact files                                                              */
/* ---------------------------------------------------------------------- */

static int put_fact(const char *dir, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int put_fact(const char *dir, const char *rel, const char *fmt, ...)
{
	char path[512], tmp[520];
	va_list ap;
	FILE *f;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	/* Write then rename: readers never see a half-written fact. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) || rename(tmp, path)) {
		int err = -errno;

		unlink(tmp);
		return err;
	}
	return 0;
}

static int mkdir_rel(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static void gid_str(const uint8_t *g, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:"
		 "%02x%02x:%02x%02x",
		 g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
		 g[10], g[11], g[12], g[13], g[14], g[15]);
}

static int dev_dir(const struct svd_device *dev, const char *rundir,
		   char *buf, size_t len)
{
	int n;

	if (!rundir)
		return -EINVAL;
	n = snprintf(buf, len, "%s/devices/%s", rundir, dev->name);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static int write_gid_facts(const struct svd_device *dev, const char *dir)
{
	char rel[64], g[64];
	int i, ret = 0;

	for (i = 0; i < SVD_MAX_GIDS && !ret; i++) {
		const struct svd_gid_entry *e = &dev->port.gids[i];

		gid_str(e->gid, g, sizeof(g));
		snprintf(rel, sizeof(rel), "ports/1/gids/%d", i);
		ret = put_fact(dir, rel, "%s\n", g);
		if (ret || !e->valid)
			continue;
		snprintf(rel, sizeof(rel), "ports/1/gid_attrs/types/%d", i);
		ret = put_fact(dir, rel, "%s\n",
			       e->gid_type == IB_UVERBS_GID_TYPE_ROCE_V2 ?
				       "RoCE v2" :
				       "IB/RoCE v1");
	}
	return ret;
}

int svd_dev_write_facts(const struct svd_device *dev, const char *rundir)
{
	static const char *const dirs[] = { "ports", "ports/1", "ports/1/gids",
					    "ports/1/gid_attrs",
					    "ports/1/gid_attrs/types" };
	char dir[400];
	unsigned int i;
	int ret;

	ret = dev_dir(dev, rundir, dir, sizeof(dir));
	if (!ret && mkdir(dir, 0755) && errno != EEXIST)
		ret = -errno;
	for (i = 0; !ret && i < SVD_ARRAY_SIZE(dirs); i++)
		ret = mkdir_rel(dir, dirs[i]);
	if (!ret)
		ret = write_gid_facts(dev, dir);
	if (!ret)
		ret = put_fact(dir, "ports/1/state", "4: ACTIVE\n");
	if (!ret)
		ret = put_fact(dir, "ports/1/phys_state", "5: LinkUp\n");
	if (!ret)
		ret = put_fact(dir, "ports/1/link_layer", "Ethernet\n");
	if (!ret)
		ret = put_fact(dir, "ibdev", "%s\n", dev->name);
	if (!ret)
		ret = put_fact(dir, "node_type", "1: CA\n");
	if (!ret)
		ret = put_fact(dir, "abi_version", "%d\n",
			       IB_USER_VERBS_ABI_VERSION);
	if (!ret)
		ret = put_fact(dir, "sys_image_guid", "%016llx\n",
			       (unsigned long long)dev->sys_image_guid);
	/* node_guid last: the library lists a device once it exists. */
	if (!ret)
		ret = put_fact(dir, "node_guid", "%016llx\n",
			       (unsigned long long)dev->node_guid);
	return ret;
}

static void rm_rel(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (unlink(path) && errno == EISDIR)
		rmdir(path);
}

void svd_dev_remove_facts(const struct svd_device *dev, const char *rundir)
{
	static const char *const files[] = {
		"node_guid", "sys_image_guid", "abi_version", "node_type",
		"ibdev", "ports/1/state", "ports/1/phys_state",
		"ports/1/link_layer", SV_DEV_SOCK,
	};
	static const char *const dirs[] = { "ports/1/gid_attrs/types",
					    "ports/1/gid_attrs",
					    "ports/1/gids", "ports/1",
					    "ports" };
	char dir[400], rel[64];
	unsigned int i;

	if (dev_dir(dev, rundir, dir, sizeof(dir)))
		return;
	/* node_guid first: the device disappears from lists at once. */
	for (i = 0; i < SVD_ARRAY_SIZE(files); i++)
		rm_rel(dir, files[i]);
	for (i = 0; i < SVD_MAX_GIDS; i++) {
		snprintf(rel, sizeof(rel), "ports/1/gids/%u", i);
		rm_rel(dir, rel);
		snprintf(rel, sizeof(rel), "ports/1/gid_attrs/types/%u", i);
		rm_rel(dir, rel);
	}
	for (i = 0; i < SVD_ARRAY_SIZE(dirs); i++)
		rm_rel(dir, dirs[i]);
	rmdir(dir);
}
