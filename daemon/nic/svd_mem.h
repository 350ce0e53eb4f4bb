/* SPDX-License-Identifier: MIT */
/*
 * DMA helpers (mem.c): move bytes in and out of registered memory.
 *
 * A struct svd_umem is either mapped into the daemon (dma-buf/memfd: plain
 * loads and stores) or a range of a client's address space (VA: reached
 * with process_vm_readv/writev on umem->pid). Offsets are relative to byte 0
 * of the umem and are bounds-checked against umem->length.
 *
 * Errors (negative errno): -EFAULT out of range or unmapped in the client,
 * -ESRCH the client process is gone, -EPERM/-EACCES the daemon may not
 * reach the client's memory (ptrace policy), -ENOMEM.
 */
#ifndef SVD_MEM_H
#define SVD_MEM_H

#include "svd_objs.h"

int svd_mem_read(const struct svd_umem *src, uint64_t off, void *buf,
		 size_t len);
int svd_mem_write(const struct svd_umem *dst, uint64_t off, const void *buf,
		  size_t len);
/* Copy between two umems (same or different clients; may overlap only if
 * both are mapped). */
int svd_mem_copy(const struct svd_umem *dst, uint64_t dst_off,
		 const struct svd_umem *src, uint64_t src_off, uint64_t len);
/*
 * 64-bit atomics (IBV_WR_ATOMIC_*). off must be 8-byte aligned (-EINVAL).
 * Mapped memory uses real atomics; VA memory is read-modify-written and is
 * atomic only against other daemon accesses (serialized by a mutex), not
 * against the CPU of the client.
 */
int svd_mem_atomic_cmp_swp(const struct svd_umem *u, uint64_t off,
			   uint64_t compare, uint64_t swap, uint64_t *orig);
int svd_mem_atomic_fetch_add(const struct svd_umem *u, uint64_t off,
			     uint64_t add, uint64_t *orig);
/* Registration-time probe: first and last byte must be readable. */
int svd_mem_probe(const struct svd_umem *u);

/*
 * Resolve a key + IOVA range of a work request to a umem and offset.
 * Caller holds dev->lock (the returned umem lives while it is held).
 * pd: the QP's PD (regions of another PD fail). need: IBV_ACCESS_* bits the
 * operation needs (0 for a local read). remote: the key is an rkey from a
 * peer (MWs allowed, lkey-only not). Errors: -EINVAL unknown key, -EACCES
 * missing access or PD mismatch, -EFAULT outside the region.
 */
int svd_mem_resolve(struct svd_device *dev, const struct svd_pd *pd,
		    uint32_t key, bool remote, uint64_t iova, uint64_t len,
		    uint32_t need, const struct svd_umem **umem, uint64_t *off);

#endif
