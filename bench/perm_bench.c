// SPDX-License-Identifier: MIT
/*
 * perm_bench: the cost of the keyed permutation of keys and QPNs
 * (daemon/verbs/perm.c), in ns per call.
 *
 *	perm_bench [inv|perm|chain]
 *
 *   inv   (default) svd_perm24_inv over 1024 live key indices: the
 *         engine's key look-up on every work request;
 *   perm  svd_perm24 over consecutive inputs (a QPN or key allocation);
 *   chain each call's input is the last output: the latency of one call.
 *
 * Timed on the thread's CPU clock, so a loaded machine's preemption does
 * not count; the median of 9 runs of 2^20 calls.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "svd_perm.h"

#define RUNS 9
#define CALLS (1U << 20)

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile uint32_t sink;

static uint32_t run_inv(void)
{
	uint32_t acc = 0;

	for (uint32_t i = 0; i < CALLS; i++)
		acc += svd_perm24_inv(SVD_PERM_KEYS, i & 1023);
	return acc;
}

static uint32_t run_perm(void)
{
	uint32_t acc = 0;

	for (uint32_t i = 0; i < CALLS; i++)
		acc += svd_perm24(SVD_PERM_QPN, i);
	return acc;
}

static uint32_t run_chain(void)
{
	uint32_t x = 12345;

	for (uint32_t i = 0; i < CALLS; i++)
		x = svd_perm24(SVD_PERM_KEYS, x);
	return x;
}

static uint64_t one_run(uint32_t (*fn)(void))
{
	uint64_t t = cpu_ns();

	sink = fn();
	return cpu_ns() - t;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "inv";
	uint32_t (*fn)(void) = !strcmp(mode, "inv")    ? run_inv
			       : !strcmp(mode, "perm")  ? run_perm
			       : !strcmp(mode, "chain") ? run_chain
						       : NULL;
	uint64_t ns[RUNS];

	if (!fn) {
		fprintf(stderr, "usage: perm_bench [inv|perm|chain]\n");
		return 2;
	}
	if (svd_perm_init())
		return 1;
	for (int i = 0; i < RUNS; i++)
		ns[i] = one_run(fn);
	bench_result(bench_median_ns(ns, RUNS, CALLS), "ns");
	return 0;
}
