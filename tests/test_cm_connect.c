// SPDX-License-Identifier: MIT
/*
 * rdma_cm over RC in one process, both sides on their own channels:
 *  - connect / accept, private data both ways (REQ and REP), the QPs really
 *    carry a message afterwards;
 *  - disconnect from one side: both get DISCONNECTED, then TIMEWAIT_EXIT;
 *  - reject with private data: REJECTED, reason 28 (consumer), the data;
 *  - nobody listening: REJECTED with reason 8 (invalid service ID);
 *  - too much private data is EINVAL; a second listener on a port is
 *    EADDRINUSE; IPv6 ::1 connects too;
 *  - rdma_migrate_id takes an id's unread event along to the new channel.
 */
#include <fcntl.h>
#include <string.h>

#include "cm_test.h"

static struct rdma_event_channel *sch, *cch;

static struct rdma_cm_id *accept_one(struct rdma_cm_id *listen,
				     const char *expect_req, const char *rep)
{
	struct rdma_conn_param p = { .private_data = rep,
				     .private_data_len = strlen(rep) + 1,
				     .responder_resources = 1,
				     .initiator_depth = 1 };
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;

	ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
	SVT_CHECK(ev->listen_id == listen && ev->id != listen);
	SVT_CHECK(ev->param.conn.private_data_len >= strlen(expect_req) + 1);
	SVT_CHECK(!strcmp(ev->param.conn.private_data, expect_req));
	id = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(id->verbs == listen->verbs); /* the one shared context */
	cmt_qp(id, IBV_QPT_RC);
	SVT_CHECK(rdma_accept(id, &p) == 0);
	return id;
}

static struct rdma_cm_id *connect_one(uint16_t port, const char *req)
{
	struct rdma_conn_param p = { .private_data = req,
				     .private_data_len = strlen(req) + 1,
				     .responder_resources = 1,
				     .initiator_depth = 1,
				     .retry_count = 7,
				     .rnr_retry_count = 7 };
	struct rdma_cm_id *id = cmt_resolve(cch, RDMA_PS_TCP, port, NULL);

	cmt_qp(id, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(id, &p) == 0);
	return id;
}

static void check_established(struct rdma_cm_id *cid, const char *rep)
{
	struct rdma_cm_event *ev = cmt_expect(cch, RDMA_CM_EVENT_ESTABLISHED);

	SVT_CHECK(ev->id == cid);
	SVT_CHECK(!strcmp(ev->param.conn.private_data, rep));
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	cmt_expect_ack(sch, RDMA_CM_EVENT_ESTABLISHED);
}

/* The connected QPs work: a send from the client lands at the server. */
static void check_traffic(struct rdma_cm_id *cid, struct rdma_cm_id *sid)
{
	char sbuf[32] = "over rdma_cm", rbuf[32] = "";
	struct ibv_mr *smr = ibv_reg_mr(cid->pd, sbuf, sizeof(sbuf), 0);
	struct ibv_mr *rmr = ibv_reg_mr(sid->pd, rbuf, sizeof(rbuf),
					IBV_ACCESS_LOCAL_WRITE);
	struct ibv_sge ss = { (uintptr_t)sbuf, sizeof(sbuf), 0 };
	struct ibv_sge rs = { (uintptr_t)rbuf, sizeof(rbuf), 0 };
	struct ibv_recv_wr rwr = { .sg_list = &rs, .num_sge = 1 }, *brw;
	struct ibv_send_wr swr = { .sg_list = &ss, .num_sge = 1,
				   .opcode = IBV_WR_SEND }, *bsw;

	SVT_CHECK(smr && rmr);
	ss.lkey = smr->lkey;
	rs.lkey = rmr->lkey;
	SVT_CHECK(ibv_post_recv(sid->qp, &rwr, &brw) == 0);
	SVT_CHECK(ibv_post_send(cid->qp, &swr, &bsw) == 0);
	cmt_poll(cid->send_cq);
	cmt_poll(sid->recv_cq);
	SVT_CHECK(!strcmp(rbuf, "over rdma_cm"));
	ibv_dereg_mr(smr);
	ibv_dereg_mr(rmr);
}

static void test_connect_disconnect(struct rdma_cm_id *listen, uint16_t port)
{
	struct rdma_cm_id *cid, *sid;

	cid = connect_one(port, "hello from REQ");
	sid = accept_one(listen, "hello from REQ", "welcome in REP");
	check_established(cid, "welcome in REP");
	check_traffic(cid, sid);
	/*
	 * The client's DREQ tells the server; the server's own disconnect
	 * answers with the DREP that tells the client. Both leave timewait.
	 */
	SVT_CHECK(rdma_disconnect(cid) == 0);
	cmt_expect_ack(sch, RDMA_CM_EVENT_DISCONNECTED);
	SVT_CHECK(rdma_disconnect(sid) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_DISCONNECTED);
	cmt_expect_ack(cch, RDMA_CM_EVENT_TIMEWAIT_EXIT);
	cmt_expect_ack(sch, RDMA_CM_EVENT_TIMEWAIT_EXIT);
	rdma_destroy_qp(cid);
	rdma_destroy_qp(sid);
	SVT_CHECK(rdma_destroy_id(cid) == 0 && rdma_destroy_id(sid) == 0);
}

static void test_migrate(struct rdma_cm_id *listen, uint16_t port)
{
	struct rdma_event_channel *nch = rdma_create_event_channel();
	struct pollfd pfd = { .fd = sch->fd, .events = POLLIN };
	struct rdma_cm_id *cid, *sid;

	SVT_CHECK(nch);
	cid = connect_one(port, "hello from REQ");
	sid = accept_one(listen, "hello from REQ", "migrating");
	check_established(cid, "migrating");
	SVT_CHECK(rdma_disconnect(cid) == 0);
	/* The server's DISCONNECTED is queued: it moves with the id. */
	usleep(100 * 1000);
	SVT_CHECK(rdma_migrate_id(sid, nch) == 0 && sid->channel == nch);
	cmt_expect_ack(nch, RDMA_CM_EVENT_DISCONNECTED);
	SVT_CHECK(rdma_disconnect(sid) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_DISCONNECTED);
	cmt_expect_ack(nch, RDMA_CM_EVENT_TIMEWAIT_EXIT);
	cmt_expect_ack(cch, RDMA_CM_EVENT_TIMEWAIT_EXIT);
	/* Nothing of it was left behind on the old channel. */
	SVT_CHECK(fcntl(sch->fd, F_SETFL, O_NONBLOCK) == 0);
	while (poll(&pfd, 1, 0) == 1) {
		struct rdma_cm_event *ev;

		SVT_CHECK(rdma_get_cm_event(sch, &ev) == -1 && errno == EAGAIN);
	}
	SVT_CHECK(fcntl(sch->fd, F_SETFL, 0) == 0);
	rdma_destroy_qp(cid);
	rdma_destroy_qp(sid);
	SVT_CHECK(rdma_destroy_id(cid) == 0 && rdma_destroy_id(sid) == 0);
	rdma_destroy_event_channel(nch);
}

static void test_reject(struct rdma_cm_id *listen, uint16_t port)
{
	static const char why[] = "not today";
	struct rdma_cm_event *ev;
	struct rdma_cm_id *cid, *sid;

	cid = connect_one(port, "may I?");
	ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
	sid = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_reject(sid, why, sizeof(why)) == 0);
	ev = cmt_expect(cch, RDMA_CM_EVENT_REJECTED);
	SVT_CHECK(ev->status == 28); /* IBTA: consumer defined */
	SVT_CHECK(ev->param.conn.private_data_len >= sizeof(why));
	SVT_CHECK(!memcmp(ev->param.conn.private_data, why, sizeof(why)));
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	rdma_destroy_qp(cid);
	SVT_CHECK(rdma_destroy_id(cid) == 0 && rdma_destroy_id(sid) == 0);
}

static void test_nobody_listens(uint16_t port)
{
	struct rdma_cm_event *ev;
	struct rdma_cm_id *cid = connect_one(port, "anyone?");

	ev = cmt_expect(cch, RDMA_CM_EVENT_REJECTED);
	SVT_CHECK(ev->status == 8); /* IBTA: invalid service ID */
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	rdma_destroy_qp(cid);
	SVT_CHECK(rdma_destroy_id(cid) == 0);
}

static void test_limits(struct rdma_cm_id *listen, uint16_t port)
{
	struct sockaddr_in sin = cmt_addr(port);
	char big[57] = "";
	struct rdma_conn_param p = { .private_data = big,
				     .private_data_len = sizeof(big) };
	struct rdma_cm_id *other, *cid;

	/* The port is the listener's. */
	SVT_CHECK(rdma_create_id(sch, &other, NULL, RDMA_PS_TCP) == 0);
	SVT_CHECK(rdma_bind_addr(other, (struct sockaddr *)&sin) == -1 &&
		  errno == EADDRINUSE);
	SVT_CHECK(rdma_destroy_id(other) == 0);
	/* REQ private data: 92 bytes less rdma_cm's 36-byte header. */
	cid = cmt_resolve(cch, RDMA_PS_TCP, port, NULL);
	SVT_CHECK(rdma_connect(cid, &p) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_destroy_id(cid) == 0);
}

static void test_ipv6(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct rdma_cm_id *listen, *cid, *sid;
	struct rdma_conn_param p = { .responder_resources = 1,
				     .initiator_depth = 1 };

	SVT_CHECK(rdma_create_id(sch, &listen, NULL, RDMA_PS_TCP) == 0);
	SVT_CHECK(rdma_bind_addr(listen, (struct sockaddr *)&sin6) == 0);
	SVT_CHECK(rdma_listen(listen, 4) == 0);
	sin6.sin6_port = rdma_get_src_port(listen);
	SVT_CHECK(rdma_create_id(cch, &cid, NULL, RDMA_PS_TCP) == 0);
	SVT_CHECK(rdma_resolve_addr(cid, NULL, (struct sockaddr *)&sin6,
				    2000) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ADDR_RESOLVED);
	SVT_CHECK(rdma_resolve_route(cid, 2000) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	SVT_CHECK(rdma_get_peer_addr(cid)->sa_family == AF_INET6);
	cmt_qp(cid, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(cid, &p) == 0);
	sid = accept_one(listen, "", "v6");
	check_established(cid, "v6");
	check_traffic(cid, sid);
	rdma_destroy_qp(cid);
	rdma_destroy_qp(sid);
	SVT_CHECK(rdma_destroy_id(cid) == 0 && rdma_destroy_id(sid) == 0);
	SVT_CHECK(rdma_destroy_id(listen) == 0);
}

int main(void)
{
	struct svt_daemon d;
	struct rdma_cm_id *listen;
	uint16_t port;

	svt_daemon_start(&d);
	sch = rdma_create_event_channel();
	cch = rdma_create_event_channel();
	SVT_CHECK(sch && cch);
	port = cmt_listen(sch, &listen, RDMA_PS_TCP, 8);
	test_connect_disconnect(listen, port);
	test_migrate(listen, port);
	test_reject(listen, port);
	test_limits(listen, port);
	test_ipv6();
	SVT_CHECK(rdma_destroy_id(listen) == 0);
	test_nobody_listens(port);
	rdma_destroy_event_channel(sch);
	rdma_destroy_event_channel(cch);
	svt_daemon_stop(&d);
	printf("PASS\n");
	return SVT_PASS;
}
