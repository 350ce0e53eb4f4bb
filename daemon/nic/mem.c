// SPDX-License-Identifier: MIT
/*
 * Client memory: the one module through which the daemon touches memory a
 * client owns (rings, doorbell records, memory regions). docs/memory.md.
 *
 * Mapped umems are files the client passed (memfd, shm, hugetlbfs, regular
 * files) mapped into the daemon. The client can still truncate such a file,
 * and a load or store past the new end raises SIGBUS in the daemon thread:
 * every access to a mapping therefore runs under the SIGBUS guard below and
 * reports -EFAULT instead of killing the daemon.
 *
 * VA umems are ranges of a client's address space, reached through a
 * handle on the registrar's address space taken at registration
 * (mem_va.c). Copies between two VA umems bounce through one per-thread
 * buffer there.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "mem_va.h"
#include "svd_dd.h"
#include "svd_keys.h"
#include "svd_mem.h"

/* ---------------------------------------------------------------------- */
/* SIGBUS guard                                                            */
/* ---------------------------------------------------------------------- */

/*
 * One guarded access per thread at a time: where to jump back to and the
 * daemon addresses it may fault on. The jump pointer is volatile and the
 * access is fenced on both sides: the only reader is the signal handler,
 * so without both the compiler may drop the stores (no reader it can see)
 * or move the copy out of the armed window -- it did at -O2.
 */
struct mem_guard {
	sigjmp_buf *volatile jmp;
	uintptr_t lo[2], hi[2];
	uintptr_t fault; /* where the last guarded access faulted, or 0 */
};

static __thread struct mem_guard guard;

static bool guard_covers(const struct mem_guard *g, uintptr_t addr)
{
	return (addr >= g->lo[0] && addr < g->hi[0]) ||
	       (addr >= g->lo[1] && addr < g->hi[1]);
}

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *jb = guard.jmp;

	(void)uc;
	if (jb && guard_covers(&guard, (uintptr_t)si->si_addr)) {
		guard.fault = (uintptr_t)si->si_addr;
		siglongjmp(*jb, 1);
	}
	/* Not a guarded client mapping: a daemon bug, die the normal way. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void svd_mem_guard_init(void)
{
	struct sigaction sa = {};

	sa.sa_sigaction = sigbus_handler;
	/* NODEFER: the handler is left by longjmp without restoring masks. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* What one guarded access does; run by mem_op_run() inside the window. */
struct mem_op {
	enum { OP_COPY, OP_ZERO, OP_CMP_SWP, OP_FETCH_ADD, OP_STORE64,
	       OP_TOUCH } kind;
	void *dst;
	const void *src;
	size_t len;
	uint64_t a, b, orig;
	bool stream; /* OP_COPY with streaming stores (data direct, dd_copy.c) */
};

/* Load one byte of every page of [p, p + len). */
static void touch_pages(const volatile uint8_t *p, size_t len)
{
	size_t pg = 4096, i;

	for (i = 0; i < len; i += pg - ((uintptr_t)(p + i) & (pg - 1)))
		(void)p[i];
	if (len)
		(void)p[len - 1];
}

/* Out of line, so the access cannot be scheduled around the fences. */
static __attribute__((noinline)) void mem_op_run(struct mem_op *op)
{
	uint64_t *p = op->dst;

	switch (op->kind) {
	case OP_COPY:
		if (op->stream)
			svd_copy_stream(op->dst, op->src, op->len);
		else
			memmove(op->dst, op->src, op->len);
		break;
	case OP_ZERO:
		memset(op->dst, 0, op->len);
		break;
	case OP_CMP_SWP:
		op->orig = op->a;
		__atomic_compare_exchange_n(p, &op->orig, op->b, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		break;
	case OP_FETCH_ADD:
		op->orig = __atomic_fetch_add(p, op->a, __ATOMIC_SEQ_CST);
		break;
	case OP_STORE64:
		__atomic_store_n(p, op->a, __ATOMIC_SEQ_CST);
		break;
	case OP_TOUCH:
		touch_pages(op->src, op->len);
		break;
	}
}

static void guard_arm(sigjmp_buf *jb, const struct mem_op *op)
{
	guard.lo[0] = (uintptr_t)op->dst;
	guard.hi[0] = op->dst ? guard.lo[0] + (op->kind == OP_COPY ||
					       op->kind == OP_ZERO ?
					       op->len : 8) :
			      0;
	guard.lo[1] = (uintptr_t)op->src;
	guard.hi[1] = op->src ? guard.lo[1] + op->len : 0;
	guard.fault = 0;
	atomic_signal_fence(memory_order_seq_cst);
	guard.jmp = jb;
	atomic_signal_fence(memory_order_seq_cst);
}

/* Run op; a SIGBUS on its addresses (a truncated file) gives -EFAULT. */
static int guarded(struct mem_op *op)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 0)) {
		guard.jmp = NULL;
		atomic_signal_fence(memory_order_seq_cst);
		return -EFAULT;
	}
	guard_arm(&jb, op);
	mem_op_run(op);
	atomic_signal_fence(memory_order_seq_cst);
	guard.jmp = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	return 0;
}

static int guarded_copy(void *dst, const void *src, size_t len)
{
	struct mem_op op = { .kind = OP_COPY, .dst = dst, .src = src,
			     .len = len };

	return guarded(&op);
}

static void revoke_if_hit(const struct svd_umem *u)
{
	uintptr_t base;

	if (!u || u->kind != SVD_UMEM_MAPPED)
		return;
	base = (uintptr_t)u->map_base;
	if (guard.fault >= base && guard.fault < base + u->map_len) {
		atomic_store(&((struct svd_umem *)u)->revoked, true);
		svd_direct_umem_revoked(u); /* and off the direct path */
	}
}

/*
 * A guarded access to a or b faulted: the owner truncated that file. Its
 * regions are revoked for good, as a dma-buf exporter's revoke (seed 003),
 * so later work requests fail at key lookup, on the side that owns it.
 */
static int mem_fault(int ret, const struct svd_umem *a,
		     const struct svd_umem *b)
{
	if (ret == -EFAULT && guard.fault) {
		revoke_if_hit(a);
		revoke_if_hit(b);
		guard.fault = 0;
	}
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Reads, writes, copies                                                   */
/* ---------------------------------------------------------------------- */

static int range_ok(const struct svd_umem *u, uint64_t off, uint64_t len)
{
	if (!u || off > u->length || len > u->length - off)
		return -EFAULT;
	return 0;
}

static uint8_t *map_at(const struct svd_umem *u, uint64_t off)
{
	return (uint8_t *)u->map + off;
}

/*
 * Move len bytes between daemon memory at buf and the umem at off. buf may
 * itself be a client mapping (a mapped umem copied to a VA one): the VA
 * side is then the kernel's copy, which reports a truncated page as EFAULT
 * rather than raising SIGBUS.
 */
static int umem_io(const struct svd_umem *u, uint64_t off, void *buf,
		   size_t len, bool write)
{
	int ret = range_ok(u, off, len);

	if (ret || !len)
		return ret;
	if (u->kind == SVD_UMEM_VA)
		return mem_va_io(u, u->addr + off, buf, len, write);
	if (u->nofault) {
		if (write)
			memcpy(map_at(u, off), buf, len);
		else
			memcpy(buf, map_at(u, off), len);
		return 0;
	}
	if (write)
		return mem_fault(guarded_copy(map_at(u, off), buf, len), u,
				 NULL);
	return mem_fault(guarded_copy(buf, map_at(u, off), len), u, NULL);
}

int svd_mem_read(const struct svd_umem *src, uint64_t off, void *buf,
		 size_t len)
{
	return umem_io(src, off, buf, len, false);
}

int svd_mem_write(const struct svd_umem *dst, uint64_t off, const void *buf,
		  size_t len)
{
	/* Only read from buf; the VA path takes a non-const iovec. */
	return umem_io(dst, off, (void *)buf, len, true);
}

int svd_mem_copy(const struct svd_umem *dst, uint64_t dst_off,
		 const struct svd_umem *src, uint64_t src_off, uint64_t len)
{
	int ret = range_ok(dst, dst_off, len);

	if (!ret)
		ret = range_ok(src, src_off, len);
	if (ret || !len)
		return ret;
	/* A data-direct region's DMA runs on its own path (seed 003). */
	if (dst->dd || src->dd)
		return svd_dd_copy(dst->dd ? dst->dd : src->dd, dst, dst_off,
				   src, src_off, len);
	return svd_mem_copy_direct(dst, dst_off, src, src_off, len);
}

/*
 * A copy between a mapped umem and a VA one failed with -EFAULT: the
 * kernel's copy reports a truncated page of our mapping as EFAULT (no
 * SIGBUS), so find out whether it was ours. A page of the mapping that
 * faults now revokes its regions, as a fault under the guard does.
 */
static int mapped_side_check(const struct svd_umem *u, uint64_t off,
			     uint64_t len, int ret)
{
	struct mem_op op = { .kind = OP_TOUCH, .src = map_at(u, off),
			     .len = len };

	if (ret == -EFAULT)
		mem_fault(guarded(&op), u, NULL);
	return ret;
}

/*
 * A VA read straight into a mapped umem (no bounce) whose registrar was
 * found gone after the copy (-ESRCH): what landed may be another image's
 * bytes, so it is wiped before the error is reported. A READ that fails
 * this way delivers nothing.
 */
static int mapped_wipe(const struct svd_umem *u, uint64_t off, uint64_t len,
		       int ret)
{
	struct mem_op op = { .kind = OP_ZERO, .dst = map_at(u, off),
			     .len = len };

	if (ret == -ESRCH)
		mem_fault(guarded(&op), u, NULL);
	return ret;
}

/* VA into a mapped umem: one copy straight into the mapping. */
static int va_to_mapped(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off,
			uint64_t len)
{
	int ret = svd_mem_read(src, src_off, map_at(dst, dst_off), len);

	ret = mapped_side_check(dst, dst_off, len, ret);
	return mapped_wipe(dst, dst_off, len, ret);
}

int svd_mem_copy_direct(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off,
			uint64_t len)
{
	int ret = range_ok(dst, dst_off, len);

	if (!ret)
		ret = range_ok(src, src_off, len);
	if (ret || !len)
		return ret;
	if (dst->kind == SVD_UMEM_MAPPED && src->kind == SVD_UMEM_MAPPED &&
	    dst->nofault && src->nofault) {
		memmove(map_at(dst, dst_off), map_at(src, src_off), len);
		return 0;
	}
	if (dst->kind == SVD_UMEM_MAPPED && src->kind == SVD_UMEM_MAPPED)
		return mem_fault(guarded_copy(map_at(dst, dst_off),
					      map_at(src, src_off), len),
				 dst, src);
	if (dst->kind == SVD_UMEM_MAPPED)
		return va_to_mapped(dst, dst_off, src, src_off, len);
	if (src->kind == SVD_UMEM_MAPPED)
		return mapped_side_check(src, src_off, len,
					 svd_mem_write(dst, dst_off,
						       map_at(src, src_off),
						       len));
	return mem_va_copy(dst, dst_off, src, src_off, len);
}

static bool overlap(const void *a, const void *b, uint64_t len)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return x < y + len && y < x + len;
}

int svd_mem_copy_stream(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off,
			uint64_t len)
{
	struct mem_op op = { .kind = OP_COPY, .len = len, .stream = true };
	int ret = range_ok(dst, dst_off, len);

	if (!ret)
		ret = range_ok(src, src_off, len);
	if (ret || !len)
		return ret;
	op.dst = map_at(dst, dst_off);
	op.src = map_at(src, src_off);
	if (dst->kind != SVD_UMEM_MAPPED || src->kind != SVD_UMEM_MAPPED ||
	    overlap(op.dst, op.src, len))
		return svd_mem_copy_direct(dst, dst_off, src, src_off, len);
	return mem_fault(guarded(&op), dst, src);
}

/*
 * Ring indices and doorbell records, several per message: on a sealed
 * memfd (every ring the library makes) a plain aligned access, no guard.
 */
static _Atomic uint32_t *word_at(const struct svd_umem *u, uint64_t off)
{
	if (u->kind != SVD_UMEM_MAPPED || !u->nofault || off % 4 ||
	    range_ok(u, off, 4))
		return NULL;
	return (_Atomic uint32_t *)map_at(u, off);
}

int svd_mem_load32(const struct svd_umem *u, uint64_t off, uint32_t *v)
{
	_Atomic uint32_t *w = word_at(u, off);
	int ret;

	if (w) {
		*v = atomic_load_explicit(w, memory_order_acquire);
		return 0;
	}
	ret = svd_mem_read(u, off, v, sizeof(*v));

	atomic_thread_fence(memory_order_acquire);
	return ret;
}

int svd_mem_store32(const struct svd_umem *u, uint64_t off, uint32_t v)
{
	_Atomic uint32_t *w = word_at(u, off);

	if (w) {
		atomic_store_explicit(w, v, memory_order_release);
		return 0;
	}
	atomic_thread_fence(memory_order_release);
	return svd_mem_write(u, off, &v, sizeof(v));
}

/* ---------------------------------------------------------------------- */
/* Atomics                                                                 */
/* ---------------------------------------------------------------------- */

/* Serializes read-modify-write atomics on VA memory among daemon threads. */
static pthread_mutex_t va_atomic_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t atomic_result(enum svd_mem_atomic_op op, uint64_t v,
			      uint64_t a, uint64_t b)
{
	switch (op) {
	case SVD_MEM_CMP_SWP:
		return v == a ? b : v;
	case SVD_MEM_FETCH_ADD:
		return v + a;
	default:
		return a;
	}
}

static int va_atomic(const struct svd_umem *u, uint64_t off,
		     enum svd_mem_atomic_op op, uint64_t a, uint64_t b,
		     uint64_t *orig)
{
	uint64_t v, nv;
	int ret;

	pthread_mutex_lock(&va_atomic_lock);
	ret = svd_mem_read(u, off, &v, sizeof(v));
	if (!ret) {
		*orig = v;
		nv = atomic_result(op, v, a, b);
		if (nv != v || op == SVD_MEM_STORE)
			ret = svd_mem_write(u, off, &nv, sizeof(nv));
	}
	pthread_mutex_unlock(&va_atomic_lock);
	return ret;
}

int svd_mem_atomic(const struct svd_umem *u, uint64_t off,
		   enum svd_mem_atomic_op op, uint64_t a, uint64_t b,
		   uint64_t *orig)
{
	static const int kinds[] = { [SVD_MEM_CMP_SWP] = OP_CMP_SWP,
				     [SVD_MEM_FETCH_ADD] = OP_FETCH_ADD,
				     [SVD_MEM_STORE] = OP_STORE64 };
	struct mem_op mop = { .a = a, .b = b };
	uint64_t dummy;
	int ret;

	if (off & 7)
		return -EINVAL;
	ret = range_ok(u, off, sizeof(uint64_t));
	if (ret)
		return ret;
	if (!orig)
		orig = &dummy;
	if (u->kind == SVD_UMEM_VA)
		return va_atomic(u, off, op, a, b, orig);
	mop.kind = kinds[op];
	mop.dst = map_at(u, off);
	ret = mem_fault(guarded(&mop), u, NULL);
	*orig = mop.orig;
	return ret;
}

int svd_mem_probe(const struct svd_umem *u)
{
	uint8_t byte;
	int ret;

	if (!u || !u->length)
		return -EINVAL;
	ret = svd_mem_read(u, 0, &byte, 1);
	if (!ret && u->length > 1)
		ret = svd_mem_read(u, u->length - 1, &byte, 1);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                    */
/* ---------------------------------------------------------------------- */

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
	/* A window on a revoked region is revoked with it. */
	if (mr->revoked || (mr->is_mw && svd_to_mw(mr)->parent->revoked) ||
	    (mr->umem && atomic_load(&mr->umem->revoked)) ||
	    (pd && mr->pd != pd))
		return -EACCES;
	if ((mr->access & need) != need)
		return -EACCES;
	*umem = mr->umem;
	return region_offset(mr, iova, len, off);
}
