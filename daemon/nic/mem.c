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
 * (svd_mem_open_va(), va_io()). Copies between two VA umems bounce through
 * one per-thread buffer.
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "svd_dd.h"
#include "svd_keys.h"
#include "svd_mem.h"

#define BOUNCE_SIZE (64 * 1024)

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
	enum { OP_COPY, OP_CMP_SWP, OP_FETCH_ADD, OP_STORE64, OP_TOUCH } kind;
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
	guard.hi[0] = op->dst ? guard.lo[0] + (op->kind == OP_COPY ? op->len : 8)
			      : 0;
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
/* VA memory: the registrar's address space                                */
/* ---------------------------------------------------------------------- */

/*
 * A VA umem holds an fd to /proc/PID/mem opened at registration. The
 * kernel binds that file to the process's mm at open: after the process
 * exits or execs, the old mm has no users and every read or write of the
 * fd returns 0 bytes, whatever now runs under the pid. So the handle can
 * never come to mean another process, and exec (a setuid program above
 * all) cuts the region off.
 */

/* Is the process behind pidfd still running (not exited)? */
static bool pidfd_running(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

/* Set or clear CAP_SYS_PTRACE in this thread's effective set. */
static bool cap_ptrace_set(bool on, bool *had)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];
	uint32_t bit = 1U << (CAP_SYS_PTRACE % 32);
	unsigned int i = CAP_SYS_PTRACE / 32;

	if (syscall(SYS_capget, &h, c))
		return false;
	if (had)
		*had = c[i].effective & bit;
	c[i].effective = on ? c[i].effective | bit : c[i].effective & ~bit;
	return !syscall(SYS_capset, &h, c);
}

/*
 * Open path with the client's file-system identity and without
 * CAP_SYS_PTRACE, so the kernel's ptrace check for /proc/PID/mem asks
 * whether the client itself may reach that memory: a root daemon never
 * lends a user its own privilege. Per thread (setfsuid and capset act on
 * the calling thread only). A root client keeps root's reach: it has it.
 */
static int open_as_client(const char *path, uid_t uid, gid_t gid)
{
	bool had_ptrace = false;
	uid_t old_uid;
	gid_t old_gid;
	int fd, err;

	if (uid == 0) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (!cap_ptrace_set(false, &had_ptrace) && geteuid() == 0)
		return -EPERM; /* never open it with root's full power */
	old_gid = (gid_t)setfsgid(gid);
	old_uid = (uid_t)setfsuid(uid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	setfsuid(old_uid);
	setfsgid(old_gid);
	if (had_ptrace)
		cap_ptrace_set(true, NULL);
	return fd < 0 ? err : fd;
}

/*
 * Does process pid run with exactly the client's identity and no
 * privilege beyond it (all four uids and gids, no permitted capability)?
 */
static bool runs_as_client(pid_t pid, uid_t uid, gid_t gid)
{
	unsigned int u[4] = { 1, 1, 1, 1 }, g[4] = { 1, 1, 1, 1 }, i;
	unsigned long long prm = ~0ULL;
	char path[64], line[256];
	bool same = true;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Uid: %u %u %u %u", &u[0], &u[1], &u[2], &u[3]);
		sscanf(line, "Gid: %u %u %u %u", &g[0], &g[1], &g[2], &g[3]);
		sscanf(line, "CapPrm: %llx", &prm);
	}
	fclose(f);
	for (i = 0; i < 4; i++)
		same = same && u[i] == uid && g[i] == gid;
	return same && !prm;
}

/*
 * A process that dropped privilege (setuid from root) is not dumpable, so
 * the kernel refuses even its own uid /proc/PID/mem. The sender still
 * owns that memory: a root daemon opens it, then checks (after the open,
 * so an exec before it is seen) that the process holds nothing beyond
 * the client's identity.
 */
static int open_dropped(const char *path, pid_t pid, uid_t uid, gid_t gid)
{
	int fd;

	if (geteuid() != 0)
		return -EACCES;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!runs_as_client(pid, uid, gid)) {
		close(fd);
		return -EACCES;
	}
	return fd;
}

int svd_mem_open_va(pid_t pid, int sender_pidfd, uid_t uid, gid_t gid)
{
	char path[64];
	int pidfd = sender_pidfd, fd;

	if (pid <= 0)
		return -ESRCH;
	/* Pin the identity first (the message's own pidfd if the kernel gave
	 * one): if this process still runs after the open, /proc/PID named
	 * it and not a successor. */
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open_as_client(path, uid, gid);
	if (fd == -EACCES || fd == -EPERM)
		fd = open_dropped(path, pid, uid, gid);
	if (fd >= 0 && !pidfd_running(pidfd)) {
		close(fd);
		fd = -ESRCH;
	}
	if (pidfd != sender_pidfd)
		close(pidfd);
	if (fd == -ENOENT)
		fd = -ESRCH;
	return fd;
}

/*
 * Move len bytes between buf and the client range at addr. 0 bytes moved
 * means the address space is gone (exit, exec); EIO an unmapped page.
 */
static int va_io(const struct svd_umem *u, uint64_t addr, void *buf,
		 size_t len, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(u->mem_fd, buf, len, (off_t)addr) :
				    pread(u->mem_fd, buf, len, (off_t)addr);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EFAULT;
		if (n == 0)
			return -ESRCH;
		buf = (uint8_t *)buf + n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
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
		return va_io(u, u->addr + off, buf, len, write);
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

/* VA to VA: possibly two processes, so through a bounce buffer. */
static int va_umem_copy(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off, uint64_t len)
{
	static __thread uint8_t bounce[BOUNCE_SIZE];
	int ret = 0;

	while (len && !ret) {
		size_t n = len < BOUNCE_SIZE ? len : BOUNCE_SIZE;

		ret = svd_mem_read(src, src_off, bounce, n);
		if (!ret)
			ret = svd_mem_write(dst, dst_off, bounce, n);
		src_off += n;
		dst_off += n;
		len -= n;
	}
	return ret;
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

int svd_mem_copy_direct(const struct svd_umem *dst, uint64_t dst_off,
			const struct svd_umem *src, uint64_t src_off,
			uint64_t len)
{
	int ret = range_ok(dst, dst_off, len);

	if (!ret)
		ret = range_ok(src, src_off, len);
	if (ret || !len)
		return ret;
	if (dst->kind == SVD_UMEM_MAPPED && src->kind == SVD_UMEM_MAPPED)
		return mem_fault(guarded_copy(map_at(dst, dst_off),
					      map_at(src, src_off), len),
				 dst, src);
	if (dst->kind == SVD_UMEM_MAPPED)
		return mapped_side_check(dst, dst_off, len,
					 svd_mem_read(src, src_off,
						      map_at(dst, dst_off),
						      len));
	if (src->kind == SVD_UMEM_MAPPED)
		return mapped_side_check(src, src_off, len,
					 svd_mem_write(dst, dst_off,
						       map_at(src, src_off),
						       len));
	return va_umem_copy(dst, dst_off, src, src_off, len);
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

int svd_mem_load32(const struct svd_umem *u, uint64_t off, uint32_t *v)
{
	int ret = svd_mem_read(u, off, v, sizeof(*v));

	atomic_thread_fence(memory_order_acquire);
	return ret;
}

int svd_mem_store32(const struct svd_umem *u, uint64_t off, uint32_t v)
{
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
