// SPDX-License-Identifier: MIT
/*
 * ufiles: the daemon end of command FDs, and the message transport.
 *
 * A request arrives as one SOCK_SEQPACKET message with SCM_RIGHTS (slot 0
 * the caller's reply socket) and SCM_CREDENTIALS (the sender's pid, which
 * the kernel vouches for: VA buffers and MRs belong to that process, even
 * when several processes share one command FD).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svd.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#include "svd_limits.h"
#include "svd_main.h"

struct ufile_node {
	struct svd_ufile *uf;
	struct ufile_node *next;
};

static struct ufile_node *ufiles;

/* One buffer each way: commands run one at a time on the main thread. */
static uint8_t req_buf[SV_MSG_MAX];
static uint8_t rep_buf[SV_MSG_MAX];

struct svd_ufile *svd_ufile_open(struct svd_device *dev, int fd)
{
	struct svd_ufile *uf = calloc(1, sizeof(*uf));
	struct ufile_node *n = calloc(1, sizeof(*n));
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int one = 1;

	if (!uf || !n)
		goto err;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		goto err;
	/* A pidfd per message: the sender by identity, not number (6.5+). */
	uf->pidfd_known = !setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &one,
				      sizeof(one));
	uf->pidfd_on = uf->pidfd_known;
	/* No identity, no service: never default to uid 0. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		goto err;
	uf->creator_pid = cred.pid;
	uf->uid = cred.uid;
	/* Each connection holds a daemon fd: a user may hold only so many. */
	uf->charge = svd_limit_charge(cred.uid, SVD_LIM_CONNECTIONS);
	if (!uf->charge)
		goto err;
	uf->dev = dev;
	uf->fd = fd;
	n->uf = uf;
	n->next = ufiles;
	ufiles = n;
	return uf;
err:
	free(uf);
	free(n);
	return NULL;
}

void svd_ufile_close(struct svd_ufile *uf)
{
	struct ufile_node **pp, *n;

	for (pp = &ufiles; (n = *pp); pp = &n->next) {
		if (n->uf == uf) {
			*pp = n->next;
			free(n);
			break;
		}
	}
	svd_uctx_destroy(uf->uctx);
	svd_limit_uncharge(uf->charge);
	close(uf->fd);
	free(uf->ev_tag);
	free(uf);
}

int svd_ufiles_on(const struct svd_device *dev)
{
	struct ufile_node *n;
	int count = 0;

	for (n = ufiles; n; n = n->next)
		count += n->uf->dev == dev;
	return count;
}

void svd_ufiles_close_all(void)
{
	while (ufiles)
		svd_ufile_close(ufiles->uf);
}

static void take_cmsgs(struct msghdr *mh, struct svd_bundle *b)
{
	struct cmsghdr *c;

	/* No reply socket: the fds sent are slots 1..n all the same. */
	if (b->reply_here)
		svd_bundle_add_fd(b, -1);
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *fds = (int *)CMSG_DATA(c);
			int i;

			for (i = 0; i < n; i++)
				svd_bundle_add_fd(b, fds[i]);
		} else if (c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cr;

			memcpy(&cr, CMSG_DATA(c), sizeof(cr));
			b->pid = cr.pid;
			b->uid = cr.uid;
			b->gid = cr.gid;
		} else if (c->cmsg_type == SCM_PIDFD && b->pidfd < 0) {
			memcpy(&b->pidfd, CMSG_DATA(c), sizeof(int));
		}
	}
}

static int dispatch(struct svd_bundle *b, const struct sv_msg_hdr *h,
		    size_t len)
{
	const uint8_t *body = (const uint8_t *)(h + 1);
	size_t blen = len - sizeof(*h);

	switch (h->type) {
	case SV_MSG_IOCTL:
		return svd_ioctl_dispatch(b, body, blen);
	case SV_MSG_WRITE:
		return svd_write_dispatch(b, body, blen);
	default:
		return -EINVAL;
	}
}

static void send_reply(struct svd_bundle *b, const struct sv_msg_hdr *h,
		       size_t len, int err)
{
	struct sv_reply_hdr *rh = (struct sv_reply_hdr *)rep_buf;
	size_t attrs_len = 0, total;
	char cbuf[CMSG_SPACE(sizeof(int) * SV_MSG_MAX_FDS)];
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (h->type == SV_MSG_IOCTL && !err) {
		const struct ib_uverbs_ioctl_hdr *ih = (const void *)(h + 1);

		attrs_len = ih->num_attrs * sizeof(struct ib_uverbs_attr);
		svd_ioctl_reply_attrs(b, ih, (void *)(rh + 1));
	}
	if (err)
		b->out_used = 0;
	total = sizeof(*rh) + attrs_len + b->out_used;
	rh->len = (uint32_t)total;
	rh->err = err;
	rh->seq = h->seq;
	rh->nfds = err ? 0 : b->out_nfds;
	rh->dev_gen = b->dev ? b->dev->port.gid_gen : 0;
	iov[0].iov_base = rep_buf;
	iov[0].iov_len = sizeof(*rh) + attrs_len;
	iov[1].iov_base = b->out;
	iov[1].iov_len = b->out_used;
	if (rh->nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * rh->nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * rh->nfds);
		memcpy(CMSG_DATA(c), b->out_fds, sizeof(int) * rh->nfds);
	}
	/* A caller that vanished mid-command just loses its reply. */
	if (b->reply_here)
		sendmsg(b->ufile->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	else if (b->nfds > 0 && b->fds[0] >= 0)
		sendmsg(b->fds[0], &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static uint8_t out_payload[SV_MSG_MAX];

/*
 * Handle one received message: mh as recvmsg() filled it (data in
 * msg_iov[0], n bytes; cmsgs; msg_flags). Everything in it is the
 * client's: the framing checks here, the command's in the dispatchers.
 * Separate from the socket read so the framing fuzzer can drive it.
 */
void svd_ufile_handle_msg(struct svd_ufile *uf, struct msghdr *mh, size_t n)
{
	const struct sv_msg_hdr *h = mh->msg_iov[0].iov_base;
	static struct svd_bundle b;
	int err;

	svd_bundle_init(&b, uf, out_payload, sizeof(out_payload));
	if (n >= sizeof(*h)) {
		b.reply_here = h->flags & SV_MSG_F_REPLY_HERE;
		b.no_identity = h->flags & SV_MSG_F_NO_IDENTITY;
	}
	take_cmsgs(mh, &b);
	if (n < sizeof(*h) || h->len != n ||
	    (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || b.nfds < 1)
		err = -EINVAL;
	else
		err = dispatch(&b, h, n);
	if (n >= sizeof(*h) && (err || !(h->flags & SV_MSG_F_QUIET)))
		send_reply(&b, h, n, err);
	/* Reply fds were sent (or the command failed): drop our copies. */
	svd_bundle_close_fds(&b);
}

/*
 * The kernel makes a pidfd for every message received with SO_PASSPIDFD,
 * as much work as the rest of a small command. So the header is peeked
 * first and the option follows the message's SV_MSG_F_NO_IDENTITY (set
 * only on commands that name none of the sender's memory): a command that
 * may reach the sender's memory still gets the sender's own pidfd, and one
 * that said it would not is refused any such access.
 */
static void pidfd_follow(struct svd_ufile *uf)
{
	struct sv_msg_hdr h;
	int want;

	if (!uf->pidfd_known ||
	    recv(uf->fd, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) !=
		    (ssize_t)sizeof(h))
		return;
	want = !(h.flags & SV_MSG_F_NO_IDENTITY);
	if (want != uf->pidfd_on &&
	    !setsockopt(uf->fd, SOL_SOCKET, SO_PASSPIDFD, &want, sizeof(want)))
		uf->pidfd_on = want;
}

/* Serve one message. Returns < 0 when the peer is gone. */
int svd_ufile_serve(struct svd_ufile *uf)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SV_MSG_MAX_FDS) +
		  CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
	struct iovec iov = { req_buf, sizeof(req_buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	pidfd_follow(uf);
	n = recvmsg(uf->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	svd_ufile_handle_msg(uf, &mh, (size_t)n);
	return 0;
}

void svd_uctx_async_event(struct svd_ucontext *uctx, uint64_t element,
			  uint32_t event_type)
{
	struct ib_uverbs_async_event_desc ev = {
		.element = element,
		.event_type = event_type,
	};

	if (!uctx || uctx->async_fd < 0)
		return;
	/* Never block the engine: a full queue drops the event. */
	send(uctx->async_fd, &ev, sizeof(ev), MSG_DONTWAIT | MSG_NOSIGNAL);
}
