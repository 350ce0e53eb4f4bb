// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the command socket's framing: one input is one
 * received message, handed to svd_ufile_handle_msg() exactly as recvmsg()
 * would: the message bytes, SCM_RIGHTS with real fds (slot 0 a reply
 * socket this harness drains, the rest memfds) and SCM_CREDENTIALS with a
 * chosen uid and pid, possibly truncated or in odd orders.
 *
 * Input: byte 0 picks the ancillary data --
 *   bits 0-2  number of fds (0..7; 0 = no SCM_RIGHTS)
 *   bit 3     SCM_CREDENTIALS present: bytes 1-4 its uid; byte 5 bit 0
 *             picks a pid that does not exist, else this process's pid
 *             (never another live process: VA commands would reach it)
 *   bit 4     credentials before the fds
 *   bit 5     MSG_CTRUNC, bit 6 MSG_TRUNC as the kernel would report
 *   bit 7     the fds split over two SCM_RIGHTS messages
 * then bytes 9.. are the message (struct sv_msg_hdr + body).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "svd.h"
#include "svd_main.h"

#define HDR 9

static struct svd_ufile ufile = { .fd = -1 };
static int reply[2] = { -1, -1 };
static uint8_t msg[SV_MSG_MAX] __attribute__((aligned(8)));
static unsigned int runs;

static void setup(void)
{
	struct svd_device *dev = svd_dev_create("fuzz", NULL, false);

	if (svd_is_err(dev) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, reply))
		abort();
	ufile.dev = dev;
	ufile.uid = getuid();
	ufile.creator_pid = getpid();
}

/* One SCM_RIGHTS with n fds: slot 0 is always the reply socket. */
static struct cmsghdr *put_rights(struct cmsghdr *c, int first, int n)
{
	int fds[8], i;

	for (i = 0; i < n; i++)
		fds[i] = first + i == 0 ?
				 fcntl(reply[0], F_DUPFD_CLOEXEC, 0) :
				 fcntl(fuzz_template_fd((first + i - 1) %
							FUZZ_NFDS),
				       F_DUPFD_CLOEXEC, 0);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return (struct cmsghdr *)((char *)c + CMSG_SPACE(sizeof(int) * n));
}

static struct cmsghdr *put_creds(struct cmsghdr *c, const uint8_t *d)
{
	struct ucred cr;

	memcpy(&cr.uid, d + 1, 4);
	cr.pid = d[5] & 1 ? 0x3ffffff0 : getpid();
	cr.gid = 0;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(cr));
	memcpy(CMSG_DATA(c), &cr, sizeof(cr));
	return (struct cmsghdr *)((char *)c + CMSG_SPACE(sizeof(cr)));
}

static size_t build_cmsgs(const uint8_t *d, char *cbuf)
{
	struct cmsghdr *c = (struct cmsghdr *)cbuf;
	int nfds = d[0] & 7, split = (d[0] & 0x80) && nfds > 1 ? nfds / 2 : 0;
	bool creds = d[0] & 8;

	if (creds && (d[0] & 0x10))
		c = put_creds(c, d);
	if (split)
		c = put_rights(c, 0, split);
	if (nfds - split > 0)
		c = put_rights(c, split, nfds - split);
	if (creds && !(d[0] & 0x10))
		c = put_creds(c, d);
	return (size_t)((char *)c - cbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cbuf[3 * CMSG_SPACE(sizeof(int) * 8) + CMSG_SPACE(32)]
		__attribute__((aligned(8)));
	struct iovec iov = { msg, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf };

	if (size < HDR || size - HDR > sizeof(msg))
		return 0;
	if (!ufile.dev)
		setup();
	if (++runs % 4096 == 0) { /* bound the objects kept across inputs */
		svd_uctx_destroy(ufile.uctx);
		ufile.uctx = NULL;
	}
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_len = size - HDR;
	memcpy(msg, data + HDR, iov.iov_len);
	mh.msg_controllen = build_cmsgs(data, cbuf);
	if (!mh.msg_controllen)
		mh.msg_control = NULL;
	mh.msg_flags = (data[0] & 0x20 ? MSG_CTRUNC : 0) |
		       (data[0] & 0x40 ? MSG_TRUNC : 0);
	svd_ufile_handle_msg(&ufile, &mh, iov.iov_len);
	fuzz_drain(reply[1]);
	return 0;
}
