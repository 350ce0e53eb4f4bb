// SPDX-License-Identifier: MIT
/*
 * Issue 18: a root daemon never lends its power over memory (the
 * confused deputy). A process's VA memory is registered only if the
 * client itself could reach it: the daemon opens /proc/PID/mem with the
 * client's file-system ids and without CAP_SYS_PTRACE, and for a process
 * the kernel marks non-dumpable (one that changed its ids) it uses root's
 * power only after checking that the process holds nothing beyond the
 * client's identity (daemon/nic/mem.c, open_dropped()).
 *
 * As root, with the second user of the cross-user tests (svt_user.h):
 *   - a child that dropped to that user for good (real, effective and
 *     saved ids) registers its own buffer (test_cross_user then moves
 *     data through such a region);
 *   - a child that keeps root as its saved uid (setresuid(u, u, 0): it
 *     can become root again, its memory is a root process's, as in a
 *     setuid program that dropped privilege only halfway) is refused:
 *     ibv_reg_mr fails with EACCES.
 */
#include <stdbool.h>
#include <sys/wait.h>

#include "svtest.h"
#include "svt_user.h"

/* In a child with those ids: 0 if ibv_reg_mr of its own buffer works. */
static int reg_as(const struct passwd *pw, bool keep_root)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	int status;
	pid_t pid = fork();

	SVT_CHECK(pid >= 0);
	if (!pid) {
		SVT_CHECK(!setgroups(0, NULL));
		SVT_CHECK(!setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid));
		SVT_CHECK(!setresuid(pw->pw_uid, pw->pw_uid,
				     keep_root ? 0 : pw->pw_uid));
		ctx = svt_open_dev("softverbs0");
		pd = ibv_alloc_pd(ctx);
		SVT_CHECK(pd);
		if (ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE))
			_exit(0);
		fprintf(stderr, "ibv_reg_mr: %s\n", strerror(errno));
		_exit(errno == EACCES ? 2 : 1);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	return WEXITSTATUS(status);
}

int main(void)
{
	struct svt_daemon d;
	struct passwd *pw = svt_xuser_start(&d, NULL);

	SVT_CHECK(reg_as(pw, false) == 0);
	printf("dropped for good: its own memory registers\n");
	SVT_CHECK(reg_as(pw, true) == 2);
	printf("saved uid root: EACCES, the daemon lends no power\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
