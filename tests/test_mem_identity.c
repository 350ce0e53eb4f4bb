// SPDX-License-Identifier: MIT
/*
 * A VA memory region names its registrar's address space, never a pid
 * number (issue 18, finding 1). Two ways a pid comes to mean someone else:
 *
 *   exec      P registers an MR, forks C (which keeps the context), then
 *             execs another program that maps memory at the very same
 *             address. C's RDMA READ/WRITE through P's MR worked before
 *             the exec and fail after it; the new program is untouched.
 *   pidreuse  In a private pid namespace (where the test can pick pids),
 *             R registers an MR and hands its command FD to I, which
 *             imports the MR. R exits; a new process N is created with
 *             R's pid and the same buffer address. I's READ and WRITE
 *             through the MR fail, and N's memory is untouched.
 *
 * Usage: test_mem_identity exec|pidreuse. pidreuse exits 77 only when
 * this machine gives the test no pid namespace (unprivileged, or none).
 */
#include <linux/sched.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "svtest.h"
#include "svt_mem.h"

#define LEN 65536

struct reg_msg {
	uint32_t pd_handle, mr_handle;
	uint64_t addr;
};

/* C's side: its own endpoints and buffer on the inherited context. */
struct peer {
	struct svt_ep a, b;
	struct ibv_mr *mr;
	uint8_t *buf;
};

static void peer_init(struct peer *p, struct ibv_context *ctx,
		      struct ibv_pd *pd)
{
	p->buf = aligned_alloc(4096, LEN);
	SVT_CHECK(p->buf);
	p->mr = ibv_reg_mr(pd, p->buf, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(p->mr);
	svt_mem_pair(ctx, pd, &p->a, NULL, &p->b);
}

/* READ len bytes of the target MR into p->buf; the completion status. */
static enum ibv_wc_status peer_read(struct peer *p, uint64_t addr,
				    uint32_t rkey)
{
	struct ibv_sge s = svt_sge(p->buf, LEN, p->mr->lkey);

	memset(p->buf, 0, LEN);
	return svt_rdma(&p->a, IBV_WR_RDMA_READ, &s, addr, rkey, 0, 0);
}

static enum ibv_wc_status peer_write(struct peer *p, uint64_t addr,
				     uint32_t rkey)
{
	struct ibv_sge s = svt_sge(p->buf, LEN, p->mr->lkey);

	memset(p->buf, 'W', LEN);
	return svt_rdma(&p->a, IBV_WR_RDMA_WRITE, &s, addr, rkey, 0, 0);
}

static bool all(const uint8_t *b, uint8_t v)
{
	size_t i;

	for (i = 0; i < LEN; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* ---------------------------------------------------------------- exec */

/*
 * The program P execs: the test itself as "victim ADDR FD", which maps
 * memory at exactly the registered address (so the old pid-based access
 * would have hit it), fills it with 'V' and says so on FD.
 */
static int victim(const char *addr, const char *fd)
{
	void *want = (void *)strtoul(addr, NULL, 16);
	void *p = mmap(want, LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != want)
		return SVT_FAIL;
	memset(p, 'V', LEN);
	if (write(atoi(fd), "R", 1) != 1)
		return SVT_FAIL;
	pause();
	return SVT_PASS;
}

/* Has the victim's memory at addr stayed all 'V'? */
static bool victim_intact(pid_t pid, uint64_t addr)
{
	static uint8_t b[LEN];
	struct iovec l = { b, LEN }, r = { (void *)(uintptr_t)addr, LEN };

	return process_vm_readv(pid, &l, 1, &r, 1, 0) == LEN && all(b, 'V');
}

/* C: use P's MR before and after P's exec; 'P' on res_fd if all held. */
static void exec_child(struct ibv_context *ctx, struct ibv_pd *pd,
		       struct ibv_mr *pmr, int go_fd, int ready_fd,
		       int res_fd)
{
	uint64_t addr = (uintptr_t)pmr->addr;
	struct peer p;
	char c;

	peer_init(&p, ctx, pd);
	SVT_CHECK(peer_read(&p, addr, pmr->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(all(p.buf, 'O'));
	/* Let P exec the victim, and wait until it has its memory. */
	SVT_CHECK(write(go_fd, "x", 1) == 1);
	SVT_CHECK(read(ready_fd, &c, 1) == 1 && c == 'R');
	SVT_CHECK(peer_read(&p, addr, pmr->rkey) != IBV_WC_SUCCESS);
	SVT_CHECK(!memchr(p.buf, 'V', LEN));
	svt_mem_pair(ctx, pd, &p.a, NULL, &p.b);
	SVT_CHECK(peer_write(&p, addr, pmr->rkey) != IBV_WC_SUCCESS);
	SVT_CHECK(victim_intact(getppid(), addr));
	printf("exec: READ and WRITE through the MR fail after the exec; "
	       "the new program's memory at that address is untouched\n");
	SVT_CHECK(write(res_fd, "P", 1) == 1);
	_exit(SVT_PASS);
}

/* P: register, fork C, exec the victim when C says so. */
static void exec_parent(struct ibv_context *ctx, int go[2], int ready[2],
			int res[2])
{
	/* mmap, not the heap: the victim must be able to map this address
	 * (a sanitizer's heap is reserved in every process). */
	uint8_t *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	char addr[32], fd[16];
	struct ibv_mr *mr;
	pid_t c;
	char x;

	SVT_CHECK(pd && buf != MAP_FAILED);
	memset(buf, 'O', LEN);
	mr = ibv_reg_mr(pd, buf, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	c = fork();
	SVT_CHECK(c >= 0);
	if (c == 0) {
		close(ready[1]); /* EOF if the victim fails */
		exec_child(ctx, pd, mr, go[1], ready[0], res[1]);
	}
	close(res[1]);
	SVT_CHECK(read(go[0], &x, 1) == 1);
	snprintf(addr, sizeof(addr), "%lx", (unsigned long)(uintptr_t)buf);
	snprintf(fd, sizeof(fd), "%d", ready[1]);
	execl("/proc/self/exe", "test_mem_identity", "victim", addr, fd,
	      (char *)NULL);
	_exit(SVT_FAIL);
}

static int test_exec(void)
{
	int go[2], ready[2], res[2], st;
	struct ibv_context *ctx;
	struct svt_daemon d;
	char x = 0;
	pid_t p;

	ctx = svt_start(&d);
	/* ready crosses the exec: no CLOEXEC on it. */
	SVT_CHECK(!pipe2(go, O_CLOEXEC) && !pipe(ready) &&
		  !pipe2(res, O_CLOEXEC));
	p = fork();
	SVT_CHECK(p >= 0);
	if (p == 0)
		exec_parent(ctx, go, ready, res);
	close(res[1]);
	/* EOF without 'P': C failed a check (and exited). */
	SVT_CHECK(read(res[0], &x, 1) == 1 && x == 'P');
	kill(p, SIGKILL);
	SVT_CHECK(waitpid(p, &st, 0) == p);
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	return SVT_PASS;
}

/* ------------------------------------------------------------ pidreuse */

/* R: register buf, hand the context to I, exit when told. */
static void registrar(uint8_t *buf, int sock)
{
	struct ibv_context *ctx = svt_open_dev(NULL);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_mr *mr;
	struct reg_msg m;
	char x;

	SVT_CHECK(pd);
	memset(buf, 'O', LEN);
	mr = ibv_reg_mr(pd, buf, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	m = (struct reg_msg){ pd->handle, mr->handle, (uintptr_t)buf };
	svt_send_fd(sock, ctx->cmd_fd, &m, sizeof(m));
	SVT_CHECK(read(sock, &x, 1) == 1);
	_exit(0);
}

/* A process with exactly this pid (clone3 set_tid; needs CAP_SYS_ADMIN). */
static pid_t fork_with_pid(pid_t want)
{
	struct clone_args a = { .exit_signal = SIGCHLD,
				.set_tid = (uintptr_t)&want,
				.set_tid_size = 1 };

	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
}

/* N: R's successor; fills the buffer and answers whether it is intact. */
static void successor(uint8_t *buf, int sock)
{
	char x;

	memset(buf, 'N', LEN);
	SVT_CHECK(write(sock, "r", 1) == 1);
	SVT_CHECK(read(sock, &x, 1) == 1);
	x = all(buf, 'N') ? 'y' : 'n';
	SVT_CHECK(write(sock, &x, 1) == 1);
	_exit(0);
}

static void pidreuse_checks(struct ibv_context *ctx, struct reg_msg *m,
			    uint8_t *buf, int rsock, pid_t r)
{
	struct ibv_pd *pd = ibv_import_pd(ctx, m->pd_handle);
	struct ibv_mr *mr;
	int ns[2], st;
	struct peer p;
	pid_t n;
	char x;

	SVT_CHECK(pd);
	mr = ibv_import_mr(pd, m->mr_handle);
	SVT_CHECK(mr);
	peer_init(&p, ctx, pd);
	SVT_CHECK(peer_read(&p, m->addr, mr->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(all(p.buf, 'O'));
	SVT_CHECK(write(rsock, "x", 1) == 1);
	SVT_CHECK(waitpid(r, &st, 0) == r);
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, ns));
	n = fork_with_pid(r);
	SVT_CHECK(n >= 0);
	if (n == 0)
		successor(buf, ns[1]);
	SVT_CHECK(n == r && read(ns[0], &x, 1) == 1);
	printf("pid %d reused by a new process\n", (int)r);
	SVT_CHECK(peer_read(&p, m->addr, mr->rkey) != IBV_WC_SUCCESS);
	SVT_CHECK(!memchr(p.buf, 'N', LEN));
	svt_mem_pair(ctx, pd, &p.a, NULL, &p.b);
	SVT_CHECK(peer_write(&p, m->addr, mr->rkey) != IBV_WC_SUCCESS);
	SVT_CHECK(write(ns[0], "?", 1) == 1 && read(ns[0], &x, 1) == 1);
	SVT_CHECK(x == 'y');
	SVT_CHECK(waitpid(n, &st, 0) == n);
	printf("pidreuse: the successor was neither read nor written\n");
}

/* pid 1 of the private namespace, with its own /proc. */
static int pidreuse_init(void)
{
	uint8_t *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ibv_context *ctx;
	struct svt_daemon d;
	struct reg_msg m;
	int sv[2];
	pid_t r;

	SVT_CHECK(buf != MAP_FAILED);
	SVT_CHECK(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	SVT_CHECK(!mount("proc", "/proc", "proc", 0, NULL));
	svt_daemon_start(&d);
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	r = fork();
	SVT_CHECK(r >= 0);
	if (r == 0)
		registrar(buf, sv[1]);
	ctx = ibv_import_device(svt_recv_fd(sv[0], &m, sizeof(m)));
	SVT_CHECK(ctx);
	pidreuse_checks(ctx, &m, buf, sv[0], r);
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	return SVT_PASS;
}

static int test_pidreuse(void)
{
	pid_t init;
	int st;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS)) {
		fprintf(stderr, "no private pid namespace: %s\n",
			strerror(errno));
		return SVT_SKIP;
	}
	init = fork();
	SVT_CHECK(init >= 0);
	if (init == 0)
		exit(pidreuse_init());
	SVT_CHECK(waitpid(init, &st, 0) == init);
	return WIFEXITED(st) ? WEXITSTATUS(st) : SVT_FAIL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "pidreuse"))
		return test_pidreuse();
	if (argc > 3 && !strcmp(argv[1], "victim"))
		return victim(argv[2], argv[3]);
	return test_exec();
}
