// SPDX-License-Identifier: MIT
/*
 * The QP ring pool: many QPs' rings carved out of one memfd.
 *
 * A memfd per QP cost memfd_create, ftruncate, a seal and an mmap here,
 * and an fstat, a seal and three mmaps and munmaps in the daemon, for
 * every QP. The pool keeps a few 1 MiB memfds (chunks, sealed against
 * shrinking like every ring memfd, docs/security.md) mapped in this
 * process; a QP's rings take whole pages of one, and the daemon maps a
 * chunk once per context (daemon/core/umem_share.c).
 *
 * Only this process's rings live in its chunks, and pages go back to the
 * pool zeroed, after the daemon destroyed the QP that used them: a new QP
 * starts from zeroed rings, as from a fresh memfd.
 *
 * fork: a child must not carve rings out of chunks its parent still uses
 * (nor the parent out of chunks the child can see): at fork both sides
 * retire every chunk. A retired chunk serves no new ring and goes away
 * with its last one; the child also closes its copies of the chunk fds.
 * So a child sees the rings that existed at fork, and no later ones, as
 * with one memfd per QP.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "svl_prov.h"

#define CHUNK_PAGES 256U /* 1 MiB chunks */
#define WORD_BITS 64U

struct svl_ring_chunk {
	struct svl_ring_chunk *next;
	int fd; /* -1 once retired */
	uint8_t *base;
	unsigned int used; /* pages handed out */
	uint64_t busy[CHUNK_PAGES / WORD_BITS];
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static struct svl_ring_chunk *chunks; /* live ones; retired are unlisted */

static bool page_busy(const struct svl_ring_chunk *c, unsigned int i)
{
	return c->busy[i / WORD_BITS] & (1ULL << (i % WORD_BITS));
}

static void pages_mark(struct svl_ring_chunk *c, unsigned int first,
		       unsigned int n, bool busy)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		if (busy)
			c->busy[i / WORD_BITS] |= 1ULL << (i % WORD_BITS);
		else
			c->busy[i / WORD_BITS] &= ~(1ULL << (i % WORD_BITS));
	}
	c->used = busy ? c->used + n : c->used - n;
}

/* First run of n free pages in c, or -1. */
static int pages_find(const struct svl_ring_chunk *c, unsigned int n)
{
	unsigned int i, run = 0;

	if (CHUNK_PAGES - c->used < n)
		return -1;
	for (i = 0; i < CHUNK_PAGES; i++) {
		run = page_busy(c, i) ? 0 : run + 1;
		if (run == n)
			return (int)(i + 1 - n);
	}
	return -1;
}

static void chunk_free(struct svl_ring_chunk *c)
{
	munmap(c->base, CHUNK_PAGES * SVL_PAGE_SIZE);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/*
 * A chunk must really refuse to shrink: a truncated chunk would take every
 * ring in it down, this process's own accesses included. Where the seal
 * does not hold (a memfd made without sealing, an interposed fcntl), the
 * pool stays off and every QP gets its own memfd, as before.
 */
static bool pool_off;

static bool chunk_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	return seals >= 0 && (seals & F_SEAL_SHRINK);
}

static struct svl_ring_chunk *chunk_new(void)
{
	struct svl_ring_chunk *c = pool_off ? NULL : calloc(1, sizeof(*c));
	void *base = NULL;

	if (!c)
		return NULL;
	if (svl_ring_alloc(CHUNK_PAGES * SVL_PAGE_SIZE, &c->fd, &base)) {
		free(c);
		return NULL;
	}
	if (!chunk_sealed(c->fd)) {
		pool_off = true;
		svl_ring_free(CHUNK_PAGES * SVL_PAGE_SIZE, c->fd, base);
		free(c);
		return NULL;
	}
	c->base = base;
	c->next = chunks;
	chunks = c;
	return c;
}

/* Both sides of a fork: no chunk serves new rings any more. */
static void pool_retire_all(void)
{
	struct svl_ring_chunk *c, *next;

	for (c = chunks; c; c = next) {
		next = c->next;
		c->next = NULL;
		if (!c->used) {
			chunk_free(c);
			continue;
		}
		/* Parent: the child may map it, so no reuse. Child: the
		 * parent's memfd is not ours to hand on. */
		close(c->fd);
		c->fd = -1;
	}
	chunks = NULL;
}

static void pool_prepare(void)
{
	pthread_mutex_lock(&pool_lock);
}

static void pool_parent(void)
{
	pool_retire_all();
	pthread_mutex_unlock(&pool_lock);
}

static void pool_child(void)
{
	pool_retire_all();
	pthread_mutex_unlock(&pool_lock);
}

static void pool_init(void)
{
	pthread_atfork(pool_prepare, pool_parent, pool_child);
}

bool svl_ring_pool_fits(size_t len)
{
	return len && svl_ring_align(len) <= SVL_RING_POOL_MAX;
}

int svl_ring_pool_alloc(size_t len, struct svl_ring_slot *s)
{
	unsigned int n = (unsigned int)(svl_ring_align(len) / SVL_PAGE_SIZE);
	struct svl_ring_chunk *c;
	int first = -1;

	if (!svl_ring_pool_fits(len))
		return EINVAL;
	pthread_once(&pool_once, pool_init);
	pthread_mutex_lock(&pool_lock);
	for (c = chunks; c; c = c->next) {
		first = pages_find(c, n);
		if (first >= 0)
			break;
	}
	if (!c && (c = chunk_new()))
		first = pages_find(c, n);
	if (c && first >= 0)
		pages_mark(c, (unsigned int)first, n, true);
	pthread_mutex_unlock(&pool_lock);
	if (!c || first < 0)
		return ENOMEM;
	s->chunk = c;
	s->fd = c->fd;
	s->off = (size_t)first * SVL_PAGE_SIZE;
	s->addr = c->base + s->off;
	return 0;
}

/* Unlink c from the live list; false if it was retired (not listed). */
static bool chunk_unlink(struct svl_ring_chunk *c)
{
	struct svl_ring_chunk **pp;

	for (pp = &chunks; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return true;
		}
	}
	return false;
}

void svl_ring_pool_free(struct svl_ring_slot *s, size_t len)
{
	unsigned int n = (unsigned int)(svl_ring_align(len) / SVL_PAGE_SIZE);
	struct svl_ring_chunk *c = s->chunk;

	if (!c)
		return;
	pthread_mutex_lock(&pool_lock);
	/*
	 * Zeroed now: the next QP given these pages starts from nothing. A
	 * hole reads as zeroes and gives the memory back; a memset would
	 * first fault in the pages a QP never touched.
	 */
	if (c->fd >= 0 &&
	    fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)s->off, (off_t)n * SVL_PAGE_SIZE))
		memset(s->addr, 0, n * SVL_PAGE_SIZE);
	pages_mark(c, (unsigned int)(s->off / SVL_PAGE_SIZE), n, false);
	/* Keep the newest live chunk for the next QP; drop other empty ones. */
	if (!c->used && (c->fd < 0 || c != chunks)) {
		if (c->fd >= 0)
			chunk_unlink(c);
		chunk_free(c);
	}
	pthread_mutex_unlock(&pool_lock);
	s->chunk = NULL;
}
