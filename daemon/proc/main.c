// SPDX-License-Identifier: MIT
/*
 * softverbsd: serves one or more soft RDMA devices (the loop: serve.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "svd.h"
#include "svd_limits.h"
#include "svd_main.h"
#include "svd_mem.h"
#include "svd_perm.h"
#include "svd_xuser.h"

static void on_signal(int sig)
{
	(void)sig;
	svd_daemon_request_stop();
}

static void write_pidfile(void)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/softverbsd.pid", svd_rundir());
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

/*
 * Each client connection holds one of our fds: use all the hard limit
 * allows (the usual soft limit, 1024, would be a low ceiling for a daemon
 * serving every user), up to a bound that keeps epoll sets sane.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	rl.rlim_cur = rl.rlim_max < (1U << 20) ? rl.rlim_max : (1U << 20);
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int parse_args(int argc, char **argv, bool *no_default)
{
	for (int i = 1; i < argc; i++) {
		int r = svd_xuser_parse_arg(argv[i]);

		if (!r)
			r = svd_limit_parse_arg(argv[i]);
		if (!strcmp(argv[i], "--no-default-device"))
			*no_default = true;
		else if (r < 0) {
			fprintf(stderr, "softverbsd: bad option %s\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool no_default = false;
	int ret;

	if (parse_args(argc, argv, &no_default))
		return 1;
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	svd_mem_guard_init();
	if (svd_perm_init()) { /* keys and QPNs must not be guessable */
		fprintf(stderr, "softverbsd: no randomness: refusing to start\n");
		return 1;
	}
	if (svd_serve_init())
		return 1;
	if (!no_default) {
		ret = svd_daemon_dev_add("softverbs0", getenv("SOFTVERBS_NETDEV"),
					 false);
		if (ret) {
			fprintf(stderr, "softverbsd: softverbs0: %s\n",
				strerror(-ret));
			return 1;
		}
	}
	write_pidfile();
	fprintf(stderr, "softverbsd: serving in %s\n", svd_rundir());
	svd_serve_loop();
	svd_serve_shutdown();
	return 0;
}
