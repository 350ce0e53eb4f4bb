/* SPDX-License-Identifier: MIT */
/*
 * The daemon in a fuzzer's own thread, started as softverbsd starts it: a
 * private runtime directory, the SIGBUS guard, the event loop with its
 * control socket and cm.sock, and the device softverbs0. The fuzzer then
 * drives the loop with svd_serve_once(). Everything goes at exit.
 */
#ifndef FUZZ_DAEMON_H
#define FUZZ_DAEMON_H

#include <stdio.h>
#include <stdlib.h>

#include "svd.h"
#include "svd_main.h"
#include "svd_mem.h"

static char fuzz_rundir[] = "/tmp/fuzz_daemon.XXXXXX";

static inline void fuzz_rundir_remove(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_rundir);
	if (system(cmd))
		fprintf(stderr, "fuzz: could not remove %s\n", fuzz_rundir);
}

static inline void fuzz_daemon_init(void)
{
	if (!mkdtemp(fuzz_rundir))
		abort();
	atexit(fuzz_rundir_remove);
	setenv("SOFTVERBS_RUNDIR", fuzz_rundir, 1);
	svd_mem_guard_init();
	if (svd_serve_init() || svd_daemon_dev_add("softverbs0", NULL, false))
		abort();
	atexit(svd_serve_shutdown); /* before the rundir goes (LIFO) */
}

#endif
