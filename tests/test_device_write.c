// SPDX-License-Identifier: MIT
/*
 * The device's legacy write() commands, spoken on the wire directly (the
 * library uses ioctl for most of them): GET_CONTEXT returns the async fd in
 * reply slot 0 and refuses a second context, QUERY_DEVICE/QUERY_PORT match
 * the ioctl answers, ex QUERY_DEVICE honours the response length.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <softverbs/abi.h>

#include "svtest.h"

static int conn;
static uint64_t seq;

/* Send one message with a fresh reply socket; receive reply + fds. */
static int roundtrip(const void *body, size_t len, void *rep, size_t rlen,
		     int *rfd)
{
	uint8_t buf[4096], rbuf[4096];
	struct sv_msg_hdr *h = (void *)buf;
	struct sv_reply_hdr *rh = (void *)rbuf;
	char cb[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { buf, sizeof(*h) + len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cb,
			     .msg_controllen = CMSG_SPACE(sizeof(int)) };
	struct cmsghdr *c;
	int sv[2];
	ssize_t n;

	SVT_CHECK(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	memset(buf, 0, sizeof(*h));
	h->type = SV_MSG_WRITE;
	h->len = (uint32_t)(sizeof(*h) + len);
	h->seq = ++seq;
	h->nfds = 1;
	memcpy(h + 1, body, len);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
	SVT_CHECK(sendmsg(conn, &mh, 0) == (ssize_t)h->len);
	close(sv[1]);

	iov.iov_base = rbuf;
	iov.iov_len = sizeof(rbuf);
	mh.msg_controllen = sizeof(cb);
	n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
	close(sv[0]);
	SVT_CHECK(n >= (ssize_t)sizeof(*rh) && rh->seq == seq);
	c = CMSG_FIRSTHDR(&mh);
	if (rfd)
		*rfd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS && rfd)
		memcpy(rfd, CMSG_DATA(c), sizeof(int));
	if (!rh->err)
		memcpy(rep, rh + 1, rlen < n - sizeof(*rh) ? rlen :
			    n - sizeof(*rh));
	return rh->err;
}

static int get_context(int *afd)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_get_context c;
	} cmd = { { IB_USER_VERBS_CMD_GET_CONTEXT, sizeof(cmd) / 4,
		    (sizeof(struct ib_uverbs_get_context_resp) +
		     sizeof(struct sv_alloc_ucontext_resp)) / 4 } };
	struct {
		struct ib_uverbs_get_context_resp r;
		struct sv_alloc_ucontext_resp u;
	} resp = {};
	int ret = roundtrip(&cmd, sizeof(cmd), &resp, sizeof(resp), afd);

	if (!ret) {
		SVT_CHECK(resp.r.async_fd == 0 && resp.r.num_comp_vectors >= 1);
		SVT_CHECK(resp.u.abi_version == SV_ABI_VERSION);
	}
	return ret;
}

static void query_device(struct ib_uverbs_query_device_resp *r)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_query_device c;
	} cmd = { { IB_USER_VERBS_CMD_QUERY_DEVICE, sizeof(cmd) / 4,
		    sizeof(*r) / 4 } };

	SVT_CHECK(roundtrip(&cmd, sizeof(cmd), r, sizeof(*r), NULL) == 0);
	SVT_CHECK(r->phys_port_cnt == 1 && r->node_guid != 0);
}

static int query_port(uint8_t port, struct ib_uverbs_query_port_resp *r)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_query_port c;
	} cmd = { { IB_USER_VERBS_CMD_QUERY_PORT, sizeof(cmd) / 4,
		    sizeof(*r) / 4 } };

	cmd.c.port_num = port;
	return roundtrip(&cmd, sizeof(cmd), r, sizeof(*r), NULL);
}

/* ex QUERY_DEVICE with 'words' 8-byte words of core response room. */
static int ex_query_device(unsigned int words,
			   struct ib_uverbs_ex_query_device_resp *r,
			   uint32_t comp_mask)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_ex_query_device c;
	} cmd = {};

	cmd.hdr.command = IB_USER_VERBS_CMD_FLAG_EXTENDED |
			  IB_USER_VERBS_EX_CMD_QUERY_DEVICE;
	cmd.hdr.in_words = sizeof(cmd.c) / 8;
	cmd.hdr.out_words = (uint16_t)words;
	cmd.ex.response = 1; /* any non-zero: the reply carries the bytes */
	cmd.c.comp_mask = comp_mask;
	memset(r, 0, sizeof(*r));
	return roundtrip(&cmd, sizeof(cmd), r, sizeof(*r), NULL);
}

int main(void)
{
	struct ib_uverbs_ex_query_device_resp ex;
	struct ib_uverbs_query_device_resp dev;
	struct ib_uverbs_query_port_resp port;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ib_uverbs_async_event_desc ev;
	struct svt_daemon d;
	int afd, afd2;

	svt_daemon_start(&d);
	SVT_CHECK(strlen(d.rundir) + 30 < sizeof(sa.sun_path));
	strcpy(sa.sun_path, d.rundir);
	strcat(sa.sun_path, "/devices/softverbs0/sock");
	conn = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	SVT_CHECK(conn >= 0 && !connect(conn, (void *)&sa, sizeof(sa)));

	/* No context yet: queries are refused. */
	SVT_CHECK(query_port(1, &port) == -EINVAL);
	SVT_CHECK(get_context(&afd) == 0 && afd >= 0);
	SVT_CHECK(get_context(&afd2) == -EINVAL);
	SVT_CHECK(recv(afd, &ev, sizeof(ev), MSG_DONTWAIT) == -1 &&
		  errno == EAGAIN);

	query_device(&dev);
	SVT_CHECK(query_port(1, &port) == 0);
	SVT_CHECK(port.state == 4 && port.link_layer == 2);
	SVT_CHECK(query_port(0, &port) == -EINVAL);
	SVT_CHECK(query_port(2, &port) == -EINVAL);

	SVT_CHECK(ex_query_device(sizeof(ex) / 8, &ex, 0) == 0);
	SVT_CHECK(ex.response_length == sizeof(ex));
	SVT_CHECK(!memcmp(&ex.base, &dev, sizeof(dev)));
	/* Only the base + comp_mask + response_length: cut there. */
	SVT_CHECK(ex_query_device((sizeof(dev) + 8) / 8, &ex, 0) == 0);
	SVT_CHECK(ex.response_length == sizeof(dev) + 8);
	SVT_CHECK(ex_query_device(sizeof(ex) / 8, &ex, 1) == -EINVAL);
	SVT_CHECK(ex_query_device(2, &ex, 0) != 0);

	close(afd);
	close(conn);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
