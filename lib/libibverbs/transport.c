// SPDX-License-Identifier: MIT
/*
 * The command transport: marshal an ioctl()/write() of the kernel ABI into
 * one SOCK_SEQPACKET message on the command FD, and wait for the reply on
 * this process's private reply socket (see include/softverbs/abi.h).
 *
 * Every command has a deadline (svl_cmd_timeout_ms(), SOFTVERBS_CMD_TIMEOUT_MS,
 * 10 s by default) covering both the send and the reply: a hung daemon
 * gives ETIMEDOUT, never a hang. A daemon that hung up gives EIO and marks
 * the context dead (fate.c). A reply that arrives after its deadline is
 * recognised by its sequence number and dropped.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/loadavg.h>

#include "svl.h"

static struct ib_uverbs_attr *attr_add(struct svl_cmd *c, uint16_t id,
				       uint8_t kind)
{
	struct ib_uverbs_attr *a;

	if (c->hdr.num_attrs >= SVL_MAX_ATTRS)
		abort(); /* a library bug, never user input */
	a = &c->attrs[c->hdr.num_attrs];
	memset(a, 0, sizeof(*a));
	a->attr_id = id;
	a->flags = UVERBS_ATTR_F_MANDATORY;
	c->kind[c->hdr.num_attrs] = kind;
	c->fds[c->hdr.num_attrs] = -1;
	c->hdr.num_attrs++;
	return a;
}

void svl_cmd_init(struct svl_cmd *c, uint16_t object, uint16_t method)
{
	memset(&c->hdr, 0, sizeof(c->hdr));
	c->hdr.object_id = object;
	c->hdr.method_id = method;
	c->hdr.driver_id = SV_DRIVER_ID;
	c->nbuf_fds = 0;
	c->descs = NULL;
	c->ndescs = 0;
	c->anonymous = false;
}

struct ib_uverbs_attr *svl_attr_in(struct svl_cmd *c, uint16_t id,
				   const void *ptr, size_t len)
{
	struct ib_uverbs_attr *a = attr_add(c, id, SVL_K_IN);

	a->len = (uint16_t)len;
	if (len <= sizeof(a->data))
		memcpy(&a->data, ptr, len);
	else
		a->data = (uintptr_t)ptr;
	return a;
}

struct ib_uverbs_attr *svl_attr_out(struct svl_cmd *c, uint16_t id,
				    void *ptr, size_t len)
{
	struct ib_uverbs_attr *a = attr_add(c, id, SVL_K_OUT);

	a->len = (uint16_t)len;
	a->data = (uintptr_t)ptr;
	return a;
}

struct ib_uverbs_attr *svl_attr_u64(struct svl_cmd *c, uint16_t id,
				    uint64_t val)
{
	struct ib_uverbs_attr *a = attr_add(c, id, SVL_K_IN);

	a->len = sizeof(val);
	a->data = val;
	return a;
}

struct ib_uverbs_attr *svl_attr_idr(struct svl_cmd *c, uint16_t id,
				    uint32_t handle)
{
	struct ib_uverbs_attr *a = attr_add(c, id, SVL_K_IDR);

	a->data = handle;
	return a;
}

struct ib_uverbs_attr *svl_attr_idr_new(struct svl_cmd *c, uint16_t id)
{
	return attr_add(c, id, SVL_K_IDR_NEW);
}

struct ib_uverbs_attr *svl_attr_fd(struct svl_cmd *c, uint16_t id, int fd)
{
	struct ib_uverbs_attr *a = attr_add(c, id, SVL_K_FD);

	c->fds[c->hdr.num_attrs - 1] = fd;
	a->data_s64 = fd;
	return a;
}

struct ib_uverbs_attr *svl_attr_fd_new(struct svl_cmd *c, uint16_t id)
{
	struct ib_uverbs_attr *a = attr_add(c, id, SVL_K_FD_NEW);

	a->data_s64 = -1;
	return a;
}

struct ib_uverbs_attr *svl_attr_enum(struct svl_cmd *c, uint16_t id,
				     uint8_t elem, const void *ptr, size_t len)
{
	struct ib_uverbs_attr *a = svl_attr_in(c, id, ptr, len);

	a->attr_data.enum_data.elem_id = elem;
	return a;
}

int svl_attr_buffers(struct svl_cmd *c, struct sv_buffer_desc *descs,
		     unsigned int n)
{
	struct ib_uverbs_attr *a = attr_add(c, SV_ATTR_BUFFERS, SVL_K_BUFFERS);

	a->len = (uint16_t)(n * sizeof(*descs));
	c->descs = descs;
	c->ndescs = n;
	return 0;
}

/* ---------------------------------------------------------------------- */

int svl_ctx_channel_init(struct svl_context *ctx)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return errno;
	ctx->reply_fd = sv[0];
	ctx->reply_peer = sv[1];
	ctx->reply_pid = getpid();
	ctx->nposted = 0; /* after fork, the parent reads those replies */
	return 0;
}

void svl_ctx_channel_close(struct svl_context *ctx)
{
	if (ctx->reply_fd >= 0)
		close(ctx->reply_fd);
	if (ctx->reply_peer >= 0)
		close(ctx->reply_peer);
	ctx->reply_fd = ctx->reply_peer = -1;
}

/* After fork() the reply socket is shared with the parent: make our own. */
static int channel_check(struct svl_context *ctx, pid_t self)
{
	if (ctx->reply_pid == self && ctx->reply_fd >= 0)
		return 0;
	svl_ctx_channel_close(ctx);
	return svl_ctx_channel_init(ctx);
}

struct msg_out {
	uint8_t *buf;
	size_t len;
	int fds[SV_MSG_MAX_FDS];
	int nfds;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for events on fd until deadline: 1 ready, 0 timed out, -1 the
 * daemon hung up (or poll failed).
 */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events | POLLRDHUP };

	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (p.revents & (POLLHUP | POLLRDHUP | POLLERR)))
			return -1;
		if (n > 0)
			return 1;
	}
}

/* The fds go as one SCM_RIGHTS, from slot first (1: no reply socket). */
static void put_rights(struct msghdr *mh, char *cbuf, size_t cap,
		       const struct msg_out *m, int first)
{
	int n = m->nfds - first;
	struct cmsghdr *cm;

	if (n <= 0)
		return;
	memset(cbuf, 0, cap);
	mh->msg_control = cbuf;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * n);
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), m->fds + first, sizeof(int) * n);
}

static int send_msg(struct svl_context *ctx, struct msg_out *m, bool here,
		    int64_t deadline)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SV_MSG_MAX_FDS)];
	struct iovec iov = { m->buf, m->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	put_rights(&mh, cbuf, sizeof(cbuf), m, here ? 1 : 0);
	for (;;) {
		int w;

		n = sendmsg(ctx->vctx.context.cmd_fd, &mh,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errno == EPIPE || errno == ECONNRESET ? EIO : errno;
		/* A stopped daemon fills the socket: wait, but not forever. */
		w = wait_fd(ctx->vctx.context.cmd_fd, POLLOUT, deadline);
		if (w <= 0)
			return w ? EIO : ETIMEDOUT;
	}
}

/*
 * Waiting for a reply by sleeping costs two wake-ups per command (the
 * daemon's and ours), each tens of microseconds on a virtual machine: more
 * than most commands take. So while every runnable thread has a CPU of its
 * own (softverbs/loadavg.h) we poll for the reply a little while first, as
 * the daemon polls for our next command (daemon/proc/serve.c); on a busy
 * machine we sleep at once, and a poller never delays anyone.
 */
#define REPLY_SPIN_NS 50000LL
#define CORE_RECHECK_NS 5000LL
/* Once no CPU was free, ask again only after this long: reading
 * /proc/loadavg costs a few microseconds, every command on a busy
 * machine would pay them. */
#define CORE_BUSY_NS 500000LL

static _Atomic int64_t cpus_busy_until;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Poll fd for input for up to REPLY_SPIN_NS while a core is free. */
static void spin_for_reply(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t start = now_ns(), checked = start, t;

	if (start < atomic_load_explicit(&cpus_busy_until,
					 memory_order_relaxed))
		return;
	if (!sv_cpu_free()) {
		atomic_store_explicit(&cpus_busy_until, start + CORE_BUSY_NS,
				      memory_order_relaxed);
		return;
	}
	while (poll(&p, 1, 0) == 0) {
		t = now_ns();
		if (t - start >= REPLY_SPIN_NS)
			return;
		if (t - checked >= CORE_RECHECK_NS) {
			if (!sv_cpu_free())
				return;
			checked = t;
		}
	}
}

/*
 * We hold both ends of the reply socket, so a dead daemon never gives EOF
 * there: watch the command FD for hang-up while waiting. 0, or EIO (hang-up)
 * or ETIMEDOUT. A reply on the command FD itself (here) waits on it alone.
 */
static int wait_reply(struct svl_context *ctx, bool here, int64_t deadline)
{
	struct pollfd p[2] = {
		{ .fd = ctx->reply_fd, .events = POLLIN },
		{ .fd = ctx->vctx.context.cmd_fd, .events = POLLRDHUP },
	};

	if (here) {
		p[0].fd = p[1].fd;
		p[0].events |= POLLRDHUP;
	}
	spin_for_reply(p[0].fd);
	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return ETIMEDOUT;
		n = poll(p, here ? 1 : 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return EIO;
		if (p[0].revents & POLLIN)
			return 0; /* a hang-up here reads as EOF: EIO then */
		if ((p[0].revents | p[1].revents) &
		    (POLLHUP | POLLRDHUP | POLLERR))
			return EIO;
	}
}

/*
 * Posted commands. A command whose success the library has established
 * (qp.c: the steps of a connection, checked by the rules the daemon
 * applies, softverbs/qp_rules.h) is sent without waiting. The daemon runs
 * it, in order, before anything we send later, so every later command
 * sees its effect; it answers only if it refuses it (SV_MSG_F_QUIET), and
 * any later reply, which comes after, says it ran. Every fourth posted
 * command asks for a reply all the same, so that the list of those not
 * known to have run stays short; at most SVL_ARRAY_SIZE(ctx->posted) are,
 * so a socket full of unread replies can never make the daemon drop one
 * someone waits for. Should the daemon refuse one all the same (the
 * device's GID table changed meanwhile, another process sharing the
 * context changed the object), the next modify of that object returns the
 * error (svl_posted_error).
 */
/*
 * Keep the first refusal per object until asked for (svl_posted_error);
 * should more objects than there are slots wait, the oldest is dropped.
 */
static void posted_err_add(struct svl_context *ctx, int err, uint32_t handle)
{
	unsigned int i, n = ctx->nposted_errs;

	for (i = 0; i < n; i++)
		if (ctx->posted_errs[i].handle == handle)
			return;
	if (n == SVL_ARRAY_SIZE(ctx->posted_errs)) {
		memmove(ctx->posted_errs, ctx->posted_errs + 1,
			--n * sizeof(ctx->posted_errs[0]));
	}
	ctx->posted_errs[n].err = err;
	ctx->posted_errs[n].handle = handle;
	ctx->nposted_errs = n + 1;
}

/* The refusal kept for handle (and forgotten), or 0. */
static int posted_err_take(struct svl_context *ctx, uint32_t handle)
{
	unsigned int i, n = ctx->nposted_errs;
	int err;

	for (i = 0; i < n && ctx->posted_errs[i].handle != handle; i++)
		;
	if (i == n)
		return 0;
	err = ctx->posted_errs[i].err;
	memmove(ctx->posted_errs + i, ctx->posted_errs + i + 1,
		(n - i - 1) * sizeof(ctx->posted_errs[0]));
	ctx->nposted_errs = n - 1;
	return err;
}

/* Every reply says which GID table the daemon had (abi.h: dev_gen). */
static void reply_seen(struct svl_context *ctx, const struct sv_reply_hdr *rh)
{
	atomic_store_explicit(&ctx->dev_gen, rh->dev_gen,
			      memory_order_relaxed);
}

static void posted_retire(struct svl_context *ctx,
			  const struct sv_reply_hdr *rh)
{
	unsigned int i, n = ctx->nposted;

	for (i = 0; i < n && ctx->posted[i].seq != rh->seq; i++)
		;
	if (i == n)
		return;
	if (rh->err)
		posted_err_add(ctx, -rh->err, ctx->posted[i].handle);
	/* In order: older ones are not coming (lost to a deadline). */
	memmove(ctx->posted, ctx->posted + i + 1,
		(n - i - 1) * sizeof(ctx->posted[0]));
	ctx->nposted = n - i - 1;
}

/* Read the replies already there, without waiting. */
static void posted_drain(struct svl_context *ctx, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SV_MSG_MAX_FDS)];
	uint8_t buf[256];
	struct sv_reply_hdr *rh = (void *)buf;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < (ssize_t)sizeof(*rh))
			return;
		reply_seen(ctx, rh);
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (cm->cmsg_len -
						CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(cm))[i]);
		posted_retire(ctx, rh);
	}
}

/* Receive the reply with our sequence number (older ones are dropped). */
static int recv_reply(struct svl_context *ctx, bool here, uint8_t *buf,
		      size_t cap, int *fds, int *nfds, int64_t deadline)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SV_MSG_MAX_FDS)];
	struct sv_reply_hdr *rh = (void *)buf;
	int fd = here ? ctx->vctx.context.cmd_fd : ctx->reply_fd;

	for (;;) {
		struct iovec iov = { buf, cap };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n;
		int ret = wait_reply(ctx, here, deadline);

		if (ret)
			return ret;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return EIO;
		*nfds = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS) {
				*nfds = (cm->cmsg_len - CMSG_LEN(0)) /
					sizeof(int);
				memcpy(fds, CMSG_DATA(cm), *nfds * sizeof(int));
			}
		}
		if ((size_t)n < sizeof(*rh) || rh->len != (size_t)n)
			return EIO;
		reply_seen(ctx, rh);
		if (rh->seq == ctx->seq) {
			/* Ran after every command posted before it. */
			ctx->nposted = 0;
			return 0;
		}
		posted_retire(ctx, rh);
		while (*nfds)
			close(fds[--*nfds]);
	}
}

/* Ready m to go: our channel (a new one after fork), seq and flags. */
static int msg_prepare(struct svl_context *ctx, struct msg_out *m, bool *here)
{
	struct sv_msg_hdr *h = (void *)m->buf;
	pid_t self = getpid(); /* a system call: once per command */
	int ret;

	if (svl_ctx_dead(&ctx->vctx.context))
		return EIO;
	svl_fate_check_fork();
	ret = channel_check(ctx, self);
	if (ret)
		return ret;
	h->seq = ++ctx->seq;
	m->fds[0] = ctx->reply_peer;
	/* Only the context's opener reads the command FD (abi.h). */
	*here = ctx->owner_pid == self;
	if (*here)
		h->flags |= SV_MSG_F_REPLY_HERE;
	h->nfds = (uint32_t)(*here ? m->nfds - 1 : m->nfds);
	return 0;
}

/* Send a message and wait for its reply; the caller holds cmd_lock. */
static int roundtrip(struct svl_context *ctx, struct msg_out *m,
		     uint8_t *rbuf, size_t rcap, int *rfds, int *rnfds,
		     int64_t deadline)
{
	bool here;
	int ret = msg_prepare(ctx, m, &here);

	if (ret)
		return ret;
	ret = send_msg(ctx, m, here, deadline);
	if (!ret)
		ret = recv_reply(ctx, here, rbuf, rcap, rfds, rnfds, deadline);
	if (ret == EIO)
		svl_fate_dead(ctx);
	return ret;
}

static int add_fd(struct msg_out *m, int fd)
{
	if (m->nfds >= SV_MSG_MAX_FDS)
		return -1;
	m->fds[m->nfds] = fd;
	return m->nfds++;
}

/* Buffers in one memfd (a QP's rings) share its slot: one fd passed. */
static int add_buffer_fd(struct msg_out *m, int fd)
{
	int i;

	for (i = 1; i < m->nfds; i++)
		if (m->fds[i] == fd)
			return i;
	return add_fd(m, fd);
}

/*
 * Each payload item starts 8-byte aligned, so both sides may read it as
 * its struct (the header and attrs before it are multiples of 8 too).
 */
static int put_payload(struct msg_out *m, size_t *used, const void *p,
		       size_t n, size_t base)
{
	size_t pad = (8 - (m->len & 7)) & 7;

	if (m->len + pad + n > SV_MSG_MAX)
		return E2BIG;
	memset(m->buf + m->len, 0, pad);
	m->len += pad;
	memcpy(m->buf + m->len, p, n);
	*used = m->len - base;
	m->len += n;
	return 0;
}

static int marshal_buffers(struct svl_cmd *c, struct msg_out *m,
			   struct ib_uverbs_attr *wa, size_t base)
{
	size_t off = 0, i;
	int ret;

	ret = put_payload(m, &off, c->descs, c->ndescs * sizeof(*c->descs),
			  base);
	if (ret)
		return ret;
	wa->data = off;
	for (i = 0; i < c->ndescs; i++) {
		struct sv_buffer_desc *d =
			(void *)(m->buf + base + off + i * sizeof(*d));

		if (d->type != SV_BUFFER_TYPE_DMABUF)
			continue;
		d->fd = d->fd >= 0 ? add_buffer_fd(m, d->fd) : -1;
	}
	return 0;
}

static int marshal_attr(struct svl_cmd *c, unsigned int i, struct msg_out *m,
			struct ib_uverbs_attr *wa, size_t base)
{
	size_t off = 0;
	int ret;

	switch (c->kind[i]) {
	case SVL_K_IN:
		if (wa->len <= sizeof(wa->data))
			return 0;
		ret = put_payload(m, &off, (const void *)(uintptr_t)wa->data,
				  wa->len, base);
		wa->data = off;
		return ret;
	case SVL_K_OUT:
	case SVL_K_IDR_NEW:
	case SVL_K_FD_NEW:
		wa->data = 0;
		return 0;
	case SVL_K_FD:
		wa->data_s64 = c->fds[i] >= 0 ? add_fd(m, c->fds[i]) : -1;
		return 0;
	case SVL_K_BUFFERS:
		return marshal_buffers(c, m, wa, base);
	default:
		return 0;
	}
}

static void unmarshal(struct svl_cmd *c, const uint8_t *rbuf, size_t rlen,
		      int *rfds, int rnfds)
{
	const struct ib_uverbs_attr *ra = (const void *)(rbuf +
		sizeof(struct sv_reply_hdr));
	size_t base = sizeof(struct sv_reply_hdr) +
		      c->hdr.num_attrs * sizeof(*ra);
	unsigned int i;

	for (i = 0; i < c->hdr.num_attrs; i++) {
		struct ib_uverbs_attr *a = &c->attrs[i];

		switch (c->kind[i]) {
		case SVL_K_OUT:
			if (!(ra[i].flags & UVERBS_ATTR_F_VALID_OUTPUT) ||
			    base + ra[i].data + ra[i].len > rlen)
				break;
			memcpy((void *)(uintptr_t)a->data, rbuf + base +
			       ra[i].data, ra[i].len < a->len ? ra[i].len :
			       a->len);
			a->flags |= UVERBS_ATTR_F_VALID_OUTPUT;
			break;
		case SVL_K_IDR_NEW:
			a->data = ra[i].data;
			break;
		case SVL_K_FD_NEW:
			if (ra[i].data_s64 >= 0 && ra[i].data_s64 < rnfds) {
				a->data_s64 = rfds[ra[i].data_s64];
				rfds[ra[i].data_s64] = -1;
			}
			break;
		default:
			break;
		}
	}
}

/*
 * After the daemon died, destroying an object succeeds locally, as on a
 * disassociated kernel device: the daemon already freed everything, and
 * the application must be able to clean up.
 */
static bool dead_destroy_ioctl(const struct ib_uverbs_ioctl_hdr *h)
{
	static const uint16_t destroy[][2] = {
		{ UVERBS_OBJECT_QP, UVERBS_METHOD_QP_DESTROY },
		{ UVERBS_OBJECT_SRQ, UVERBS_METHOD_SRQ_DESTROY },
		{ UVERBS_OBJECT_CQ, UVERBS_METHOD_CQ_DESTROY },
		{ UVERBS_OBJECT_WQ, UVERBS_METHOD_WQ_DESTROY },
		{ UVERBS_OBJECT_DM, UVERBS_METHOD_DM_FREE },
		{ UVERBS_OBJECT_MR, UVERBS_METHOD_MR_DESTROY },
		{ UVERBS_OBJECT_PD, UVERBS_METHOD_PD_DESTROY },
		{ UVERBS_OBJECT_MW, UVERBS_METHOD_MW_DESTROY },
		{ UVERBS_OBJECT_XRCD, UVERBS_METHOD_XRCD_DESTROY },
		{ UVERBS_OBJECT_AH, UVERBS_METHOD_AH_DESTROY },
	};
	unsigned int i;

	for (i = 0; i < SVL_ARRAY_SIZE(destroy); i++)
		if (h->object_id == destroy[i][0] &&
		    h->method_id == destroy[i][1])
			return true;
	return false;
}

static bool dead_destroy_write(const void *cmd)
{
	switch (((const struct ib_uverbs_cmd_hdr *)cmd)->command) {
	case IB_USER_VERBS_CMD_DEALLOC_PD:
	case IB_USER_VERBS_CMD_DEREG_MR:
	case IB_USER_VERBS_CMD_DEALLOC_MW:
	case IB_USER_VERBS_CMD_DESTROY_CQ:
	case IB_USER_VERBS_CMD_DESTROY_QP:
	case IB_USER_VERBS_CMD_DESTROY_SRQ:
	case IB_USER_VERBS_CMD_DESTROY_AH:
	case IB_USER_VERBS_CMD_CLOSE_XRCD:
		return true;
	default:
		return false;
	}
}

static uint8_t *msg_buffers(uint8_t **rbuf)
{
	uint8_t *m = malloc(2 * SV_MSG_MAX);

	*rbuf = m ? m + SV_MSG_MAX : NULL;
	return m;
}

/*
 * One command at a time per context: the reply channel is shared. The
 * deadline covers the wait for the channel too: a command another thread
 * (the library's own background grant, say) has outstanding on a hung
 * daemon must not stretch ours past it.
 */
static int locked_roundtrip(struct svl_context *ctx, struct msg_out *m,
			    uint8_t *rbuf, int *rfds, int *rnfds)
{
	int64_t deadline = now_ms() + svl_cmd_timeout_ms();
	struct timespec ts = { (time_t)(deadline / 1000),
			       (long)(deadline % 1000) * 1000000 };
	int ret;

	if (pthread_mutex_clocklock(&ctx->cmd_lock, CLOCK_MONOTONIC, &ts))
		return ETIMEDOUT;
	ret = roundtrip(ctx, m, rbuf, SV_MSG_MAX, rfds, rnfds, deadline);
	pthread_mutex_unlock(&ctx->cmd_lock);
	return ret;
}

/* Close the reply fds nobody took, free the buffers, set errno. */
static int msg_done(struct msg_out *m, int *rfds, int rnfds, int ret)
{
	int i;

	for (i = 0; i < rnfds; i++)
		if (rfds[i] >= 0)
			close(rfds[i]);
	free(m->buf);
	if (ret)
		errno = ret;
	return ret;
}

/*
 * Frequent commands that never name this process's memory: the daemon
 * then skips pinning our identity (SV_MSG_F_NO_IDENTITY, abi.h).
 */
static bool ioctl_anonymous(const struct svl_cmd *c)
{
	return c->anonymous ||
	       (c->hdr.object_id == UVERBS_OBJECT_DEVICE &&
		c->hdr.method_id == UVERBS_METHOD_QUERY_PORT);
}

static bool write_anonymous(const void *cmd)
{
	const struct ib_uverbs_cmd_hdr *h = cmd;

	switch (h->command & ~IB_USER_VERBS_CMD_FLAG_EXTENDED) {
	case IB_USER_VERBS_CMD_MODIFY_QP: /* and the extended one */
	case IB_USER_VERBS_CMD_QUERY_QP:
	case IB_USER_VERBS_CMD_DESTROY_QP:
		return true;
	default:
		return false;
	}
}

int svl_exec(struct ibv_context *ictx, struct svl_cmd *c)
{
	struct svl_context *ctx = to_svl_ctx(ictx);
	struct msg_out m = { .nfds = 1 };
	struct ib_uverbs_attr *wattrs;
	size_t base, alen = c->hdr.num_attrs * sizeof(c->attrs[0]);
	int rfds[SV_MSG_MAX_FDS], rnfds = 0, ret = 0, i;
	uint8_t *rbuf;

	if (svl_ctx_dead(ictx) && dead_destroy_ioctl(&c->hdr))
		return 0;
	m.buf = msg_buffers(&rbuf);
	if (!m.buf)
		return errno = ENOMEM;
	c->hdr.length = sizeof(c->hdr) + alen;
	memcpy(m.buf + sizeof(struct sv_msg_hdr), &c->hdr, sizeof(c->hdr));
	wattrs = (void *)(m.buf + sizeof(struct sv_msg_hdr) + sizeof(c->hdr));
	memcpy(wattrs, c->attrs, alen);
	base = sizeof(struct sv_msg_hdr) + sizeof(c->hdr) + alen;
	m.len = base;
	for (i = 0; i < c->hdr.num_attrs && !ret; i++)
		ret = marshal_attr(c, i, &m, &wattrs[i], base);
	if (!ret) {
		struct sv_msg_hdr *h = (void *)m.buf;

		h->type = SV_MSG_IOCTL;
		h->len = (uint32_t)m.len;
		h->flags = ioctl_anonymous(c) ? SV_MSG_F_NO_IDENTITY : 0;
		ret = locked_roundtrip(ctx, &m, rbuf, rfds, &rnfds);
	}
	if (!ret) {
		struct sv_reply_hdr *rh = (void *)rbuf;

		ret = -rh->err;
		if (!ret)
			unmarshal(c, rbuf, rh->len, rfds, rnfds);
	}
	return msg_done(&m, rfds, rnfds, ret);
}

int svl_write(struct ibv_context *ictx, const void *cmd, size_t len,
	      void *resp, size_t resp_len, int in_fd, int *out_fd)
{
	struct svl_context *ctx = to_svl_ctx(ictx);
	struct msg_out m = { .nfds = 1 };
	int rfds[SV_MSG_MAX_FDS], rnfds = 0, ret;
	struct sv_msg_hdr *h;
	uint8_t *rbuf;

	if (len + sizeof(*h) > SV_MSG_MAX)
		return errno = E2BIG;
	if (svl_ctx_dead(ictx) && dead_destroy_write(cmd))
		return 0;
	m.buf = msg_buffers(&rbuf);
	if (!m.buf)
		return errno = ENOMEM;
	h = (void *)m.buf;
	h->type = SV_MSG_WRITE;
	h->len = (uint32_t)(sizeof(*h) + len);
	h->flags = write_anonymous(cmd) ? SV_MSG_F_NO_IDENTITY : 0;
	memcpy(m.buf + sizeof(*h), cmd, len);
	m.len = h->len;
	if (in_fd >= 0)
		add_fd(&m, in_fd);
	ret = locked_roundtrip(ctx, &m, rbuf, rfds, &rnfds);
	if (!ret) {
		struct sv_reply_hdr *rh = (void *)rbuf;
		size_t n = rh->len - sizeof(*rh);

		ret = -rh->err;
		if (!ret && resp)
			memcpy(resp, rh + 1, n < resp_len ? n : resp_len);
		if (!ret && out_fd && rnfds > 0) {
			*out_fd = rfds[0];
			rfds[0] = -1;
		}
	}
	return msg_done(&m, rfds, rnfds, ret);
}

static int post_locked(struct svl_context *ctx, struct msg_out *m,
		       uint32_t handle)
{
	struct sv_msg_hdr *h = (void *)m->buf;
	bool here;
	int ret = msg_prepare(ctx, m, &here);

	if (ret)
		return ret;
	if (ctx->nposted >= SVL_ARRAY_SIZE(ctx->posted) / 2)
		posted_drain(ctx, here ? ctx->vctx.context.cmd_fd :
					 ctx->reply_fd);
	if (ctx->nposted == SVL_ARRAY_SIZE(ctx->posted))
		return EAGAIN;
	/* Every so often one that answers anyway: its reply retires it
	 * and every posted command before it. */
	if ((ctx->nposted + 1) % (SVL_ARRAY_SIZE(ctx->posted) / 4))
		h->flags |= SV_MSG_F_QUIET;
	ret = send_msg(ctx, m, here, now_ms() + svl_cmd_timeout_ms());
	if (ret == EIO)
		svl_fate_dead(ctx);
	if (ret)
		return ret;
	ctx->posted[ctx->nposted].seq = h->seq;
	ctx->posted[ctx->nposted++].handle = handle;
	return 0;
}

int svl_write_post(struct ibv_context *ictx, const void *cmd, size_t len,
		   uint32_t handle)
{
	struct svl_context *ctx = to_svl_ctx(ictx);
	uint8_t buf[sizeof(struct sv_msg_hdr) + 512];
	struct msg_out m = { .buf = buf, .nfds = 1 };
	struct sv_msg_hdr *h = (void *)buf;
	int ret;

	if (len > sizeof(buf) - sizeof(*h))
		return EAGAIN;
	memset(h, 0, sizeof(*h));
	h->type = SV_MSG_WRITE;
	h->len = (uint32_t)(sizeof(*h) + len);
	h->flags = write_anonymous(cmd) ? SV_MSG_F_NO_IDENTITY : 0;
	memcpy(h + 1, cmd, len);
	m.len = h->len;
	pthread_mutex_lock(&ctx->cmd_lock);
	ret = post_locked(ctx, &m, handle);
	pthread_mutex_unlock(&ctx->cmd_lock);
	return ret;
}

/*
 * Is a posted command on handle not yet known to have run? If none is,
 * its refusal, if any, was read already (replies come in order): no
 * need to look at the socket.
 */
static bool posted_on(const struct svl_context *ctx, uint32_t handle)
{
	unsigned int i;

	for (i = 0; i < ctx->nposted; i++)
		if (ctx->posted[i].handle == handle)
			return true;
	return false;
}

int svl_posted_error(struct ibv_context *ictx, uint32_t handle)
{
	struct svl_context *ctx = to_svl_ctx(ictx);
	int err;

	pthread_mutex_lock(&ctx->cmd_lock);
	if (posted_on(ctx, handle) && ctx->reply_pid == getpid())
		posted_drain(ctx, ctx->owner_pid == getpid() ?
					  ctx->vctx.context.cmd_fd :
					  ctx->reply_fd);
	err = posted_err_take(ctx, handle);
	pthread_mutex_unlock(&ctx->cmd_lock);
	return err;
}

void svl_write_hdr(void *cmd, uint32_t command, size_t in_bytes,
		   size_t out_bytes)
{
	struct ib_uverbs_cmd_hdr *h = cmd;

	h->command = command;
	h->in_words = (uint16_t)((in_bytes + 3) / 4);
	h->out_words = (uint16_t)((out_bytes + 3) / 4);
}

void svl_write_ex_hdr(void *cmd, uint32_t command, size_t core_in,
		      size_t drv_in, size_t core_out, size_t drv_out,
		      void *resp)
{
	struct ib_uverbs_cmd_hdr *h = cmd;
	struct ib_uverbs_ex_cmd_hdr *ex = (void *)(h + 1);

	h->command = command | IB_USER_VERBS_CMD_FLAG_EXTENDED;
	h->in_words = (uint16_t)(core_in / 8);
	h->out_words = (uint16_t)(core_out / 8);
	ex->response = (uintptr_t)resp;
	ex->provider_in_words = (uint16_t)(drv_in / 8);
	ex->provider_out_words = (uint16_t)(drv_out / 8);
	ex->cmd_hdr_reserved = 0;
}
