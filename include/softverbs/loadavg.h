/* SPDX-License-Identifier: MIT */
/*
 * How many threads are runnable on this machine right now: the 4th field of
 * /proc/loadavg ("0.52 0.58 0.59 3/467 12345": 3, the instantaneous
 * nr_running, the reader included), about a microsecond to read. Used to
 * decide whether polling instead of sleeping takes a CPU from anyone: only
 * while every runnable thread has a CPU of its own.
 */
#ifndef SOFTVERBS_LOADAVG_H
#define SOFTVERBS_LOADAVG_H

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

/* fd: /proc/loadavg, open. -1 if it cannot be read. */
static inline long sv_loadavg_running(int fd)
{
	char buf[128];
	long running = -1;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%*s %*s %*s %ld/", &running) != 1)
		return -1;
	return running;
}

#endif
