// SPDX-License-Identifier: MIT
/*
 * RDMA_PS_UDP: rdma_connect on a UD id is a SIDR_REQ, rdma_accept a
 * SIDR_REP. The server sees the client's private data; the client's
 * ESTABLISHED carries the server's QP number, the qkey (RDMA_UDP_QKEY) and
 * an address handle attribute that really reaches the server; the server
 * answers through an AH built from the received GRH. A SIDR_REQ to a port
 * nobody listens on gives UNREACHABLE (SIDR status 1), and a rejected one
 * UNREACHABLE (status 2) with the server's private data.
 */
#include <string.h>

#include "cm_test.h"

#define MSG 64

static struct rdma_event_channel *sch, *cch;

struct buf {
	char data[40 + MSG]; /* UD receives start with the 40-byte GRH */
	struct ibv_mr *mr;
};

static void buf_init(struct buf *b, struct rdma_cm_id *id)
{
	memset(b->data, 0, sizeof(b->data));
	b->mr = ibv_reg_mr(id->pd, b->data, sizeof(b->data),
			   IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(b->mr);
}

static void post_recv(struct rdma_cm_id *id, struct buf *b)
{
	struct ibv_sge s = { (uintptr_t)b->data, sizeof(b->data), b->mr->lkey };
	struct ibv_recv_wr wr = { .sg_list = &s, .num_sge = 1 }, *bad;

	SVT_CHECK(ibv_post_recv(id->qp, &wr, &bad) == 0);
}

static void send_to(struct rdma_cm_id *id, struct buf *b, struct ibv_ah *ah,
		    uint32_t qpn, uint32_t qkey)
{
	struct ibv_sge s = { (uintptr_t)b->data + 40, MSG, b->mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND }, *bad;

	wr.wr.ud.ah = ah;
	wr.wr.ud.remote_qpn = qpn;
	wr.wr.ud.remote_qkey = qkey;
	SVT_CHECK(ibv_post_send(id->qp, &wr, &bad) == 0);
	cmt_poll(id->send_cq);
}

/* Server: take the SIDR_REQ, check its data, accept with a QP. */
static struct rdma_cm_id *server_accept(const char *req, const char *rep)
{
	struct rdma_conn_param p = { .private_data = rep,
				     .private_data_len = strlen(rep) + 1 };
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;

	ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
	SVT_CHECK(!strcmp(ev->param.ud.private_data, req));
	id = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(id->qp_type == IBV_QPT_UD);
	cmt_qp(id, IBV_QPT_UD);
	SVT_CHECK(rdma_accept(id, &p) == 0);
	return id;
}

static struct rdma_cm_id *client_connect(uint16_t port, const char *req)
{
	struct rdma_conn_param p = { .private_data = req,
				     .private_data_len = strlen(req) + 1 };
	struct rdma_cm_id *id = cmt_resolve(cch, RDMA_PS_UDP, port, NULL);

	cmt_qp(id, IBV_QPT_UD);
	SVT_CHECK(rdma_connect(id, &p) == 0);
	return id;
}

static void ping_pong(struct rdma_cm_id *cid, struct rdma_cm_id *sid,
		      struct rdma_ud_param *ud)
{
	struct buf cb, sb;
	struct ibv_ah *cah, *sah;
	struct ibv_wc wc;

	buf_init(&cb, cid);
	buf_init(&sb, sid);
	cah = ibv_create_ah(cid->pd, &ud->ah_attr);
	SVT_CHECK(cah);
	post_recv(sid, &sb);
	post_recv(cid, &cb);
	strcpy(cb.data + 40, "datagram over SIDR");
	send_to(cid, &cb, cah, ud->qp_num, ud->qkey);
	wc = cmt_poll(sid->recv_cq);
	SVT_CHECK(wc.wc_flags & IBV_WC_GRH && wc.byte_len == 40 + MSG);
	SVT_CHECK(!strcmp(sb.data + 40, "datagram over SIDR"));
	/* The reply goes back by the GRH: RoCEv2's IPv4 header. */
	sah = ibv_create_ah_from_wc(sid->pd, &wc, (struct ibv_grh *)sb.data,
				    sid->port_num);
	SVT_CHECK(sah);
	strcpy(sb.data + 40, "and back");
	send_to(sid, &sb, sah, wc.src_qp, RDMA_UDP_QKEY);
	cmt_poll(cid->recv_cq);
	SVT_CHECK(!strcmp(cb.data + 40, "and back"));
	ibv_destroy_ah(cah);
	ibv_destroy_ah(sah);
	ibv_dereg_mr(cb.mr);
	ibv_dereg_mr(sb.mr);
}

static void test_sidr(uint16_t port)
{
	struct rdma_cm_id *cid, *sid;
	struct rdma_cm_event *ev;
	struct rdma_ud_param ud;

	cid = client_connect(port, "SIDR REQ data");
	sid = server_accept("SIDR REQ data", "SIDR REP data");
	ev = cmt_expect(cch, RDMA_CM_EVENT_ESTABLISHED);
	ud = ev->param.ud;
	SVT_CHECK(ud.qp_num == sid->qp->qp_num);
	SVT_CHECK(ud.qkey == RDMA_UDP_QKEY);
	SVT_CHECK(ud.ah_attr.is_global);
	SVT_CHECK(!strcmp(ud.private_data, "SIDR REP data"));
	ping_pong(cid, sid, &ud);
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	rdma_destroy_qp(cid);
	rdma_destroy_qp(sid);
	SVT_CHECK(rdma_destroy_id(cid) == 0 && rdma_destroy_id(sid) == 0);
}

static void test_unreachable(uint16_t port, int want_status)
{
	struct rdma_cm_event *ev;
	struct rdma_cm_id *cid = client_connect(port, "hello?"), *sid;

	if (want_status == 2) { /* a listener that says no */
		ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
		sid = ev->id;
		SVT_CHECK(rdma_ack_cm_event(ev) == 0);
		SVT_CHECK(rdma_reject(sid, "no", 3) == 0);
		SVT_CHECK(rdma_destroy_id(sid) == 0);
	}
	ev = cmt_expect(cch, RDMA_CM_EVENT_UNREACHABLE);
	SVT_CHECK(ev->status == want_status);
	if (want_status == 2)
		SVT_CHECK(!strcmp(ev->param.ud.private_data, "no"));
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	rdma_destroy_qp(cid);
	SVT_CHECK(rdma_destroy_id(cid) == 0);
}

int main(void)
{
	struct rdma_cm_id *listen;
	struct svt_daemon d;
	uint16_t port;

	svt_daemon_start(&d);
	sch = rdma_create_event_channel();
	cch = rdma_create_event_channel();
	SVT_CHECK(sch && cch);
	port = cmt_listen(sch, &listen, RDMA_PS_UDP, 4);
	test_sidr(port);
	test_unreachable(port, 2);
	SVT_CHECK(rdma_destroy_id(listen) == 0);
	test_unreachable(port, 1);
	rdma_destroy_event_channel(sch);
	rdma_destroy_event_channel(cch);
	svt_daemon_stop(&d);
	printf("PASS\n");
	return SVT_PASS;
}
