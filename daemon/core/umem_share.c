// SPDX-License-Identifier: MIT
/*
 * Ring memfds mapped once per context (docs/architecture.md, "control
 * path").
 *
 * The library carves the rings of many QPs out of one small memfd (its
 * ring pool) and sends that fd with each create. Mapping it again for
 * every ring, and unmapping it at every destroy, was a good part of what a
 * QP cost the daemon: mmap and munmap of a multi-threaded process take
 * the mm lock and shoot down TLBs on every CPU. So a small tmpfs file
 * that a context hands over as a ring is mapped whole, once, and every
 * ring of that context in it points into the one mapping (counted; the
 * last ring's release unmaps it).
 *
 * The fd in the command still decides: a ring is served from an existing
 * mapping only when this context mapped that very file before (same
 * device and inode), and a file is mapped whole only when the fd that
 * brings it first is open read-write, on a file sealed against shrinking
 * and not against writing (a file already mapped is not checked again:
 * share_known). Anything else (a hugetlbfs or large file, an unsealed
 * one, a range past the end) is mapped per ring as before (umem.c). A
 * context never reaches a mapping another context made: the key includes
 * the context.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "svd.h"

/* Larger ring files are mapped per ring: no context pins much address
 * space through a file it passes once. */
#define SHARE_MAX_BYTES (8UL << 20)

struct svd_umem_share {
	struct svd_umem_share *next;
	const struct svd_ucontext *uctx;
	dev_t dev;
	ino_t ino;
	void *base;
	size_t len;
	unsigned int refs;
};

/* Rings are released on the command thread and by engine teardown. */
static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
static struct svd_umem_share *shares;

/* May the ring [off, off + len) of fd come from a whole-file mapping? */
static bool shareable(int fd, const struct stat *st, uint64_t off,
		      uint64_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	struct statfs sf;
	int fl, seals;

	if (!S_ISREG(st->st_mode) || st->st_size <= 0 ||
	    (uint64_t)st->st_size > SHARE_MAX_BYTES ||
	    st->st_size % page || !len || off + len < off ||
	    off + len > (uint64_t)st->st_size)
		return false;
	if (fstatfs(fd, &sf) || sf.f_type != TMPFS_MAGIC)
		return false;
	fl = fcntl(fd, F_GETFL);
	seals = fcntl(fd, F_GET_SEALS);
	return fl >= 0 && (fl & O_ACCMODE) == O_RDWR && seals >= 0 &&
	       (seals & F_SEAL_SHRINK) &&
	       !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
}

static struct svd_umem_share *share_find(const struct svd_ucontext *uctx,
					 const struct stat *st)
{
	struct svd_umem_share *s;

	for (s = shares; s; s = s->next)
		if (s->uctx == uctx && s->dev == st->st_dev &&
		    s->ino == st->st_ino)
			return s;
	return NULL;
}

static struct svd_umem_share *share_new(const struct svd_ucontext *uctx,
					int fd, const struct stat *st)
{
	struct svd_umem_share *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->len = (size_t)st->st_size;
	s->base = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       0);
	if (s->base == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->uctx = uctx;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->next = shares;
	shares = s;
	return s;
}

/*
 * A file this context already handed over, and that we map: its checks
 * need not run again. It is the same file (the mapping keeps the inode,
 * so its number is not reused), on tmpfs, sealed against shrinking for
 * good; a write seal cannot be added while we map it writable; and the
 * context had it read-write when it gave it first, so a read-only fd of
 * it now gives it nothing it did not have. Referenced, or NULL.
 */
static struct svd_umem_share *share_known(const struct svd_ucontext *uctx,
					  const struct stat *st, uint64_t off,
					  uint64_t len)
{
	struct svd_umem_share *s;

	if (!S_ISREG(st->st_mode) || !len || off + len < off)
		return NULL;
	pthread_mutex_lock(&share_lock);
	s = share_find(uctx, st);
	if (s && off + len <= s->len)
		s->refs++;
	else
		s = NULL;
	pthread_mutex_unlock(&share_lock);
	return s;
}

/* The mapping holding fd's [off, off + len) for uctx, referenced. */
static struct svd_umem_share *share_get(const struct svd_ucontext *uctx,
					int fd, const struct stat *st,
					uint64_t off, uint64_t len)
{
	struct svd_umem_share *s;

	pthread_mutex_lock(&share_lock);
	s = share_find(uctx, st);
	/* Grown since it was mapped (growth is allowed): map it per ring. */
	if (s && off + len > s->len)
		s = NULL;
	else if (!s)
		s = share_new(uctx, fd, st);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&share_lock);
	return s;
}

void svd_umem_share_put(struct svd_umem_share *s)
{
	struct svd_umem_share **pp;

	pthread_mutex_lock(&share_lock);
	if (--s->refs) {
		pthread_mutex_unlock(&share_lock);
		return;
	}
	for (pp = &shares; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&share_lock);
	munmap(s->base, s->len);
	free(s);
}

/*
 * The mapping for [off, off + len) of fd, referenced: the one this command
 * checked fd for a moment ago (a QP's three buffers name one fd), or one
 * found or made after the checks.
 */
static struct svd_umem_share *share_lookup(struct svd_bundle *b, int fd,
					   uint64_t off, uint64_t len)
{
	struct svd_umem_share *s = b->share;
	struct stat st;

	if (s && b->share_fd1 == fd + 1 && len && off + len >= off &&
	    off + len <= s->len) {
		pthread_mutex_lock(&share_lock);
		s->refs++;
		pthread_mutex_unlock(&share_lock);
		return s;
	}
	if (!b->uctx || fd < 0 || fstat(fd, &st))
		return NULL;
	s = share_known(b->uctx, &st, off, len);
	if (!s && !shareable(fd, &st, off, len))
		return NULL;
	if (!s)
		s = share_get(b->uctx, fd, &st, off, len);
	if (!s)
		return NULL;
	/* The command keeps a reference of its own until it ends. */
	if (b->share)
		svd_umem_share_put(b->share);
	pthread_mutex_lock(&share_lock);
	s->refs++;
	pthread_mutex_unlock(&share_lock);
	b->share = s;
	b->share_fd1 = fd + 1;
	return s;
}

struct svd_umem *svd_umem_get_shared(struct svd_bundle *b, int fd,
				     uint64_t off, uint64_t len)
{
	struct svd_umem_share *s = share_lookup(b, fd, off, len);
	struct svd_umem *u;

	if (!s)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u) {
		svd_umem_share_put(s);
		return NULL;
	}
	u->kind = SVD_UMEM_MAPPED;
	u->length = len;
	u->map_base = s->base;
	u->map_len = s->len;
	u->map = (uint8_t *)s->base + off;
	u->file_off = off;
	u->share = s;
	/* share_ok: tmpfs, sealed against shrinking, the range inside. */
	u->nofault = true;
	return u;
}
