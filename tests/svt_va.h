/* SPDX-License-Identifier: MIT */
/*
 * Private (VA) test memory: an SVT_VA_AREA-byte anonymous mapping,
 * registered for local write and remote read/write, filled with a
 * position- and seed-dependent pattern (test_va_pair, test_dp_stage).
 */
#ifndef SVT_VA_H
#define SVT_VA_H

#include <sys/mman.h>

#include "svtest.h"
#include "svt_ep.h"

#define SVT_VA_AREA (8u << 20)

static inline uint8_t *svt_va_area(void)
{
	uint8_t *p = mmap(NULL, SVT_VA_AREA, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	SVT_CHECK(p != MAP_FAILED);
	return p;
}

static inline struct ibv_mr *svt_va_reg(struct svt_ep *e, void *p)
{
	struct ibv_mr *mr = ibv_reg_mr(e->pd, p, SVT_VA_AREA,
				       IBV_ACCESS_LOCAL_WRITE |
					       IBV_ACCESS_REMOTE_WRITE |
					       IBV_ACCESS_REMOTE_READ);

	SVT_CHECK(mr);
	return mr;
}

static inline void svt_va_fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
}

#endif
