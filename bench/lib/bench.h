/* SPDX-License-Identifier: MIT */
/*
 * bench/lib: helpers shared by the C benchmarks under bench/.
 *
 * A benchmark program measures ONE figure per invocation and prints it as
 * its last line:
 *
 *	RESULT <value> <unit>
 *
 * bench/lib/harness.sh runs it several times, takes the median and prints
 * it next to its references (docs/benchmarks.md). Diagnostics go to
 * stderr; a program that cannot measure exits non-zero and prints no
 * RESULT line, which the harness reports as FAILED.
 */
#ifndef SV_BENCH_H
#define SV_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic time in ns (vDSO: about 20 ns per call on this machine). */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Median of v[0..n-1]; sorts v. 0 for n == 0. */
double bench_median(double *v, size_t n);

/* Median of n samples of ns durations, divided by div (e.g. 2 for RTT/2). */
double bench_median_ns(const uint64_t *ns, size_t n, double div);

/* "8", "4K", "64k", "1M", "8MiB" -> bytes. 0 on success, -1 if malformed. */
int bench_parse_size(const char *s, size_t *out);

/* Pin the calling thread to cpu (no-op for cpu < 0). 0 or -errno. */
int bench_pin(int cpu);

/* "0,1" -> {0, 1}; "" or "-" -> {-1, -1} (no pinning). */
int bench_parse_cpus(const char *s, int cpus[2]);

/* Print the figure: "RESULT <value> <unit>" on stdout, flushed. */
void bench_result(double value, const char *unit);

/* Bytes per ns -> MiB/s (perftest's and UCX's "MB/s" are MiB/s). */
static inline double bench_mib_s(double bytes, uint64_t ns)
{
	return ns ? bytes / ((double)ns / 1e9) / (1024.0 * 1024.0) : 0.0;
}

/* Abort the process (exit 2, "timeout" on stderr) after seconds. */
void bench_watchdog(unsigned int seconds);

/*
 * Two processes joined by a socketpair: fork; side 0 runs in the child,
 * side 1 in the parent, each pinned to cpus[side]. Each side gets its end
 * of the pair. Returns side 1's value, or the child's failure, or -1 if
 * the child did not finish.
 */
typedef int (*bench_side_fn)(int side, int fd, void *arg);
int bench_two_procs(const int cpus[2], bench_side_fn fn, void *arg);

/* Send len bytes, then receive len bytes from the peer. 0 or -1. */
int bench_xchg(int fd, const void *out, void *in, size_t len);

/* One byte to the peer / from the peer, as a barrier. 0 or -1. */
int bench_signal(int fd);
int bench_wait(int fd);

/* Page-aligned zeroed buffer; "shm" backs it with a shared memfd mapping
 * (a "mapped" MR), anything else with private anonymous memory. */
void *bench_alloc(size_t len, const char *kind);
void bench_free(void *p, size_t len);

#endif
