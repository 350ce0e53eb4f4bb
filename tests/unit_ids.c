// SPDX-License-Identifier: MIT
/*
 * Issue 18 item 2: memory keys and QP numbers are not predictable.
 *
 * Keys used to be slot << 8 | 1 from the lowest free slot and QPNs came
 * from one counter, so an attacker could name a victim's region or QP by
 * counting. This checks, on the daemon core directly, that
 *   - the permutation is a bijection with a working inverse;
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

#define N 512

static int fails;
#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
			fails++;                                           \
		}                                                          \
	} while (0)

static void check_perm(void)
{
	static uint8_t seen[1 << 21];
	uint32_t x, y;

	for (x = 0; x <= SVD_PERM_MASK; x++) {
		y = svd_perm24(SVD_PERM_QPN, x);
		CHECK(y <= SVD_PERM_MASK);
		CHECK(!(seen[y >> 3] & (1 << (y & 7))));
		seen[y >> 3] |= 1 << (y & 7);
		if (x % 4099 == 0)
			CHECK(svd_perm24_inv(SVD_PERM_QPN, y) == x);
	}
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
	check_perm();
	check_keys(&dev);
	check_qpns(&dev);
	if (fails)
		return 1;
	printf("keys and QPNs: permuted, unique, resolvable\n");
	return 0;
}
