// SPDX-License-Identifier: MIT
/*
 * Keyed 24-bit permutation (svd_perm.h). The secrets come from getrandom();
 * if the kernel has none to give (very early boot), the clock and the
 * address of a stack variable are folded in, which still beats a counter.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "svd_perm.h"

#define ROUNDS 6
#define HALF_BITS (SVD_PERM_BITS / 2)
#define HALF_MASK ((1U << HALF_BITS) - 1)

static uint64_t secret[SVD_PERM_NDOMAINS][ROUNDS];
static uint64_t rng_state;
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;

/* splitmix64's finalizer: a good avalanche for a keyed round function. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void secret_init(void)
{
	uint8_t *p = (uint8_t *)secret;
	size_t want = sizeof(secret), got = 0;
	struct timespec ts;

	while (got < want) {
		ssize_t n = getrandom(p + got, want - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rng_state = mix64((uint64_t)ts.tv_nsec ^ (uintptr_t)&ts);
	for (size_t i = 0; i < want / sizeof(uint64_t); i++)
		((uint64_t *)secret)[i] ^= mix64(rng_state + i);
	rng_state ^= secret[0][0];
}

static uint32_t round_fn(enum svd_perm_domain d, int r, uint32_t half)
{
	return (uint32_t)mix64(secret[d][r] ^ half) & HALF_MASK;
}

uint32_t svd_perm24(enum svd_perm_domain d, uint32_t x)
{
	uint32_t l = (x >> HALF_BITS) & HALF_MASK, r = x & HALF_MASK, t;

	pthread_once(&secret_once, secret_init);
	for (int i = 0; i < ROUNDS; i++) {
		t = r;
		r = l ^ round_fn(d, i, r);
		l = t;
	}
	return l << HALF_BITS | r;
}

uint32_t svd_perm24_inv(enum svd_perm_domain d, uint32_t y)
{
	uint32_t l = (y >> HALF_BITS) & HALF_MASK, r = y & HALF_MASK, t;

	pthread_once(&secret_once, secret_init);
	for (int i = ROUNDS - 1; i >= 0; i--) {
		t = l;
		l = r ^ round_fn(d, i, l);
		r = t;
	}
	return l << HALF_BITS | r;
}

uint32_t svd_random32(void)
{
	uint64_t v;

	pthread_once(&secret_once, secret_init);
	pthread_mutex_lock(&rng_lock);
	rng_state += 0x9e3779b97f4a7c15ULL;
	v = mix64(rng_state ^ secret[0][1]);
	pthread_mutex_unlock(&rng_lock);
	return (uint32_t)v;
}
