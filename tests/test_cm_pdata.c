// SPDX-License-Identifier: MIT
/*
 * Private data at the IBTA limits, each message carried intact at its
 * largest and refused (EINVAL) one byte beyond, over IPv4 rdma_cm (whose
 * 36-byte IP header takes the front of a REQ's and a SIDR_REQ's):
 *   REQ 56, REP 196, REJ 148, SIDR_REQ 180, SIDR_REP 136.
 */
#include <string.h>

#include "cm_test.h"

static struct rdma_event_channel *sch, *cch;
static uint8_t pat[256];

static void pattern(int seed)
{
	int i;

	for (i = 0; i < (int)sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + seed);
}

static struct rdma_conn_param param(int len)
{
	struct rdma_conn_param p = { .private_data = pat,
				     .private_data_len = (uint8_t)len,
				     .retry_count = 7, .rnr_retry_count = 7 };

	return p;
}

static void check_pdata(const void *got, int got_len, int len)
{
	SVT_CHECK(got_len >= len && !memcmp(got, pat, len));
}

/* A request with 56 bytes; the server takes it (the event's id). */
static struct rdma_cm_id *request(uint16_t port, enum rdma_port_space ps,
				  int len, struct rdma_cm_id **cid)
{
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;
	struct rdma_cm_id *sid;

	*cid = cmt_resolve(cch, ps, port, NULL);
	pattern(1);
	p = param(len + 1);
	SVT_CHECK(rdma_connect(*cid, &p) == -1 && errno == EINVAL);
	p = param(len);
	SVT_CHECK(rdma_connect(*cid, &p) == 0);
	ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
	if (ps == RDMA_PS_UDP)
		check_pdata(ev->param.ud.private_data,
			    ev->param.ud.private_data_len, len);
	else
		check_pdata(ev->param.conn.private_data,
			    ev->param.conn.private_data_len, len);
	sid = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	return sid;
}

static void rej_and_rep_limits(uint16_t port)
{
	struct rdma_cm_id *cid, *sid = request(port, RDMA_PS_TCP, 56, &cid);
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;

	pattern(2);
	p = param(197);
	SVT_CHECK(rdma_accept(sid, &p) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_reject(sid, pat, 149) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_reject(sid, pat, 148) == 0);
	ev = cmt_expect(cch, RDMA_CM_EVENT_REJECTED);
	check_pdata(ev->param.conn.private_data, ev->param.conn.private_data_len,
		    148);
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_destroy_id(sid) == 0 && rdma_destroy_id(cid) == 0);
}

static void rep_max(uint16_t port)
{
	struct rdma_cm_id *cid, *sid = request(port, RDMA_PS_TCP, 56, &cid);
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;

	cmt_qp(sid, IBV_QPT_RC);
	pattern(3);
	p = param(196);
	SVT_CHECK(rdma_accept(sid, &p) == 0);
	ev = cmt_expect(cch, RDMA_CM_EVENT_CONNECT_RESPONSE);
	check_pdata(ev->param.conn.private_data, ev->param.conn.private_data_len,
		    196);
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_destroy_id(cid) == 0); /* withdrawn: REJ to the server */
	rdma_destroy_qp(sid);
	SVT_CHECK(rdma_destroy_id(sid) == 0);
}

static void sidr_limits(uint16_t port)
{
	struct rdma_cm_id *cid, *sid = request(port, RDMA_PS_UDP, 180, &cid);
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;

	pattern(4);
	p = param(137);
	p.qp_num = 0x1234;
	SVT_CHECK(rdma_accept(sid, &p) == -1 && errno == EINVAL);
	p = param(136);
	p.qp_num = 0x1234;
	SVT_CHECK(rdma_accept(sid, &p) == 0);
	ev = cmt_expect(cch, RDMA_CM_EVENT_ESTABLISHED);
	SVT_CHECK(ev->param.ud.qp_num == 0x1234);
	check_pdata(ev->param.ud.private_data, ev->param.ud.private_data_len,
		    136);
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_destroy_id(sid) == 0 && rdma_destroy_id(cid) == 0);
}

int main(void)
{
	struct rdma_cm_id *rc, *ud;
	struct svt_daemon d;
	uint16_t rc_port, ud_port;

	svt_daemon_start(&d);
	cmt_channels(&sch, &cch);
	rc_port = cmt_listen(sch, &rc, RDMA_PS_TCP, 8);
	ud_port = cmt_listen(sch, &ud, RDMA_PS_UDP, 8);
	rej_and_rep_limits(rc_port);
	rep_max(rc_port);
	sidr_limits(ud_port);
	SVT_CHECK(rdma_destroy_id(rc) == 0 && rdma_destroy_id(ud) == 0);
	rdma_destroy_event_channel(sch);
	rdma_destroy_event_channel(cch);
	svt_daemon_stop(&d);
	printf("PASS: REQ 56, REP 196, REJ 148, SIDR_REQ 180, SIDR_REP 136\n");
	return SVT_PASS;
}
