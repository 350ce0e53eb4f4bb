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
 * in for writing without changing a byte. So the list below: ODP regions
 * by lkey, with the process that registered them.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "svl_mr.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static pthread_mutex_t odp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct svl_mr *odp_list;

void svl_mr_odp_add(struct svl_mr *mr, uint64_t iova)
{
	mr->odp_pid = getpid();
	mr->odp_iova = iova;
	pthread_mutex_lock(&odp_lock);
	mr->odp_next = odp_list;
	odp_list = mr;
	pthread_mutex_unlock(&odp_lock);
}

void svl_mr_odp_del(struct svl_mr *mr)
{
	struct svl_mr **p;

	pthread_mutex_lock(&odp_lock);
	for (p = &odp_list; *p; p = &(*p)->odp_next)
		if (*p == mr) {
			*p = mr->odp_next;
			break;
		}
	pthread_mutex_unlock(&odp_lock);
}

/* The address in this process of [iova, iova+len) of our region lkey. */
static bool odp_find(uint32_t lkey, uint64_t iova, uint64_t len,
		     uintptr_t *addr)
{
	struct svl_mr *mr;
	bool found = false;

	pthread_mutex_lock(&odp_lock);
	for (mr = odp_list; mr && !found; mr = mr->odp_next) {
		if (mr->ibmr.lkey != lkey || mr->odp_pid != getpid() ||
		    iova < mr->odp_iova || iova - mr->odp_iova > mr->ibmr.length ||
		    len > mr->ibmr.length - (iova - mr->odp_iova))
			continue;
		*addr = (uintptr_t)mr->ibmr.addr + (uintptr_t)(iova - mr->odp_iova);
		found = true;
	}
	pthread_mutex_unlock(&odp_lock);
	return found;
}

void svl_mr_odp_populate_write(const struct ibv_sge *sge, uint32_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t addr, lo, hi;
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!sge[i].length ||
		    !odp_find(sge[i].lkey, sge[i].addr, sge[i].length, &addr))
			continue;
		lo = addr & ~(uintptr_t)(pg - 1);
		hi = (addr + sge[i].length + (uintptr_t)pg - 1) &
		     ~(uintptr_t)(pg - 1);
		/* Best effort: the daemon's check already decided the call's
		 * result (a PROT_NONE page it can read is not writable here). */
		(void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
	}
}
