/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the client-memory tests (truncation, identity, sharing) on
 * top of svt_rc.h: endpoint pairs on one context and PD, posting without
 * waiting, and bounded waits for async events. Include after svtest.h.
 */
#ifndef SVT_MEM_H
#define SVT_MEM_H

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <stdbool.h>

#include "svt_ep.h"

#define SVT_ACCESS_ALL                                                    \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |               \
	 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)

/* Two endpoints on ctx/pd connected to each other (a's CQ may be preset). */
static inline void svt_mem_pair(struct ibv_context *ctx, struct ibv_pd *pd,
				struct svt_ep *a, struct ibv_cq *a_cq,
				struct svt_ep *b)
{
	*a = (struct svt_ep){ .ctx = ctx, .pd = pd, .cq = a_cq };
	*b = (struct svt_ep){ .ctx = ctx, .pd = pd };
	svt_ep_make(a);
	svt_ep_make(b);
	svt_ep_connect(a, b->qp->qp_num);
	svt_ep_connect(b, a->qp->qp_num);
}

static inline struct ibv_sge svt_sge(const void *addr, uint32_t len,
				     uint32_t lkey)
{
	return (struct ibv_sge){ (uintptr_t)addr, len, lkey };
}

/* Post one signaled RDMA WRITE without waiting for it. */
static inline void svt_post_write(struct svt_ep *e, struct ibv_sge s,
				  uint64_t raddr, uint32_t rkey)
{
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	SVT_CHECK(!ibv_post_send(e->qp, &wr, &bad));
}

/* Wait up to ms for an async event of this type (others are skipped). */
static inline bool svt_wait_event(struct ibv_context *ctx,
				  enum ibv_event_type type, int ms)
{
	struct pollfd p = { .fd = ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;

	while (poll(&p, 1, ms) == 1 && !ibv_get_async_event(ctx, &ev)) {
		ibv_ack_async_event(&ev);
		if (ev.event_type == type)
			return true;
	}
	return false;
}

/* The daemon svtest.h started is still running. */
static inline void svt_daemon_alive(const struct svt_daemon *d)
{
	int status;

	SVT_CHECK(waitpid(d->pid, &status, WNOHANG) == 0);
}

/*
 * ODP tests: 64 GiB of address space reserved (PROT_NONE, MAP_NORESERVE)
 * and never touched, except SVT_NSPARSE pages spread over it and made
 * usable. Skips (77) where the machine has not that much address space.
 */
#define SVT_BIG (64ULL << 30)
#define SVT_NSPARSE 8

static inline uint64_t svt_sparse_off(int i)
{
	return (SVT_BIG / SVT_NSPARSE) * (uint64_t)i +
	       4096ULL * (uint64_t)(i * 7 % 5);
}

static inline uint8_t *svt_reserve_sparse(void)
{
	uint8_t *p = mmap(NULL, SVT_BIG, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int i;

	if (p == MAP_FAILED)
		svt_skip("64 GiB of address space");
	for (i = 0; i < SVT_NSPARSE; i++)
		SVT_CHECK(!mprotect(p + svt_sparse_off(i), 4096,
				    PROT_READ | PROT_WRITE));
	return p;
}

/* One message of len bytes carrying fd over a UNIX socket, and back. */
static inline void svt_send_fd(int sock, int fd, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	SVT_CHECK(sendmsg(sock, &mh, 0) == (ssize_t)len);
}

static inline int svt_recv_fd(int sock, void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	SVT_CHECK(recvmsg(sock, &mh, 0) == (ssize_t)len);
	c = CMSG_FIRSTHDR(&mh);
	SVT_CHECK(c && c->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#endif /* SVT_MEM_H */
