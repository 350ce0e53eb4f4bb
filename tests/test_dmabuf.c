// SPDX-License-Identifier: MIT
/*
 * dma-buf MRs (ibv_reg_dmabuf_mr over UVERBS_METHOD_REG_DMABUF_MR):
 *   - the NCCL/UCX probe ibv_reg_dmabuf_mr(pd, 0, 0, 0, -1, 0) is EBADF;
 *     bad fds, offsets, lengths and access flags get the kernel's errnos;
 *   - memfd and POSIX shm MRs as the local and the remote side of RDMA
 *     WRITE, READ and atomics between two processes, with checksums;
 *   - a hugetlbfs file and a udmabuf carry traffic too (each only where
 *     the machine has huge pages / /dev/udmabuf: said on stdout if not);
 *   - truncating the memfd under a registered MR revokes it: error
 *     completions on the right side (remote access error as a target,
 *     local protection error as a source), still revoked if the file grows
 *     back, deregistration works, other MRs and the daemon are unaffected.
 */
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_dmabuf.h"

#define LEN (256 * 1024)
#define PIECE (32 * 1024)
#define ATOMIC_OFF (192 * 1024)
#define READ_OFF (128 * 1024)
static const uint64_t iovas[2] = {0x10000000, 0x20000000};

static struct svt_daemon d;

static struct ibv_mr *reg(struct ibv_pd *pd, int fd, uint64_t off, size_t len,
			  uint64_t iova, int access)
{
	return ibv_reg_dmabuf_mr(pd, off, len, iova, fd, access);
}

#define REG_FAILS(err, ...)                                     \
	do {                                                    \
		errno = 0;                                      \
		SVT_CHECK(!reg(__VA_ARGS__) && errno == (err)); \
	} while (0)

static void test_errnos(struct ibv_pd *pd)
{
	int fd = svt_memfd(LEN), sv[2], dir = open("/", O_RDONLY | O_CLOEXEC);
	int lw = IBV_ACCESS_LOCAL_WRITE;

	/* The probe: supported means EBADF, whatever the length. */
	REG_FAILS(EBADF, pd, -1, 0, 0, 0, 0);
	REG_FAILS(EBADF, pd, -1, 0, 4096, 0, lw);
	REG_FAILS(EBADF, pd, 1000, 0, 4096, 0, lw); /* not an open fd */
	/* Open, but nothing a dma-buf can be made of. */
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv) && dir >= 0);
	REG_FAILS(EINVAL, pd, sv[0], 0, 4096, 0, lw);
	REG_FAILS(EINVAL, pd, dir, 0, 4096, 0, lw);
	/* Offsets and lengths outside the buffer, or none. */
	REG_FAILS(EINVAL, pd, fd, 0, LEN + 1, 0, lw);
	REG_FAILS(EINVAL, pd, fd, LEN, 1, LEN, lw);
	REG_FAILS(EINVAL, pd, fd, 4096, LEN, 4096, lw);
	REG_FAILS(EINVAL, pd, fd, 0, 0, 0, lw);
	REG_FAILS(EINVAL, pd, fd, UINT64_MAX - 4095, 8192, 0, lw);
	REG_FAILS(EINVAL, pd, fd, 0, 4096, 0x1234, lw); /* page offsets */
	/* Access: remote write needs local write; MW bind, ODP: not here. */
	REG_FAILS(EINVAL, pd, fd, 0, 4096, 0, IBV_ACCESS_REMOTE_WRITE);
	REG_FAILS(EINVAL, pd, fd, 0, 4096, 0, lw | IBV_ACCESS_MW_BIND);
	REG_FAILS(EINVAL, pd, fd, 0, 4096, 0, lw | IBV_ACCESS_ON_DEMAND);
	/* And the good ones: an inner range, read-only, relaxed ordering. */
	SVT_CHECK(!ibv_dereg_mr(reg(pd, fd, 4096, 8192, 0x5000, 0)));
	SVT_CHECK(!ibv_dereg_mr(
	    reg(pd, fd, 0, LEN, 0, lw | IBV_ACCESS_RELAXED_ORDERING)));
	close(sv[0]);
	close(sv[1]);
	close(dir);
	close(fd);
	printf("errnos: probe EBADF, bad fd/range/access as the kernel\n");
}

struct info {
	uint32_t qpn;
	uint32_t rkey[2];
};

/* One process's side: QP, and a memfd MR (0) and a shm MR (1). */
struct side {
	struct svt_ep ep;
	struct svt_buf buf[2];
	struct info peer;
};

static void side_open(struct side *s, int sock, bool server)
{
	struct info me;
	int i;

	svt_ep_open(&s->ep);
	for (i = 0; i < 2; i++)
		SVT_CHECK(svt_buf_reg(&s->buf[i], s->ep.pd,
				      i ? svt_shm(LEN) : svt_memfd(LEN), LEN,
				      iovas[i], 0));
	me.qpn = s->ep.qp->qp_num;
	me.rkey[0] = s->buf[0].mr->rkey;
	me.rkey[1] = s->buf[1].mr->rkey;
	if (server) {
		svt_xchg(sock, &me, &s->peer, sizeof(me));
		svt_ep_connect(&s->ep, s->peer.qpn);
		svt_xchg(sock, "R", NULL, 1); /* RTR: the peer may start */
	} else {
		char r;

		svt_xchg(sock, NULL, &s->peer, sizeof(me));
		svt_xchg(sock, &me, NULL, sizeof(me));
		svt_ep_connect(&s->ep, s->peer.qpn);
		svt_xchg(sock, NULL, &r, 1);
	}
}

struct results {
	uint32_t sum[4]; /* of each piece written to the server */
	uint32_t ok;	 /* the client's own checks passed */
};

/* WRITE then READ back one piece, local buffer l to remote buffer r. */
static bool client_rw(struct side *s, int l, int r, uint32_t *sum)
{
	unsigned int k = (unsigned int)(l * 2 + r);
	uint64_t off = k * PIECE;
	uint8_t *src = s->buf[l].map + off;
	uint8_t *back = s->buf[l].map + READ_OFF + off;
	struct ibv_sge sge = {iovas[l] + off, PIECE, s->buf[l].mr->lkey};

	svt_fill(src, PIECE, k + 1);
	*sum = svt_sum(src, PIECE);
	if (svt_rdma(&s->ep, IBV_WR_RDMA_WRITE, &sge, iovas[r] + off,
		     s->peer.rkey[r], 0, 0) != IBV_WC_SUCCESS)
		return false;
	sge.addr = iovas[l] + READ_OFF + off;
	memset(back, 0, PIECE);
	if (svt_rdma(&s->ep, IBV_WR_RDMA_READ, &sge, iovas[r] + off,
		     s->peer.rkey[r], 0, 0) != IBV_WC_SUCCESS)
		return false;
	return svt_sum(back, PIECE) == *sum;
}

/* FETCH_ADD 5 then CMP_SWP 5 -> 100+10l+r on the server's word l of r. */
static bool client_atomics(struct side *s, int l, int r)
{
	uint64_t res = ATOMIC_OFF + 64 + 16 * (uint64_t)(l * 2 + r);
	uint64_t *orig = (uint64_t *)(s->buf[l].map + res);
	uint64_t raddr = iovas[r] + ATOMIC_OFF + 8 * (uint64_t)l;
	struct ibv_sge sge = {iovas[l] + res, 8, s->buf[l].mr->lkey};

	if (svt_rdma(&s->ep, IBV_WR_ATOMIC_FETCH_AND_ADD, &sge, raddr,
		     s->peer.rkey[r], 0, 5) != IBV_WC_SUCCESS ||
	    *orig != 0)
		return false;
	return svt_rdma(&s->ep, IBV_WR_ATOMIC_CMP_AND_SWP, &sge, raddr,
			s->peer.rkey[r], 5,
			100 + 10 * l + r) == IBV_WC_SUCCESS &&
	       *orig == 5;
}

static int client_main(int sock)
{
	struct results res = {.ok = 1};
	struct side s;
	char verdict;
	int l, r;

	side_open(&s, sock, false);
	for (l = 0; l < 2; l++)
		for (r = 0; r < 2; r++)
			res.ok &= client_rw(&s, l, r, &res.sum[l * 2 + r]) &&
				  client_atomics(&s, l, r);
	svt_xchg(sock, &res, NULL, sizeof(res));
	svt_xchg(sock, NULL, &verdict, 1);
	return res.ok && verdict == 'Y' ? SVT_PASS : SVT_FAIL;
}

/* The server checks what landed in its memfd and shm buffers. */
static void test_two_processes(void)
{
	int sv[2], status, l, r;
	struct results res;
	struct side s;
	bool ok = true;
	pid_t pid;

	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid) {
		close(sv[0]);
		_exit(client_main(sv[1]));
	}
	close(sv[1]);
	side_open(&s, sv[0], true);
	svt_xchg(sv[0], NULL, &res, sizeof(res));
	for (l = 0; l < 2; l++) {
		for (r = 0; r < 2; r++) {
			unsigned int k = (unsigned int)(l * 2 + r);
			uint64_t *w =
			    (uint64_t *)(s.buf[r].map + ATOMIC_OFF + 8 * l);

			ok &= svt_sum(s.buf[r].map + k * PIECE, PIECE) ==
			      res.sum[k];
			ok &= *w == (uint64_t)(100 + 10 * l + r);
		}
	}
	svt_xchg(sv[0], ok ? "Y" : "N", NULL, 1);
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(!ibv_dereg_mr(s.buf[0].mr) && !ibv_dereg_mr(s.buf[1].mr));
	SVT_CHECK(ok && res.ok && WIFEXITED(status) && !WEXITSTATUS(status));
	svt_daemon_alive(&d);
	printf("two processes: memfd and shm MRs, local and remote, "
	       "WRITE/READ/atomics: checksums match\n");
}

/*
 * WRITE a pattern from a VA buffer into the MR over fd (mapped here at map,
 * registered from byte off) and READ it back: both must match.
 */
static bool fd_traffic(struct ibv_context *ctx, struct ibv_pd *pd, int fd,
		       uint8_t *map, uint64_t off)
{
	static uint8_t va[2][PIECE];
	struct ibv_mr *mr, *vmr;
	struct svt_ep a, b;
	struct ibv_sge s;
	bool ok;

	mr = ibv_reg_dmabuf_mr(pd, off, PIECE, 0x3000000 + off, fd,
			       SVT_ACCESS_ALL);
	vmr = ibv_reg_mr(pd, va, sizeof(va), SVT_ACCESS_ALL);
	SVT_CHECK(mr && vmr);
	svt_fill(va[0], PIECE, 11);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	s = (struct ibv_sge){(uintptr_t)va[0], PIECE, vmr->lkey};
	ok = svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, 0x3000000 + off, mr->rkey, 0,
		      0) == IBV_WC_SUCCESS;
	s.addr = (uintptr_t)va[1];
	ok = ok && svt_rdma(&a, IBV_WR_RDMA_READ, &s, 0x3000000 + off, mr->rkey,
			    0, 0) == IBV_WC_SUCCESS;
	ok = ok && !memcmp(map + off, va[0], PIECE) &&
	     !memcmp(va[1], va[0], PIECE);
	SVT_CHECK(!ibv_dereg_mr(mr) && !ibv_dereg_mr(vmr));
	return ok;
}

/* A memfd on hugetlbfs: mappings must start on a huge page. */
static void test_hugetlbfs(struct ibv_context *ctx, struct ibv_pd *pd)
{
	size_t huge = 2 << 20;
	int fd = memfd_create("svt-huge", MFD_CLOEXEC | MFD_HUGETLB);
	uint8_t *map = MAP_FAILED;

	if (fd >= 0 && !ftruncate(fd, (off_t)huge))
		map =
		    mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		printf("hugetlbfs: no huge pages here, not tested\n");
		if (fd >= 0)
			close(fd);
		return;
	}
	SVT_CHECK(fd_traffic(ctx, pd, fd, map, 4096)); /* not huge-aligned */
	munmap(map, huge);
	close(fd);
	printf("hugetlbfs file: WRITE/READ from an unaligned offset\n");
}

/* A kernel dma-buf: udmabuf exports a sealed memfd's pages. */
static void test_udmabuf(struct ibv_context *ctx, struct ibv_pd *pd)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC), mfd, fd;
	struct udmabuf_create c = {.size = LEN};
	uint8_t *map;

	if (dev < 0) {
		printf("udmabuf: no /dev/udmabuf here, not tested\n");
		return;
	}
	mfd = memfd_create("svt-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	SVT_CHECK(mfd >= 0 && !ftruncate(mfd, LEN) &&
		  !fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK));
	c.memfd = (uint32_t)mfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	SVT_CHECK(fd >= 0);
	map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	SVT_CHECK(map != MAP_FAILED);
	SVT_CHECK(fd_traffic(ctx, pd, fd, map, PIECE));
	munmap(map, LEN);
	close(fd);
	close(mfd);
	close(dev);
	printf("udmabuf: WRITE/READ through a kernel dma-buf\n");
}

static void test_truncate(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct svt_buf t, o; /* truncated, other */
	struct ibv_sge s;

	SVT_CHECK(svt_buf_reg(&t, pd, svt_memfd(LEN), LEN, iovas[0], 0));
	SVT_CHECK(svt_buf_reg(&o, pd, svt_memfd(LEN), LEN, iovas[1], 0));
	svt_fill(o.map, PIECE, 3);
	s = (struct ibv_sge){iovas[1], PIECE, o.mr->lkey};
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, iovas[0],
			       t.mr->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(t.map, o.map, PIECE));
	munmap(t.map, LEN);
	SVT_CHECK(!ftruncate(t.fd, 0));
	/* The access that meets the hole fails (and revokes the MR)... */
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, iovas[0],
			       t.mr->rkey) != IBV_WC_SUCCESS);
	svt_daemon_alive(&d);
	/* ...and the next ones fail at the key, on the side that owns it. */
	SVT_CHECK(!ftruncate(t.fd, LEN)); /* growing back changes nothing */
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, iovas[0],
			       t.mr->rkey) == IBV_WC_REM_ACCESS_ERR);
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_READ, s, iovas[0],
			       t.mr->rkey) == IBV_WC_REM_ACCESS_ERR);
	s.length = 8;
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_ATOMIC_FETCH_AND_ADD, s,
			       iovas[0], t.mr->rkey) == IBV_WC_REM_ACCESS_ERR);
	s = (struct ibv_sge){iovas[0], PIECE, t.mr->lkey};
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, iovas[1],
			       o.mr->rkey) == IBV_WC_LOC_PROT_ERR);
	/* The other MR is untouched; deregistration works. */
	s = (struct ibv_sge){iovas[1], PIECE, o.mr->lkey};
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_READ, s, iovas[1] + PIECE,
			       o.mr->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_dereg_mr(t.mr) && !ibv_dereg_mr(o.mr));
	svt_daemon_alive(&d);
	printf("memfd truncated under an MR: revoked, errors on the right "
	       "side, dereg ok, daemon alive\n");
}

int main(void)
{
	struct svt_ep e;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&e);
	test_errnos(e.pd);
	test_two_processes();
	test_hugetlbfs(e.ctx, e.pd);
	test_udmabuf(e.ctx, e.pd);
	test_truncate(e.ctx, e.pd);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
