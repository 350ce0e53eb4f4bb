// SPDX-License-Identifier: MIT
/*
 * Generic buffer descriptors (seed 001).
 *
 * A command hands user buffers to the daemon through one array attribute,
 * SV_ATTR_BUFFERS, of struct sv_buffer_desc. Each descriptor names a
 * per-command slot (enum sv_cq_buffer_slot, ...). The handler loads the
 * slots it understands; after it succeeds the command layer runs the
 * consumption check, so a buffer the handler ignored fails the command
 * instead of being silently dropped.
 *
 * DMABUF descriptors are fds the daemon mmap()s (memfd, POSIX shm,
 * hugetlbfs files): the daemon then touches the memory directly. VA
 * descriptors stay in the client and are reached through a handle on the
 * client's address space (svd_mem_open_va(), docs/memory.md).
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "svd.h"
#include "svd_mem.h"

struct svd_umem_list {
	unsigned int count;
	unsigned long provided; /* slots the user gave */
	unsigned long loaded; /* slots the handler used */
	struct svd_umem *umems[];
};

/* A real dma-buf (udmabuf, a GPU export) is an anonymous "dmabuf" inode. */
static bool is_dmabuf(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	/* "/dmabuf:NAME" since Linux 5.3, "anon_inode:dmabuf" before. */
	return !strncmp(link, "/dmabuf:", 8) ||
	       !strcmp(link, "anon_inode:dmabuf");
}

/*
 * The size of a mappable memory fd and the granule its mappings need: a
 * regular file (memfd, POSIX shm, a hugetlbfs file: its huge page size) or
 * a dma-buf (its size is where it seeks to). Anything else is EINVAL, as
 * the kernel's dma_buf_get() says of a file that is not a dma-buf.
 */
static int mappable_size(int fd, uint64_t *size, uint64_t *align)
{
	struct statfs sf;
	struct stat st;
	off_t end;

	if (fstat(fd, &st))
		return -EBADF;
	*align = (uint64_t)sysconf(_SC_PAGESIZE);
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		if (!fstatfs(fd, &sf) && sf.f_type == HUGETLBFS_MAGIC)
			*align = (uint64_t)sf.f_bsize;
		return 0;
	}
	if (!is_dmabuf(fd))
		return -EINVAL;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -EINVAL;
	*size = (uint64_t)end;
	return 0;
}

/*
 * Can no access to [0, end) of fd's mapping fault? A tmpfs file (memfd,
 * POSIX shm) that reaches end and can never shrink: its pages are there or
 * allocated on touch. A dma-buf, a hugetlbfs file or an unsealed file may
 * be cut (truncation is how a revoke reaches the daemon, seed 003).
 */
bool svd_fd_nofault(int fd, uint64_t end)
{
	struct statfs sf;
	struct stat st;
	int seals;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < end)
		return false;
	if (fstatfs(fd, &sf) || sf.f_type != TMPFS_MAGIC)
		return false;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_SHRINK);
}

struct svd_umem *svd_umem_get_mapped(int fd, uint64_t offset, uint64_t len)
{
	uint64_t start, end, size, align;
	struct svd_umem *u;
	void *p;
	int ret;

	if (fd < 0)
		return svd_err_ptr(-EBADF);
	if (!len || offset + len < offset)
		return svd_err_ptr(-EINVAL);
	ret = mappable_size(fd, &size, &align);
	if (ret)
		return svd_err_ptr(ret);
	if (offset + len > size)
		return svd_err_ptr(-EINVAL);
	start = offset & ~(align - 1);
	end = (offset + len + align - 1) & ~(align - 1);
	p = mmap(NULL, end - start, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)start);
	if (p == MAP_FAILED)
		return svd_err_ptr(-errno);
	u = calloc(1, sizeof(*u));
	if (!u) {
		munmap(p, end - start);
		return svd_err_ptr(-ENOMEM);
	}
	u->kind = SVD_UMEM_MAPPED;
	u->length = len;
	u->map_base = p;
	u->map_len = end - start;
	u->map = (uint8_t *)p + (offset - start);
	u->file_off = offset;
	u->nofault = svd_fd_nofault(fd, offset + len);
	return u;
}

struct svd_umem *svd_umem_get_va(const struct svd_bundle *b, uint64_t addr,
				 uint64_t len)
{
	struct svd_umem *u;
	int ret;

	/* Said it names none of its memory (SV_MSG_F_NO_IDENTITY), or no
	 * length. */
	if (b->no_identity || !len || addr + len < addr)
		return svd_err_ptr(-EINVAL);
	u = calloc(1, sizeof(*u));
	if (!u)
		return svd_err_ptr(-ENOMEM);
	/* The registrar's memory is named by its mm, never by a pid alone. */
	ret = svd_mem_open_va(u, b->pid, b->pidfd, b->uid, b->gid);
	if (ret) {
		free(u);
		return svd_err_ptr(ret);
	}
	u->kind = SVD_UMEM_VA;
	u->length = len;
	u->addr = addr;
	return u;
}

void svd_umem_release(struct svd_umem *umem)
{
	if (!umem)
		return;
	if (umem->share)
		svd_umem_share_put(umem->share);
	else if (umem->kind == SVD_UMEM_MAPPED)
		munmap(umem->map_base, umem->map_len);
	else
		svd_mem_close_va(umem);
	free(umem);
}

/*
 * An object's ring or doorbell record: sealed against shrinking if the
 * library did not (a memfd made without MFD_ALLOW_SEALING refuses; other
 * files cannot be sealed). Either way mem.c's guard copes with a shrink.
 * Rings of one context in one small memfd share one mapping.
 */
static struct svd_umem *ring_umem(struct svd_bundle *b, int fd,
				  uint64_t off, uint64_t len)
{
	struct svd_umem *u;

	if (b->share_fd1 != fd + 1 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		(void)0; /* not sealable: the SIGBUS guard covers it */
	u = svd_umem_get_shared(b, fd, off, len);
	return u ? u : svd_umem_get_mapped(fd, off, len);
}

static struct svd_umem *desc_to_umem(struct svd_bundle *b,
				     const struct sv_buffer_desc *d)
{
	switch (d->type) {
	case SV_BUFFER_TYPE_DMABUF:
		if (d->fd < 1 || d->fd >= b->nfds)
			return svd_err_ptr(-EBADF);
		return ring_umem(b, b->fds[d->fd], d->addr, d->length);
	case SV_BUFFER_TYPE_VA:
		return svd_umem_get_va(b, d->addr, d->length);
	default:
		return svd_err_ptr(-EINVAL);
	}
}

static int list_add_desc(struct svd_bundle *b, struct svd_umem_list *l,
			 const struct sv_buffer_desc *d)
{
	struct svd_umem *u;

	if (d->reserved)
		return -EINVAL;
	if (d->index >= l->count || (l->provided & (1UL << d->index)))
		return -EINVAL;
	u = desc_to_umem(b, d);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	l->umems[d->index] = u;
	l->provided |= 1UL << d->index;
	return 0;
}

/* The upstream form: one UMEM attribute per slot, index must match. */
static int list_add_slot_attrs(struct svd_bundle *b, struct svd_umem_list *l)
{
	unsigned int i;
	int ret;

	for (i = 0; i < SVD_ARRAY_SIZE(b->umem_slot); i++) {
		const struct svd_attr *a = &b->umem_slot[i];
		struct sv_buffer_desc d;

		if (!a->present)
			continue;
		memcpy(&d, a->in, sizeof(d));
		if (d.index != i)
			return -EINVAL;
		ret = list_add_desc(b, l, &d);
		if (ret)
			return ret;
	}
	return 0;
}

struct svd_umem_list *svd_umem_list_create(struct svd_bundle *b,
					   unsigned int slot_max)
{
	const struct sv_buffer_desc *descs = NULL;
	unsigned int count = slot_max + 1, n = 0, i;
	struct svd_umem_list *l;
	int ret = 0;

	if (slot_max >= 8 * sizeof(unsigned long))
		return svd_err_ptr(-EINVAL);
	if (b->buffers.present) {
		if (b->buffers.len % sizeof(*descs))
			return svd_err_ptr(-EINVAL);
		n = b->buffers.len / sizeof(*descs);
		if (n > count)
			return svd_err_ptr(-EINVAL);
		descs = b->buffers.in;
	}
	l = calloc(1, sizeof(*l) + count * sizeof(l->umems[0]));
	if (!l)
		return svd_err_ptr(-ENOMEM);
	l->count = count;
	for (i = 0; i < n && !ret; i++) {
		struct sv_buffer_desc d;

		/* The payload is not aligned for u64 access: copy it. */
		memcpy(&d, &descs[i], sizeof(d));
		ret = list_add_desc(b, l, &d);
	}
	if (!ret)
		ret = list_add_slot_attrs(b, l);
	if (ret) {
		svd_umem_list_release(l);
		return svd_err_ptr(ret);
	}
	b->umems = l;
	return l;
}

struct svd_umem *svd_umem_list_load(struct svd_umem_list *l, unsigned int idx,
				    size_t size)
{
	struct svd_umem *u;

	if (!l || idx >= l->count)
		return NULL;
	u = l->umems[idx];
	if (!u)
		return NULL;
	if (u->length < size)
		return svd_err_ptr(-EINVAL);
	l->loaded |= 1UL << idx;
	return u;
}

void svd_umem_list_replace(struct svd_umem_list *l, unsigned int idx,
			   struct svd_umem *umem)
{
	struct svd_umem *old;

	if (!l || idx >= l->count)
		return;
	old = l->umems[idx];
	l->umems[idx] = umem;
	if (old && old != umem)
		svd_umem_release(old);
}

void svd_umem_list_insert(struct svd_umem_list *l, unsigned int idx,
			  struct svd_umem *umem)
{
	svd_umem_list_replace(l, idx, umem);
	if (l && idx < l->count && umem)
		l->provided |= 1UL << idx;
}

int svd_umem_list_check_consumed(const struct svd_umem_list *l)
{
	return (l->provided & ~l->loaded) ? -EINVAL : 0;
}

struct svd_umem *svd_umem_list_take(struct svd_umem_list *l, unsigned int idx)
{
	struct svd_umem *u;

	if (!l || idx >= l->count || !(l->loaded & (1UL << idx)))
		return NULL;
	u = l->umems[idx];
	l->umems[idx] = NULL;
	return u;
}

struct svd_umem *svd_umem_list_take_ring(struct svd_umem_list *l,
					 unsigned int idx, size_t size,
					 size_t align, int *err)
{
	struct svd_umem *u = svd_umem_list_load(l, idx, size);

	if (!u || svd_is_err(u)) {
		*err = u ? (int)svd_ptr_err(u) : -EINVAL;
		return NULL;
	}
	if (u->kind != SVD_UMEM_MAPPED || ((uintptr_t)u->map & (align - 1))) {
		*err = -EINVAL;
		return NULL;
	}
	return svd_umem_list_take(l, idx);
}

void svd_umem_list_release(struct svd_umem_list *l)
{
	unsigned int i;

	if (!l)
		return;
	for (i = 0; i < l->count; i++)
		svd_umem_release(l->umems[i]);
	free(l);
}

int svd_memfd_sealed(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}
