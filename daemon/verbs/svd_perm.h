/* SPDX-License-Identifier: MIT */
/*
 * A keyed permutation of 24-bit numbers (perm.c), so that the numbers a
 * remote peer must name -- memory key indices and QP/SRQ numbers -- are not
 * the daemon's slot or counter values. Knowing one's own keys tells an
 * attacker nothing useful about the next ones without the secret, which is
 * drawn from getrandom() at first use and never leaves the daemon.
 *
 * This is a 6-round Feistel network on two 12-bit halves with a keyed
 * 64-bit mixing function: a bijection on [0, 2^24), cheap to invert, meant
 * to defeat guessing, not a cryptographic PRP against unlimited queries
 * (docs/security.md).
 */
#ifndef SVD_PERM_H
#define SVD_PERM_H

#include <stdint.h>

#define SVD_PERM_BITS 24
#define SVD_PERM_MASK ((1U << SVD_PERM_BITS) - 1)

enum svd_perm_domain {
	SVD_PERM_KEYS,  /* memory key index (upper 24 bits of a key) */
	SVD_PERM_QPN,   /* QP numbers */
	SVD_PERM_SRQN,  /* SRQ numbers */
	SVD_PERM_NDOMAINS,
};

/* x (24 bits) -> its image; each domain has its own secret. */
uint32_t svd_perm24(enum svd_perm_domain d, uint32_t x);
/* The inverse: svd_perm24_inv(d, svd_perm24(d, x)) == x. */
uint32_t svd_perm24_inv(enum svd_perm_domain d, uint32_t y);
/* A random 32-bit value from the same source (initial key tags). */
uint32_t svd_random32(void);

#endif
