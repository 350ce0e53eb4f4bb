// SPDX-License-Identifier: MIT
/*
 * VA memory: ranges of a client's address space (malloc, stack,
 * MAP_PRIVATE), reached through a handle on the registrar's address space
 * taken at registration. docs/memory.md, docs/security.md.
 *
 * Two ways in, one identity:
 *
 * - the handle: /proc/PID/mem, opened with the client's own credentials.
 *   The kernel binds that file to the process's mm at open: after the
 *   process exits or execs, the old mm has no users and every read or
 *   write of the fd returns 0 bytes, whatever now runs under the pid. So
 *   it can never come to mean another process. It copies a page at a time
 *   through a kernel bounce page, though (1.1-1.5 GB/s on the 2-core
 *   EPYC of docs/datapath.md).
 *
 * - process_vm_readv/writev on the registrar's pid: one copy (8-9 GB/s
 *   there, per CPU second), but it names a pid. It is used only when the daemon holds no more
 *   power over the client's processes than the client itself (cma_allowed:
 *   a daemon of the client's own uid and gid without CAP_SYS_PTRACE, or a
 *   root client), so the kernel's ptrace check at each call refuses
 *   whatever the client could not reach itself (a setuid program it
 *   exec'd), and the daemon lends no power. Each call is bracketed by
 *   identity checks on the handle (va_same): the registrar still runs
 *   (pidfd) and its registered mm is still alive (the mem fd still reads).
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mem_va.h"

/*
 * Below this a transfer takes the handle alone: one pread/pwrite of a few
 * pages costs about what the identity checks around a process_vm call do.
 */
#define VA_CMA_MIN (8 * 1024)
/*
 * VA to VA pieces: one process_vm call each way per piece. 256 KiB
 * rather than 1 MiB: the bounce buffer stays in the L2 cache between the
 * two calls (1 MiB pieces: 68 + 62 us per MiB on the 2-core Intel VM,
 * 256 KiB: about 25 + 25 per 512 KiB, docs/datapath.md).
 */
#define VA_PIECE (256 * 1024)
/* The piece size when the per-thread buffer cannot be allocated. */
#define VA_PIECE_SMALL (16 * 1024)

/* ---------------------------------------------------------------------- */
/* Opening the handle                                                      */
/* ---------------------------------------------------------------------- */

/* Is the process behind pidfd still running (not exited)? */
static bool pidfd_running(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

static bool cap_get(struct __user_cap_header_struct *h,
		    struct __user_cap_data_struct c[2])
{
	*h = (struct __user_cap_header_struct){ _LINUX_CAPABILITY_VERSION_3,
						0 };
	return !syscall(SYS_capget, h, c);
}

/* Is CAP_SYS_PTRACE in this thread's effective set? false if unknown. */
static bool cap_ptrace_has(bool *has)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct c[2];

	if (!cap_get(&h, c))
		return false;
	*has = c[CAP_SYS_PTRACE / 32].effective &
	       (1U << (CAP_SYS_PTRACE % 32));
	return true;
}

/* Set or clear CAP_SYS_PTRACE in this thread's effective set. */
static bool cap_ptrace_set(bool on, bool *had)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct c[2];
	uint32_t bit = 1U << (CAP_SYS_PTRACE % 32);
	unsigned int i = CAP_SYS_PTRACE / 32;

	if (!cap_get(&h, c))
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

/*
 * May process_vm_* reach this client's processes? Only if the daemon has
 * no more power over them than the client: the kernel checks those calls
 * against the daemon's real uid and gid and its capabilities, so a daemon
 * running as exactly the client (no CAP_SYS_PTRACE), or a root daemon
 * serving root, is refused whatever the client would be refused. A root
 * daemon serving a user keeps to the handle, opened as that user.
 */
static bool cma_allowed(uid_t uid, gid_t gid)
{
	bool ptrace_cap = true;

	if (uid == 0)
		return geteuid() == 0;
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		return false;
	return cap_ptrace_has(&ptrace_cap) && !ptrace_cap;
}

/*
 * The fd on the registrar's mm; *pidfd keeps the registrar's pidfd when
 * the fast path may be used (else -1).
 */
static int open_va(pid_t pid, int sender_pidfd, uid_t uid, gid_t gid,
		   int *keep)
{
	char path[64];
	int pidfd = sender_pidfd, fd;

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
	if (fd >= 0 && cma_allowed(uid, gid))
		*keep = pidfd == sender_pidfd ?
				fcntl(pidfd, F_DUPFD_CLOEXEC, 0) : pidfd;
	if (pidfd != sender_pidfd && pidfd != *keep)
		close(pidfd);
	return fd == -ENOENT ? -ESRCH : fd;
}

int svd_mem_open_va(struct svd_umem *u, pid_t pid, int sender_pidfd,
		    uid_t uid, gid_t gid)
{
	int fd;

	u->pidfd = -1;
	if (pid <= 0)
		return -ESRCH;
	fd = open_va(pid, sender_pidfd, uid, gid, &u->pidfd);
	if (fd < 0)
		return fd;
	u->mem_fd = fd;
	u->pid = pid;
	return 0;
}

void svd_mem_close_va(struct svd_umem *u)
{
	close(u->mem_fd);
	if (u->pidfd >= 0)
		close(u->pidfd);
}

/* ---------------------------------------------------------------------- */
/* Access                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * Through the handle. 0 bytes moved means the address space is gone
 * (exit, exec); EIO an unmapped page.
 */
static int va_fd_io(const struct svd_umem *u, uint64_t addr, void *buf,
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

/*
 * Is the registrar the same live process with the same mm? The pidfd says
 * it has not exited, so its pid still names it; the handle still reading
 * says the mm it registered with still has a user, so it has not exec'd
 * (an unmapped page, EIO, still proves the mm alive).
 */
static bool va_same(const struct svd_umem *u, uint64_t addr)
{
	uint8_t byte;
	ssize_t n;

	if (!pidfd_running(u->pidfd))
		return false;
	do
		n = pread(u->mem_fd, &byte, 1, (off_t)addr);
	while (n < 0 && errno == EINTR);
	return n != 0;
}

/*
 * One process_vm call between two identity checks. The check before keeps
 * it from starting on another image (a successor under the pid, the
 * program exec'd): if it fails the handle decides, as it always has (it
 * gives -ESRCH for an exit or exec). The check after catches an exit or
 * exec during the call: the access then fails (-ESRCH), and a read's bytes
 * must not be passed on. Returns 0, -ESRCH, or 1: take the handle (also
 * after a fault, or when the kernel refused the call: the handle gives
 * the exact answer).
 */
static int va_cma(const struct svd_umem *u, uint64_t addr, void *buf,
		  size_t len, bool write)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (!va_same(u, addr))
		return 1;
	n = write ? process_vm_writev(u->pid, &l, 1, &r, 1, 0) :
		    process_vm_readv(u->pid, &l, 1, &r, 1, 0);
	if (!va_same(u, addr))
		return -ESRCH;
	return n == (ssize_t)len ? 0 : 1;
}

int mem_va_io(const struct svd_umem *u, uint64_t addr, void *buf, size_t len,
	      bool write)
{
	int ret;

	if (u->pidfd >= 0 && len >= VA_CMA_MIN) {
		ret = va_cma(u, addr, buf, len, write);
		if (ret <= 0)
			return ret;
	}
	return va_fd_io(u, addr, buf, len, write);
}

/* ---------------------------------------------------------------------- */
/* VA to VA                                                                */
/* ---------------------------------------------------------------------- */

static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;

static void bounce_key_init(void)
{
	pthread_key_create(&bounce_key, free);
}

/*
 * This thread's buffer and its size (a small one if none can be had), 64
 * bytes longer than that so a piece can start at any cache-line offset.
 */
static uint8_t *bounce_get(size_t *size)
{
	static __thread uint8_t small[VA_PIECE_SMALL + 64]
		__attribute__((aligned(64)));
	static __thread uint8_t *big;

	pthread_once(&bounce_once, bounce_key_init);
	if (!big) {
		big = aligned_alloc(4096, VA_PIECE + 4096);
		if (big && pthread_setspecific(bounce_key, big)) {
			free(big);
			big = NULL;
		}
	}
	*size = big ? VA_PIECE : VA_PIECE_SMALL;
	return big ? big : small;
}

int mem_va_copy_alone(const struct svd_umem *dst, uint64_t dst_off,
		      const struct svd_umem *src, uint64_t src_off,
		      uint64_t len)
{
	size_t size;
	/*
	 * The bounce takes the source's offset in its cache line: the
	 * kernel's copies (rep movsb) run several times slower on this
	 * machine's CPUs when the two sides' offsets differ, and buffers on
	 * both ends usually share their alignment (page, malloc's 16).
	 */
	uint8_t *bounce = bounce_get(&size) + ((src->addr + src_off) & 63);
	int ret = 0;

	while (len && !ret) {
		size_t n = len < size ? len : size;

		ret = mem_va_io(src, src->addr + src_off, bounce, n, false);
		if (!ret)
			ret = mem_va_io(dst, dst->addr + dst_off, bounce, n,
					true);
		src_off += n;
		dst_off += n;
		len -= n;
	}
	return ret;
}
