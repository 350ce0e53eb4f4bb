// SPDX-License-Identifier: MIT
/*
 * Run under "softverbs run" by test_sysfs_view.sh: print
 * ibv_get_sysfs_path() and check that it names a view of every device:
 * <path>/class/infiniband is a directory, each device's ibdev_path and
 * dev_path exist, and ibv_read_sysfs_file() on ibdev_path gives the GUID
 * ibv_get_device_guid() does. Exit 0 if so, 1 if not.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <infiniband/verbs.h>

/* Exported by libibverbs, declared by no installed header. */
const char *ibv_get_sysfs_path(void);
int ibv_read_sysfs_file(const char *dir, const char *file, char *buf,
			size_t size);

static int is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int check_dev(struct ibv_device *dev)
{
	unsigned int w[4];
	uint64_t guid;
	char buf[64];

	if (!is_dir(dev->ibdev_path) || !is_dir(dev->dev_path)) {
		printf("%s: %s or %s is not a directory\n", dev->name,
		       dev->ibdev_path, dev->dev_path);
		return 1;
	}
	if (ibv_read_sysfs_file(dev->ibdev_path, "node_guid", buf,
				sizeof(buf)) < 0 ||
	    sscanf(buf, "%x:%x:%x:%x", &w[0], &w[1], &w[2], &w[3]) != 4)
		return 1;
	guid = (uint64_t)w[0] << 48 | (uint64_t)w[1] << 32 |
	       (uint64_t)w[2] << 16 | w[3];
	if (htobe64(guid) != ibv_get_device_guid(dev)) {
		printf("%s: node_guid %s differs\n", dev->name, buf);
		return 1;
	}
	return 0;
}

int main(void)
{
	struct ibv_device **list;
	char path[4096];
	int i, n, bad = 0;

	printf("%s\n", ibv_get_sysfs_path());
	snprintf(path, sizeof(path), "%s/class/infiniband",
		 ibv_get_sysfs_path());
	if (!is_dir(path))
		return 1;
	list = ibv_get_device_list(&n);
	if (!list || n < 1)
		return 1;
	for (i = 0; i < n; i++)
		bad |= check_dev(list[i]);
	ibv_free_device_list(list);
	return bad;
}
