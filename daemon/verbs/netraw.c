// SPDX-License-Identifier: MIT
/*
 * CAP_NET_RAW of a command's sender. The kernel lets only processes with
 * CAP_NET_RAW (in the user namespace that owns the device's network
 * namespace) create raw packet QPs and flow rules: they see and send
 * arbitrary frames. Here the device belongs to the daemon, so the sender
 * must hold the capability in the daemon's own user namespace. The sender
 * is pinned by its pidfd (from the message, or opened now) and checked to
 * be still alive after /proc was read, so a recycled pid is never judged.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "svd_flow.h"

#define CAP_NET_RAW_BIT 13 /* <linux/capability.h> CAP_NET_RAW */

/* The effective capability set of pid, from /proc/PID/status. */
static int read_cap_eff(pid_t pid, uint64_t *eff)
{
	char path[64], line[256];
	int ret = -EPERM;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -EPERM;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %" SCNx64, eff) == 1) {
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/* Is pid in the daemon's user namespace? */
static bool same_userns(pid_t pid)
{
	struct stat mine, theirs;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat(path, &theirs) || stat("/proc/self/ns/user", &mine))
		return false;
	return theirs.st_dev == mine.st_dev && theirs.st_ino == mine.st_ino;
}

/* A pidfd polls readable once its process has exited. */
static bool still_running(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

int svd_bundle_net_raw(const struct svd_bundle *b)
{
	int pidfd = b->pidfd;
	uint64_t eff = 0;
	bool ok;

	if (b->no_identity) /* it said it would not need the sender */
		return -EINVAL;
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, b->pid, 0);
	if (pidfd < 0)
		return -EPERM;
	ok = !read_cap_eff(b->pid, &eff) &&
	     (eff & (1ULL << CAP_NET_RAW_BIT)) && same_userns(b->pid) &&
	     still_running(pidfd);
	if (pidfd != b->pidfd)
		close(pidfd);
	return ok ? 0 : -EPERM;
}
