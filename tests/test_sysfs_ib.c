// SPDX-License-Identifier: MIT
/*
 * A "type ib" device: an InfiniBand port with a LID unique among the
 * daemon's devices, the daemon's SM LID, one GID (default subnet prefix +
 * port GUID); addresses without a GRH; RC and UD traffic between two
 * processes that exchange only LIDs and QP numbers; and a packet for a LID
 * the port does not own is not delivered.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_ctl.h"
#include "svt_fork.h"

#define SM_LID 1 /* daemon/core/svd.h SVD_SM_LID */
#define QKEY 0x11111111
#define BUF 4096
#define GRH 40

int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
		       unsigned int index, int *type);

/* One request on the daemon's control socket; true if it answered OK. */
static bool ctl(const struct svt_daemon *d, const char *req)
{
	char reply[512];

	return svt_ctl(d, req, reply, sizeof(reply));
}

struct ep {
	struct svt_ep s; /* ctx, pd, cq and the RC QP, connected by LID */
	struct ibv_qp *ud;
	struct ibv_mr *mr;
	char *buf; /* [0, BUF): RC/RDMA, [BUF, 2 BUF + GRH): UD receive */
	uint16_t lid;
};

/* What one side tells the other: no GID, as in LID-only programs. */
struct peer {
	uint16_t lid;
	uint32_t rc_qpn, ud_qpn, rkey;
	uint64_t addr;
};

static void check_port(struct ibv_context *ctx, uint16_t *lid)
{
	struct ibv_port_attr pa;
	union ibv_gid gid;
	uint64_t guid = ibv_get_device_guid(ctx->device);
	int type = -1;

	SVT_CHECK(!ibv_query_port(ctx, 1, &pa));
	SVT_CHECK(pa.link_layer == IBV_LINK_LAYER_INFINIBAND);
	SVT_CHECK(pa.state == IBV_PORT_ACTIVE);
	SVT_CHECK(pa.lid > SM_LID && pa.lid < 0xc000);
	SVT_CHECK(pa.sm_lid == SM_LID);
	SVT_CHECK(pa.lmc == 0);
	/* GID 0: fe80::/64 (the default subnet prefix) + the port GUID. */
	SVT_CHECK(!ibv_query_gid(ctx, 1, 0, &gid));
	SVT_CHECK(gid.global.subnet_prefix == htobe64(0xfe80000000000000ULL));
	SVT_CHECK(gid.global.interface_id == guid);
	SVT_CHECK(!ibv_query_gid_type(ctx, 1, 0, &type) && type == 0);
	/* The only one: no IP-based GIDs on an IB port. */
	SVT_CHECK(!ibv_query_gid(ctx, 1, 1, &gid));
	SVT_CHECK(!gid.global.subnet_prefix && !gid.global.interface_id);
	*lid = pa.lid;
}

static void ep_open(struct ep *e, const char *dev)
{
	struct ibv_qp_init_attr a = {
		.qp_type = IBV_QPT_UD,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};

	e->s.ctx = svt_open_dev(dev);
	check_port(e->s.ctx, &e->lid);
	e->s.pd = ibv_alloc_pd(e->s.ctx);
	SVT_CHECK(e->s.pd);
	svt_ep_make(&e->s); /* on an IB port: no GID, LID addressing */
	SVT_CHECK(e->s.gid_index == -1 && e->s.lid == e->lid);
	e->buf = calloc(1, 2 * BUF + GRH);
	SVT_CHECK(e->buf);
	e->mr = ibv_reg_mr(e->s.pd, e->buf, 2 * BUF + GRH,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ);
	SVT_CHECK(e->mr);
	a.send_cq = a.recv_cq = e->s.cq;
	e->ud = ibv_create_qp(e->s.pd, &a);
	SVT_CHECK(e->ud);
}

static void ud_up(struct ep *e)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = QKEY };

	SVT_CHECK(!ibv_modify_qp(e->ud, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
						    IBV_QP_PORT | IBV_QP_QKEY));
	a.qp_state = IBV_QPS_RTR;
	SVT_CHECK(!ibv_modify_qp(e->ud, &a, IBV_QP_STATE));
	a.qp_state = IBV_QPS_RTS;
	SVT_CHECK(!ibv_modify_qp(e->ud, &a, IBV_QP_STATE | IBV_QP_SQ_PSN));
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

static void post_send(struct ep *e, struct ibv_send_wr *wr, const char *msg)
{
	struct ibv_sge s = { (uintptr_t)e->buf, (uint32_t)strlen(msg) + 1,
			     e->mr->lkey };
	struct ibv_send_wr *bad;
	struct ibv_wc wc;

	strcpy(e->buf, msg);
	wr->sg_list = &s;
	wr->num_sge = 1;
	wr->send_flags = IBV_SEND_SIGNALED;
	SVT_CHECK(!ibv_post_send(wr->opcode == IBV_WR_SEND && wr->wr.ud.ah ?
					 e->ud :
					 e->s.qp,
				 wr, &bad));
	wc = svt_poll1(e->s.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
}

static void ud_send(struct ep *e, const struct peer *p, uint16_t dlid,
		    const char *msg)
{
	struct ibv_ah_attr aa = { .dlid = dlid, .port_num = 1 };
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND };

	wr.wr.ud.ah = ibv_create_ah(e->s.pd, &aa); /* no GRH: is_global 0 */
	SVT_CHECK(wr.wr.ud.ah);
	wr.wr.ud.remote_qpn = p->ud_qpn;
	wr.wr.ud.remote_qkey = QKEY;
	post_send(e, &wr, msg);
	SVT_CHECK(!ibv_destroy_ah(wr.wr.ud.ah));
}

static void xfer(int fd_out, int fd_in, const struct peer *mine,
		 struct peer *theirs)
{
	SVT_CHECK(write(fd_out, mine, sizeof(*mine)) == sizeof(*mine));
	SVT_CHECK(read(fd_in, theirs, sizeof(*theirs)) == sizeof(*theirs));
}

static void fill_peer(const struct ep *e, struct peer *p)
{
	p->lid = e->lid;
	p->rc_qpn = e->s.qp->qp_num;
	p->ud_qpn = e->ud->qp_num;
	p->rkey = e->mr->rkey;
	p->addr = (uintptr_t)e->buf;
}

/* A reply address from a completion without GRH: the sender's LID only. */
static void check_reply_ah(struct ep *e, struct ibv_wc *wc, uint16_t lid)
{
	struct ibv_ah_attr aa;
	struct ibv_ah *ah;

	SVT_CHECK(!ibv_init_ah_from_wc(e->s.ctx, 1, wc,
				       (struct ibv_grh *)(e->buf + BUF), &aa));
	SVT_CHECK(aa.dlid == lid && !aa.is_global);
	ah = ibv_create_ah_from_wc(e->s.pd, wc, (struct ibv_grh *)(e->buf + BUF),
				   1);
	SVT_CHECK(ah && !ibv_destroy_ah(ah));
}

/* The receiver: checks what arrives, including what must not. */
static void child(int out, int in)
{
	struct peer me, p;
	struct ep e = { 0 };
	struct ibv_wc wc;
	char go;

	ep_open(&e, "ib0");
	ud_up(&e);
	post_recv(&e, e.ud, BUF, BUF + GRH);
	fill_peer(&e, &me);
	xfer(out, in, &me, &p);
	svt_ep_connect(&e.s, p.rc_qpn);
	post_recv(&e, e.s.qp, 0, BUF);
	SVT_CHECK(write(out, "r", 1) == 1);
	/* RC SEND by LID. */
	wc = svt_poll1(e.s.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_RECV);
	SVT_CHECK(wc.qp_num == e.s.qp->qp_num && !strcmp(e.buf, "rc by lid"));
	/* UD: one datagram, after 40 GRH bytes, with no GRH flag. */
	wc = svt_poll1(e.s.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.qp_num == e.ud->qp_num);
	SVT_CHECK(!(wc.wc_flags & IBV_WC_GRH));
	SVT_CHECK(wc.slid == p.lid && wc.src_qp == p.ud_qpn);
	SVT_CHECK(wc.byte_len == GRH + strlen("ud by lid") + 1);
	SVT_CHECK(!strcmp(e.buf + BUF + GRH, "ud by lid"));
	check_reply_ah(&e, &wc, p.lid);
	/* RDMA WRITE landed before the parent said so. */
	SVT_CHECK(read(in, &go, 1) == 1);
	SVT_CHECK(!strcmp(e.buf + 100, "written by lid"));
	/* The datagrams for other LIDs never arrived. */
	usleep(100000);
	SVT_CHECK(ibv_poll_cq(e.s.cq, 1, &wc) == 0);
	exit(SVT_PASS);
}

static void parent(int out, int in, uint16_t other_lid)
{
	struct ibv_send_wr wr = { .opcode = IBV_WR_SEND };
	struct peer me, p;
	struct ep e = { 0 };
	char ready;

	ep_open(&e, "ib0");
	ud_up(&e);
	fill_peer(&e, &me);
	xfer(out, in, &me, &p);
	SVT_CHECK(p.lid == e.lid); /* same device, same LID */
	svt_ep_connect(&e.s, p.rc_qpn);
	SVT_CHECK(read(in, &ready, 1) == 1);
	post_send(&e, &wr, "rc by lid");
	/* To another device's LID and to nobody's: dropped, not delivered. */
	ud_send(&e, &p, other_lid, "wrong lid");
	ud_send(&e, &p, 0x123, "nobody's lid");
	ud_send(&e, &p, p.lid, "ud by lid");
	memset(&wr, 0, sizeof(wr));
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.wr.rdma.remote_addr = p.addr + 100;
	wr.wr.rdma.rkey = p.rkey;
	post_send(&e, &wr, "written by lid");
	SVT_CHECK(write(out, "w", 1) == 1);
}

/* An AH without a GRH: valid on the IB port, EINVAL on a RoCE port. */
static void check_ah(uint16_t lid)
{
	struct ibv_ah_attr aa = { .dlid = lid, .port_num = 1 };
	struct ibv_context *ib = svt_open_dev("ib0");
	struct ibv_context *roce = svt_open_dev("softverbs0");
	struct ibv_pd *pd_ib = ibv_alloc_pd(ib), *pd_roce = ibv_alloc_pd(roce);
	struct ibv_ah *ah;

	SVT_CHECK(pd_ib && pd_roce);
	ah = ibv_create_ah(pd_ib, &aa);
	SVT_CHECK(ah && !ibv_destroy_ah(ah));
	SVT_CHECK(!ibv_create_ah(pd_roce, &aa));
	ibv_dealloc_pd(pd_ib);
	ibv_dealloc_pd(pd_roce);
	ibv_close_device(ib);
	ibv_close_device(roce);
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_context *c0, *c1;
	uint16_t lid0, lid1;
	int out, in;
	pid_t pid;

	svt_daemon_start(&d);
	SVT_CHECK(ctl(&d, "dev add ib0 type ib"));
	SVT_CHECK(ctl(&d, "dev add ib1 type ib"));
	SVT_CHECK(!ctl(&d, "dev add ib2 type ib netdev lo"));
	c0 = svt_open_dev("ib0");
	c1 = svt_open_dev("ib1");
	check_port(c0, &lid0);
	check_port(c1, &lid1);
	SVT_CHECK(lid0 != lid1); /* unique across the daemon's devices */
	ibv_close_device(c0);
	ibv_close_device(c1);
	check_ah(lid0);

	pid = svt_fork_pipes(&out, &in);
	if (pid == 0)
		child(out, in);
	parent(out, in, lid1);
	svt_wait_pass(pid);
	svt_daemon_stop(&d);
	printf("PASS: ib0 lid %u, ib1 lid %u, sm_lid %u\n", lid0, lid1,
	       SM_LID);
	return SVT_PASS;
}
