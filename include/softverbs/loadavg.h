/* SPDX-License-Identifier: MIT */
/*
 * Is a CPU free right now, i.e. does every runnable thread have a CPU of
 * its own? Then polling instead of sleeping takes a CPU from no one. The
 * count is the 4th field of /proc/loadavg ("0.52 0.58 0.59 3/467 12345":
 * 3, the instantaneous nr_running, the reader included), about a
 * microsecond to read. Each file that includes this keeps its own fd.
 */
#ifndef SOFTVERBS_LOADAVG_H
#define SOFTVERBS_LOADAVG_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

static int sv_loadavg_fd = -1;
static long sv_loadavg_cpus = 1;

static inline void sv_loadavg_open(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	sv_loadavg_cpus = n > 0 ? n : 1;
	sv_loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
}

/* Runnable threads now, or -1 if /proc/loadavg cannot be read. */
static inline long sv_loadavg_running(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	long running = -1;
	char buf[128];
	ssize_t n;

	pthread_once(&once, sv_loadavg_open);
	n = sv_loadavg_fd < 0 ? -1 :
				pread(sv_loadavg_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%*s %*s %*s %ld/", &running) != 1)
		return -1;
	return running;
}

/* Unknown counts as busy: sleeping is always correct. */
static inline bool sv_cpu_free(void)
{
	long r = sv_loadavg_running();

	return r > 0 && r <= sv_loadavg_cpus;
}

#endif
