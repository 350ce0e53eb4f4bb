// SPDX-License-Identifier: MIT
/*
 * The daemon side of CQs without a daemon process: links the core, drives
 * the legacy write commands (CREATE_COMP_CHANNEL, CREATE_CQ with the ring in
 * the driver data, RESIZE_CQ, DESTROY_CQ) and then plays the engine:
 * svd_cq_push() fills the shared ring, svd_cq_notify() consumes arms and
 * sends completion events. Checks what a library would see in the ring.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svd.h"
#include "svd_nic.h"
#include "svd_cq.h"
#include "svd_objs.h"
#include "../lib/providers/softverbs/ring.h"
#include "svt_unit.h"


static struct svd_device dev = { .name = "unit", .nic = &svd_soft_nic_ops };
static struct svd_ufile ufile = { .dev = &dev, .fd = -1 };
static uint8_t out_buf[4096];
static struct svd_bundle b;

/* Run one write command; fds go in slots 1..n. Reply bytes in out_buf. */
static int run(const void *cmd, size_t len, int nfds, const int *fds)
{
	svd_bundle_init_local(&b, &ufile, out_buf, sizeof(out_buf), fds, nfds);
	return svd_write_dispatch(&b, cmd, len);
}

static void hdr(void *cmd, uint32_t c, size_t in, size_t out)
{
	struct ib_uverbs_cmd_hdr *h = cmd;

	h->command = c;
	h->in_words = (uint16_t)(in / 4);
	h->out_words = (uint16_t)(out / 4);
}

struct ring {
	int fd;
	void *map;
	size_t len, dboff;
	uint32_t entries;
	struct sv_cqe *cqes;
	struct sv_dbrec *db;
};

static void ring_new(struct ring *r, uint32_t entries)
{
	r->entries = entries;
	r->dboff = svl_ring_align(entries * sizeof(struct sv_cqe));
	r->len = r->dboff + sizeof(struct sv_dbrec);
	if (svl_ring_alloc(r->len, &r->fd, &r->map))
		exit(1);
	r->cqes = r->map;
	r->db = (struct sv_dbrec *)((char *)r->map + r->dboff);
}

static void ring_descs(const struct ring *r, int slot,
		       struct sv_create_ring_req *req, struct sv_buffer_desc *d)
{
	memset(req, 0, sizeof(*req));
	req->sq_entries = r->entries;
	memset(d, 0, 2 * sizeof(*d));
	d[0] = (struct sv_buffer_desc){ .fd = slot, .index = SV_CQ_BUF_RING,
		.length = r->entries * sizeof(struct sv_cqe) };
	d[1] = (struct sv_buffer_desc){ .fd = slot, .index = SV_CQ_BUF_DBREC,
		.addr = r->dboff, .length = sizeof(struct sv_dbrec) };
}

static int create_channel(int *client_fd)
{
	struct {
		struct ib_uverbs_cmd_hdr h;
		struct ib_uverbs_create_comp_channel c;
	} cmd = {};
	int ret;

	hdr(&cmd, IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, sizeof(cmd), 4);
	ret = run(&cmd, sizeof(cmd), 0, NULL);
	*client_fd = (!ret && b.out_nfds == 1) ? b.out_fds[0] : -1;
	return ret;
}

struct create_cmd {
	struct ib_uverbs_cmd_hdr h;
	struct ib_uverbs_create_cq c;
	struct sv_create_ring_req req;
	struct sv_buffer_desc d[2];
};

static int create_cq(struct ring *r, uint32_t cqe, int chfd, uint32_t *handle)
{
	struct create_cmd cmd = {};
	int fds[2], n = 0, ret;

	hdr(&cmd, IB_USER_VERBS_CMD_CREATE_CQ, sizeof(cmd), 8);
	cmd.c.cqe = cqe;
	cmd.c.user_handle = 0xabcdef;
	cmd.c.comp_channel = chfd >= 0 ? chfd : -1;
	if (chfd >= 0)
		fds[n++] = chfd;
	fds[n++] = r->fd;
	ring_descs(r, n, &cmd.req, cmd.d);
	ret = run(&cmd, sizeof(cmd), n, fds);
	if (!ret)
		memcpy(handle, out_buf, sizeof(*handle));
	return ret;
}

static struct svd_cq *cq_of(uint32_t handle)
{
	return ufile.uctx->handles[handle]->object;
}

struct resize_cmd {
	struct ib_uverbs_cmd_hdr h;
	struct ib_uverbs_resize_cq c;
	struct sv_create_ring_req req;
	struct sv_buffer_desc d[2];
};

static int resize(uint32_t h, uint32_t cqe, struct ring *n)
{
	struct resize_cmd cmd = {};

	hdr(&cmd, IB_USER_VERBS_CMD_RESIZE_CQ, sizeof(cmd), 8);
	cmd.c.cq_handle = h;
	cmd.c.cqe = cqe;
	ring_descs(n, 1, &cmd.req, cmd.d);
	return run(&cmd, sizeof(cmd), 1, &n->fd);
}

/* Two unpolled CQEs (wr_id 3, 4 at cons 2): too small fails, bigger keeps. */
static void test_resize(struct ring *old, uint32_t h)
{
	struct sv_cqe e = { .wr_id = 5 };
	struct ring n;

	ring_new(&n, 2);
	CHECK(resize(h, 1, &n) == -EINVAL);
	munmap(n.map, svl_ring_align(n.len));
	close(n.fd);
	ring_new(&n, 8);
	CHECK(resize(h, 7, &n) == 0);
	CHECK(n.db->prod == 4 && n.db->cons == 2);
	CHECK(n.cqes[2].wr_id == 3 && n.cqes[3].wr_id == 4);
	CHECK(n.db->armed_seen == old->db->armed_seen);
	CHECK(cq_of(h)->cqe == 7);
	CHECK(svd_cq_push(cq_of(h), &e) == 0 && n.cqes[4].wr_id == 5);
	CHECK(n.db->prod == 5);
	munmap(n.map, svl_ring_align(n.len));
	close(n.fd);
}

static void test_destroy(uint32_t h)
{
	struct {
		struct ib_uverbs_cmd_hdr h;
		struct ib_uverbs_destroy_cq c;
	} cmd = {};
	struct ib_uverbs_destroy_cq_resp resp;

	hdr(&cmd, IB_USER_VERBS_CMD_DESTROY_CQ, sizeof(cmd), 8);
	cmd.c.cq_handle = h;
	atomic_store(&cq_of(h)->usecnt, 1);
	CHECK(run(&cmd, sizeof(cmd), 0, NULL) == -EBUSY);
	atomic_store(&cq_of(h)->usecnt, 0);
	CHECK(run(&cmd, sizeof(cmd), 0, NULL) == 0);
	memcpy(&resp, out_buf, sizeof(resp));
	CHECK(resp.comp_events_reported == 1);
	CHECK(run(&cmd, sizeof(cmd), 0, NULL) == -ENOENT);
}

static void test_bad_create(void)
{
	struct create_cmd cmd = {};
	struct ring r;
	uint32_t h;
	int fd;

	ring_new(&r, 4);
	CHECK(create_cq(&r, 0, -1, &h) == -EINVAL);
	CHECK(create_cq(&r, 4, -1, &h) == -EINVAL); /* ring too small */
	CHECK(create_cq(&r, 70000, -1, &h) == -EINVAL);
	/* comp_channel named but no fd sent / not a channel fd. */
	hdr(&cmd, IB_USER_VERBS_CMD_CREATE_CQ, sizeof(cmd), 8);
	cmd.c.cqe = 3;
	cmd.c.comp_channel = 5;
	ring_descs(&r, 1, &cmd.req, cmd.d);
	CHECK(run(&cmd, sizeof(cmd), 0, NULL) == -EBADF);
	fd = r.fd;
	CHECK(run(&cmd, sizeof(cmd), 1, &fd) == -EBADF);
	/* Bad comp_vector; a VA ring is not supported. */
	cmd.c.comp_channel = -1;
	cmd.c.comp_vector = SVD_NUM_COMP_VECTORS;
	CHECK(run(&cmd, sizeof(cmd), 1, &fd) == -EINVAL);
	cmd.c.comp_vector = 0;
	cmd.d[0].type = SV_BUFFER_TYPE_VA;
	cmd.d[0].addr = (uintptr_t)r.map;
	CHECK(run(&cmd, sizeof(cmd), 1, &fd) == -EOPNOTSUPP);
	/* Missing dbrec descriptor; descriptor slot out of range. */
	cmd.d[0].type = SV_BUFFER_TYPE_DMABUF;
	cmd.d[0].addr = 0;
	CHECK(run(&cmd, sizeof(cmd) - sizeof(cmd.d[1]), 1, &fd) == -EINVAL);
	cmd.d[1].fd = 7;
	CHECK(run(&cmd, sizeof(cmd), 1, &fd) == -EBADF);
	cmd.d[1].fd = 1;
	CHECK(run(&cmd, sizeof(cmd), 1, &fd) == 0);
	munmap(r.map, svl_ring_align(r.len));
	close(r.fd);
}

static void test_push_notify(void)
{
	struct ib_uverbs_comp_event_desc ev;
	struct sv_cqe e = { .wr_id = 1 };
	struct pollfd pfd;
	struct svd_cq *cq;
	struct ring r;
	uint32_t h, i;
	int ch;

	CHECK(create_channel(&ch) == 0 && ch >= 0);
	ring_new(&r, 4);
	CHECK(create_cq(&r, 3, ch, &h) == 0);
	cq = cq_of(h);
	/* Not armed: CQE lands, no event. */
	CHECK(svd_cq_push(cq, &e) == 0);
	svd_cq_notify(cq, false);
	CHECK(r.db->prod == 1 && r.cqes[0].wr_id == 1);
	pfd = (struct pollfd){ .fd = ch, .events = POLLIN };
	CHECK(poll(&pfd, 1, 0) == 0);
	/* Solicited-only arm ignores an unsolicited CQE, fires on one. */
	r.db->arm_flags = SV_CQ_ARM_SOLICITED;
	r.db->arm_seq++;
	e.wr_id = 2;
	CHECK(svd_cq_push(cq, &e) == 0);
	svd_cq_notify(cq, false);
	CHECK(poll(&pfd, 1, 0) == 0);
	e.wr_id = 3;
	CHECK(svd_cq_push(cq, &e) == 0);
	svd_cq_notify(cq, true);
	CHECK(read(ch, &ev, sizeof(ev)) == sizeof(ev) &&
	      ev.cq_handle == 0xabcdef);
	CHECK(r.db->armed_seen == r.db->arm_seq);
	/* Consumed: a second CQE does not fire again. Ring is now full. */
	e.wr_id = 4;
	CHECK(svd_cq_push(cq, &e) == 0);
	svd_cq_notify(cq, true);
	CHECK(poll(&pfd, 1, 0) == 0);
	CHECK(svd_cq_push(cq, &e) == -ENOSPC);
	/* A lying consumer index is an overrun too, never a crash. */
	r.db->cons = 1000;
	CHECK(svd_cq_push(cq, &e) == -ENOSPC);
	r.db->cons = 2;
	for (i = 0; i < 4; i++)
		CHECK(r.cqes[i].wr_id == i + 1);
	test_resize(&r, h);
	test_destroy(h);
	munmap(r.map, svl_ring_align(r.len));
	close(r.fd);
	close(ch);
}

int main(void)
{
	int ch;

	dev.attr.max_cqe = 65535;
	pthread_mutex_init(&dev.lock, NULL);
	ufile.uctx = svd_uctx_create(&ufile);
	if (!ufile.uctx)
		return 1;
	if (create_channel(&ch) == -EOPNOTSUPP) {
		/* A module missing from the tree is a product failure. */
		fprintf(stderr, "FAIL: svd_mod_cq not registered in tree.c\n");
		return 1;
	}
	close(ch);
	test_bad_create();
	test_push_notify();
	/* Leftovers (a CQ, channels) go with the context. */
	svd_uctx_destroy(ufile.uctx);
	if (svt_failures)
		fprintf(stderr, "%d failure(s)\n", svt_failures);
	return svt_failures ? 1 : 0;
}
