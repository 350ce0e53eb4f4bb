// SPDX-License-Identifier: MIT
/*
 * Device discovery. The daemon publishes each device as a directory under
 * <rundir>/devices/NAME holding its socket and the files sysfs would give
 * for /sys/class/infiniband/NAME (node_guid, ports/1/..., see
 * daemon/verbs/sysfs.c). The list is read fresh on each
 * ibv_get_device_list(), as rdma-core rescans sysfs.
 *
 * ibv_get_sysfs_path() names the root of that view: $SYSFS_PATH if set (as
 * in rdma-core), else /sys when "softverbs run" has mounted the view there,
 * else <rundir>/sysfs, which the daemon keeps as a sysfs-shaped tree.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "svl.h"

const char *svl_rundir(void)
{
	static char path[256];

	if (!path[0] && sv_rundir_path(path, sizeof(path)))
		snprintf(path, sizeof(path), "/tmp/softverbs-%u",
			 (unsigned int)getuid());
	return path;
}

static char sysfs_root[PATH_MAX];
static pthread_once_t sysfs_once = PTHREAD_ONCE_INIT;

/* Is /sys/class/infiniband our devices directory (a bind mount of it)? */
static bool view_mounted_on_sys(void)
{
	char devdir[PATH_MAX];
	struct stat a, b;

	snprintf(devdir, sizeof(devdir), "%s/" SV_DEVICES_DIR, svl_rundir());
	return !stat("/sys/class/infiniband", &a) && !stat(devdir, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void sysfs_root_init(void)
{
	/* As rdma-core: a set-uid program does not follow the caller's env. */
	const char *env = getuid() == geteuid() ? getenv("SYSFS_PATH") : NULL;
	size_t n;

	if (env && *env)
		snprintf(sysfs_root, sizeof(sysfs_root), "%s", env);
	else if (view_mounted_on_sys())
		snprintf(sysfs_root, sizeof(sysfs_root), "/sys");
	else
		snprintf(sysfs_root, sizeof(sysfs_root), "%s/sysfs",
			 svl_rundir());
	/* rdma-core strips trailing slashes too. */
	n = strlen(sysfs_root);
	while (n > 1 && sysfs_root[n - 1] == '/')
		sysfs_root[--n] = '\0';
}

SVL_EXPORT const char *ibv_get_sysfs_path(void)
{
	pthread_once(&sysfs_once, sysfs_root_init);
	return sysfs_root;
}

/* "0123:4567:89ab:cdef" (sysfs) or plain hex, to a host-order GUID. */
static uint64_t parse_guid(const char *s)
{
	uint64_t v = 0;

	for (; *s; s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0' :
			*s >= 'a' && *s <= 'f' ? *s - 'a' + 10 :
			*s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;

		if (d >= 0)
			v = v << 4 | (uint64_t)d;
		else if (*s != ':')
			break;
	}
	return v;
}

static int read_fact(const char *dir, const char *name, char *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static struct svl_device *device_load(const char *dir, const char *name)
{
	struct svl_device *d;
	char buf[64];
	struct stat st;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->sock_path, sizeof(d->sock_path), "%s/sock", dir);
	if (stat(d->sock_path, &st) || !S_ISSOCK(st.st_mode))
		goto err;
	if (read_fact(dir, "node_guid", buf, sizeof(buf)))
		goto err;
	d->node_guid = parse_guid(buf);
	d->abi_version = read_fact(dir, "abi_version", buf, sizeof(buf)) ?
				 -1 : atoi(buf);
	d->ibdev.node_type = IBV_NODE_CA;
	d->ibdev.transport_type = IBV_TRANSPORT_IB;
	snprintf(d->ibdev.name, sizeof(d->ibdev.name), "%s", name);
	snprintf(d->ibdev.dev_name, sizeof(d->ibdev.dev_name), "uverbs_%s",
		 name);
	/* What rdma-core sets: the device's two class directories. */
	snprintf(d->ibdev.dev_path, sizeof(d->ibdev.dev_path),
		 "%s/class/infiniband_verbs/uverbs_%s", ibv_get_sysfs_path(),
		 name);
	snprintf(d->ibdev.ibdev_path, sizeof(d->ibdev.ibdev_path),
		 "%s/class/infiniband/%s", ibv_get_sysfs_path(), name);
	return d;
err:
	free(d);
	return NULL;
}

/*
 * Devices are cached for the life of the process: contexts point at them
 * after ibv_free_device_list(), as with rdma-core's refcounted devices.
 */
static struct svl_device *dev_cache[64];
static pthread_mutex_t dev_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct svl_device *device_get(const char *dir, const char *name)
{
	struct svl_device *d = NULL;
	unsigned int i;

	pthread_mutex_lock(&dev_cache_lock);
	for (i = 0; i < SVL_ARRAY_SIZE(dev_cache) && dev_cache[i]; i++) {
		if (!strcmp(dev_cache[i]->dir, dir)) {
			d = dev_cache[i];
			break;
		}
	}
	if (!d) {
		d = device_load(dir, name);
		if (d && i < SVL_ARRAY_SIZE(dev_cache))
			dev_cache[i] = d;
		else if (d) {
			free(d);
			d = NULL;
		}
	}
	pthread_mutex_unlock(&dev_cache_lock);
	return d;
}

/*
 * A daemon killed with SIGKILL leaves its socket file behind; a refused
 * connection tells that nobody serves it, and the device is not listed
 * (a kernel device that went away leaves sysfs too). A hung daemon still
 * queues connections, so it stays listed; its commands time out instead.
 */
static bool device_alive(const struct svl_device *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool alive = true;
	int fd;

	if (strlen(d->sock_path) >= sizeof(sa.sun_path))
		return true;
	strcpy(sa.sun_path, d->sock_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return true;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    (errno == ECONNREFUSED || errno == ENOENT))
		alive = false;
	close(fd);
	return alive;
}

static int add_device(struct ibv_device ***list, int *n, struct svl_device *d)
{
	struct ibv_device **l = realloc(*list, (*n + 2) * sizeof(*l));

	if (!l)
		return -1;
	l[(*n)++] = &d->ibdev;
	l[*n] = NULL;
	*list = l;
	return 0;
}

SVL_EXPORT struct ibv_device **ibv_get_device_list(int *num_devices)
{
	struct ibv_device **list = calloc(1, sizeof(*list));
	char devdir[300], dir[600];
	struct dirent *e;
	int n = 0;
	DIR *dp;

	if (!list)
		return svl_fail(ENOMEM);
	snprintf(devdir, sizeof(devdir), "%s/devices", svl_rundir());
	dp = opendir(devdir);
	while (dp && (e = readdir(dp))) {
		struct svl_device *d;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", devdir, e->d_name);
		d = device_get(dir, e->d_name);
		if (d && device_alive(d))
			add_device(&list, &n, d);
	}
	if (dp)
		closedir(dp);
	if (num_devices)
		*num_devices = n;
	return list;
}

SVL_EXPORT void ibv_free_device_list(struct ibv_device **list)
{
	/*
	 * Devices stay allocated: open contexts point at them, as rdma-core's
	 * refcounted devices outlive the list.
	 */
	free(list);
}

uint64_t svl_device_node_guid(struct ibv_device *dev)
{
	return to_svl_dev(dev)->node_guid;
}
