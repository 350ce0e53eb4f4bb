// SPDX-License-Identifier: MIT
/*
 * riomap / riounmap / riowrite: a process maps part of its memory for its
 * peer to write with RDMA WRITE. riomap registers the region and sends the
 * peer its address, rkey and offset (an IOMAP message); riowrite copies
 * through a send slot and writes there. RC ordering makes the written data
 * visible before anything sent after it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rdma/rsocket.h>

#include "rs.h"

#define RS_WR_WRITE 0x20000

off_t riomap(int socket, void *buf, size_t len, int prot, int flags,
	     off_t offset)
{
	struct rsock *rs = rs_get(socket);
	struct rs_iomap_msg m;
	struct rs_iomap *map;
	int ret;

	if (!rs)
		return -1;
	if (rs->state != RS_CONNECTED || !(prot & PROT_WRITE) || !len) {
		errno = rs->state != RS_CONNECTED ? ENOTCONN : EINVAL;
		return -1;
	}
	map = calloc(1, sizeof(*map));
	if (!map)
		return -1;
	map->offset = offset == -1 ? rs->next_offset : offset;
	map->buf = buf;
	map->len = len;
	map->mr = ibv_reg_mr(rs->id->pd, buf, len,
			     IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (!map->mr) {
		free(map);
		return -1;
	}
	m = (struct rs_iomap_msg){ .offset = (uint64_t)map->offset,
				   .addr = (uintptr_t)buf, .len = len,
				   .rkey = map->mr->rkey };
	while ((ret = rs_send_ctrl(rs, RS_MSG_IOMAP, &m, sizeof(m))) == -EAGAIN)
		rs_wait(rs, -1);
	if (ret) {
		ibv_dereg_mr(map->mr);
		free(map);
		errno = -ret;
		return -1;
	}
	rs->next_offset = map->offset + (off_t)len;
	map->next = rs->local_maps;
	rs->local_maps = map;
	return map->offset;
}

int riounmap(int socket, void *buf, size_t len)
{
	struct rsock *rs = rs_get(socket);
	struct rs_iomap **pp, *m;

	if (!rs)
		return -1;
	for (pp = &rs->local_maps; (m = *pp); pp = &m->next) {
		if (m->buf == buf && m->len == len) {
			*pp = m->next;
			ibv_dereg_mr(m->mr);
			free(m);
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

static struct rs_iomap *rs_find_remote(struct rsock *rs, off_t offset,
				       size_t count)
{
	struct rs_iomap *m;

	for (m = rs->remote_maps; m; m = m->next)
		if (offset >= m->offset &&
		    (uint64_t)(offset - m->offset) + count <= m->len)
			return m;
	return NULL;
}

static int rs_write_chunk(struct rsock *rs, const struct rs_iomap *m,
			  const uint8_t *src, size_t n, off_t offset)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_sge sge;
	int slot = rs_take_send_slot(rs);

	if (slot < 0)
		return slot;
	memcpy(rs->sbuf + (size_t)slot * RS_SLOT, src, n);
	sge = (struct ibv_sge){ (uintptr_t)(rs->sbuf + (size_t)slot * RS_SLOT),
				(uint32_t)n, rs->smr->lkey };
	wr.wr_id = RS_WR_WRITE | slot;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.wr.rdma.remote_addr = m->addr + (uint64_t)(offset - m->offset);
	wr.wr.rdma.rkey = m->rkey;
	if (ibv_post_send(rs->id->qp, &wr, &bad)) {
		rs->send_free |= 1u << slot;
		return -EIO;
	}
	return 0;
}

size_t riowrite(int socket, const void *buf, size_t count, off_t offset,
		int flags)
{
	struct rsock *rs = rs_get(socket);
	const struct rs_iomap *m;
	size_t done = 0, n;
	int ret;

	if (!rs)
		return (size_t)-1;
	/* The peer's IOMAP may still be on its way: wait for it. */
	while (!(m = rs_find_remote(rs, offset, count)) &&
	       rs->state == RS_CONNECTED && !rs->err)
		rs_wait(rs, -1);
	if (!m) {
		errno = rs->err ? rs->err : EINVAL;
		return (size_t)-1;
	}
	while (done < count) {
		n = count - done < RS_SLOT ? count - done : RS_SLOT;
		ret = rs_write_chunk(rs, m, (const uint8_t *)buf + done, n,
				     offset + (off_t)done);
		if (ret == -EAGAIN) {
			rs_wait(rs, -1);
			continue;
		}
		if (ret) {
			errno = -ret;
			return done ? done : (size_t)-1;
		}
		done += n;
	}
	return done;
}
