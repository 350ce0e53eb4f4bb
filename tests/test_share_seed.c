// SPDX-License-Identifier: MIT
/*
 * Seed 000 / issue 11: shared PDs and MRs that outlive their creator.
 * Every role is its own program image (posix_spawn of this test), so no
 * process is forked from A.
 *
 *   A  creates a PD and an MR over a 64 MiB POSIX shm region (and MRs over
 *      a memfd, a regular file mapped MAP_SHARED and malloc memory), sends
 *      its command FD to B over a UNIX socket, exits.
 *   B  after A is gone: imports the PD and both MRs, creates its own CQ
 *      and QP, connects to C, and moves data with the shared MR as the
 *      local side (lkey): WRITE to C, READ from C then WRITE back to C;
 *      and from the memfd and file MRs to C.
 *   C  a third process with its own context: WRITE, READ, fetch-and-add
 *      and compare-and-swap into the shared MR through B's QP (rkey).
 *      Every payload is checksummed against the pattern A wrote.
 *   D  has no FD: guessed handles import nothing, and A's keys used from
 *      D's own PD or aimed at B's QP fail.
 *   B  last: the malloc MR (its registrar gone) gives error completions;
 *      the daemon stays healthy and B's next transfer succeeds.
 *
 * "ucc": UCC's pattern: a leader sends its device FD to workers and exits;
 * workers (two started before, two after the leader exited) import the
 * device and the PD and run traffic on it.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "svtest.h"
#include "svt_mem.h"

#define REGION (64UL << 20)
#define CHUNK (1UL << 20)
#define CBUF (8UL << 20)

extern char **environ;

struct seed_msg {
	uint32_t pd, mr, malloc_mr;
	uint64_t addr, malloc_addr;
	/* 1 MiB regions over a memfd (fd kept open) and a regular file */
	uint32_t file_mr[2];
	uint64_t file_addr[2];
};

struct c_info { /* C -> B */
	uint32_t qpn, rkey;
	uint64_t addr;
};

struct b_info { /* B -> C and B -> T (for D) */
	uint32_t qpn, pd, mr, lkey, rkey;
	uint64_t addr;
};

static uint8_t pat(uint64_t i, unsigned int seed)
{
	return (uint8_t)(i * 131 + (i >> 12) + seed);
}

static void fill(uint8_t *p, uint64_t base, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(base + i, seed);
}

static bool check(const uint8_t *p, uint64_t base, size_t n,
		  unsigned int seed)
{
	static uint8_t want[CHUNK];

	SVT_CHECK(n <= CHUNK);
	fill(want, base, n, seed);
	return svt_sum(p, n) == svt_sum(want, n);
}

static void put(int fd, const void *p, size_t n)
{
	SVT_CHECK(write(fd, p, n) == (ssize_t)n);
}

static void get(int fd, void *p, size_t n)
{
	SVT_CHECK(read(fd, p, n) == (ssize_t)n);
}

/* Run this test as another program: role, with fds mapped to 3, 4, 5. */
static pid_t spawn(const char *role, const int *fds, int n, char *arg)
{
	char *argv[] = { "test_share_seed", (char *)role, arg, NULL };
	posix_spawn_file_actions_t fa;
	int i, hi[4];
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	/* Above 3..6 first, so no dup2 overwrites a source still needed. */
	for (i = 0; i < n; i++) {
		hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
		SVT_CHECK(hi[i] >= 0);
		posix_spawn_file_actions_adddup2(&fa, hi[i], 3 + i);
	}
	SVT_CHECK(!posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv,
			       environ));
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < n; i++)
		close(hi[i]);
	return pid;
}

static void wait_ok(pid_t pid, const char *who)
{
	int st;

	SVT_CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s failed (status %#x)\n", who, st);
		exit(SVT_FAIL);
	}
}

/* ------------------------------------------------------------------ A */

/* A 1 MiB shared mapping of fd filled with seed, registered on pd. */
static struct ibv_mr *a_file_mr(struct ibv_pd *pd, int fd, unsigned int seed)
{
	uint8_t *r;

	SVT_CHECK(fd >= 0 && !ftruncate(fd, (off_t)CHUNK));
	r = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SVT_CHECK(r != MAP_FAILED);
	fill(r, 0, CHUNK, seed);
	return ibv_reg_mr(pd, r, CHUNK, SVT_ACCESS_ALL);
}

/* The other kinds of shared mapping: a memfd, a regular file. */
static void a_files(struct ibv_pd *pd, struct seed_msg *m)
{
	const char *tmp = getenv("TMPDIR");
	struct ibv_mr *mr[2];
	char path[256];
	int fd;

	mr[0] = a_file_mr(pd, memfd_create("svt-seed", 0), 4);
	snprintf(path, sizeof(path), "%s/svt-seed-%d", tmp ? tmp : "/tmp",
		 (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	mr[1] = a_file_mr(pd, fd, 5);
	close(fd); /* found again through its path */
	SVT_CHECK(mr[0] && mr[1]);
	unlink(path);
	m->file_mr[0] = mr[0]->handle;
	m->file_mr[1] = mr[1]->handle;
	m->file_addr[0] = (uintptr_t)mr[0]->addr;
	m->file_addr[1] = (uintptr_t)mr[1]->addr;
}

static int role_a(void)
{
	struct ibv_context *ctx = svt_open_dev(NULL);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_mr *mr, *mmr;
	struct seed_msg m;
	char name[64];
	uint8_t *r, *mb;
	int fd;

	SVT_CHECK(pd);
	snprintf(name, sizeof(name), "/svt-seed-%d", (int)getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	SVT_CHECK(fd >= 0 && !ftruncate(fd, (off_t)REGION));
	r = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SVT_CHECK(r != MAP_FAILED);
	close(fd); /* the library finds the file again by itself */
	fill(r, 0, REGION, 1);
	mr = ibv_reg_mr(pd, r, REGION, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	shm_unlink(name); /* nothing left but the mappings */
	mb = malloc(CHUNK);
	SVT_CHECK(mb);
	fill(mb, 0, CHUNK, 9);
	mmr = ibv_reg_mr(pd, mb, CHUNK, SVT_ACCESS_ALL);
	SVT_CHECK(mmr);
	m = (struct seed_msg){ pd->handle, mr->handle, mmr->handle,
			       (uintptr_t)r, (uintptr_t)mb };
	a_files(pd, &m);
	svt_send_fd(3, ctx->cmd_fd, &m, sizeof(m));
	printf("A: registered 64 MiB shm + malloc, sent the FD, exiting\n");
	return SVT_PASS; /* exit: every mapping and fd of A goes away */
}

/* ------------------------------------------------------------------ B */

static enum ibv_wc_status b_rdma(struct svt_ep *e, enum ibv_wr_opcode op,
				 uint64_t laddr, uint32_t lkey, size_t len,
				 uint64_t raddr, uint32_t rkey)
{
	struct ibv_sge s = { laddr, (uint32_t)len, lkey };

	return svt_rdma(e, op, &s, raddr, rkey, 0, 0);
}

/* The memfd and file regions, after A: to C [3M, 4M) and [4M, 5M). */
static void b_files(struct svt_ep *e, const struct seed_msg *m,
		    const struct c_info *c)
{
	struct ibv_mr *fmr;
	int i;

	for (i = 0; i < 2; i++) {
		fmr = ibv_import_mr(e->pd, m->file_mr[i]);
		SVT_CHECK(fmr);
		SVT_CHECK(b_rdma(e, IBV_WR_RDMA_WRITE, m->file_addr[i],
				 fmr->lkey, CHUNK,
				 c->addr + (3 + (uint64_t)i) * CHUNK,
				 c->rkey) == IBV_WC_SUCCESS);
		ibv_unimport_mr(fmr);
	}
}

/* B's transfers with the shared MR as the local side. */
static void b_traffic(struct svt_ep *e, struct ibv_mr *mr,
		      const struct seed_msg *m, const struct c_info *c)
{
	uint64_t a = m->addr;
	char x;

	/* shared [0, 1M) -> C [0, 1M): A's bytes, after A is gone */
	SVT_CHECK(b_rdma(e, IBV_WR_RDMA_WRITE, a, mr->lkey, CHUNK, c->addr,
			 c->rkey) == IBV_WC_SUCCESS);
	/* C [1M, 2M) -> shared [1M, 2M) -> C [2M, 3M) */
	SVT_CHECK(b_rdma(e, IBV_WR_RDMA_READ, a + CHUNK, mr->lkey, CHUNK,
			 c->addr + CHUNK, c->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(b_rdma(e, IBV_WR_RDMA_WRITE, a + CHUNK, mr->lkey, CHUNK,
			 c->addr + 2 * CHUNK, c->rkey) == IBV_WC_SUCCESS);
	b_files(e, m, c);
	put(4, "1", 1); /* C checks, then drives its own part */
	get(4, &x, 1);
	SVT_CHECK(x == 'd');
}

/* The malloc MR lost its registrar: errors, and the daemon carries on. */
static void b_malloc(struct ibv_context *ctx, struct ibv_pd *pd,
		     const struct seed_msg *m, struct ibv_mr *mr)
{
	struct ibv_mr *mmr = ibv_import_mr(pd, m->malloc_mr);
	struct svt_ep x, y;

	SVT_CHECK(mmr);
	svt_mem_pair(ctx, pd, &x, NULL, &y);
	SVT_CHECK(b_rdma(&x, IBV_WR_RDMA_WRITE, m->malloc_addr, mmr->lkey,
			 4096, m->addr, mr->rkey) != IBV_WC_SUCCESS);
	svt_mem_pair(ctx, pd, &x, NULL, &y);
	SVT_CHECK(b_rdma(&x, IBV_WR_RDMA_READ, m->addr + 7 * CHUNK, mr->lkey,
			 4096, m->malloc_addr, mmr->rkey) != IBV_WC_SUCCESS);
	svt_mem_pair(ctx, pd, &x, NULL, &y);
	SVT_CHECK(b_rdma(&x, IBV_WR_RDMA_WRITE, m->addr + 8 * CHUNK, mr->lkey,
			 CHUNK, m->addr + 9 * CHUNK,
			 mr->rkey) == IBV_WC_SUCCESS);
	ibv_unimport_mr(mmr);
	printf("B: the malloc MR fails after its registrar exited; the "
	       "shared one still works\n");
}

static int role_b(void)
{
	struct svt_ep e = { 0 };
	struct seed_msg m;
	struct ibv_mr *mr;
	struct b_info bi;
	struct c_info c;
	char x;
	int fd;

	fd = svt_recv_fd(3, &m, sizeof(m));
	SVT_CHECK(read(3, &x, 1) == 0); /* A has exited */
	e.ctx = ibv_import_device(fd);
	SVT_CHECK(e.ctx);
	e.pd = ibv_import_pd(e.ctx, m.pd);
	SVT_CHECK(e.pd);
	mr = ibv_import_mr(e.pd, m.mr);
	SVT_CHECK(mr && mr->length == REGION && (uintptr_t)mr->addr == m.addr);
	svt_ep_make(&e);
	get(4, &c, sizeof(c));
	bi = (struct b_info){ e.qp->qp_num, m.pd, m.mr, mr->lkey, mr->rkey,
			      m.addr };
	put(4, &bi, sizeof(bi));
	put(5, &bi, sizeof(bi));
	svt_ep_connect(&e, c.qpn);
	get(4, &x, 1); /* C's QP is ready to receive too */
	SVT_CHECK(x == 'r');
	b_traffic(&e, mr, &m, &c);
	get(5, &x, 1); /* D is done */
	b_malloc(e.ctx, e.pd, &m, mr);
	/* The kernel's rule: a PD with objects on it cannot go. */
	SVT_CHECK(ibv_dealloc_pd(e.pd) == EBUSY);
	return SVT_PASS;
}

/* ------------------------------------------------------------------ C */

static enum ibv_wc_status c_atomic(struct svt_ep *e, enum ibv_wr_opcode op,
				   uint64_t *land, struct ibv_mr *cmr,
				   const struct b_info *b, uint64_t cmp,
				   uint64_t swap_add)
{
	struct ibv_sge s = svt_sge(land, 8, cmr->lkey);

	return svt_rdma(e, op, &s, b->addr + 4 * CHUNK, b->rkey, cmp,
			swap_add);
}

/* C's transfers into and out of the shared MR (rkey, B's responder). */
static void c_traffic(struct svt_ep *e, uint8_t *buf, struct ibv_mr *cmr,
		      const struct b_info *b)
{
	struct ibv_sge s = svt_sge(buf + 5 * CHUNK, CHUNK, cmr->lkey);
	uint64_t *land = (uint64_t *)(void *)(buf + 7 * CHUNK), orig;
	uint8_t a8[8];

	fill(buf + 5 * CHUNK, 0, CHUNK, 3);
	SVT_CHECK(svt_rdma(e, IBV_WR_RDMA_WRITE, &s, b->addr + 5 * CHUNK,
			   b->rkey, 0, 0) == IBV_WC_SUCCESS);
	s.addr = (uintptr_t)buf + 6 * CHUNK;
	SVT_CHECK(svt_rdma(e, IBV_WR_RDMA_READ, &s, b->addr + 5 * CHUNK,
			   b->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(check(buf + 6 * CHUNK, 0, CHUNK, 3));
	/* The 8 bytes at 4M are A's pattern: FAA then CAS on them. */
	fill(a8, 4 * CHUNK, 8, 1);
	memcpy(&orig, a8, 8);
	SVT_CHECK(c_atomic(e, IBV_WR_ATOMIC_FETCH_AND_ADD, land, cmr, b, 0,
			   5) == IBV_WC_SUCCESS && *land == orig);
	SVT_CHECK(c_atomic(e, IBV_WR_ATOMIC_CMP_AND_SWP, land, cmr, b,
			   orig + 5, 0x5eed) == IBV_WC_SUCCESS &&
		  *land == orig + 5);
	SVT_CHECK(c_atomic(e, IBV_WR_ATOMIC_FETCH_AND_ADD, land, cmr, b, 0,
			   0) == IBV_WC_SUCCESS && *land == 0x5eed);
}

static int role_c(void)
{
	struct svt_ep e = { .ctx = svt_open_dev(NULL) };
	uint8_t *buf = aligned_alloc(4096, CBUF);
	struct ibv_mr *cmr;
	struct b_info b;
	struct c_info c;
	char x;

	e.pd = ibv_alloc_pd(e.ctx);
	SVT_CHECK(e.pd && buf);
	memset(buf, 0, CBUF);
	fill(buf + CHUNK, 0, CHUNK, 2);
	cmr = ibv_reg_mr(e.pd, buf, CBUF, SVT_ACCESS_ALL);
	SVT_CHECK(cmr);
	svt_ep_make(&e);
	c = (struct c_info){ e.qp->qp_num, cmr->rkey, (uintptr_t)buf };
	put(3, &c, sizeof(c));
	get(3, &b, sizeof(b));
	svt_ep_connect(&e, b.qpn);
	put(3, "r", 1);
	get(3, &x, 1);
	SVT_CHECK(check(buf, 0, CHUNK, 1)); /* A's bytes */
	SVT_CHECK(check(buf + 2 * CHUNK, 0, CHUNK, 2)); /* C's, round trip */
	SVT_CHECK(check(buf + 3 * CHUNK, 0, CHUNK, 4)); /* A's memfd */
	SVT_CHECK(check(buf + 4 * CHUNK, 0, CHUNK, 5)); /* A's file */
	c_traffic(&e, buf, cmr, &b);
	put(3, "d", 1);
	printf("C: WRITE, READ and atomics through the shared MR checked\n");
	return SVT_PASS;
}

/* ------------------------------------------------------------------ D */

static int role_d(char *arg)
{
	struct svt_ep e = { .ctx = svt_open_dev(NULL) }, f;
	uint8_t buf[4096];
	struct ibv_mr *mr;
	struct ibv_sge s;
	struct b_info b;
	uint32_t h;

	SVT_CHECK(sscanf(arg, "%x:%x:%x:%x:%x:%lx", &b.qpn, &b.pd, &b.mr,
			 &b.lkey, &b.rkey, &b.addr) == 6);
	e.pd = ibv_alloc_pd(e.ctx);
	SVT_CHECK(e.pd);
	for (h = 0; h < 256; h++) {
		errno = 0;
		SVT_CHECK(!ibv_import_pd(e.ctx, h) || h == e.pd->handle);
		SVT_CHECK(!ibv_import_mr(e.pd, h) && errno);
	}
	mr = ibv_reg_mr(e.pd, buf, sizeof(buf), SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	/* A's lkey and rkey from D's own PD: no such key here. */
	svt_mem_pair(e.ctx, e.pd, &e, NULL, &f);
	s = svt_sge((void *)(uintptr_t)b.addr, 64, b.lkey);
	SVT_CHECK(svt_rdma(&e, IBV_WR_RDMA_WRITE, &s, (uintptr_t)buf,
			   mr->rkey, 0, 0) != IBV_WC_SUCCESS);
	svt_mem_pair(e.ctx, e.pd, &e, NULL, &f);
	s = svt_sge(buf, 64, mr->lkey);
	SVT_CHECK(svt_rdma(&e, IBV_WR_RDMA_READ, &s, b.addr, b.rkey, 0, 0) !=
		  IBV_WC_SUCCESS);
	/* Aimed at B's QP itself, which is connected to C. */
	e.cq = NULL;
	svt_ep_make(&e);
	svt_ep_connect(&e, b.qpn);
	SVT_CHECK(svt_rdma(&e, IBV_WR_RDMA_READ, &s, b.addr, b.rkey, 0, 0) !=
		  IBV_WC_SUCCESS);
	printf("D: guessed handles and stolen keys reach nothing\n");
	return SVT_PASS;
}

/* ------------------------------------------------------------------ T */

static int seed(void)
{
	int ab[2], bc[2], tb[2], fb[3];
	struct svt_daemon d;
	struct b_info bi;
	pid_t a, b, c, dd;
	char arg[160];

	svt_daemon_start(&d);
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ab));
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bc));
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tb));
	fb[0] = ab[1], fb[1] = bc[0], fb[2] = tb[1];
	b = spawn("B", fb, 3, NULL);
	c = spawn("C", &bc[1], 1, NULL);
	a = spawn("A", &ab[0], 1, NULL);
	close(ab[0]);
	close(ab[1]);
	close(bc[0]);
	close(bc[1]);
	close(tb[1]);
	wait_ok(a, "A");
	get(tb[0], &bi, sizeof(bi));
	snprintf(arg, sizeof(arg), "%x:%x:%x:%x:%x:%lx", bi.qpn, bi.pd, bi.mr,
		 bi.lkey, bi.rkey, (unsigned long)bi.addr);
	wait_ok(c, "C");
	dd = spawn("D", NULL, 0, arg);
	wait_ok(dd, "D");
	put(tb[0], "x", 1);
	wait_ok(b, "B");
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	printf("seed scenario: ok\n");
	return SVT_PASS;
}

/* ---------------------------------------------------------------- UCC */

static int role_leader(void)
{
	struct ibv_context *ctx = svt_open_dev(NULL);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	int i;

	SVT_CHECK(pd);
	for (i = 0; i < 4; i++)
		svt_send_fd(3 + i, ctx->cmd_fd, &pd->handle, sizeof(pd->handle));
	return SVT_PASS;
}

static int role_worker(void)
{
	struct svt_ep e = { 0 }, f;
	uint8_t *buf = aligned_alloc(4096, 2 * CHUNK);
	struct ibv_sge s;
	struct ibv_mr *mr;
	uint32_t h;

	e.ctx = ibv_import_device(svt_recv_fd(3, &h, sizeof(h)));
	SVT_CHECK(e.ctx && buf);
	e.pd = ibv_import_pd(e.ctx, h);
	SVT_CHECK(e.pd);
	fill(buf, 0, CHUNK, (unsigned int)getpid());
	mr = ibv_reg_mr(e.pd, buf, 2 * CHUNK, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	svt_mem_pair(e.ctx, e.pd, &e, NULL, &f);
	s = svt_sge(buf, CHUNK, mr->lkey);
	SVT_CHECK(svt_rdma(&e, IBV_WR_RDMA_WRITE, &s, (uintptr_t)buf + CHUNK,
			   mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(check(buf + CHUNK, 0, CHUNK, (unsigned int)getpid()));
	return SVT_PASS;
}

static int ucc(void)
{
	int sk[4][2], lfd[4], i;
	struct svt_daemon d;
	pid_t l, w[4];

	svt_daemon_start(&d);
	for (i = 0; i < 4; i++) {
		SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				      sk[i]));
		lfd[i] = sk[i][0];
	}
	/* Two workers wait for the leader; two start after it exited. */
	w[0] = spawn("worker", &sk[0][1], 1, NULL);
	w[1] = spawn("worker", &sk[1][1], 1, NULL);
	l = spawn("leader", lfd, 4, NULL);
	wait_ok(l, "leader");
	for (i = 0; i < 4; i++)
		close(sk[i][0]);
	w[2] = spawn("worker", &sk[2][1], 1, NULL);
	w[3] = spawn("worker", &sk[3][1], 1, NULL);
	for (i = 0; i < 4; i++)
		wait_ok(w[i], "worker");
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	printf("ucc pattern: 4 workers (2 after the leader exited) ok\n");
	return SVT_PASS;
}

int main(int argc, char **argv)
{
	const char *r = argc > 1 ? argv[1] : "seed";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(r, "A"))
		return role_a();
	if (!strcmp(r, "B"))
		return role_b();
	if (!strcmp(r, "C"))
		return role_c();
	if (!strcmp(r, "D") && argc > 2)
		return role_d(argv[2]);
	if (!strcmp(r, "leader"))
		return role_leader();
	if (!strcmp(r, "worker"))
		return role_worker();
	if (!strcmp(r, "ucc"))
		return ucc();
	return seed();
}
