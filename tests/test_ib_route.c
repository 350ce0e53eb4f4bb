// SPDX-License-Identifier: MIT
/*
 * LID routing between two InfiniBand devices of one daemon (issue 15): the
 * daemon's "type ib" devices are ports of one subnet behind one switch.
 * Two processes, the parent on ib0 and the child on ib1, exchange only
 * LIDs, QP numbers and keys (no GID anywhere), and check every payload:
 *   - RC: SEND of 1 MiB + 3 both ways, RDMA WRITE of 3 MiB, READ of it
 *     back, FETCH_ADD and CMP_SWP;
 *   - UC: SEND and WRITE with immediate;
 *   - UD: a datagram by an AH with only a DLID (wc.slid is the sender's
 *     LID, no GRH), answered through ibv_create_ah_from_wc;
 *   - a DLID nobody holds: the UD datagram is dropped and counted
 *     (lid_noroute in `dev list`), the RC requester retries and ends in
 *     IBV_WC_RETRY_EXC_ERR;
 *   - the path check: a QP connected to the right QP number but at
 *     another LID takes nothing from it (refused= counts it, the sender
 *     ends in IBV_WC_RETRY_EXC_ERR).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_cli.h"
#include "svt_ctl.h"
#include "svt_fork.h"

#define QKEY 0x22222222
#define GRH 40
#define NOWHERE_LID 0x123 /* below 0xc000, held by no device */
/* The registered buffer: regions of each kind of traffic. */
#define MIB (1UL << 20)
#define SEND_LEN (MIB + 3)
#define RC_RX 0UL /* a SEND from the peer */
#define RC_TX (2 * MIB) /* a SEND to the peer */
#define RDMA_OFF (4 * MIB) /* WRITE target (peer), READ back (here) */
#define RDMA_LEN (3 * MIB)
#define ATOM_OFF (7 * MIB)
#define UC_OFF (7 * MIB + 4096)
#define UC_LEN (200 * 1024 + 5)
#define UCW_OFF (7 * MIB + 256 * 1024) /* the UC WRITE's target */
#define UD_OFF (7 * MIB + 512 * 1024)
#define BUF_LEN (8 * MIB)

struct ep {
	struct svt_ep rc, path, lost; /* RC QPs, one CQ */
	struct ibv_qp *uc, *ud;
	struct ibv_mr *mr;
	uint8_t *buf;
};

/* What one side tells the other: LIDs and numbers, as LID-only programs. */
struct info {
	uint16_t lid;
	uint32_t rc, path, uc, ud, rkey;
	uint64_t addr;
};

static struct svt_daemon d;

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
}

static bool same(const uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)(i * 131 + seed + (i >> 12)))
			return false;
	return true;
}

static struct ibv_qp *qp_new(struct ep *e, enum ibv_qp_type t)
{
	struct ibv_qp_init_attr a = {
		.qp_type = t,
		.send_cq = e->rc.cq, .recv_cq = e->rc.cq,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp *qp = ibv_create_qp(e->rc.pd, &a);

	SVT_CHECK(qp);
	return qp;
}

static void ep_open(struct ep *e, const char *dev)
{
	struct ibv_port_attr pa;

	e->rc.ctx = svt_open_dev(dev);
	SVT_CHECK(!ibv_query_port(e->rc.ctx, 1, &pa));
	SVT_CHECK(pa.link_layer == IBV_LINK_LAYER_INFINIBAND);
	e->rc.pd = ibv_alloc_pd(e->rc.ctx);
	SVT_CHECK(e->rc.pd);
	svt_ep_make(&e->rc);
	SVT_CHECK(e->rc.gid_index == -1 && e->rc.lid == pa.lid);
	e->path = e->lost = e->rc; /* same context, PD and CQ */
	svt_ep_make(&e->path);
	svt_ep_make(&e->lost);
	e->uc = qp_new(e, IBV_QPT_UC);
	e->ud = qp_new(e, IBV_QPT_UD);
	e->buf = calloc(1, BUF_LEN);
	SVT_CHECK(e->buf);
	e->mr = ibv_reg_mr(e->rc.pd, e->buf, BUF_LEN,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC);
	SVT_CHECK(e->mr);
}

static void modify(struct ibv_qp *qp, struct ibv_qp_attr *a, int mask)
{
	SVT_CHECK(!ibv_modify_qp(qp, a, mask));
	memset(a, 0, sizeof(*a));
}

static void ud_up(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = QKEY };

	modify(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			       IBV_QP_QKEY);
	a.qp_state = IBV_QPS_RTR;
	modify(qp, &a, IBV_QP_STATE);
	a.qp_state = IBV_QPS_RTS;
	modify(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
}

/* UC towards dqpn at dlid: no GRH, only the LID. */
static void uc_up(struct ibv_qp *qp, uint32_t dqpn, uint16_t dlid)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qp_access_flags = IBV_ACCESS_REMOTE_WRITE };

	modify(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			       IBV_QP_ACCESS_FLAGS);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_2048;
	a.dest_qp_num = dqpn;
	a.ah_attr.dlid = dlid;
	a.ah_attr.port_num = 1;
	modify(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN);
	a.qp_state = IBV_QPS_RTS;
	modify(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
}

static void post_recv(struct ep *e, struct ibv_qp *qp, size_t off,
		      size_t len)
{
	struct ibv_sge s = { (uintptr_t)e->buf + off, (uint32_t)len,
			     e->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = off, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(qp, &wr, &bad));
}

/* Post wr (one SGE over [off, off + len)) on qp; its completion status. */
static enum ibv_wc_status post(struct ep *e, struct ibv_qp *qp,
			       struct ibv_send_wr *wr, size_t off, size_t len)
{
	struct ibv_sge s = { (uintptr_t)e->buf + off, (uint32_t)len,
			     e->mr->lkey };
	struct ibv_send_wr *bad;
	struct ibv_wc wc;

	wr->wr_id = off;
	wr->sg_list = &s;
	wr->num_sge = 1;
	wr->send_flags = IBV_SEND_SIGNALED;
	SVT_CHECK(!ibv_post_send(qp, wr, &bad));
	wc = svt_poll1(e->rc.cq);
	SVT_CHECK(wc.qp_num == qp->qp_num && wc.wr_id == off);
	return wc.status;
}

static enum ibv_wc_status send_to(struct ep *e, struct ibv_qp *qp,
				  size_t off, size_t len)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND };

	return post(e, qp, &wr, off, len);
}

/* A datagram to dlid by an AH without a GRH. */
static void ud_send(struct ep *e, uint16_t dlid, uint32_t qpn, size_t off,
		    size_t len)
{
	struct ibv_ah_attr aa = { .dlid = dlid, .port_num = 1 };
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND };

	wr.wr.ud.ah = ibv_create_ah(e->rc.pd, &aa);
	SVT_CHECK(wr.wr.ud.ah);
	wr.wr.ud.remote_qpn = qpn;
	wr.wr.ud.remote_qkey = QKEY;
	SVT_CHECK(post(e, e->ud, &wr, off, len) == IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_destroy_ah(wr.wr.ud.ah));
}

/* The next completion: a receive of len bytes on qp at off. */
static struct ibv_wc recv_done(struct ep *e, struct ibv_qp *qp, size_t off,
			       size_t len)
{
	struct ibv_wc wc = svt_poll1(e->rc.cq);

	if (wc.status || wc.qp_num != qp->qp_num ||
	    (wc.byte_len != len && len != SIZE_MAX))
		fprintf(stderr, "recv: status %d qp %u/%u len %u/%zu\n",
			wc.status, wc.qp_num, qp->qp_num, wc.byte_len, len);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.qp_num == qp->qp_num);
	SVT_CHECK(wc.wr_id == off && (wc.byte_len == len || len == SIZE_MAX));
	return wc;
}

static void info_of(const struct ep *e, struct info *i)
{
	*i = (struct info){ .lid = e->rc.lid, .rc = e->rc.qp->qp_num,
			    .path = e->path.qp->qp_num, .uc = e->uc->qp_num,
			    .ud = e->ud->qp_num, .rkey = e->mr->rkey,
			    .addr = (uintptr_t)e->buf };
}

static void xfer(int out, int in, const struct ep *e, struct info *peer)
{
	struct info me;

	info_of(e, &me);
	SVT_CHECK(write(out, &me, sizeof(me)) == sizeof(me));
	SVT_CHECK(read(in, peer, sizeof(*peer)) == sizeof(*peer));
	SVT_CHECK(peer->lid != e->rc.lid); /* another port of the subnet */
}

static void say(int out, char c)
{
	SVT_CHECK(write(out, &c, 1) == 1);
}

static void hear(int in, char c)
{
	char got = 0;

	SVT_CHECK(read(in, &got, 1) == 1 && got == c);
}

/* UD by LID both ways: the datagram, then an answer to its wc. */
static void child_ud(struct ep *e, const struct info *p)
{
	struct ibv_wc wc = recv_done(e, e->ud, UD_OFF, GRH + 4000);
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND };

	SVT_CHECK(!(wc.wc_flags & IBV_WC_GRH));
	SVT_CHECK(wc.slid == p->lid && wc.src_qp == p->ud);
	SVT_CHECK(same(e->buf + UD_OFF + GRH, 4000, 5));
	wr.wr.ud.ah = ibv_create_ah_from_wc(e->rc.pd, &wc,
					    (struct ibv_grh *)(e->buf + UD_OFF),
					    1);
	SVT_CHECK(wr.wr.ud.ah);
	wr.wr.ud.remote_qpn = wc.src_qp;
	wr.wr.ud.remote_qkey = QKEY;
	fill(e->buf + UD_OFF, 1000, 6);
	SVT_CHECK(post(e, e->ud, &wr, UD_OFF, 1000) == IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_destroy_ah(wr.wr.ud.ah));
}

/* ib1: receives, answers, and checks what the parent wrote. */
static void child(int out, int in)
{
	struct info p;
	struct ep e = { 0 };
	uint64_t atom;
	struct ibv_wc wc;

	ep_open(&e, "ib1");
	xfer(out, in, &e, &p);
	svt_ep_connect_path(&e.rc, p.rc, IBV_MTU_4096, 14, 7, p.lid);
	/* Right QP number, wrong LID (its own): nothing of p.path's may do. */
	svt_ep_connect_path(&e.path, p.path, IBV_MTU_4096, 14, 7, e.rc.lid);
	uc_up(e.uc, p.uc, p.lid);
	ud_up(e.ud);
	post_recv(&e, e.rc.qp, RC_RX, SEND_LEN);
	post_recv(&e, e.uc, UC_OFF, UC_LEN);
	post_recv(&e, e.uc, UC_OFF, UC_LEN); /* for the WRITE's immediate */
	post_recv(&e, e.ud, UD_OFF, GRH + 4000);
	post_recv(&e, e.path.qp, RC_RX, 64);
	say(out, 'r');
	recv_done(&e, e.rc.qp, RC_RX, SEND_LEN);
	SVT_CHECK(same(e.buf + RC_RX, SEND_LEN, 1));
	recv_done(&e, e.uc, UC_OFF, UC_LEN);
	SVT_CHECK(same(e.buf + UC_OFF, UC_LEN, 2));
	wc = recv_done(&e, e.uc, UC_OFF, SIZE_MAX); /* WRITE with imm */
	SVT_CHECK(wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM &&
		  (wc.wc_flags & IBV_WC_WITH_IMM) && wc.imm_data == htonl(77));
	child_ud(&e, &p);
	fill(e.buf + RC_TX, SEND_LEN, 3);
	SVT_CHECK(send_to(&e, e.rc.qp, RC_TX, SEND_LEN) == IBV_WC_SUCCESS);
	hear(in, 'w');
	SVT_CHECK(same(e.buf + RDMA_OFF, RDMA_LEN, 4));
	SVT_CHECK(same(e.buf + UCW_OFF, 3000, 8));
	memcpy(&atom, e.buf + ATOM_OFF, 8);
	SVT_CHECK(atom == 1000 + 5 + 1); /* FETCH_ADD 5, then CMP_SWP */
	hear(in, 'd');
	/* The refused request never reached e.path's receive queue. */
	SVT_CHECK(ibv_poll_cq(e.rc.cq, 1, &wc) == 0);
	exit(SVT_PASS);
}

/* RC: WRITE 3 MiB, READ it back elsewhere, two atomics. */
static void parent_rdma(struct ep *e, const struct info *p)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_RDMA_WRITE };
	uint64_t old;

	fill(e->buf + RDMA_OFF, RDMA_LEN, 4);
	wr.wr.rdma.remote_addr = p->addr + RDMA_OFF;
	wr.wr.rdma.rkey = p->rkey;
	SVT_CHECK(post(e, e->rc.qp, &wr, RDMA_OFF, RDMA_LEN) ==
		  IBV_WC_SUCCESS);
	memset(e->buf + RDMA_OFF, 0, RDMA_LEN);
	wr.opcode = IBV_WR_RDMA_READ;
	SVT_CHECK(post(e, e->rc.qp, &wr, RDMA_OFF, RDMA_LEN) ==
		  IBV_WC_SUCCESS);
	SVT_CHECK(same(e->buf + RDMA_OFF, RDMA_LEN, 4));
	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD;
	wr.wr.atomic.remote_addr = p->addr + ATOM_OFF;
	wr.wr.atomic.rkey = p->rkey;
	wr.wr.atomic.compare_add = 5;
	SVT_CHECK(post(e, e->rc.qp, &wr, ATOM_OFF, 8) == IBV_WC_SUCCESS);
	memcpy(&old, e->buf + ATOM_OFF, 8);
	SVT_CHECK(old == 0);
	wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
	wr.wr.atomic.compare_add = 5;
	wr.wr.atomic.swap = 1000 + 5 + 1;
	SVT_CHECK(post(e, e->rc.qp, &wr, ATOM_OFF, 8) == IBV_WC_SUCCESS);
	memcpy(&old, e->buf + ATOM_OFF, 8);
	SVT_CHECK(old == 5);
}

/* UC: a SEND, then a WRITE with immediate (it takes a receive). */
static void parent_uc(struct ep *e, const struct info *p)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_RDMA_WRITE_WITH_IMM };

	fill(e->buf + UC_OFF, UC_LEN, 2);
	SVT_CHECK(send_to(e, e->uc, UC_OFF, UC_LEN) == IBV_WC_SUCCESS);
	fill(e->buf + UC_OFF, 3000, 8);
	wr.imm_data = htonl(77);
	wr.wr.rdma.remote_addr = p->addr + UCW_OFF;
	wr.wr.rdma.rkey = p->rkey;
	SVT_CHECK(post(e, e->uc, &wr, UC_OFF, 3000) == IBV_WC_SUCCESS);
}

/* To a LID nobody holds, and from the wrong path: lost, then errors. */
static void parent_nowhere(struct ep *e, const struct info *p)
{
	unsigned long noroute = svt_dev_counter("ib0", "lid_noroute");
	unsigned long refused = svt_dev_counter("ib1", "refused");
	unsigned long rcvd = svt_dev_counter("ib1", "lid_rcvd");

	ud_send(e, NOWHERE_LID, p->ud, UD_OFF, 100);
	SVT_CHECK(svt_dev_counter("ib0", "lid_noroute") == noroute + 1);
	svt_ep_connect_path(&e->lost, p->rc, IBV_MTU_4096, 8, 2, NOWHERE_LID);
	SVT_CHECK(send_to(e, e->lost.qp, RC_TX, 64) ==
		  IBV_WC_RETRY_EXC_ERR);
	/* The first try and two retries, all to nowhere. */
	SVT_CHECK(svt_dev_counter("ib0", "lid_noroute") == noroute + 4);
	/* None of it reached ib1. */
	SVT_CHECK(svt_dev_counter("ib1", "lid_rcvd") == rcvd);
	svt_ep_connect_path(&e->path, p->path, IBV_MTU_4096, 8, 2, p->lid);
	SVT_CHECK(send_to(e, e->path.qp, RC_TX, 64) ==
		  IBV_WC_RETRY_EXC_ERR);
	SVT_CHECK(svt_dev_counter("ib1", "refused") == refused + 3);
}

/* ib0: sends, reads, and checks what comes back. */
static void parent(int out, int in)
{
	struct info p;
	struct ep e = { 0 };
	struct ibv_wc wc;

	ep_open(&e, "ib0");
	xfer(out, in, &e, &p);
	svt_ep_connect_path(&e.rc, p.rc, IBV_MTU_4096, 14, 7, p.lid);
	uc_up(e.uc, p.uc, p.lid);
	ud_up(e.ud);
	post_recv(&e, e.rc.qp, RC_RX, SEND_LEN);
	post_recv(&e, e.ud, UD_OFF, GRH + 1000);
	hear(in, 'r');
	fill(e.buf + RC_TX, SEND_LEN, 1);
	SVT_CHECK(send_to(&e, e.rc.qp, RC_TX, SEND_LEN) == IBV_WC_SUCCESS);
	parent_uc(&e, &p);
	fill(e.buf + UD_OFF + 8192, 4000, 5);
	ud_send(&e, p.lid, p.ud, UD_OFF + 8192, 4000);
	wc = recv_done(&e, e.ud, UD_OFF, GRH + 1000);
	SVT_CHECK(wc.slid == p.lid && wc.src_qp == p.ud &&
		  !(wc.wc_flags & IBV_WC_GRH));
	SVT_CHECK(same(e.buf + UD_OFF + GRH, 1000, 6));
	recv_done(&e, e.rc.qp, RC_RX, SEND_LEN);
	SVT_CHECK(same(e.buf + RC_RX, SEND_LEN, 3));
	parent_rdma(&e, &p);
	say(out, 'w');
	parent_nowhere(&e, &p);
	say(out, 'd');
}

int main(void)
{
	char reply[256];
	int out, in;
	pid_t pid;

	svt_daemon_start(&d);
	SVT_CHECK(svt_ctl(&d, "dev add ib0 type ib", reply, sizeof(reply)));
	SVT_CHECK(svt_ctl(&d, "dev add ib1 type ib", reply, sizeof(reply)));
	pid = svt_fork_pipes(&out, &in);
	if (pid == 0)
		child(out, in);
	parent(out, in);
	svt_wait_pass(pid);
	printf("PASS: ib0 -> ib1 by LID: RC, UC, UD; nowhere and wrong path "
	       "refused\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
