/* SPDX-License-Identifier: MIT */
/*
 * Library ring helpers shared by CQs, QPs and SRQs.
 *
 * Rings and doorbell records live in one memfd per object so that the
 * daemon can mmap() them (seed 001 DMABUF descriptors): the library keeps
 * the fd, hands it over on the create command, and maps it itself.
 *
 * Index rule (include/softverbs/abi.h): indices are free-running u32, the
 * producer publishes with release after writing the entry, the consumer
 * reads the producer index with acquire before reading the entry (and the
 * reverse for the consumer index).
 */
#ifndef SVL_RING_H
#define SVL_RING_H

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <softverbs/abi.h>

#define SVL_PAGE_SIZE 4096UL

static inline size_t svl_ring_align(size_t len)
{
	return (len + SVL_PAGE_SIZE - 1) & ~(SVL_PAGE_SIZE - 1);
}

/* Smallest power of two >= n (n >= 1); 0 if it would overflow u32. */
static inline uint32_t svl_roundup_pow2(uint32_t n)
{
	uint32_t v = 1;

	while (v < n) {
		if (v & 0x80000000U)
			return 0;
		v <<= 1;
	}
	return v;
}

/*
 * Allocate a zeroed shared buffer of len bytes (rounded up to pages) in a
 * memfd and map it. Returns 0 or a positive errno; *fd and *addr are set on
 * success. The mapping length is svl_ring_align(len).
 */
static inline int svl_ring_alloc(size_t len, int *fd, void **addr)
{
	size_t map_len = svl_ring_align(len);
	void *p;
	int mfd, err;

	if (!len)
		return EINVAL;
	/* The raw syscall: no _GNU_SOURCE needed by includers. */
	mfd = (int)syscall(SYS_memfd_create, "softverbs-ring",
			   MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return errno;
	/* Sealed against shrinking: the daemon maps it (docs/memory.md). */
	if (ftruncate(mfd, (off_t)map_len) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		err = errno;
		close(mfd);
		return err;
	}
	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		close(mfd);
		return err;
	}
	*fd = mfd;
	*addr = p;
	return 0;
}

/* Undo svl_ring_alloc (len as passed to it). Either part may be absent. */
static inline void svl_ring_free(size_t len, int fd, void *addr)
{
	if (addr)
		munmap(addr, svl_ring_align(len));
	if (fd >= 0)
		close(fd);
}

/*
 * Once the daemon holds the ring (the create command succeeded), the
 * mapping is all we need: closing the memfd keeps one fd per object from
 * capping how many QPs/CQs/SRQs a process may have.
 */
static inline void svl_ring_drop_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * The QP ring pool (ring_pool.c): rings of up to SVL_RING_POOL_MAX bytes
 * carved out of a few shared memfds. A slot is fd (the pool's, never to be
 * closed by the caller) at offset off, mapped at addr.
 */
#define SVL_RING_POOL_MAX (64UL * 1024)

struct svl_ring_chunk;
struct svl_ring_slot {
	struct svl_ring_chunk *chunk; /* NULL: not from the pool */
	int fd;
	size_t off;
	void *addr;
};

bool svl_ring_pool_fits(size_t len);
/* 0 or a positive errno. */
int svl_ring_pool_alloc(size_t len, struct svl_ring_slot *s);
/* After the daemon let go of the rings (their QP destroyed). */
void svl_ring_pool_free(struct svl_ring_slot *s, size_t len);

/* Acquire/release accessors for the u32 indices of struct sv_dbrec. */
static inline uint32_t svl_load_acquire(const uint32_t *p)
{
	return atomic_load_explicit((_Atomic uint32_t *)p,
				    memory_order_acquire);
}

static inline void svl_store_release(uint32_t *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_release);
}

static inline uint32_t svl_load_relaxed(const uint32_t *p)
{
	return atomic_load_explicit((_Atomic uint32_t *)p,
				    memory_order_relaxed);
}

static inline void svl_store_relaxed(uint32_t *p, uint32_t v)
{
	atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_relaxed);
}

/* Entries in use given free-running producer/consumer indices. */
static inline uint32_t svl_ring_used(uint32_t prod, uint32_t cons)
{
	return prod - cons;
}

#endif /* SVL_RING_H */
