// SPDX-License-Identifier: MIT
/*
 * DMA helpers: the engine's only way to touch registered memory.
 *
 * Mapped umems are plain daemon memory. VA umems live in a client: the
 * daemon reaches them with process_vm_readv/writev, which the kernel allows
 * under the ptrace access rules (same uid, and with Yama ptrace_scope=1 only
 * because the library names the daemon with PR_SET_PTRACER). Copies between
 * two clients bounce through a per-thread buffer.
 *
 * SIGBUS from a truncated mapped file is handled by svd_sigbus_init()
 * (engine.c), not here.
 */
#include <string.h>
#include <sys/uio.h>

#include "svd_keys.h"
#include "svd_mem.h"

#define BOUNCE_SIZE (64 * 1024)

/* Serializes read-modify-write atomics on VA memory among daemon threads. */
static pthread_mutex_t va_atomic_lock = PTHREAD_MUTEX_INITIALIZER;

static int range_ok(const struct svd_umem *u, uint64_t off, uint64_t len)
{
	if (!u || off > u->length || len > u->length - off)
		return -EFAULT;
	return 0;
}

/* One process_vm_* transfer, looping over short transfers. */
static int va_xfer(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
	while (len) {
		struct iovec local = {buf, len};
		struct iovec remote = {(void *)(uintptr_t)addr, len};
		ssize_t n;

		n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
			  : process_vm_readv(pid, &local, 1, &remote, 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EFAULT; /* a hole: nothing transferred */
		buf = (uint8_t *)buf + n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int svd_mem_read(const struct svd_umem *src, uint64_t off, void *buf,
		 size_t len)
{
	int ret = range_ok(src, off, len);

	if (ret || !len)
		return ret;
	if (src->kind == SVD_UMEM_MAPPED) {
		memcpy(buf, (const uint8_t *)src->map + off, len);
		return 0;
	}
	return va_xfer(src->pid, src->addr + off, buf, len, false);
}

int svd_mem_write(const struct svd_umem *dst, uint64_t off, const void *buf,
		  size_t len)
{
	int ret = range_ok(dst, off, len);

	if (ret || !len)
		return ret;
	if (dst->kind == SVD_UMEM_MAPPED) {
		memcpy((uint8_t *)dst->map + off, buf, len);
		return 0;
	}
	/* process_vm_writev takes a non-const local iovec. */
	return va_xfer(dst->pid, dst->addr + off, (void *)buf, len, true);
}

int svd_mem_copy(const struct svd_umem *dst, uint64_t dst_off,
		 const struct svd_umem *src, uint64_t src_off, uint64_t len)
{
	static __thread uint8_t bounce[BOUNCE_SIZE];
	int ret;

	ret = range_ok(dst, dst_off, len);
	if (!ret)
		ret = range_ok(src, src_off, len);
	if (ret || !len)
		return ret;
	if (dst->kind == SVD_UMEM_MAPPED && src->kind == SVD_UMEM_MAPPED) {
		memmove((uint8_t *)dst->map + dst_off,
			(const uint8_t *)src->map + src_off, len);
		return 0;
	}
	if (dst->kind == SVD_UMEM_MAPPED)
		return svd_mem_read(src, src_off, (uint8_t *)dst->map + dst_off,
				    len);
	if (src->kind == SVD_UMEM_MAPPED)
		return svd_mem_write(dst, dst_off,
				     (const uint8_t *)src->map + src_off, len);
	/* VA to VA: possibly two processes, so bounce. */
	while (len) {
		size_t n = len < BOUNCE_SIZE ? len : BOUNCE_SIZE;

		ret = svd_mem_read(src, src_off, bounce, n);
		if (!ret)
			ret = svd_mem_write(dst, dst_off, bounce, n);
		if (ret)
			return ret;
		src_off += n;
		dst_off += n;
		len -= n;
	}
	return 0;
}

static int atomic_prep(const struct svd_umem *u, uint64_t off)
{
	if (off & 7)
		return -EINVAL;
	return range_ok(u, off, sizeof(uint64_t));
}

static int va_atomic(const struct svd_umem *u, uint64_t off, bool cas,
		     uint64_t a, uint64_t b, uint64_t *orig)
{
	uint64_t v, nv;
	int ret;

	pthread_mutex_lock(&va_atomic_lock);
	ret = svd_mem_read(u, off, &v, sizeof(v));
	if (!ret) {
		*orig = v;
		nv = cas ? (v == a ? b : v) : v + a;
		if (nv != v)
			ret = svd_mem_write(u, off, &nv, sizeof(nv));
	}
	pthread_mutex_unlock(&va_atomic_lock);
	return ret;
}

int svd_mem_atomic_cmp_swp(const struct svd_umem *u, uint64_t off,
			   uint64_t compare, uint64_t swap, uint64_t *orig)
{
	int ret = atomic_prep(u, off);
	uint64_t *p;

	if (ret)
		return ret;
	if (u->kind != SVD_UMEM_MAPPED)
		return va_atomic(u, off, true, compare, swap, orig);
	p = (uint64_t *)((uint8_t *)u->map + off);
	*orig = compare;
	__atomic_compare_exchange_n(p, orig, swap, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return 0;
}

int svd_mem_atomic_fetch_add(const struct svd_umem *u, uint64_t off,
			     uint64_t add, uint64_t *orig)
{
	int ret = atomic_prep(u, off);
	uint64_t *p;

	if (ret)
		return ret;
	if (u->kind != SVD_UMEM_MAPPED)
		return va_atomic(u, off, false, add, 0, orig);
	p = (uint64_t *)((uint8_t *)u->map + off);
	*orig = __atomic_fetch_add(p, add, __ATOMIC_SEQ_CST);
	return 0;
}

int svd_mem_probe(const struct svd_umem *u)
{
	uint8_t byte;
	int ret;

	if (!u || !u->length)
		return -EINVAL;
	if (u->kind == SVD_UMEM_MAPPED)
		return 0; /* mmap() already validated the range */
	ret = svd_mem_read(u, 0, &byte, 1);
	if (!ret && u->length > 1)
		ret = svd_mem_read(u, u->length - 1, &byte, 1);
	return ret;
}

/* IOVA range of a region to an offset in the umem that backs it. */
static int region_offset(struct svd_mr *mr, uint64_t iova, uint64_t len,
			 uint64_t *off)
{
	uint64_t base = mr->iova;

	if (iova < mr->iova || iova - mr->iova > mr->length ||
	    len > mr->length - (iova - mr->iova))
		return -EFAULT;
	/* A bound MW names bytes of its parent MR's umem. */
	if (mr->is_mw)
		base = svd_to_mw(mr)->parent->iova;
	*off = iova - base;
	return 0;
}

int svd_mem_resolve(struct svd_device *dev, const struct svd_pd *pd,
		    uint32_t key, bool remote, uint64_t iova, uint64_t len,
		    uint32_t need, const struct svd_umem **umem, uint64_t *off)
{
	struct svd_mr *mr = svd_dev_key_find(dev, key);

	if (!mr)
		return -EINVAL;
	/* An MW is reached only by its rkey, and only while bound. */
	if (mr->is_mw && (!remote || !svd_to_mw(mr)->parent || !mr->length))
		return -EINVAL;
	if (remote && mr->rkey != key)
		return -EINVAL;
	if (!remote && mr->lkey != key)
		return -EINVAL;
	if (mr->revoked || (pd && mr->pd != pd))
		return -EACCES;
	if ((mr->access & need) != need)
		return -EACCES;
	*umem = mr->umem;
	return region_offset(mr, iova, len, off);
}
