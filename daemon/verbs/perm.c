// SPDX-License-Identifier: MIT
/*
 * Keyed 24-bit permutation (svd_perm.h).
 *
 * Round r of domain d maps the right half h to
 *	SipHash-2-4(key[d], r << 32 | h) mod 2^12.
 * Each round function has only 4096 inputs, so svd_perm_init() evaluates
 * all of them once into a table (SVD_PERM_ROUNDS * 4096 entries per domain,
 * 96 KiB per domain): the permutation is then twelve table look-ups and
 * XORs, fast enough for the engine's key look-up on every work request,
 * while each round is still exactly the PRF.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "svd_perm.h"

#define HALF_BITS (SVD_PERM_BITS / 2)
#define HALF_SIZE (1U << HALF_BITS)
#define HALF_MASK (HALF_SIZE - 1)

struct sip_key {
	uint64_t k0, k1;
};

static uint16_t round_tab[SVD_PERM_NDOMAINS][SVD_PERM_ROUNDS][HALF_SIZE];
static struct sip_key rng_key; /* svd_random32()'s own key */
static uint64_t rng_counter;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;

static inline uint64_t rotl(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

static inline void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

/* Absorb one 8-byte block with the two compression rounds of SipHash-2-4. */
static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

uint64_t svd_siphash24_u64(uint64_t k0, uint64_t k1, uint64_t m)
{
	uint64_t v[4] = { k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
			  k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL };

	sip_absorb(v, m);
	sip_absorb(v, 8ULL << 56); /* the final block: length 8, no tail */
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Fill buf from the kernel's CSPRNG: getrandom(), else /dev/urandom. */
static int get_random(void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	while (got < len) {
		n = getrandom((uint8_t *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == len)
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len && (n = read(fd, (uint8_t *)buf + got, len - got)) > 0)
		got += (size_t)n;
	close(fd);
	return got == len ? 0 : -EIO;
}

static void tabulate(enum svd_perm_domain d, const struct sip_key *k)
{
	for (uint64_t r = 0; r < SVD_PERM_ROUNDS; r++)
		for (uint64_t h = 0; h < HALF_SIZE; h++)
			round_tab[d][r][h] = (uint16_t)(svd_siphash24_u64(
				k->k0, k->k1, r << 32 | h) & HALF_MASK);
}

static void perm_init_once(void)
{
	struct sip_key keys[SVD_PERM_NDOMAINS + 1];

	init_err = get_random(keys, sizeof(keys));
	if (init_err)
		return;
	for (int d = 0; d < SVD_PERM_NDOMAINS; d++)
		tabulate((enum svd_perm_domain)d, &keys[d]);
	rng_key = keys[SVD_PERM_NDOMAINS];
	/* The keys live on only as the tables and rng_key. */
	explicit_bzero(keys, sizeof(keys));
}

int svd_perm_init(void)
{
	pthread_once(&init_once, perm_init_once);
	return init_err;
}

static void need_init(void)
{
	if (svd_perm_init()) {
		fprintf(stderr, "softverbsd: no randomness for keys and QPNs\n");
		abort();
	}
}

uint32_t svd_perm24(enum svd_perm_domain d, uint32_t x)
{
	const uint16_t(*f)[HALF_SIZE] = round_tab[d];
	uint32_t l = (x >> HALF_BITS) & HALF_MASK, r = x & HALF_MASK, t;

	need_init();
	for (int i = 0; i < SVD_PERM_ROUNDS; i++) {
		t = r;
		r = l ^ f[i][r];
		l = t;
	}
	return l << HALF_BITS | r;
}

uint32_t svd_perm24_inv(enum svd_perm_domain d, uint32_t y)
{
	const uint16_t(*f)[HALF_SIZE] = round_tab[d];
	uint32_t l = (y >> HALF_BITS) & HALF_MASK, r = y & HALF_MASK, t;

	need_init();
	for (int i = SVD_PERM_ROUNDS - 1; i >= 0; i--) {
		t = l;
		l = r ^ f[i][l];
		r = t;
	}
	return l << HALF_BITS | r;
}

/* SipHash in counter mode: a PRF of distinct inputs is a CSPRNG. */
uint32_t svd_random32(void)
{
	uint64_t n;

	need_init();
	n = __atomic_fetch_add(&rng_counter, 1, __ATOMIC_RELAXED);
	return (uint32_t)svd_siphash24_u64(rng_key.k0, rng_key.k1, n);
}
