// SPDX-License-Identifier: MIT
/*
 * ODP regions this process registered, for ibv_advise_mr's
 * PREFETCH_WRITE (docs/odp.md).
 *
 * The daemon prefetches by reading every page through the registrar's
 * address space, which faults it in but cannot break copy-on-write (it
 * would have to store, and a store could race with the process's own).
 * Making the pages present and writable needs a write fault in the
 * registrar itself: when the caller registered the region (same process,
 * not a forked child: the region names the registrar's memory), the
 * library does it with madvise(MADV_POPULATE_WRITE), which faults pages
 * in for writing without changing a byte. Which SGEs name such a region,
 * and where their bytes are, the lkey registry says (mr_keys.c: its ODP
 * entries, with their iova).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "svl_mr.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void svl_mr_odp_populate_write(const struct ibv_context *ctx,
			       const struct ibv_sge *sge, uint32_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t addr, lo, hi;
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!sge[i].length || !svl_mr_odp_find(ctx, &sge[i], &addr))
			continue;
		lo = addr & ~(uintptr_t)(pg - 1);
		hi = (addr + sge[i].length + (uintptr_t)pg - 1) &
		     ~(uintptr_t)(pg - 1);
		/* Best effort: the daemon's check already decided the call's
		 * result (a PROT_NONE page it can read is not writable here). */
		(void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
	}
}
