// SPDX-License-Identifier: MIT
/*
 * The daemon's runtime directory. The resolution rule is shared with the
 * CLI (softverbs/rundir.h); this file only caches the answer and creates
 * the directories.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include <softverbs/rundir.h>

#include "svd.h"

static char rundir_buf[PATH_MAX];
static int rundir_err = -EAGAIN; /* 0 once rundir_buf holds the path */
static pthread_once_t rundir_once = PTHREAD_ONCE_INIT;

static void rundir_init(void)
{
	rundir_err = sv_rundir_path(rundir_buf, sizeof(rundir_buf));
	if (rundir_err)
		return;
	/*
	 * Best effort: callers that only need the name should not fail here;
	 * svd_rundir_prepare() reports mkdir errors.
	 */
	sv_mkdir_p(rundir_buf, sv_rundir_mode());
}

/*
 * The runtime directory, computed once: the environment cannot change
 * under the daemon in a way we would want to follow. NULL if the path
 * cannot be formed (too long); svd_rundir_prepare() says why.
 */
const char *svd_rundir(void)
{
	pthread_once(&rundir_once, rundir_init);
	return rundir_err ? NULL : rundir_buf;
}

/* Create the runtime directory and devices/ in it. Returns 0 or -errno. */
int svd_rundir_prepare(void)
{
	char path[PATH_MAX];
	const char *dir = svd_rundir();
	int ret;

	if (!dir)
		return rundir_err;
	ret = sv_mkdir_p(dir, sv_rundir_mode());
	if (ret)
		return ret;
	ret = snprintf(path, sizeof(path), "%s/" SV_DEVICES_DIR, dir);
	if (ret < 0 || (size_t)ret >= sizeof(path))
		return -ENAMETOOLONG;
	return sv_mkdir_p(path, sv_rundir_mode());
}
