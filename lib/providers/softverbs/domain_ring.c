// SPDX-License-Identifier: MIT
/*
 * Ring memory from a parent domain's allocator.
 *
 * The daemon reaches a ring through a memfd it maps (ring.h), and memory an
 * application allocator returns cannot be handed to another process. So
 * the library asks the allocator for the ring's pages (page aligned, whole
 * pages) and maps the ring's memfd over exactly those pages (MAP_FIXED):
 * the ring then lives at the address the allocator chose, and the daemon
 * sees the same pages. On destroy the range gets fresh private anonymous
 * pages again before the allocator's free runs, so the allocator finds
 * ordinary memory where it left it.
 *
 * Only ordinary private anonymous memory (heap, anonymous mmap: rw-p with
 * no file) is replaced that way. Memory we must not replace (hugetlb, a
 * file mapping, an unaligned block) goes back to the allocator's free at
 * once and the ring uses the library's own mapping; softverbsdv_query_qp
 * (and _cq, _srq) tell which happened (SOFTVERBSDV_OBJ_RING_FROM_ALLOC).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ring.h"
#include "svl_pd.h"

/* Does [a, a + len) lie in contiguous rw-p mappings with no file? */
static bool ring_remappable(uintptr_t a, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long lo, hi, ino;
	uintptr_t cur = a;
	char line[512], perms[8];

	if (!f)
		return false;
	while (cur < a + len && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %lu", &lo, &hi, perms,
			   &ino) != 4 || hi <= cur)
			continue;
		if (lo > cur || strcmp(perms, "rw-p") || ino)
			break;
		cur = hi;
	}
	fclose(f);
	return cur >= a + len;
}

/* Map the memfd over the allocator's block. 0 or a positive errno. */
static int ring_place(void *block, size_t map_len, int fd)
{
	void *p = mmap(block, map_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, fd, 0);

	return p == MAP_FAILED ? errno : 0;
}

/* The allocator's block for the ring, or NULL (src->domain stays NULL). */
static void *ring_from_alloc(struct svl_pd *p, uint64_t type, size_t map_len,
			     int fd, struct svl_obj_src *src)
{
	void *block = p->alloc(&p->pd, p->pd_context, map_len, SVL_PAGE_SIZE,
			       type);

	if (block == IBV_ALLOCATOR_USE_DEFAULT || !block)
		return NULL;
	if ((uintptr_t)block % SVL_PAGE_SIZE ||
	    !ring_remappable((uintptr_t)block, map_len) ||
	    ring_place(block, map_len, fd)) {
		p->free(&p->pd, p->pd_context, block, type);
		return NULL;
	}
	src->domain = p;
	atomic_fetch_add(&p->users, 1);
	return block;
}

bool svl_pd_ring_allocator(struct ibv_pd *pd)
{
	return pd && to_svl_pd(pd)->alloc;
}

int svl_ring_alloc_src(struct ibv_pd *pd, uint64_t type, size_t len, int *fd,
		       void **addr, struct svl_obj_src *src)
{
	struct svl_pd *p = pd ? to_svl_pd(pd) : NULL;
	void *block;
	int ret = svl_ring_alloc(len, fd, addr);

	src->domain = NULL;
	src->type = type;
	if (ret || !p || !p->alloc)
		return ret;
	block = ring_from_alloc(p, type, svl_ring_align(len), *fd, src);
	if (block) {
		munmap(*addr, svl_ring_align(len)); /* the library's mapping */
		*addr = block;
	}
	return 0;
}

void svl_ring_free_src(size_t len, int fd, void *addr,
		       const struct svl_obj_src *src)
{
	struct svl_pd *p = src->domain;
	size_t map_len = svl_ring_align(len);

	if (!p || !addr) {
		svl_ring_free(len, fd, addr);
		return;
	}
	if (fd >= 0)
		close(fd);
	/* Ordinary memory again before the allocator sees it (if this fails
	 * the block stays mapped to the memfd: still memory, still usable). */
	(void)mmap(addr, map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	p->free(&p->pd, p->pd_context, addr, src->type);
	atomic_fetch_sub(&p->users, 1);
}
