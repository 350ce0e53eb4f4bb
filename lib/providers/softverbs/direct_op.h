/* SPDX-License-Identifier: MIT */
/*
 * The direct path's work requests, between direct_op.c (the full checks
 * and the copies) and direct_hot.c (the hot path): see direct.h.
 */
#ifndef SVL_DIRECT_OP_H
#define SVL_DIRECT_OP_H

#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>

#include "direct.h"

#define MAX_IOV 64
/* Up to this size a VA copy goes through the mm handle itself. */
#define SMALL_IO (64 * 1024)
/* Larger transfers go to the engine, which cuts them into pieces: a post
 * never holds its caller for long (tests/test_dp_fair.c). */
#define DIRECT_MAX (8ULL << 20)

/*
 * How a region is reached: its file mapped here (mapped region), or the
 * registrar's mm handle (VA region: base NULL). Freed when retired and
 * idle, so a QP's cache may keep it: posts to a cached region take no
 * lock, and no handle is closed while a copy uses it.
 */
struct rmap {
	uint8_t *base;
	size_t len; /* mapped, whole pages of the file */
	uint64_t off; /* file offset of base */
	int fd; /* VA: the registrar's /proc/PID/mem, else -1 */
	unsigned int refs;
	bool retired;
	uint32_t faulted; /* set by the SIGBUS guard (direct_guard.c) */
	int guard; /* its slot there */
};

/* One work request, checked and translated. */
struct dop {
	struct iovec local[MAX_IOV], remote;
	unsigned int nlocal;
	uint64_t len;
	const struct sv_direct_key *re; /* the remote entry (QP's cache) */
	const uint32_t *rseq_p; /* its seq in the table */
	uint32_t rseq, rslot; /* the seq it was checked at; its slot */
	struct rmap *map; /* how the target is reached (VA or mapped) */
	bool map_cached; /* map's reference is the QP cache's */
	uint8_t *rptr; /* mapped: the remote bytes */
	bool read;
	/* The target is a receive buffer of the peer (a SEND placed there,
	 * direct_send.c): its key needs LOCAL_WRITE, not REMOTE_WRITE, the
	 * peer QP no access flag, and the region must be a VA one. */
	bool recv;
	/* Atomics (mapped only): 0 for WRITE/READ. */
	uint32_t atomic;
	uint64_t cmp_add, swap;
};

static inline uint32_t svl_dload32(const uint32_t *p, memory_order o)
{
	return atomic_load_explicit((const _Atomic uint32_t *)p, o);
}

/* The seq of key's entry in the table. */
static inline const uint32_t *svl_dkey_seq(const uint8_t *table, uint32_t key)
{
	return &((const struct sv_direct_key *)table +
		 sv_direct_key_slot(key))->seq;
}

/*
 * The busy record names the remote entry (its slot and seq) while a copy
 * runs: after unpublishing an entry the daemon waits until no busy record
 * names its old seq. Stored, then the entry's seq is read again (seq_cst
 * on both sides, or the daemon's global membarrier: one of the two sees
 * the other): false if it moved, and then nothing may be copied.
 */
static inline bool svl_dbusy_enter(const struct svl_dqp *d,
				   const uint32_t *seq_p, uint32_t seq,
				   uint32_t slot)
{
	_Atomic uint32_t *slot1 = (_Atomic uint32_t *)&d->busy->slot1;

	atomic_store_explicit((_Atomic uint32_t *)&d->busy->seq, seq,
			      memory_order_relaxed);
	if (d->asym) {
		/* The daemon's membarrier() is the other half of the fence
		 * (daemon/verbs/direct.c): only the compiler must keep the
		 * store before the load. */
		atomic_store_explicit(slot1, slot + 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		if (svl_dload32(seq_p, memory_order_acquire) == seq)
			return true;
	} else {
		atomic_store_explicit(slot1, slot + 1, memory_order_seq_cst);
		if (svl_dload32(seq_p, memory_order_seq_cst) == seq)
			return true;
	}
	atomic_store_explicit(slot1, 0, memory_order_release);
	return false;
}

static inline void svl_dbusy_leave(const struct svl_dqp *d)
{
	atomic_store_explicit((_Atomic uint32_t *)&d->busy->slot1, 0,
			      memory_order_release);
}

/* memcpy, without a call for the few bytes of a small message. */
static inline void svl_dcopy(void *dst, const void *src, size_t n)
{
	uint64_t a, b;

	if (n < 8 || n > 16) {
		memcpy(dst, src, n);
		return;
	}
	/* 8 to 16 bytes: two 8-byte moves, overlapping when n < 16. */
	memcpy(&a, src, 8);
	memcpy(&b, (const uint8_t *)src + n - 8, 8);
	memcpy(dst, &a, 8);
	memcpy((uint8_t *)dst + n - 8, &b, 8);
}

/* The copy, with the busy record naming the remote entry around it. */
bool svl_dop_copy(struct svl_qp *q, struct dop *op);
/* The WQE as a direct operation (false: not one the direct path does);
 * then its local and remote sides checked; then its reference dropped. */
bool svl_dop_init(const struct sv_send_wqe *w, struct dop *op,
		  uint32_t *rkey, uint64_t *raddr);
bool svl_dop_ready(struct svl_qp *q, const struct sv_send_wqe *w,
		   struct dop *op, uint32_t rkey, uint64_t raddr);
void svl_dop_put(struct dop *op);

/* direct_op.c: the registrar's mm handle fd read (1 byte: still its mm),
 * then one process_vm_readv/writev of pid's remote ranges. */
ssize_t svl_dva_vm_one(int fd, pid_t pid, bool read,
		       const struct iovec *local, unsigned long nlocal,
		       const struct iovec *remote, unsigned long nremote);
/* direct_worker.c: the same, a large transfer split into chunks that
 * this thread and the copy worker move (each chunk checked as above). */
ssize_t svl_dva_vm(int fd, pid_t pid, bool read, const struct iovec *local,
		   unsigned long nlocal, const struct iovec *remote,
		   unsigned long nremote);

/* direct_assist.c: a large transfer with the peer's helper (1 done, 0
 * not tried, -1 failed). */
int svl_dassist_io(struct svl_qp *q, struct dop *op);

/* direct_va.c: the leading run of VA WRITEs or READs of the WQEs at
 * [first, first + count), moved by one system call: how many, or 0. */
uint32_t svl_direct_va_run(struct svl_qp *q, uint32_t first, uint32_t count);

/* direct_hot.c: a WRITE/READ the hot entry covers, done (0) or not (-1,
 * nothing happened); the full path just did op: keep its translation. */
int svl_direct_hot_wqe(struct svl_qp *q, const struct sv_send_wqe *w);
void svl_direct_hot_fill(struct svl_qp *q, const struct sv_send_wqe *w,
			 const struct dop *op);

#endif
