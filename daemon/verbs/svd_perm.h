/* SPDX-License-Identifier: MIT */
/*
 * A keyed pseudo-random permutation of 24-bit numbers (perm.c), so that the
 * numbers a remote peer must name -- memory key indices and QP/SRQ numbers
 * -- are not the daemon's slot or counter values, and knowing one's own
 * numbers tells nothing about anyone else's.
 *
 * It is a balanced Feistel network of SVD_PERM_ROUNDS rounds on two 12-bit
 * halves whose round function is SipHash-2-4, a cryptographic PRF, under a
 * 128-bit key per domain drawn from getrandom() when the daemon starts
 * (svd_perm_init). The domain is exactly 2^24, so no cycle walking is
 * needed. docs/security.md gives the argument and its limits.
 */
#ifndef SVD_PERM_H
#define SVD_PERM_H

#include <stdint.h>

#define SVD_PERM_BITS 24
#define SVD_PERM_MASK ((1U << SVD_PERM_BITS) - 1)
/* FF1, NIST's format-preserving Feistel, uses 10; two more for margin. */
#define SVD_PERM_ROUNDS 12

enum svd_perm_domain {
	SVD_PERM_KEYS,  /* memory key index (upper 24 bits of a key) */
	SVD_PERM_QPN,   /* QP numbers */
	SVD_PERM_SRQN,  /* SRQ numbers */
	SVD_PERM_NDOMAINS,
};

/*
 * Draw the secrets (getrandom(), else /dev/urandom). The daemon calls it
 * at start and refuses to run without them (-errno); the permutation and
 * svd_random32() call it on first use too (unit tests, fuzzers) and abort
 * the process if there is no randomness: a guessable key is worse.
 */
int svd_perm_init(void);
/* x (24 bits) -> its image; each domain has its own key. */
uint32_t svd_perm24(enum svd_perm_domain d, uint32_t x);
/* The inverse: svd_perm24_inv(d, svd_perm24(d, x)) == x. */
uint32_t svd_perm24_inv(enum svd_perm_domain d, uint32_t y);
/* A random 32-bit value: SipHash of a counter (initial key tags). */
uint32_t svd_random32(void);
/* SipHash-2-4 of one 64-bit little-endian word under key (k0, k1). */
uint64_t svd_siphash24_u64(uint64_t k0, uint64_t k1, uint64_t m);

#endif
