// SPDX-License-Identifier: MIT
/*
 * bench/lib: timing, statistics, pinning and two-process plumbing for the
 * C benchmarks (see bench.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (!n)
		return 0.0;
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

double bench_median_ns(const uint64_t *ns, size_t n, double div)
{
	double *v = malloc((n ? n : 1) * sizeof(*v));
	double m;
	size_t i;

	if (!v)
		return 0.0;
	for (i = 0; i < n; i++)
		v[i] = (double)ns[i] / div;
	m = bench_median(v, n);
	free(v);
	return m;
}

int bench_parse_size(const char *s, size_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	/* Accept the binary suffix spelled out: 4KiB, 1MiB. */
	if (!strcmp(end, "iB") || !strcmp(end, "ib") || !strcmp(end, "B"))
		end += strlen(end);
	if (*end)
		return -1;
	*out = (size_t)v;
	return 0;
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int bench_parse_cpus(const char *s, int cpus[2])
{
	cpus[0] = cpus[1] = -1;
	if (!s || !*s || !strcmp(s, "-"))
		return 0;
	if (sscanf(s, "%d,%d", &cpus[0], &cpus[1]) != 2 || cpus[0] < 0 ||
	    cpus[1] < 0)
		return -1;
	return 0;
}

void bench_result(double value, const char *unit)
{
	printf("RESULT %.6g %s\n", value, unit);
	fflush(stdout);
}

static void watchdog_fire(int sig)
{
	static const char msg[] = "bench: timeout\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(2);
}

static unsigned int watchdog_seconds;

void bench_watchdog(unsigned int seconds)
{
	watchdog_seconds = seconds;
	signal(SIGALRM, watchdog_fire);
	alarm(seconds);
}

/*
 * Reap side 0. Side 1 has closed its end, so a child still blocked on the
 * pair sees EOF; one spinning on shared state is ended by its watchdog.
 */
static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? -1 : 0;
	fprintf(stderr, "bench: side 0 died (signal %d)\n",
		WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

int bench_two_procs(const int cpus[2], bench_side_fn fn, void *arg)
{
	int sv[2], ret, child_ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(sv[1]);
		if (watchdog_seconds) /* alarms are not inherited by fork */
			alarm(watchdog_seconds);
		if (bench_pin(cpus[0]))
			perror("bench: pin side 0");
		_exit(fn(0, sv[0], arg) ? 1 : 0);
	}
	close(sv[0]);
	if (bench_pin(cpus[1]))
		perror("bench: pin side 1");
	ret = fn(1, sv[1], arg);
	close(sv[1]);
	child_ret = reap(pid);
	return ret ? ret : child_ret;
}

static int io_all(int fd, void *buf, size_t len, int out)
{
	char *p = buf;

	while (len) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) :
				  recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bench_xchg(int fd, const void *out, void *in, size_t len)
{
	if (io_all(fd, (void *)out, len, 1))
		return -1;
	return io_all(fd, in, len, 0);
}

int bench_signal(int fd)
{
	char c = 'x';

	return io_all(fd, &c, 1, 1);
}

int bench_wait(int fd)
{
	char c;

	return io_all(fd, &c, 1, 0);
}

void *bench_alloc(size_t len, const char *kind)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;
	void *p;

	if (kind && !strcmp(kind, "shm")) {
		fd = memfd_create("bench", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)len)) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		flags = MAP_SHARED;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

void bench_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}
