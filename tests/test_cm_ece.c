// SPDX-License-Identifier: MIT
/*
 * ECE over rdma_cm (issue 14): rdma_set_local_ece / rdma_get_remote_ece
 * carried in the REQ and the REP, as with the kernel's CM.
 *  - ids without a QP (the application's own QPs, as the API intends):
 *    the client's offer arrives with CONNECT_REQUEST, the server's with
 *    the REP (CONNECT_RESPONSE), each exactly as set;
 *  - rdma_reject_ece: the client gets REJECTED with status 35 (vendor
 *    option not supported);
 *  - the argument checks rdma-core makes: vendor ID 0 or a comp_mask is
 *    EINVAL, and so is either call on an id that has a QP.
 */
#include "cm_test.h"

static const struct ibv_ece client_ece = { .vendor_id = 0x15b3,
					   .options = 0x80000001 };
static const struct ibv_ece server_ece = { .vendor_id = 0xabcdef,
					   .options = 0x12345678 };

static void same_ece(const struct ibv_ece *a, const struct ibv_ece *b)
{
	SVT_CHECK(a->vendor_id == b->vendor_id && a->options == b->options &&
		  a->comp_mask == 0);
}

/* The server's request and the client's id, after the REQ arrived. */
static struct rdma_cm_id *offer(struct rdma_event_channel *ch, uint16_t port,
				struct rdma_cm_id **client)
{
	struct ibv_ece e = client_ece;
	struct rdma_conn_param cp = { .responder_resources = 1,
				      .initiator_depth = 1, .retry_count = 7,
				      .qp_num = 0x123 };
	struct rdma_cm_event *ev;
	struct rdma_cm_id *req;

	*client = cmt_resolve(ch, RDMA_PS_TCP, port, NULL);
	SVT_CHECK(rdma_set_local_ece(*client, &e) == 0);
	SVT_CHECK(rdma_connect(*client, &cp) == 0);
	ev = cmt_expect(ch, RDMA_CM_EVENT_CONNECT_REQUEST);
	req = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_get_remote_ece(req, &e) == 0);
	same_ece(&e, &client_ece);
	return req;
}

static void accepted(struct rdma_event_channel *ch, uint16_t port)
{
	struct rdma_conn_param cp = { .responder_resources = 1,
				      .initiator_depth = 1, .qp_num = 0x456 };
	struct ibv_ece e = server_ece;
	struct rdma_cm_id *client, *req = offer(ch, port, &client);

	SVT_CHECK(rdma_set_local_ece(req, &e) == 0);
	SVT_CHECK(rdma_accept(req, &cp) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_CONNECT_RESPONSE);
	memset(&e, 0, sizeof(e));
	SVT_CHECK(rdma_get_remote_ece(client, &e) == 0);
	same_ece(&e, &server_ece);
	SVT_CHECK(rdma_establish(client) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ESTABLISHED);
	SVT_CHECK(rdma_disconnect(client) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_DISCONNECTED);
	SVT_CHECK(rdma_disconnect(req) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_DISCONNECTED);
	/* Both sides' timewait ends before the next exchange's events. */
	cmt_expect_ack(ch, RDMA_CM_EVENT_TIMEWAIT_EXIT);
	cmt_expect_ack(ch, RDMA_CM_EVENT_TIMEWAIT_EXIT);
}

static void rejected(struct rdma_event_channel *ch, uint16_t port)
{
	struct rdma_cm_id *client, *req = offer(ch, port, &client);
	struct rdma_cm_event *ev;

	SVT_CHECK(rdma_reject_ece(req, NULL, 0) == 0);
	ev = cmt_expect(ch, RDMA_CM_EVENT_REJECTED);
	SVT_CHECK(ev->id == client && ev->status == 35);
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
}

static void bad_args(struct rdma_event_channel *ch, uint16_t port)
{
	struct ibv_ece e = { .vendor_id = 0, .options = 1 };
	struct rdma_cm_id *id = cmt_resolve(ch, RDMA_PS_TCP, port, NULL);

	SVT_CHECK(rdma_set_local_ece(id, &e) == -1 && errno == EINVAL);
	e = client_ece;
	e.comp_mask = 1;
	SVT_CHECK(rdma_set_local_ece(id, &e) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_set_local_ece(id, NULL) == -1 && errno == EINVAL);
	cmt_qp(id, IBV_QPT_RC);
	e = client_ece;
	SVT_CHECK(rdma_set_local_ece(id, &e) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_get_remote_ece(id, &e) == -1 && errno == EINVAL);
}

int main(void)
{
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen;
	struct svt_daemon d;
	uint16_t port;

	svt_daemon_start(&d);
	ch = rdma_create_event_channel();
	SVT_CHECK(ch);
	port = cmt_listen(ch, &listen, RDMA_PS_TCP, 8);
	accepted(ch, port);
	rejected(ch, port);
	bad_args(ch, port);
	printf("ECE: offered both ways through REQ and REP, reject 35\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
