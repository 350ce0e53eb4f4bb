// SPDX-License-Identifier: MIT
/*
 * AF_IB addressing (struct sockaddr_ib: a GID and a service ID):
 * - rdma_getaddrinfo with AF_IB hints (RAI_FAMILY | RAI_NUMERICHOST) turns
 *   a GID string and a port into a sockaddr_ib with the service ID
 *   RDMA_PS_IB << 16 | port, as rdma-core's does;
 * - a listener bound with it (port 0: an ephemeral one) gets the REQ of an
 *   id that resolved an AF_IB destination with no source: the REQ has no
 *   IP header, so all 92 bytes of private data are the application's;
 *   both ids' addresses are AF_IB with the GIDs and service ID; the
 *   connection carries a message and disconnects;
 * - 93 bytes are EINVAL; a service ID nobody listens on is REJECTED
 *   (reason 8); a GID no device holds is EADDRNOTAVAIL; a service ID of
 *   another port space is EINVAL.
 */
#include <infiniband/ib.h>
#include <rdma/rdma_verbs.h>
#include <string.h>

#include "cm_test.h"

#define PDATA 92

static struct rdma_event_channel *sch, *cch;
static union ibv_gid gid; /* index 0 of the first device */

static struct sockaddr_ib sib_of(uint16_t port)
{
	struct sockaddr_ib s = { .sib_family = AF_IB };

	s.sib_pkey = htobe16(0xffff);
	memcpy(&s.sib_addr, gid.raw, 16);
	s.sib_sid = htobe64(((uint64_t)RDMA_PS_IB << 16) | port);
	s.sib_sid_mask = htobe64(RDMA_IB_IP_PS_MASK | RDMA_IB_IP_PORT_MASK);
	return s;
}

static void first_gid(void)
{
	struct ibv_context **devs;
	int n;

	devs = rdma_get_devices(&n);
	SVT_CHECK(devs && n > 0);
	SVT_CHECK(ibv_query_gid(devs[0], 1, 0, &gid) == 0);
	rdma_free_devices(devs);
}

static void getaddrinfo_ib(void)
{
	struct rdma_addrinfo hints = { .ai_flags = RAI_FAMILY |
						   RAI_NUMERICHOST |
						   RAI_PASSIVE,
				       .ai_family = AF_IB,
				       .ai_port_space = RDMA_PS_IB },
			     *res;
	struct sockaddr_ib *s, want = sib_of(7471);
	char str[INET6_ADDRSTRLEN];

	SVT_CHECK(inet_ntop(AF_INET6, gid.raw, str, sizeof(str)));
	SVT_CHECK(rdma_getaddrinfo(str, "7471", &hints, &res) == 0);
	SVT_CHECK(res->ai_family == AF_IB && res->ai_port_space == RDMA_PS_IB);
	SVT_CHECK(res->ai_src_len == sizeof(*s));
	s = (struct sockaddr_ib *)res->ai_src_addr;
	SVT_CHECK(s->sib_family == AF_IB && !memcmp(&s->sib_addr, gid.raw, 16));
	SVT_CHECK(s->sib_sid == want.sib_sid && s->sib_pkey == want.sib_pkey);
	SVT_CHECK(s->sib_sid_mask == want.sib_sid_mask);
	rdma_freeaddrinfo(res);
}

static uint16_t listen_ib(struct rdma_cm_id **l)
{
	struct sockaddr_ib s = sib_of(0), *got;

	SVT_CHECK(rdma_create_id(sch, l, NULL, RDMA_PS_IB) == 0);
	SVT_CHECK(rdma_bind_addr(*l, (struct sockaddr *)&s) == 0);
	SVT_CHECK(rdma_listen(*l, 4) == 0);
	got = (struct sockaddr_ib *)rdma_get_local_addr(*l);
	SVT_CHECK(got->sib_family == AF_IB && (*l)->verbs);
	SVT_CHECK(rdma_get_src_port(*l) != 0);
	return ntohs(rdma_get_src_port(*l));
}

static struct rdma_cm_id *resolve_ib(uint16_t port)
{
	struct sockaddr_ib dst = sib_of(port);
	struct rdma_cm_id *id;

	SVT_CHECK(rdma_create_id(cch, &id, NULL, RDMA_PS_IB) == 0);
	SVT_CHECK(rdma_resolve_addr(id, NULL, (struct sockaddr *)&dst,
				    2000) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ADDR_RESOLVED);
	SVT_CHECK(rdma_get_local_addr(id)->sa_family == AF_IB);
	SVT_CHECK(rdma_get_peer_addr(id)->sa_family == AF_IB);
	SVT_CHECK(rdma_get_dst_port(id) == htons(port));
	SVT_CHECK(rdma_resolve_route(id, 2000) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	return id;
}

static struct rdma_cm_id *take_request(struct rdma_cm_id *l,
				       const uint8_t *pdata)
{
	struct rdma_cm_event *ev = cmt_expect(sch,
					      RDMA_CM_EVENT_CONNECT_REQUEST);
	struct sockaddr_ib *self, *peer;
	struct rdma_cm_id *id = ev->id;

	SVT_CHECK(ev->listen_id == l);
	SVT_CHECK(ev->param.conn.private_data_len >= PDATA);
	SVT_CHECK(!memcmp(ev->param.conn.private_data, pdata, PDATA));
	self = (struct sockaddr_ib *)rdma_get_local_addr(id);
	peer = (struct sockaddr_ib *)rdma_get_peer_addr(id);
	SVT_CHECK(self->sib_family == AF_IB && peer->sib_family == AF_IB);
	SVT_CHECK(!memcmp(&self->sib_addr, gid.raw, 16));
	SVT_CHECK(!memcmp(&peer->sib_addr, gid.raw, 16));
	SVT_CHECK(rdma_get_src_port(id) == rdma_get_src_port(l));
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	return id;
}

static void send_one(struct rdma_cm_id *from, struct rdma_cm_id *to)
{
	static char buf[2][16];
	struct ibv_mr *smr = ibv_reg_mr(from->pd, buf[0], 16, 0);
	struct ibv_mr *rmr = ibv_reg_mr(to->pd, buf[1], 16,
					IBV_ACCESS_LOCAL_WRITE);
	struct ibv_wc wc;

	SVT_CHECK(smr && rmr);
	strcpy(buf[0], "over AF_IB");
	SVT_CHECK(rdma_post_recv(to, NULL, buf[1], 16, rmr) == 0);
	SVT_CHECK(rdma_post_send(from, NULL, buf[0], 16, smr, 0) == 0);
	cmt_poll(from->send_cq);
	wc = cmt_poll(to->recv_cq);
	SVT_CHECK(wc.byte_len == 16 && !strcmp(buf[1], "over AF_IB"));
	ibv_dereg_mr(smr);
	ibv_dereg_mr(rmr);
}

static void connect_ib(struct rdma_cm_id *l, uint16_t port)
{
	uint8_t pdata[PDATA + 1];
	struct rdma_conn_param p = { .private_data = pdata,
				     .private_data_len = PDATA + 1,
				     .retry_count = 7, .rnr_retry_count = 7 };
	struct rdma_cm_id *cid = resolve_ib(port), *sid;
	int i;

	for (i = 0; i < PDATA + 1; i++)
		pdata[i] = (uint8_t)(i * 5 + 1);
	cmt_qp(cid, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(cid, &p) == -1 && errno == EINVAL);
	p.private_data_len = PDATA;
	SVT_CHECK(rdma_connect(cid, &p) == 0);
	sid = take_request(l, pdata);
	cmt_qp(sid, IBV_QPT_RC);
	SVT_CHECK(rdma_accept(sid, NULL) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ESTABLISHED);
	cmt_expect_ack(sch, RDMA_CM_EVENT_ESTABLISHED);
	send_one(cid, sid);
	cmt_disconnect_both(sch, cch, cid, sid);
}

static void errors(uint16_t port)
{
	struct rdma_cm_id *id = resolve_ib((uint16_t)(port + 1));
	struct sockaddr_ib s = sib_of(0);
	struct rdma_cm_event *ev;

	cmt_qp(id, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(id, NULL) == 0);
	ev = cmt_expect(cch, RDMA_CM_EVENT_REJECTED);
	SVT_CHECK(ev->status == 8); /* invalid service ID */
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	rdma_destroy_qp(id);
	SVT_CHECK(rdma_destroy_id(id) == 0);
	SVT_CHECK(rdma_create_id(cch, &id, NULL, RDMA_PS_IB) == 0);
	s.sib_addr.sib_raw[0] ^= 0x20; /* a subnet no device is on */
	SVT_CHECK(rdma_bind_addr(id, (struct sockaddr *)&s) == -1 &&
		  errno == EADDRNOTAVAIL);
	s = sib_of(0);
	s.sib_sid = htobe64((uint64_t)RDMA_PS_TCP << 16);
	SVT_CHECK(rdma_bind_addr(id, (struct sockaddr *)&s) == -1 &&
		  errno == EINVAL);
	SVT_CHECK(rdma_destroy_id(id) == 0);
}

int main(void)
{
	struct rdma_cm_id *l;
	struct svt_daemon d;
	uint16_t port;

	svt_daemon_start(&d);
	cmt_channels(&sch, &cch);
	first_gid();
	getaddrinfo_ib();
	port = listen_ib(&l);
	connect_ib(l, port);
	errors(port);
	SVT_CHECK(rdma_destroy_id(l) == 0);
	rdma_destroy_event_channel(sch);
	rdma_destroy_event_channel(cch);
	svt_daemon_stop(&d);
	printf("PASS: AF_IB getaddrinfo, bind, listen, resolve, connect\n");
	return SVT_PASS;
}
