/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the rdma_cm tests (test_cm_*.c): waiting for events with a
 * deadline, and the usual listen / connect steps on 127.0.0.1.
 */
#ifndef CM_TEST_H
#define CM_TEST_H

#include <arpa/inet.h>
#include <poll.h>
#include <rdma/rdma_cma.h>

#include "svtest.h"

#define CMT_TIMEOUT_MS 10000

/* The next event on ch within the deadline (the test fails otherwise). */
static inline struct rdma_cm_event *cmt_next(struct rdma_event_channel *ch)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	if (poll(&pfd, 1, CMT_TIMEOUT_MS) != 1) {
		fprintf(stderr, "FAIL: no rdma_cm event within %d ms\n",
			CMT_TIMEOUT_MS);
		exit(SVT_FAIL);
	}
	SVT_CHECK(rdma_get_cm_event(ch, &ev) == 0);
	return ev;
}

/* The next event must be `want`; it is returned un-acked. */
static inline struct rdma_cm_event *cmt_expect(struct rdma_event_channel *ch,
					       enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev = cmt_next(ch);

	if (ev->event != want) {
		fprintf(stderr, "FAIL: got %s (status %d), wanted %s\n",
			rdma_event_str(ev->event), ev->status,
			rdma_event_str(want));
		exit(SVT_FAIL);
	}
	return ev;
}

static inline void cmt_expect_ack(struct rdma_event_channel *ch,
				  enum rdma_cm_event_type want)
{
	SVT_CHECK(rdma_ack_cm_event(cmt_expect(ch, want)) == 0);
}

static inline struct sockaddr_in cmt_addr(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* A listener on 127.0.0.1 at an ephemeral port; returns the port. */
static inline uint16_t cmt_listen(struct rdma_event_channel *ch,
				  struct rdma_cm_id **id,
				  enum rdma_port_space ps, int backlog)
{
	struct sockaddr_in sin = cmt_addr(0);

	SVT_CHECK(rdma_create_id(ch, id, NULL, ps) == 0);
	SVT_CHECK(rdma_bind_addr(*id, (struct sockaddr *)&sin) == 0);
	SVT_CHECK(rdma_listen(*id, backlog) == 0);
	SVT_CHECK(rdma_get_src_port(*id) != 0);
	SVT_CHECK((*id)->verbs != NULL); /* bound to 127.0.0.1's device */
	return ntohs(rdma_get_src_port(*id));
}

/* Resolve address and route of a new id to 127.0.0.1:port. */
static inline struct rdma_cm_id *cmt_resolve(struct rdma_event_channel *ch,
					     enum rdma_port_space ps,
					     uint16_t port, void *context)
{
	struct sockaddr_in dst = cmt_addr(port);
	struct rdma_cm_id *id;

	SVT_CHECK(rdma_create_id(ch, &id, context, ps) == 0);
	SVT_CHECK(rdma_resolve_addr(id, NULL, (struct sockaddr *)&dst,
				    2000) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	SVT_CHECK(rdma_resolve_route(id, 2000) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	SVT_CHECK(id->verbs != NULL && id->route.num_paths == 1);
	return id;
}

/* An RC or UD QP on the id, with its own CQs (made by librdmacm). */
static inline void cmt_qp(struct rdma_cm_id *id, enum ibv_qp_type type)
{
	struct ibv_qp_init_attr a = {
		.qp_type = type,
		.cap = { .max_send_wr = 8, .max_recv_wr = 8,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.sq_sig_all = 1,
	};

	SVT_CHECK(rdma_create_qp(id, NULL, &a) == 0);
	SVT_CHECK(id->qp && id->send_cq && id->recv_cq);
}

/* Poll cq for one successful completion within the deadline. */
static inline struct ibv_wc cmt_poll(struct ibv_cq *cq)
{
	struct ibv_wc wc;
	int i, n;

	for (i = 0; i < CMT_TIMEOUT_MS * 10; i++) {
		n = ibv_poll_cq(cq, 1, &wc);
		SVT_CHECK(n >= 0);
		if (n) {
			if (wc.status != IBV_WC_SUCCESS)
				fprintf(stderr, "wc status %s\n",
					ibv_wc_status_str(wc.status));
			SVT_CHECK(wc.status == IBV_WC_SUCCESS);
			return wc;
		}
		usleep(100);
	}
	fprintf(stderr, "FAIL: no completion\n");
	exit(SVT_FAIL);
}

/* The server's and the client's event channels. */
static inline void cmt_channels(struct rdma_event_channel **sch,
				struct rdma_event_channel **cch)
{
	*sch = rdma_create_event_channel();
	*cch = rdma_create_event_channel();
	SVT_CHECK(*sch && *cch);
}

/*
 * The client disconnects, the server sees it and disconnects too, the
 * client sees that; then both QPs and ids go.
 */
static inline void cmt_disconnect_both(struct rdma_event_channel *sch,
				       struct rdma_event_channel *cch,
				       struct rdma_cm_id *cid,
				       struct rdma_cm_id *sid)
{
	SVT_CHECK(rdma_disconnect(cid) == 0);
	cmt_expect_ack(sch, RDMA_CM_EVENT_DISCONNECTED);
	SVT_CHECK(rdma_disconnect(sid) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_DISCONNECTED);
	rdma_destroy_qp(cid);
	rdma_destroy_qp(sid);
	SVT_CHECK(rdma_destroy_id(cid) == 0 && rdma_destroy_id(sid) == 0);
}

#endif
