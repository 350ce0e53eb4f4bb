/* SPDX-License-Identifier: MIT */
/*
 * Shared helper for the C tests: run a private softverbsd.
 *
 * Each test gets its own runtime directory (mkdtemp) so tests can run in
 * parallel and never talk to a user's daemon. SOFTVERBS_RUNDIR is exported
 * in the test process too, so libibverbs finds the private daemon.
 *
 * Usage:
 *	struct svt_daemon d;
 *	struct ibv_context *ctx = svt_start(&d);   (daemon + softverbs0)
 *	... more contexts: svt_open_dev(NULL) ...
 *	svt_daemon_stop(&d);
 *
 * Exit codes: 0 pass, 1 fail, 77 ONLY when the machine lacks something
 * (svt_skip()). A daemon that does not start or a device that does not
 * open is the product failing: the helpers below exit with SVT_FAIL.
 *
 * The daemon is SVT_BINDIR/softverbsd (a compile definition set by
 * sv_add_c_test()), or $SOFTVERBSD as for the CLI: the fake_daemon check
 * (tests/zz-fake-daemon.cmake) points it at a program that exits 1 and
 * requires every test to fail.
 */
#ifndef SVTEST_H
#define SVTEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#ifndef SVT_BINDIR
#error "SVT_BINDIR must be defined (use sv_add_c_test in tests/00-common.cmake)"
#endif

#define SVT_PASS 0
#define SVT_FAIL 1
#define SVT_SKIP 77

/* The machine lacks something the test needs: say what, exit 77. */
static inline void svt_skip(const char *what)
{
	fprintf(stderr, "SKIP: %s\n", what);
	exit(SVT_SKIP);
}

/* Print a failure with its location and bail out of the test with 1. */
#define SVT_CHECK(cond)                                                    \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			exit(SVT_FAIL);                                    \
		}                                                          \
	} while (0)

struct svt_daemon {
	pid_t pid;
	pid_t owner; /* the test process; forked children never stop it */
	char rundir[256];
};

/* The running daemon, so a failing SVT_CHECK (exit) still stops it. */
static inline struct svt_daemon **svt_current(void)
{
	static struct svt_daemon *cur;

	return &cur;
}

static inline void svt_daemon_stop(struct svt_daemon *d);

static inline void svt_atexit(void)
{
	struct svt_daemon *d = *svt_current();

	if (d && d->owner == getpid())
		svt_daemon_stop(d);
}

static inline int svt_exists(const char *dir, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return stat(path, &st) == 0;
}

static inline void svt_rm_rf(const char *path)
{
	char cmd[600];

	/* The dir name came from mkdtemp, so it has no shell metachars. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd))
		fprintf(stderr, "svtest: could not remove %s\n", path);
}

static inline const char *svt_daemon_path(void)
{
	const char *env = getenv("SOFTVERBSD");

	return env && *env ? env : SVT_BINDIR "/softverbsd";
}

/* Start-up failed: clean up and fail the test (never a skip). */
static inline void svt_start_failed(struct svt_daemon *d, const char *why)
{
	int status;

	fprintf(stderr, "FAIL: softverbsd (%s) %s\n", svt_daemon_path(), why);
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
	}
	d->pid = 0;
	if (d->rundir[0])
		svt_rm_rf(d->rundir);
	exit(SVT_FAIL);
}

/*
 * Start softverbsd with extra argv (NULL-terminated, may be NULL).
 * Returns 0 once devices/softverbs0/sock exists and the daemon finished
 * its start-up (pid file written after the default device is up); if it
 * does not come up, the test exits with SVT_FAIL.
 */
static inline int svt_daemon_start_args(struct svt_daemon *d,
					const char *const *extra)
{
	const char *tmp = getenv("TMPDIR");
	const char *argv[16];
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, n = 0, status;

	memset(d, 0, sizeof(*d));
	snprintf(d->rundir, sizeof(d->rundir), "%s/svtest.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(d->rundir)) {
		d->rundir[0] = '\0';
		svt_start_failed(d, "has no runtime dir (mkdtemp failed)");
	}
	setenv("SOFTVERBS_RUNDIR", d->rundir, 1);
	argv[n++] = svt_daemon_path();
	for (i = 0; extra && extra[i] && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	d->pid = fork();
	if (d->pid < 0)
		svt_start_failed(d, "could not be forked");
	if (d->pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		execv(argv[0], (char *const *)argv);
		perror("svtest: exec softverbsd");
		_exit(127);
	}
	/* Up to 5 s: the sock, then the pid file (written when ready). */
	for (i = 0; i < 500; i++) {
		if (svt_exists(d->rundir, "devices/softverbs0/sock") &&
		    svt_exists(d->rundir, "softverbsd.pid"))
			goto up;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			svt_start_failed(d, "exited during start-up");
		}
		nanosleep(&ts, NULL);
	}
	/* --no-default-device users only get the pid file. */
	if (extra && svt_exists(d->rundir, "softverbsd.pid"))
		goto up;
	svt_start_failed(d, "did not come up in 5 s");
up:
	if (!*svt_current())
		atexit(svt_atexit);
	*svt_current() = d;
	d->owner = getpid();
	return 0;
}

static inline int svt_daemon_start(struct svt_daemon *d)
{
	return svt_daemon_start_args(d, NULL);
}

/* SIGTERM, wait up to 5 s for a clean exit, then SIGKILL; remove the dir. */
static inline void svt_daemon_stop(struct svt_daemon *d)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, status;

	if (d->owner && d->owner != getpid())
		return; /* a forked child: the parent owns the daemon */
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (i = 0; i < 500; i++) {
			if (waitpid(d->pid, &status, WNOHANG) == d->pid)
				break;
			nanosleep(&ts, NULL);
		}
		if (i == 500) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
		}
		d->pid = 0;
	}
	if (d->rundir[0])
		svt_rm_rf(d->rundir);
	d->rundir[0] = '\0';
	if (*svt_current() == d)
		*svt_current() = NULL;
}

/*
 * Open a device of the running daemon by name (NULL: the first listed).
 * A device that is not listed or does not open fails the test.
 */
static inline struct ibv_context *svt_open_dev(const char *name)
{
	struct ibv_context *ctx = NULL;
	struct ibv_device **list;
	int i, n = 0;

	list = ibv_get_device_list(&n);
	if (!list || n < 1) {
		fprintf(stderr, "FAIL: the daemon lists no device\n");
		exit(SVT_FAIL);
	}
	for (i = 0; i < n && !ctx; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!ctx) {
		fprintf(stderr, "FAIL: cannot open %s: %s\n",
			name ? name : "the first device", strerror(errno));
		exit(SVT_FAIL);
	}
	return ctx;
}

/* A private daemon and a context on its softverbs0: the usual set-up. */
static inline struct ibv_context *svt_start(struct svt_daemon *d)
{
	svt_daemon_start(d);
	return svt_open_dev("softverbs0");
}

#endif /* SVTEST_H */
