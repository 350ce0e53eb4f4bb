/* SPDX-License-Identifier: MIT */
/*
 * Client memory (mem.c): the daemon's ONLY way to touch memory a client
 * owns. Every ring, doorbell record and memory region is a struct
 * svd_umem, and every load, store, copy and atomic on one goes through
 * the functions below (docs/memory.md).
 *
 * A umem is either mapped into the daemon (an fd the client passed: memfd,
 * POSIX shm, hugetlbfs, a regular file) and reached with plain loads and
 * stores under the SIGBUS guard, or a range of a client's address space
 * reached through a handle on the registrar's address space (VA).
 *
 * Offsets are relative to byte 0 of the umem and are bounds-checked
 * against umem->length. Errors (negative errno): -EFAULT out of range,
 * truncated under us, or unmapped in the client; -ESRCH the registrar's
 * address space is gone (it exited or exec'd); -EINVAL misaligned atomic.
 */
#ifndef SVD_MEM_H
#define SVD_MEM_H

#include "svd_objs.h"

/* Install the SIGBUS handler; once, before any thread touches memory. */
void svd_mem_guard_init(void);

/*
 * Make u (kind VA) a range of process pid's address space: the sender of
 * the command (sender_pidfd its SCM_PIDFD, or -1). Sets u->mem_fd, an fd
 * on that process's address space opened with the client's uid/gid and
 * without CAP_SYS_PTRACE, so it reaches only what the client itself could
 * reach, and which stops working when that process exits or execs; and
 * u->pidfd, the registrar's pidfd when the daemon may also copy with
 * process_vm_* (it then has no more power over the client than the client
 * has: docs/security.md), else -1. Returns 0, -ESRCH (gone), -EPERM/-EACCES
 * (not the client's to reach). svd_mem_close_va() closes both.
 */
int svd_mem_open_va(struct svd_umem *u, pid_t pid, int sender_pidfd,
		    uid_t uid, gid_t gid);
void svd_mem_close_va(struct svd_umem *u);

int svd_mem_read(const struct svd_umem *src, uint64_t off, void *buf,
		 size_t len);
int svd_mem_write(const struct svd_umem *dst, uint64_t off, const void *buf,
		  size_t len);
/*
 * Copy between two umems (same or different clients). If either is a
 * data-direct region (umem->dd) the copy goes over that path (svd_dd.h);
 * svd_mem_copy_direct() is the default path itself.
 */
int svd_mem_copy(const struct svd_umem *dst, uint64_t dst_off,
		 const struct svd_umem *src, uint64_t src_off, uint64_t len);
int svd_mem_copy_direct(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off,
			uint64_t len);
/*
 * The default path with streaming stores between two mapped umems (the
 * data-direct path's copy for large transfers); anything else, or
 * overlapping ranges, is svd_mem_copy_direct().
 */
int svd_mem_copy_stream(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off,
			uint64_t len);

/*
 * Would a VA-to-VA copy of len bytes be shared with the helper thread now
 * (mem_va_pair.c)? The engine then sends a staged payload from the
 * application's own buffers instead of the stage (eng_req.c).
 */
bool svd_mem_split_ready(uint64_t len);
/* The smallest copy ever shared. */
#define SVD_MEM_SPLIT_MIN (512U * 1024)
/* A staged WQE was sent from its stage (used) or from its source. */
void svd_mem_count_staged(bool used);
/*
 * The daemon's copy counters for "softverbs dev list": "va_splits=N
 * va_joined=N staged=N staged_skipped=N" (copies shared, and those the
 * helper took part in; staged WQEs sent from the stage and from source).
 */
void svd_mem_describe(char *buf, size_t len);

/* u32 ring index at off with acquire (load) / release (store) order. */
int svd_mem_load32(const struct svd_umem *u, uint64_t off, uint32_t *v);
int svd_mem_store32(const struct svd_umem *u, uint64_t off, uint32_t v);

/*
 * 64-bit atomics (IBV_WR_ATOMIC_*, ATOMIC_WRITE). off must be 8-byte
 * aligned. Mapped memory uses CPU atomics, so they are atomic against the
 * client's CPU too; VA memory is read-modify-written under one lock, atomic
 * against every other daemon access but not against the client's CPU.
 * *orig receives the old value (CAS, FAA); STORE ignores b and orig.
 */
enum svd_mem_atomic_op {
	SVD_MEM_CMP_SWP, /* if (*p == a) *p = b */
	SVD_MEM_FETCH_ADD, /* *p += a */
	SVD_MEM_STORE, /* *p = a */
};

int svd_mem_atomic(const struct svd_umem *u, uint64_t off,
		   enum svd_mem_atomic_op op, uint64_t a, uint64_t b,
		   uint64_t *orig);

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
