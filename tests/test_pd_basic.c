// SPDX-License-Identifier: MIT
/*
 * PDs: many at once with distinct handles, dealloc of each, and a PD
 * registered from a forked child on the shared context (its MR names the
 * child's memory, so the parent's registrations are unaffected).
 */
#include <sys/wait.h>

#include <infiniband/verbs.h>

#include "svtest.h"

#define NPD 64

static int child(struct ibv_pd *pd)
{
	static char buf[4096];
	struct ibv_mr *mr =
	    ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);

	if (!mr)
		return 1;
	return ibv_dereg_mr(mr) ? 1 : 0;
}

int main(void)
{
	struct ibv_pd *pds[NPD];
	struct ibv_context *ctx;
	struct svt_daemon d;
	int i, j, st;
	pid_t pid;

	ctx = svt_start(&d);
	for (i = 0; i < NPD; i++) {
		pds[i] = ibv_alloc_pd(ctx);
		SVT_CHECK(pds[i] && pds[i]->context == ctx);
		for (j = 0; j < i; j++)
			SVT_CHECK(pds[j]->handle != pds[i]->handle);
	}
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (pid == 0)
		_exit(child(pds[0]));
	SVT_CHECK(waitpid(pid, &st, 0) == pid);
	SVT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (i = 0; i < NPD; i++)
		SVT_CHECK(ibv_dealloc_pd(pds[i]) == 0);
	SVT_CHECK(ibv_close_device(ctx) == 0);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
