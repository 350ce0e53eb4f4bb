// SPDX-License-Identifier: MIT
/*
 * The sysfs view: the files the kernel would put under /sys/class for a
 * device, written into the runtime directory so that "softverbs run" can
 * bind-mount them over /sys/class and ibv_get_sysfs_path() can name them.
 *
 *   <rundir>/devices/NAME/               = /sys/class/infiniband/NAME
 *       node_guid node_type fw_ver hca_type hw_rev board_id ...
 *       device/{vendor,device,numa_node,local_cpus}
 *       ports/1/{state,phys_state,rate,link_layer,lid,sm_lid,...}
 *       ports/1/{gids,gid_attrs/types,gid_attrs/ndevs,pkeys}/N
 *       sock                             (the device socket; not sysfs)
 *   <rundir>/sysfs/class/infiniband      -> ../../devices
 *   <rundir>/sysfs/class/infiniband_verbs/{abi_version,uverbs_NAME/...}
 *   <rundir>/sysfs/class/infiniband_mad/abi_version
 *
 * The formats are the kernel's (drivers/infiniband/core/sysfs.c), because
 * rdma-core, UCX, Open MPI and libibumad parse them. The daemon rewrites a
 * device's files whenever it changes, so a mounted view stays current.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "svd.h"

#define UMAD_ABI_VERSION 5 /* what libibumad's umad_init() checks */

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

static int mkdirs(const char *dir, const char *const *rels, size_t n)
{
	char path[512];
	size_t i;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, rels[i]);
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int rundir_path(char *buf, size_t len, const char *rundir,
		       const char *fmt, const char *name)
{
	int n = snprintf(buf, len, "%s/", rundir);

	if (n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, fmt, name);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* The kernel prints GUIDs as four groups of four hex digits. */
static int put_guid(const char *dir, const char *rel, uint64_t guid)
{
	return put_fact(dir, rel, "%04x:%04x:%04x:%04x\n",
			(unsigned int)(guid >> 48) & 0xffff,
			(unsigned int)(guid >> 32) & 0xffff,
			(unsigned int)(guid >> 16) & 0xffff,
			(unsigned int)guid & 0xffff);
}

static int put_gid(const char *dir, const char *rel, const uint8_t *g)
{
	return put_fact(dir, rel,
			"%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:"
			"%02x%02x:%02x%02x:%02x%02x\n",
			g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8],
			g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static void rm_rel(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	unlink(path);
}

/* An empty slot has no type and no netdev: reading them fails, as in sysfs. */
static int write_gid_entry(const struct svd_gid_entry *e, const char *dir,
			   int i)
{
	char types[64], ndevs[64], gids[64], ifname[IF_NAMESIZE];
	int ret;

	snprintf(gids, sizeof(gids), "ports/1/gids/%d", i);
	snprintf(types, sizeof(types), "ports/1/gid_attrs/types/%d", i);
	snprintf(ndevs, sizeof(ndevs), "ports/1/gid_attrs/ndevs/%d", i);
	ret = put_gid(dir, gids, e->gid);
	if (!e->valid) {
		rm_rel(dir, types);
		rm_rel(dir, ndevs);
		return ret;
	}
	if (!ret)
		ret = put_fact(dir, types, "%s\n",
			       e->gid_type == IB_UVERBS_GID_TYPE_ROCE_V2 ?
				       "RoCE v2" :
				       "IB/RoCE v1");
	if (ret)
		return ret;
	if (e->netdev_ifindex && if_indextoname(e->netdev_ifindex, ifname))
		return put_fact(dir, ndevs, "%s\n", ifname);
	rm_rel(dir, ndevs);
	return 0;
}

static int write_gids(const struct svd_device *dev, const char *dir)
{
	int i, ret = 0;

	for (i = 0; i < SVD_MAX_GIDS && !ret; i++)
		ret = write_gid_entry(&dev->port.gids[i], dir, i);
	return ret;
}

/* "100 Gb/sec (4X EDR)", from the port's width and speed codes. */
static void rate_str(const struct ib_uverbs_query_port_resp *a, char *buf,
		     size_t len)
{
	static const struct {
		unsigned int code, tenths;
		const char *name;
	} speeds[] = { { 1, 25, "" },	    { 2, 50, " DDR" },
		       { 4, 100, " QDR" },  { 8, 100, " FDR10" },
		       { 16, 140, " FDR" }, { 32, 250, " EDR" },
		       { 64, 500, " HDR" }, { 128, 1000, " NDR" } };
	static const struct {
		unsigned int code, lanes;
	} widths[] = { { 1, 1 }, { 2, 4 }, { 4, 8 }, { 8, 12 }, { 16, 2 } };
	unsigned int s = 0, w = 0, tenths;

	while (s + 1 < SVD_ARRAY_SIZE(speeds) &&
	       speeds[s].code != a->active_speed)
		s++;
	while (w + 1 < SVD_ARRAY_SIZE(widths) &&
	       widths[w].code != a->active_width)
		w++;
	tenths = speeds[s].tenths * widths[w].lanes;
	snprintf(buf, len, "%u%s Gb/sec (%uX%s)\n", tenths / 10,
		 tenths % 10 ? ".5" : "", widths[w].lanes, speeds[s].name);
}

static const char *port_state_str(unsigned int state)
{
	static const char *const names[] = { "NOP",  "DOWN",   "INIT",
					     "ARMED", "ACTIVE", "ACTIVE_DEFER" };

	return state < SVD_ARRAY_SIZE(names) ? names[state] : "UNKNOWN";
}

static int write_port(const struct svd_device *dev, const char *dir)
{
	const struct ib_uverbs_query_port_resp *a = &dev->port.attr;
	char rate[64];
	int ret;

	rate_str(a, rate, sizeof(rate));
	ret = put_fact(dir, "ports/1/state", "%u: %s\n", a->state,
		       port_state_str(a->state));
	if (!ret)
		ret = put_fact(dir, "ports/1/phys_state", "%u: %s\n",
			       a->phys_state,
			       a->phys_state == 5 ? "LinkUp" : "Disabled");
	if (!ret)
		ret = put_fact(dir, "ports/1/rate", "%s", rate);
	if (!ret)
		ret = put_fact(dir, "ports/1/link_layer", "%s\n",
			       a->link_layer == SVD_LINK_IB ? "InfiniBand" :
							       "Ethernet");
	if (!ret)
		ret = put_fact(dir, "ports/1/lid", "0x%x\n", a->lid);
	if (!ret)
		ret = put_fact(dir, "ports/1/sm_lid", "0x%x\n", a->sm_lid);
	if (!ret)
		ret = put_fact(dir, "ports/1/sm_sl", "%u\n", a->sm_sl);
	if (!ret)
		ret = put_fact(dir, "ports/1/lid_mask_count", "%u\n", a->lmc);
	if (!ret)
		ret = put_fact(dir, "ports/1/cap_mask", "0x%08x\n",
			       a->port_cap_flags);
	if (!ret)
		ret = put_fact(dir, "ports/1/pkeys/0", "0xffff\n");
	return ret ? ret : write_gids(dev, dir);
}

/* The kernel's cpumask format: 32-bit hex words, high first, ','-joined. */
static int put_all_cpus(const char *dir, const char *rel)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	char buf[1024] = "";
	size_t used = 0;
	long w;

	if (n < 1)
		n = 1;
	for (w = (n - 1) / 32; w >= 0 && used + 10 < sizeof(buf); w--) {
		long bits = n - w * 32 > 32 ? 32 : n - w * 32;
		uint32_t mask = bits == 32 ? 0xffffffffU : (1U << bits) - 1;

		used += snprintf(buf + used, sizeof(buf) - used, "%s%08x",
				 used ? "," : "", mask);
	}
	return put_fact(dir, rel, "%s\n", buf);
}

/* The parent device: a software device, so no NUMA node, every CPU local. */
static int write_parent(const char *dir)
{
	int ret = put_fact(dir, "device/vendor", "0x%04x\n", SV_VENDOR_ID);

	if (!ret)
		ret = put_fact(dir, "device/device", "0x%04x\n",
			       SV_VENDOR_PART_ID);
	if (!ret)
		ret = put_fact(dir, "device/numa_node", "-1\n");
	return ret ? ret : put_all_cpus(dir, "device/local_cpus");
}

/*
 * device/net/IF: the netdev a device is bound to, as a PCI RoCE function
 * shows it. rdma-core's test suite (and rdma_cm users) find the device's
 * IP address through it. A device over every interface has none.
 */
static int write_netdev(const struct svd_device *dev, const char *dir)
{
	char path[512];

	if (!dev->port.netdev[0])
		return 0;
	snprintf(path, sizeof(path), "%s/device/net", dir);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/device/net/%s", dir,
		 dev->port.netdev);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_node(const struct svd_device *dev, const char *dir)
{
	uint64_t fw = dev->attr.fw_ver;
	int ret;

	ret = put_fact(dir, "node_type", "1: CA\n");
	if (!ret)
		ret = put_fact(dir, "fw_ver", "%u.%u.%u\n",
			       (unsigned int)(fw >> 32) & 0xffff,
			       (unsigned int)(fw >> 16) & 0xffff,
			       (unsigned int)fw & 0xffff);
	if (!ret)
		ret = put_fact(dir, "hca_type", "softverbs\n");
	if (!ret)
		ret = put_fact(dir, "hw_rev", "0x%x\n", dev->attr.hw_ver);
	if (!ret)
		ret = put_fact(dir, "board_id", "SV_%04X_%04X\n", SV_VENDOR_ID,
			       SV_VENDOR_PART_ID);
	if (!ret)
		ret = put_fact(dir, "node_desc", "softverbs %s\n", dev->name);
	if (!ret)
		ret = put_fact(dir, "ibdev", "%s\n", dev->name);
	if (!ret)
		ret = put_fact(dir, "abi_version", "%d\n",
			       IB_USER_VERBS_ABI_VERSION);
	if (!ret)
		ret = put_guid(dir, "sys_image_guid", dev->sys_image_guid);
	return ret;
}

/* The class directories, shared by all devices; idempotent. */
static int write_classes(const char *rundir)
{
	static const char *const rels[] = { "class", "class/infiniband_verbs",
					    "class/infiniband_mad" };
	char dir[400], link[420];
	int ret;

	ret = rundir_path(dir, sizeof(dir), rundir, "%s", "sysfs");
	if (!ret)
		ret = mkdirs(dir, rels, SVD_ARRAY_SIZE(rels));
	if (ret)
		return ret;
	snprintf(link, sizeof(link), "%s/class/infiniband", dir);
	if (symlink("../../" SV_DEVICES_DIR, link) && errno != EEXIST)
		return -errno;
	ret = put_fact(dir, "class/infiniband_verbs/abi_version", "%d\n",
		       IB_USER_VERBS_ABI_VERSION);
	if (!ret)
		ret = put_fact(dir, "class/infiniband_mad/abi_version", "%d\n",
			       UMAD_ABI_VERSION);
	return ret;
}

/* /sys/class/infiniband_verbs/uverbs_NAME, which names its ibdev. */
static int write_uverbs(const struct svd_device *dev, const char *rundir)
{
	char dir[400];
	int ret;

	ret = rundir_path(dir, sizeof(dir), rundir,
			  "sysfs/class/infiniband_verbs/uverbs_%s", dev->name);
	if (!ret && mkdir(dir, 0755) && errno != EEXIST)
		ret = -errno;
	if (!ret)
		ret = put_fact(dir, "ibdev", "%s\n", dev->name);
	if (!ret)
		ret = put_fact(dir, "abi_version", "%d\n",
			       IB_USER_VERBS_ABI_VERSION);
	return ret;
}

int svd_dev_write_facts(const struct svd_device *dev, const char *rundir)
{
	static const char *const rels[] = {
		"device",	      "ports",
		"ports/1",	      "ports/1/gids",
		"ports/1/pkeys",      "ports/1/gid_attrs",
		"ports/1/gid_attrs/types", "ports/1/gid_attrs/ndevs",
	};
	char dir[400];
	int ret;

	if (!rundir)
		return -EINVAL;
	ret = rundir_path(dir, sizeof(dir), rundir, SV_DEVICES_DIR "/%s",
			  dev->name);
	if (!ret)
		ret = mkdirs(dir, rels, SVD_ARRAY_SIZE(rels));
	if (!ret)
		ret = write_node(dev, dir);
	if (!ret)
		ret = write_parent(dir);
	if (!ret)
		ret = write_netdev(dev, dir);
	if (!ret)
		ret = write_port(dev, dir);
	if (!ret)
		ret = write_classes(rundir);
	if (!ret)
		ret = write_uverbs(dev, rundir);
	/* node_guid last: the library lists a device once it exists. */
	if (!ret)
		ret = put_guid(dir, "node_guid", dev->node_guid);
	return ret;
}

/* rm -r that never follows a symlink out of the tree. */
static void rm_tree_at(int parent, const char *name)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if (!unlinkat(parent, name, 0) || errno != EISDIR)
		return;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					  O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rm_tree_at(dirfd(d), e->d_name);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

void svd_dev_remove_facts(const struct svd_device *dev, const char *rundir)
{
	char dir[400];

	if (!rundir)
		return;
	if (!rundir_path(dir, sizeof(dir), rundir, SV_DEVICES_DIR "/%s",
			 dev->name)) {
		/* node_guid first: the device disappears from lists at once. */
		rm_rel(dir, "node_guid");
		rm_tree_at(AT_FDCWD, dir);
	}
	if (!rundir_path(dir, sizeof(dir), rundir,
			 "sysfs/class/infiniband_verbs/uverbs_%s", dev->name))
		rm_tree_at(AT_FDCWD, dir);
}
