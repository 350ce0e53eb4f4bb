// SPDX-License-Identifier: MIT
/*
 * Issue 18 item 2: memory keys and QP numbers are not predictable.
 *
 * Keys used to be slot << 8 | 1 from the lowest free slot and QPNs came
 * from one counter, so an attacker could name a victim's region or QP by
 * counting. This checks, on the daemon core directly, that
 *   - the round function is SipHash-2-4 (the reference test vector);
 *   - the permutation is a bijection on all of [0, 2^24) (the other
 *     domains on a sample) with a working inverse (checked on a
 *     sixteenth), and each domain has its own key;
 *   - keys resolve, are unique, never 0, and are not slot << 8 | 1;
 *   - consecutive keys and QPNs do not step by a constant;
 *   - QPNs stay within 24 bits and never hit the special QPs 0 and 1;
 *   - a freed key no longer resolves, and a guessed neighbour key misses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svd_keys.h"
#include "svd_perm.h"
#include "svd_qpn.h"
#include "svt_unit.h"

#define N 512

/* The 8-byte vector of the SipHash paper: key 00..0f, message 00..07. */
static void check_siphash(void)
{
	CHECK(svd_siphash24_u64(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL,
				0x0706050403020100ULL) ==
	      0x93f5f5799a932462ULL);
}

/*
 * The first n inputs of domain d: images distinct, every 16th inverted
 * back (the whole domain takes well under a second that way, also under
 * the sanitizers).
 */
static void check_perm(enum svd_perm_domain d, uint32_t n)
{
	static uint8_t seen[1 << 21];
	uint32_t x, y;

	memset(seen, 0, sizeof(seen));
	for (x = 0; x < n; x++) {
		y = svd_perm24(d, x);
		CHECK(y <= SVD_PERM_MASK);
		CHECK(!(seen[y >> 3] & (1 << (y & 7))));
		seen[y >> 3] |= 1 << (y & 7);
		if (x % 16 == 0)
			CHECK(svd_perm24_inv(d, y) == x);
	}
}

/* Independent keys: two domains agree on about 1 point in 2^24. */
static void check_domains_differ(void)
{
	int same = 0;

	for (uint32_t x = 0; x < 4096; x++)
		same += svd_perm24(SVD_PERM_KEYS, x) ==
			svd_perm24(SVD_PERM_QPN, x);
	CHECK(same < 4);
}

/* Count steps between consecutive values equal to the most common step. */
static int constant_steps(const uint32_t *v, int n)
{
	int same = 0;

	for (int i = 2; i < n; i++)
		same += v[i] - v[i - 1] == v[1] - v[0];
	return same;
}

static void check_keys(struct svd_device *dev)
{
	static struct svd_mr mrs[N];
	uint32_t keys[N];
	int slot_like = 0;

	for (int i = 0; i < N; i++) {
		CHECK(!svd_keys_insert(dev, &mrs[i], &keys[i]));
		mrs[i].lkey = mrs[i].rkey = keys[i];
		CHECK(keys[i] != 0);
		slot_like += keys[i] == ((uint32_t)(i + 1) << 8 | 1);
	}
	CHECK(slot_like < 2);
	CHECK(constant_steps(keys, N) < 8);
	for (int i = 0; i < N; i++) {
		CHECK(svd_dev_key_find(dev, keys[i]) == &mrs[i]);
		/* A neighbour of a known key is not a key (but by chance). */
		CHECK(svd_dev_key_find(dev, keys[i] + 0x100) == NULL ||
		      (keys[i] + 0x100) == keys[(i + 1) % N]);
	}
	CHECK(svd_keys_count(dev) == N);
	for (int i = 0; i < N; i++)
		svd_keys_remove(dev, keys[i]);
	for (int i = 0; i < N; i++)
		CHECK(svd_dev_key_find(dev, keys[i]) == NULL);
	CHECK(svd_dev_key_find(dev, 0) == NULL);
}

static void check_qpns(struct svd_device *dev)
{
	static struct svd_qp qps[N];
	uint32_t n[N];

	for (int i = 0; i < N; i++) {
		CHECK(!svd_qpn_insert(dev, &qps[i]));
		n[i] = qps[i].qpn;
		CHECK(n[i] >= 2 && n[i] <= SVD_QPN_MASK);
		CHECK(svd_dev_qp_find(dev, n[i]) == &qps[i]);
	}
	CHECK(constant_steps(n, N) < 8);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			CHECK(n[i] != n[j]);
	for (int i = 0; i < N; i++)
		svd_qpn_remove(dev, &qps[i]);
	CHECK(svd_dev_qp_find(dev, n[0]) == NULL);
}

int main(void)
{
	static struct svd_device dev = { .name = "unit",
					  .attr.max_qp = 1U << 20 };

	pthread_mutex_init(&dev.lock, NULL);
	check_siphash();
	check_perm(SVD_PERM_QPN, SVD_PERM_MASK + 1); /* all of it */
	check_perm(SVD_PERM_KEYS, 1U << 18);
	check_perm(SVD_PERM_SRQN, 1U << 18);
	check_domains_differ();
	check_keys(&dev);
	check_qpns(&dev);
	if (svt_failures)
		return 1;
	printf("keys and QPNs: permuted, unique, resolvable\n");
	return 0;
}
