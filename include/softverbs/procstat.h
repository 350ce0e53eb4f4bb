/* SPDX-License-Identifier: MIT */
/*
 * A process's start time (field 22 of /proc/PID/stat, in clock ticks since
 * boot). With the pid it names one process: a later process that reuses
 * the pid starts later. The daemon publishes it with a region of the
 * direct path; the library compares it (docs/direct-path.md).
 */
#ifndef SOFTVERBS_PROCSTAT_H
#define SOFTVERBS_PROCSTAT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* 0 if the process is gone or the file cannot be read. */
static inline uint64_t sv_proc_start_time(pid_t pid)
{
	unsigned long long t = 0;
	char path[64], buf[512], *p;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name may hold spaces and ')': fields count from the last ')',
	 * which ends field 2; field 22 is 20 spaces further. */
	p = strrchr(buf, ')');
	for (i = 2; p && i < 22; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &t);
	return t;
}

#endif
