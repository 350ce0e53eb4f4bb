// SPDX-License-Identifier: MIT
/*
 * A VA memory region names its registrar's address space, never a pid
 * number (issue 18, finding 1). Two ways a pid comes to mean someone else:
 *
 *   exec      P registers an MR, forks C (which keeps the context), then
 *             execs another program that maps memory at the very same
 *             address. C's RDMA READ/WRITE through P's MR worked before
 *             the exec and fail after it; the new program is untouched.
 *   execuser  exec again, all as a second user (made with useradd) with
 *             that user's own daemon, so the daemon may copy with
 *             process_vm_* (docs/security.md, the privilege rule), and P
 *             execs a setuid-root copy of the test: the daemon must not
 *             reach it (the new program checks its own memory).
 *   pidreuse  In a private pid namespace (where the test can pick pids),
 *             R registers an MR and hands its command FD to I, which
 *             imports the MR. R exits; a new process N is created with
 *             R's pid and the same buffer address. I's READ and WRITE
 *             through the MR fail, and N's memory is untouched.
 *
 * Usage: test_mem_identity exec|execuser|pidreuse. pidreuse exits 77
 * only when this machine gives the test no pid namespace (unprivileged,
 * or none); execuser when it is not root, has no useradd, or no
 * directory where a setuid bit works.
 */
#include <linux/sched.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_user.h"

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
	char q;

	if (p != want)
		return SVT_FAIL;
	memset(p, 'V', LEN);
	if (write(atoi(fd), "R", 1) != 1)
		return SVT_FAIL;
	/* On a socket (execuser), answer whether its memory is intact: a
	 * setuid program cannot be read by the test's user. */
	if (read(atoi(fd), &q, 1) == 1 && q == '?' &&
	    write(atoi(fd), all(p, 'V') ? "y" : "n", 1) != 1)
		return SVT_FAIL;
	pause();
	return SVT_PASS;
}

/* execuser: the setuid copy P execs (NULL: P execs the test itself). */
static const char *victim_path;

/*
 * Has the victim's memory at addr stayed all 'V'? Read it (the test's
 * own program), or ask it on its socket (a setuid one).
 */
static bool victim_intact(pid_t pid, uint64_t addr, int fd)
{
	static uint8_t b[LEN];
	struct iovec l = { b, LEN }, r = { (void *)(uintptr_t)addr, LEN };
	char a;

	if (victim_path)
		return write(fd, "?", 1) == 1 && read(fd, &a, 1) == 1 &&
		       a == 'y';
	return process_vm_readv(pid, &l, 1, &r, 1, 0) == LEN && all(b, 'V');
}

/* The effective uid of process pid (from /proc, which anyone may read). */
static long euid_of(pid_t pid)
{
	char path[64], line[256];
	long r = -1, e = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "Uid: %ld %ld", &r, &e);
	if (f)
		fclose(f);
	return e;
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
	/* execuser: the program P became really runs as root. */
	SVT_CHECK(!victim_path || euid_of(getppid()) == 0);
	SVT_CHECK(peer_read(&p, addr, pmr->rkey) != IBV_WC_SUCCESS);
	SVT_CHECK(!memchr(p.buf, 'V', LEN));
	svt_mem_pair(ctx, pd, &p.a, NULL, &p.b);
	SVT_CHECK(peer_write(&p, addr, pmr->rkey) != IBV_WC_SUCCESS);
	SVT_CHECK(victim_intact(getppid(), addr, ready_fd));
	if (victim_path)
		printf("execuser: uid %d, its own daemon, exec of a setuid-root "
		       "program\n", (int)getuid());
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
	execl(victim_path ? victim_path : "/proc/self/exe",
	      "test_mem_identity", "victim", addr, fd, (char *)NULL);
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
	/* ready crosses the exec: no CLOEXEC on it. A socket when the victim
	 * is asked rather than read. */
	SVT_CHECK(!pipe2(go, O_CLOEXEC) && !pipe2(res, O_CLOEXEC));
	SVT_CHECK(victim_path ? !socketpair(AF_UNIX, SOCK_STREAM, 0, ready) :
				!pipe(ready));
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

/* ------------------------------------------------------------ execuser */

/* Copy file from to to (created with mode 0700); 0 or -1. */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	char b[65536];
	ssize_t n = 0;

	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	while (in >= 0 && out >= 0 && (n = read(in, b, sizeof(b))) > 0)
		if (write(out, b, (size_t)n) != n)
			n = -1;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out))
		n = -1;
	return in < 0 || out < 0 || n < 0 ? -1 : 0;
}

/*
 * In dir (0755, so the second user reaches it): this program, setuid
 * root, as victim; the daemon, which that user then runs (the build tree
 * may be out of its reach). Skips where setuid bits do not work there.
 */
static void execuser_files(const char *dir, char *victim, char *daemon,
			   size_t size)
{
	struct statvfs v;

	SVT_CHECK(!chmod(dir, 0755) && !statvfs(dir, &v));
	if (v.f_flag & ST_NOSUID) {
		svt_rm_rf(dir);
		svt_skip("the temporary directory is mounted nosuid");
	}
	snprintf(victim, size, "%s/victim", dir);
	snprintf(daemon, size, "%s/softverbsd", dir);
	/* chown first: it clears the setuid bit. */
	SVT_CHECK(!copy_file("/proc/self/exe", victim) &&
		  !chown(victim, 0, 0) && !chmod(victim, 04755));
	SVT_CHECK(!copy_file(svt_daemon_path(), daemon) &&
		  !chmod(daemon, 0755));
}

static int test_execuser(void)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256], victim[300], daemon[300];
	struct passwd *pw;
	int st;
	pid_t u;

	if (geteuid() != 0)
		svt_skip("needs root (to make and become a second user)");
	pw = svt_peer_user();
	if (!pw)
		svt_skip("no useradd: cannot make the second user");
	snprintf(dir, sizeof(dir), "%s/svtest-suid.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	SVT_CHECK(mkdtemp(dir));
	execuser_files(dir, victim, daemon, sizeof(victim));
	u = fork();
	SVT_CHECK(u >= 0);
	if (u == 0) {
		SVT_CHECK(!svt_become(pw));
		/* Dropping root made us undumpable; a user's own processes
		 * (what the daemon serves) are not. */
		SVT_CHECK(!prctl(PR_SET_DUMPABLE, 1));
		setenv("SOFTVERBSD", daemon, 1);
		victim_path = victim;
		exit(test_exec());
	}
	SVT_CHECK(waitpid(u, &st, 0) == u);
	svt_rm_rf(dir);
	return WIFEXITED(st) ? WEXITSTATUS(st) : SVT_FAIL;
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
	if (argc > 1 && !strcmp(argv[1], "execuser"))
		return test_execuser();
	if (argc > 3 && !strcmp(argv[1], "victim"))
		return victim(argv[2], argv[3]);
	return test_exec();
}
