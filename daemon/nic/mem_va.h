/* SPDX-License-Identifier: MIT */
/*
 * VA umems (mem_va.c), for mem.c only: the rest of the daemon goes through
 * svd_mem.h. Addresses are the registrar's; errors as in svd_mem.h.
 */
#ifndef SVD_MEM_VA_H
#define SVD_MEM_VA_H

#include "svd_mem.h"

/*
 * Move len bytes between daemon memory at buf and the registrar's range at
 * addr. buf may be a client mapping (a mapped umem): the kernel's copy
 * reports a truncated page of it as -EFAULT, never SIGBUS. -ESRCH: the
 * registrar's address space is gone; on a read buf then holds nothing the
 * caller may pass on.
 */
int mem_va_io(const struct svd_umem *u, uint64_t addr, void *buf, size_t len,
	      bool write);

/*
 * VA umem to VA umem (possibly two processes): through a daemon buffer; a
 * large copy is shared with a helper thread while a core is free
 * (mem_va_pair.c).
 */
int mem_va_copy(const struct svd_umem *dst, uint64_t dst_off,
		const struct svd_umem *src, uint64_t src_off, uint64_t len);
/* The same on the calling thread alone (mem_va.c). */
int mem_va_copy_alone(const struct svd_umem *dst, uint64_t dst_off,
		      const struct svd_umem *src, uint64_t src_off,
		      uint64_t len);

#endif
