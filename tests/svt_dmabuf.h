/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the dma-buf and data-direct tests: memory fds (memfd, POSIX
 * shm) mapped here and registered as dma-buf MRs, a peer process on a
 * socketpair, and the CLI. Include after svtest.h and svt_mem.h.
 */
#ifndef SVT_DMABUF_H
#define SVT_DMABUF_H

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <softverbs/softverbs_dv.h>

/* A mapped memory fd and the dma-buf MR over it. */
struct svt_buf {
	int fd;
	uint8_t *map;
	size_t len;
	uint64_t iova;
	struct ibv_mr *mr;
};

static inline int svt_memfd(size_t len)
{
	int fd = memfd_create("svt-dmabuf", MFD_CLOEXEC);

	SVT_CHECK(fd >= 0 && !ftruncate(fd, (off_t)len));
	return fd;
}

/* A POSIX shm object, unlinked at once (the fd keeps it). */
static inline int svt_shm(size_t len)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "/svt-dmabuf-%d-%ld", (int)getpid(),
		 random());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	SVT_CHECK(fd >= 0);
	shm_unlink(name);
	SVT_CHECK(!ftruncate(fd, (off_t)len));
	return fd;
}

/* Map fd here and register all of it at iova; b->mr NULL + errno if not. */
static inline struct ibv_mr *svt_buf_reg(struct svt_buf *b, struct ibv_pd *pd,
					 int fd, size_t len, uint64_t iova,
					 int sv_access)
{
	b->fd = fd;
	b->len = len;
	b->iova = iova;
	b->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SVT_CHECK(b->map != MAP_FAILED);
	b->mr = softverbsdv_reg_dmabuf_mr(pd, 0, len, iova, fd, SVT_ACCESS_ALL,
					  sv_access);
	return b->mr;
}

/* Deregister, unmap and close what svt_buf_reg() made; true if dereg worked. */
static inline bool svt_buf_free(struct svt_buf *b)
{
	bool ok = !ibv_dereg_mr(b->mr);

	munmap(b->map, b->len);
	close(b->fd);
	return ok;
}

static inline void svt_fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 12));
}

/* Send n bytes to the peer, then receive n bytes back (either may be 0). */
static inline void svt_xchg(int sock, const void *out, void *in, size_t n)
{
	if (out)
		SVT_CHECK(write(sock, out, n) == (ssize_t)n);
	if (in)
		SVT_CHECK(read(sock, in, n) == (ssize_t)n);
}

/*
 * One work request on a fresh loopback pair (an error completion moves a
 * QP to the error state); atomics add 1. Its completion status.
 */
static inline enum ibv_wc_status
svt_one_rdma(struct ibv_context *ctx, struct ibv_pd *pd, enum ibv_wr_opcode op,
	     struct ibv_sge s, uint64_t raddr, uint32_t rkey)
{
	struct svt_ep a, b;

	svt_mem_pair(ctx, pd, &a, NULL, &b);
	return svt_rdma(&a, op, &s, raddr, rkey, 0, 1);
}

/* "softverbs dev datadirect softverbs0 on|off" through the real CLI. */
static inline int svt_datadirect(bool on)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "%s/softverbs dev datadirect softverbs0 %s >/dev/null",
		 SVT_BINDIR, on ? "on" : "off");
	return system(cmd);
}

#endif
