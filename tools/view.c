// SPDX-License-Identifier: MIT
/*
 * The device view of "softverbs run".
 *
 * Middleware checks for a real device before it calls libibverbs: UCX
 * stat()s /dev/infiniband/uverbs_NAME and reads /sys/class/infiniband/NAME
 * at fixed paths, libibumad (ibstat) scans /sys/class/infiniband and reads
 * /sys/class/infiniband_mad/abi_version. The daemon keeps a sysfs-shaped
 * tree in its runtime directory (daemon/verbs/sysfs.c); here the program
 * gets it at the real paths, in a mount namespace of its own:
 *
 *   - root: a plain mount namespace; anyone else: a user namespace mapping
 *     the caller's uid and gid to themselves, plus a mount namespace;
 *   - every mount is made a slave first, so nothing propagates to the host;
 *   - /dev/infiniband gets a tmpfs (when the host has no /dev/infiniband,
 *     /dev itself gets one, rebuilt from bind mounts of the host's entries)
 *     holding uverbs_NAME: /dev/null bind-mounted, a character device any
 *     program may open read-write, which does nothing;
 *   - /sys/class/infiniband{,_verbs,_mad} are bind mounts of the daemon's
 *     tree (when the host lacks them, /sys/class is rebuilt the same way),
 *     so devices the daemon adds or changes later show up at once.
 *
 * Children (a shell, mpirun and its ranks) inherit the namespace. Where no
 * namespace can be made (containers without user namespaces), the program
 * runs as before, without the view, and SYSFS_PATH names the daemon's tree;
 * SOFTVERBS_VIEW tells which happened.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "view.h"

/* Test knob: take the unprivileged (user namespace) path even as root. */
#define SV_VIEW_USERNS_ENV "SOFTVERBS_USERNS"

static const char *const view_classes[] = { "infiniband", "infiniband_verbs",
					    "infiniband_mad" };

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	err = n == (ssize_t)strlen(s) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return err;
}

/* A user namespace in which we stay who we are (uid and gid map to self). */
static int enter_userns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int ret;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
		return -errno;
	/* The kernel requires setgroups off before an unprivileged gid_map. */
	ret = write_str("/proc/self/setgroups", "deny");
	if (ret && ret != -ENOENT)
		return ret;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned int)uid,
		 (unsigned int)uid);
	ret = write_str("/proc/self/uid_map", map);
	if (ret)
		return ret;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned int)gid,
		 (unsigned int)gid);
	return write_str("/proc/self/gid_map", map);
}

static int enter_namespaces(void)
{
	const char *userns = getenv(SV_VIEW_USERNS_ENV);

	if (geteuid() == 0 && !(userns && !strcmp(userns, "1")) &&
	    !unshare(CLONE_NEWNS))
		return 0;
	return enter_userns();
}

static int bind(const char *src, const char *dst)
{
	return mount(src, dst, NULL, MS_BIND | MS_REC, NULL) ? -errno : 0;
}

static bool skipped(const char *name, const char *const *skip, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, skip[i]))
			return true;
	return false;
}

/* Recreate entry 'name' of the covered directory (fd 'old') in 'dir'. */
static int copy_entry(int old, const char *dir, const char *name)
{
	char src[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	if (fstatat(old, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(old, name, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlink(target, dst) ? -errno : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, st.st_mode & 07777))
			return -errno;
	} else {
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	/* The covered directory stays reachable through our fd. */
	snprintf(src, sizeof(src), "/proc/self/fd/%d/%s", old, name);
	return bind(src, dst);
}

/*
 * Cover 'dir' with a tmpfs that holds bind mounts of everything it held
 * but the names in 'skip': a directory we may add entries to without
 * touching the host's.
 */
static int rebuild_dir(const char *dir, const char *const *skip, size_t n)
{
	struct dirent *e;
	struct stat st;
	char opts[32];
	int old, ret = 0;
	DIR *d;

	old = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (old < 0 || fstat(old, &st)) {
		ret = -errno;
		goto out;
	}
	snprintf(opts, sizeof(opts), "mode=%04o", st.st_mode & 07777);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID, opts)) {
		ret = -errno;
		goto out;
	}
	d = fdopendir(dup(old));
	while (d && !ret && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    !skipped(e->d_name, skip, n))
			ret = copy_entry(old, dir, e->d_name);
	}
	if (d)
		closedir(d);
	else
		ret = -errno;
out:
	if (old >= 0)
		close(old);
	return ret;
}

/* A directory of ours at 'dir': a tmpfs over the host's, or a new one. */
static int own_dir(const char *dir, const char *parent, const char *name)
{
	struct stat st;
	int ret;

	if (!stat(dir, &st) && S_ISDIR(st.st_mode))
		return mount("tmpfs", dir, "tmpfs", MS_NOSUID, "mode=0755") ?
			       -errno :
			       0;
	ret = rebuild_dir(parent, &name, 1);
	if (!ret && mkdir(dir, 0755))
		ret = -errno;
	return ret;
}

/* /dev/infiniband/uverbs_NAME for each device the daemon has now. */
static int mount_dev_nodes(const char *rundir)
{
	char path[PATH_MAX], node[PATH_MAX];
	struct dirent *e;
	int ret, fd;
	DIR *d;

	ret = own_dir("/dev/infiniband", "/dev", "infiniband");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/" SV_DEVICES_DIR, rundir);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!ret && (e = readdir(d))) {
		if (!sv_dev_name_valid(e->d_name))
			continue;
		snprintf(node, sizeof(node), "/dev/infiniband/uverbs_%s",
			 e->d_name);
		fd = open(node, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			ret = -errno;
			break;
		}
		close(fd);
		ret = bind("/dev/null", node);
	}
	closedir(d);
	return ret;
}

static bool have_classes(void)
{
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(view_classes) / sizeof(view_classes[0]); i++) {
		snprintf(path, sizeof(path), "/sys/class/%s", view_classes[i]);
		if (access(path, F_OK))
			return false;
	}
	return true;
}

static int mount_sysfs_view(const char *rundir)
{
	size_t i, n = sizeof(view_classes) / sizeof(view_classes[0]);
	char src[PATH_MAX], dst[64];
	int ret = 0;

	if (!have_classes())
		ret = rebuild_dir("/sys/class", view_classes, n);
	for (i = 0; !ret && i < n; i++) {
		snprintf(src, sizeof(src), "%s/sysfs/class/%s", rundir,
			 view_classes[i]);
		snprintf(dst, sizeof(dst), "/sys/class/%s", view_classes[i]);
		if (mkdir(dst, 0755) && errno != EEXIST)
			ret = -errno;
		else
			ret = bind(src, dst);
	}
	return ret;
}

static int mount_view(const char *rundir)
{
	int ret;

	/* Nothing we mount may propagate back to the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL))
		return -errno;
	ret = mount_sysfs_view(rundir);
	return ret ? ret : mount_dev_nodes(rundir);
}

/*
 * No view at the real paths: point SYSFS_PATH (which rdma-core, libfabric
 * and our library honour) at the daemon's tree, unless the user set it.
 */
static void fallback_env(const char *rundir, int err, char *why, size_t len)
{
	char path[PATH_MAX];

	snprintf(why, len, "fallback: %s",
		 err == -ECANCELED ? SV_VIEW_DISABLE_ENV "=1" : strerror(-err));
	snprintf(path, sizeof(path), "%s/sysfs", rundir);
	setenv("SYSFS_PATH", path, 0);
}

int sv_view_enter(const char *rundir)
{
	const char *off = getenv(SV_VIEW_DISABLE_ENV);
	char cwd[PATH_MAX], why[96];
	int ret;

	if (off && !strcmp(off, "1"))
		ret = -ECANCELED;
	else
		ret = enter_namespaces();
	if (!ret && !getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	if (!ret)
		ret = mount_view(rundir);
	/* Mounts over an ancestor of the cwd would otherwise hide it. */
	if (!ret && cwd[0] && chdir(cwd))
		ret = -errno;
	if (ret)
		fallback_env(rundir, ret, why, sizeof(why));
	setenv(SV_VIEW_ENV, ret ? why : "mounted", 1);
	return ret;
}
