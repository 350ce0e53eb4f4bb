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
 *	if (svt_daemon_start(&d))
 *		return SVT_SKIP;   (or SVT_FAIL)
 *	... ibv_get_device_list() etc ...
 *	svt_daemon_stop(&d);
 *
 * SVT_BINDIR is a compile definition set by sv_add_c_test().
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

#ifndef SVT_BINDIR
#error "SVT_BINDIR must be defined (use sv_add_c_test in tests/00-common.cmake)"
#endif

#define SVT_PASS 0
#define SVT_FAIL 1
#define SVT_SKIP 77

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

/*
 * Start softverbsd with extra argv (NULL-terminated, may be NULL).
 * Returns 0 when devices/softverbs0/sock exists and the daemon finished
 * its start-up (pid file written after the default device is up), or -1.
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
		perror("svtest: mkdtemp");
		return -1;
	}
	setenv("SOFTVERBS_RUNDIR", d->rundir, 1);
	argv[n++] = SVT_BINDIR "/softverbsd";
	for (i = 0; extra && extra[i] && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	d->pid = fork();
	if (d->pid < 0) {
		perror("svtest: fork");
		return -1;
	}
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
			fprintf(stderr, "svtest: softverbsd exited early\n");
			d->pid = 0;
			svt_rm_rf(d->rundir);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	/* --no-default-device users only get the pid file. */
	if (extra && svt_exists(d->rundir, "softverbsd.pid"))
		goto up;
	fprintf(stderr, "svtest: softverbsd did not come up in 5 s\n");
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
	svt_rm_rf(d->rundir);
	return -1;
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

#endif /* SVTEST_H */
