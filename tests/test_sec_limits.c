// SPDX-License-Identifier: MIT
/*
 * Issue 18: the per-user limit on doorbell pages (test_flood covers
 * contexts, QPs, MRs and connections). Every page the daemon hands out is
 * a sealed memfd it maps and the engine waits on, so one user must not be
 * able to take them all.
 *
 * With --limit-db-pages=3, root's context takes its shared page and two
 * thread domains' pages; the third thread domain fails (the daemon
 * answers EAGAIN, the rdma cgroup's errno; ibv_alloc_td reports any page
 * it cannot get as ENOMEM, as a kernel provider out of doorbell pages
 * does) although the device has 256 pages. Another user ("svtest-peer",
 * when run as root) has a budget of its own: two thread domains work for
 * it while root is at its limit. Closing root's context gives its pages
 * back: a new context gets two thread domains again.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "svtest.h"
#include "svt_user.h"

#define LIMIT_ARG "--limit-db-pages=3"

static struct ibv_td *td_alloc(struct ibv_context *ctx)
{
	struct ibv_td_init_attr a = { .comp_mask = 0 };

	errno = 0;
	return ibv_alloc_td(ctx, &a);
}

/* Two thread domains (pages 2 and 3 with the shared one), not a third. */
static void fill_to_limit(struct ibv_context *ctx, struct ibv_td *td[2])
{
	struct ibv_td *more;

	td[0] = td_alloc(ctx);
	td[1] = td_alloc(ctx);
	SVT_CHECK(td[0] && td[1]);
	more = td_alloc(ctx);
	if (more)
		fprintf(stderr, "a fourth doorbell page was given out\n");
	SVT_CHECK(!more);
	fprintf(stderr, "third thread domain: %s\n", strerror(errno));
	SVT_CHECK(errno == ENOMEM);
}

/* The second user, while root is at its limit: a budget of its own. */
static void other_user(const struct passwd *pw)
{
	struct ibv_context *ctx;
	struct ibv_td *td[2];
	int status;
	pid_t pid = fork();

	SVT_CHECK(pid >= 0);
	if (!pid) {
		SVT_CHECK(!svt_become(pw));
		ctx = svt_open_dev("softverbs0");
		fill_to_limit(ctx, td);
		_exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SVT_PASS);
	printf("another user: a limit of its own\n");
}

int main(void)
{
	static const char *const args[] = { LIMIT_ARG, NULL };
	struct passwd *pw = geteuid() == 0 ? svt_peer_user() : NULL;
	struct ibv_context *ctx;
	struct ibv_td *td[2];
	struct svt_daemon d;

	svt_daemon_start_args(&d, args);
	ctx = svt_open_dev("softverbs0");
	fill_to_limit(ctx, td);
	printf("one user: refused beyond %s\n", LIMIT_ARG);
	if (pw) {
		SVT_CHECK(!chmod(d.rundir, 0755));
		other_user(pw);
	} else {
		printf("note: the second user's budget not checked (needs "
		       "root and useradd)\n");
	}
	SVT_CHECK(!ibv_dealloc_td(td[0]) && !ibv_dealloc_td(td[1]));
	SVT_CHECK(!ibv_close_device(ctx));
	ctx = svt_open_dev("softverbs0");
	fill_to_limit(ctx, td); /* the closed context gave its pages back */
	printf("a closed context's pages are charged back\n");
	SVT_CHECK(!ibv_dealloc_td(td[0]) && !ibv_dealloc_td(td[1]));
	SVT_CHECK(!ibv_close_device(ctx));
	svt_daemon_stop(&d);
	return SVT_PASS;
}
