/* SPDX-License-Identifier: MIT */
/*
 * The softverbs runtime directory, shared by softverbsd and the softverbs
 * CLI. The CLI does not link the daemon's core, so the resolution rule lives
 * here as static inline functions: both programs must agree on it exactly,
 * or the CLI talks to an empty directory.
 *
 * Rule: $SOFTVERBS_RUNDIR if set; else /run/softverbs for root; else
 * $XDG_RUNTIME_DIR/softverbs; else /tmp/softverbs-$UID.
 *
 * Layout: softverbsd.pid, control.sock, softverbsd.log, and devices/NAME/
 * holding the device socket "sock" and the device's fact files.
 */
#ifndef SOFTVERBS_RUNDIR_H
#define SOFTVERBS_RUNDIR_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SV_RUNDIR_ENV "SOFTVERBS_RUNDIR"
#define SV_CONTROL_SOCK "control.sock"
#define SV_PID_FILE "softverbsd.pid"
#define SV_LOG_FILE "softverbsd.log"
#define SV_DEVICES_DIR "devices"
#define SV_DEV_SOCK "sock"
#define SV_DEFAULT_DEV "softverbs0"
/* Device names: 1..SV_DEV_NAME_MAX chars of [A-Za-z0-9_-]. */
#define SV_DEV_NAME_MAX 63

/*
 * Write the runtime directory path into buf. A relative $SOFTVERBS_RUNDIR
 * is made absolute, because the daemon runs from "/" and children of
 * "softverbs run" may chdir anywhere. Returns 0 or -errno.
 */
static inline int sv_rundir_path(char *buf, size_t len)
{
	const char *env = getenv(SV_RUNDIR_ENV);
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char cwd[4096];
	int n;

	if (env && *env) {
		if (env[0] == '/') {
			n = snprintf(buf, len, "%s", env);
		} else {
			if (!getcwd(cwd, sizeof(cwd)))
				return -errno;
			n = snprintf(buf, len, "%s/%s", cwd, env);
		}
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "/run/softverbs");
	} else if (xdg && xdg[0] == '/') {
		n = snprintf(buf, len, "%s/softverbs", xdg);
	} else {
		n = snprintf(buf, len, "/tmp/softverbs-%u",
			     (unsigned int)geteuid());
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	/* Trailing slashes would make "dir//control.sock" style paths. */
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

/*
 * mkdir -p path. Only the last component gets 'mode'; parents get 0755 like
 * mkdir -p would under a usual umask. The final directory must end up a
 * real directory owned by us: /tmp/softverbs-$UID is in a shared
 * directory, and another user could have planted it (or a symlink) there.
 */
static inline int sv_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	struct stat st;
	size_t len = strlen(path);
	char *p;

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	if (lstat(tmp, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid())
		return -EPERM;
	return 0;
}

/* The directory mode: root's may be shared read-only, a user's is private. */
static inline mode_t sv_rundir_mode(void)
{
	return geteuid() == 0 ? 0755 : 0700;
}

/* Device names become directory names, so they are kept to a safe set. */
static inline bool sv_dev_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i >= SV_DEV_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

/* Interface names: what the kernel accepts (IFNAMSIZ - 1, no '/' or space). */
static inline bool sv_netdev_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= 15 || c <= ' ' || c >= 0x7f || c == '/' || c == ':')
			return false;
	}
	return i > 0 && strcmp(name, ".") && strcmp(name, "..");
}

#endif /* SOFTVERBS_RUNDIR_H */
