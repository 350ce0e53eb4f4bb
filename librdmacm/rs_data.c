// SPDX-License-Identifier: MIT
/*
 * rsockets data path (rs.h): posting slots, reaping completions, credits,
 * and the send/recv family of calls.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <rdma/rsocket.h>

#include "rs.h"

#define RS_WR_SEND 0x10000
#define RS_WR_WRITE 0x20000
#define RS_NSLOTS (RS_RECV_SLOTS + RS_CTRL_SLOTS)

int rs_post_recv(struct rsock *rs, int slot)
{
	struct ibv_sge sge = { (uintptr_t)(rs->rbuf + (size_t)slot * RS_SLOT),
			       RS_SLOT, rs->rmr->lkey };
	struct ibv_recv_wr wr = { .wr_id = slot, .sg_list = &sge,
				  .num_sge = 1 }, *bad;

	return ibv_post_recv(rs->id->qp, &wr, &bad) ? -EIO : 0;
}

int rs_take_send_slot(struct rsock *rs)
{
	int slot;

	if (!rs->send_free)
		return -EAGAIN;
	slot = __builtin_ctz(rs->send_free);
	rs->send_free &= ~(1u << slot);
	return slot;
}

int rs_send_slot(struct rsock *rs, enum rs_msg type, const void *data,
		 uint32_t len, bool data_msg)
{
	struct ibv_sge sge;
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND_WITH_IMM,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	int slot;

	if (data_msg && rs->credits <= 0)
		return -EAGAIN;
	slot = rs_take_send_slot(rs);
	if (slot < 0)
		return slot;
	if (len) /* control messages may have no payload (data NULL) */
		memcpy(rs->sbuf + (size_t)slot * RS_SLOT, data, len);
	sge = (struct ibv_sge){ (uintptr_t)(rs->sbuf + (size_t)slot * RS_SLOT),
				len, rs->smr->lkey };
	wr.wr_id = RS_WR_SEND | slot;
	wr.sg_list = &sge;
	wr.num_sge = len ? 1 : 0;
	wr.imm_data = htobe32(RS_IMM(type, rs->owed));
	if (ibv_post_send(rs->id->qp, &wr, &bad)) {
		rs->send_free |= 1u << slot;
		return -EIO;
	}
	rs->owed = 0;
	if (data_msg)
		rs->credits--;
	return 0;
}

int rs_send_ctrl(struct rsock *rs, enum rs_msg type, const void *data,
		 uint32_t len)
{
	return rs_send_slot(rs, type, data, len, type == RS_MSG_IOMAP);
}

static void rs_iomap_remote(struct rsock *rs, const void *buf, uint32_t len)
{
	struct rs_iomap_msg m;
	struct rs_iomap *map;

	if (len != sizeof(m))
		return;
	memcpy(&m, buf, sizeof(m));
	map = calloc(1, sizeof(*map));
	if (!map)
		return;
	map->offset = (off_t)m.offset;
	map->addr = m.addr;
	map->rkey = m.rkey;
	map->len = m.len;
	map->next = rs->remote_maps;
	rs->remote_maps = map;
}

static void rs_on_recv(struct rsock *rs, const struct ibv_wc *wc)
{
	uint32_t imm = be32toh(wc->imm_data);
	int slot = (int)wc->wr_id, n;
	uint8_t *buf = rs->rbuf + (size_t)slot * RS_SLOT;

	rs->credits += RS_IMM_CREDITS(imm);
	switch (RS_IMM_TYPE(imm)) {
	case RS_MSG_DATA:
		n = (rs->rq_head + rs->rq_count) % RS_NSLOTS;
		rs->rq[n] = slot;
		rs->rq_len[n] = wc->byte_len;
		rs->rq_count++;
		return;
	case RS_MSG_IOMAP:
		rs_iomap_remote(rs, buf, wc->byte_len);
		rs->owed++; /* it took one of our data slots */
		break;
	case RS_MSG_CLOSE:
		rs->eof = true;
		break;
	default:
		break;
	}
	rs_post_recv(rs, slot);
}

static void rs_on_wc(struct rsock *rs, const struct ibv_wc *wc)
{
	if (wc->status != IBV_WC_SUCCESS) {
		/* Flushed by a disconnect, or the peer is gone. */
		if (rs->state == RS_CONNECTED && !rs->eof)
			rs->err = ECONNRESET;
		rs->eof = true;
		if (wc->wr_id & (RS_WR_SEND | RS_WR_WRITE))
			rs->send_free |= 1u << (wc->wr_id & 0xffff);
		return;
	}
	if (wc->wr_id & (RS_WR_SEND | RS_WR_WRITE))
		rs->send_free |= 1u << (wc->wr_id & 0xffff);
	else
		rs_on_recv(rs, wc);
}

static void rs_cm_progress(struct rsock *rs)
{
	struct rdma_cm_event *ev;

	while (rs->state == RS_CONNECTED &&
	       !rdma_get_cm_event(rs->ch, &ev)) {
		if (ev->event == RDMA_CM_EVENT_DISCONNECTED) {
			rs->state = RS_DISCONNECTED;
			rs->eof = true;
		}
		rdma_ack_cm_event(ev);
	}
}

/* Reap every completion and CM event; returns how many there were. */
int rs_progress(struct rsock *rs)
{
	struct ibv_wc wc[16];
	int i, n, total = 0;

	if (!rs->cq)
		return 0;
	do {
		n = ibv_poll_cq(rs->cq, 16, wc);
		for (i = 0; i < n; i++)
			rs_on_wc(rs, &wc[i]);
		total += n > 0 ? n : 0;
	} while (n == 16);
	rs_cm_progress(rs);
	if (rs->owed >= RS_RECV_SLOTS / 2 && rs->state == RS_CONNECTED)
		rs_send_ctrl(rs, RS_MSG_CREDIT, NULL, 0);
	return total;
}

/* Sleep until the CQ or the CM channel has something (or timeout). */
int rs_wait(struct rsock *rs, int timeout_ms)
{
	struct pollfd pfd[2] = { { .fd = rs->cc->fd, .events = POLLIN },
				 { .fd = rs->ch->fd, .events = POLLIN } };
	struct ibv_cq *cq;
	void *ctx;

	if (ibv_req_notify_cq(rs->cq, 0))
		return -EIO;
	if (rs_progress(rs))
		return 0;
	if (poll(pfd, 2, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	if (pfd[0].revents && !ibv_get_cq_event(rs->cc, &cq, &ctx))
		ibv_ack_cq_events(cq, 1);
	rs_progress(rs);
	return 0;
}

bool rs_readable(struct rsock *rs)
{
	return rs->rq_count || rs->eof || rs->err ||
	       rs->state == RS_DISCONNECTED;
}

bool rs_writable(struct rsock *rs)
{
	return (rs->credits > 0 && rs->send_free) || rs->err ||
	       rs->state != RS_CONNECTED;
}

static bool rs_nonblock(struct rsock *rs, int flags)
{
	return (rs->fl_flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
}

/* Copy out of received slots; a finished slot goes back to the peer. */
static size_t rs_copy_out(struct rsock *rs, uint8_t *buf, size_t len)
{
	size_t done = 0, n;
	int slot;

	while (done < len && rs->rq_count) {
		slot = rs->rq[rs->rq_head];
		n = rs->rq_len[rs->rq_head] - rs->rq_off;
		if (n > len - done)
			n = len - done;
		memcpy(buf + done, rs->rbuf + (size_t)slot * RS_SLOT +
		       rs->rq_off, n);
		done += n;
		rs->rq_off += n;
		if (rs->rq_off < rs->rq_len[rs->rq_head])
			break;
		rs->rq_off = 0;
		rs->rq_head = (rs->rq_head + 1) % RS_NSLOTS;
		rs->rq_count--;
		rs_post_recv(rs, slot);
		rs->owed++;
	}
	return done;
}

ssize_t rrecv(int socket, void *buf, size_t len, int flags)
{
	struct rsock *rs = rs_get(socket);
	size_t done;

	if (!rs)
		return -1;
	if (rs->type == SOCK_DGRAM)
		return rs_ds_recvfrom(rs, buf, len, flags, NULL, NULL);
	if (rs->state != RS_CONNECTED && rs->state != RS_DISCONNECTED) {
		errno = ENOTCONN;
		return -1;
	}
	for (;;) {
		rs_progress(rs);
		done = rs_copy_out(rs, buf, len);
		if (done || !len) {
			rs_progress(rs); /* return credits promptly */
			return (ssize_t)done;
		}
		if (rs->eof || rs->state == RS_DISCONNECTED)
			return 0;
		if (rs_nonblock(rs, flags)) {
			errno = EAGAIN;
			return -1;
		}
		rs_wait(rs, -1);
	}
}

ssize_t rsend(int socket, const void *buf, size_t len, int flags)
{
	struct rsock *rs = rs_get(socket);
	size_t done = 0, n;
	int ret;

	if (!rs)
		return -1;
	if (rs->type == SOCK_DGRAM)
		return rs_ds_sendto(rs, buf, len, flags, NULL, 0);
	if (rs->state != RS_CONNECTED || rs->shut_wr || rs->err) {
		errno = rs->err ? rs->err : EPIPE;
		return -1;
	}
	while (done < len) {
		rs_progress(rs);
		n = len - done < RS_SLOT ? len - done : RS_SLOT;
		ret = rs_send_slot(rs, RS_MSG_DATA, (const uint8_t *)buf + done,
				   n, true);
		if (!ret) {
			done += n;
			continue;
		}
		if (ret != -EAGAIN || rs->state != RS_CONNECTED) {
			errno = rs->err ? rs->err : EPIPE;
			return done ? (ssize_t)done : -1;
		}
		if (rs_nonblock(rs, flags)) {
			if (done)
				break;
			errno = EAGAIN;
			return -1;
		}
		rs_wait(rs, -1);
	}
	return (ssize_t)done;
}

ssize_t rread(int socket, void *buf, size_t count)
{
	return rrecv(socket, buf, count, 0);
}

ssize_t rwrite(int socket, const void *buf, size_t count)
{
	return rsend(socket, buf, count, 0);
}

ssize_t rrecvfrom(int socket, void *buf, size_t len, int flags,
		  struct sockaddr *src_addr, socklen_t *addrlen)
{
	struct rsock *rs = rs_get(socket);
	ssize_t n;

	if (rs && rs->type == SOCK_DGRAM)
		return rs_ds_recvfrom(rs, buf, len, flags, src_addr, addrlen);
	n = rrecv(socket, buf, len, flags);

	if (n >= 0 && src_addr && addrlen)
		rgetpeername(socket, src_addr, addrlen);
	return n;
}

ssize_t rsendto(int socket, const void *buf, size_t len, int flags,
		const struct sockaddr *dest_addr, socklen_t addrlen)
{
	struct rsock *rs = rs_get(socket);

	if (rs && rs->type == SOCK_DGRAM)
		return rs_ds_sendto(rs, buf, len, flags, dest_addr, addrlen);
	/* A connected stream ignores the address, as TCP does. */
	return rsend(socket, buf, len, flags);
}

/* A datagram is one message: gathered into, or scattered from, a buffer. */
static ssize_t rs_ds_iov(struct rsock *rs, const struct iovec *iov,
			 int iovcnt, int flags, struct msghdr *msg, bool out)
{
	uint8_t buf[4096];
	size_t len = 0, n;
	ssize_t ret;
	int i;

	for (i = 0; out && i < iovcnt; i++) {
		if (iov[i].iov_len > sizeof(buf) - len) {
			errno = EMSGSIZE;
			return -1;
		}
		memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (out)
		return rs_ds_sendto(rs, buf, len, flags,
				    msg ? msg->msg_name : NULL,
				    msg ? msg->msg_namelen : 0);
	ret = rs_ds_recvfrom(rs, buf, sizeof(buf), flags,
			     msg ? msg->msg_name : NULL,
			     msg ? &msg->msg_namelen : NULL);
	for (i = 0; ret > 0 && i < iovcnt && len < (size_t)ret; i++) {
		n = (size_t)ret - len < iov[i].iov_len ? (size_t)ret - len :
							 iov[i].iov_len;
		memcpy(iov[i].iov_base, buf + len, n);
		len += n;
	}
	return ret < 0 ? ret : (ssize_t)len;
}

/* An iovec at a time; a short transfer ends the call like a socket. */
static ssize_t rs_iov(int socket, const struct iovec *iov, int iovcnt,
		      int flags, bool out)
{
	struct rsock *rs = rs_get(socket);
	ssize_t total = 0, n;
	int i;

	if (rs && rs->type == SOCK_DGRAM)
		return rs_ds_iov(rs, iov, iovcnt, flags, NULL, out);

	for (i = 0; i < iovcnt; i++) {
		n = out ? rsend(socket, iov[i].iov_base, iov[i].iov_len, flags) :
			  rrecv(socket, iov[i].iov_base, iov[i].iov_len, flags);
		if (n < 0)
			return total ? total : -1;
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return total;
}

ssize_t rreadv(int socket, const struct iovec *iov, int iovcnt)
{
	return rs_iov(socket, iov, iovcnt, 0, false);
}

ssize_t rwritev(int socket, const struct iovec *iov, int iovcnt)
{
	return rs_iov(socket, iov, iovcnt, 0, true);
}

ssize_t rrecvmsg(int socket, struct msghdr *msg, int flags)
{
	struct rsock *rs = rs_get(socket);

	msg->msg_controllen = 0;
	msg->msg_flags = 0;
	if (rs && rs->type == SOCK_DGRAM)
		return rs_ds_iov(rs, msg->msg_iov, (int)msg->msg_iovlen, flags,
				 msg, false);
	return rs_iov(socket, msg->msg_iov, (int)msg->msg_iovlen, flags, false);
}

ssize_t rsendmsg(int socket, const struct msghdr *msg, int flags)
{
	struct rsock *rs = rs_get(socket);

	if (rs && rs->type == SOCK_DGRAM)
		return rs_ds_iov(rs, msg->msg_iov, (int)msg->msg_iovlen, flags,
				 (struct msghdr *)msg, true);
	return rs_iov(socket, msg->msg_iov, (int)msg->msg_iovlen, flags, true);
}
