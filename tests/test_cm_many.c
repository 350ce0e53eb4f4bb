// SPDX-License-Identifier: MIT
/*
 * 100 connections at once: 100 client ids connect before the server takes
 * any request (the listener's backlog holds them), the server accepts them
 * all, every pair gets ESTABLISHED with its own private data, then all are
 * disconnected and both sides see 100 DISCONNECTED. Events for many ids
 * interleave on two channels, as in a real server.
 */
#include <stdbool.h>
#include <string.h>

#include "cm_test.h"

#define N 100

static struct rdma_event_channel *sch, *cch;

/* Each client carries its index in the REQ and expects it back in REP. */
static void connect_all(struct rdma_cm_id **cids, uint16_t port)
{
	struct rdma_conn_param p = { .private_data_len = sizeof(int),
				     .retry_count = 7,
				     .rnr_retry_count = 7 };
	int i;

	for (i = 0; i < N; i++) {
		cids[i] = cmt_resolve(cch, RDMA_PS_TCP, port,
				      (void *)(uintptr_t)i);
		cmt_qp(cids[i], IBV_QPT_RC);
		p.private_data = &i;
		SVT_CHECK(rdma_connect(cids[i], &p) == 0);
	}
}

static void accept_all(struct rdma_cm_id **sids)
{
	struct rdma_conn_param p = { .private_data_len = sizeof(int),
				     .rnr_retry_count = 7 };
	struct rdma_cm_event *ev;
	int i, idx;

	for (i = 0; i < N; i++) {
		ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
		memcpy(&idx, ev->param.conn.private_data, sizeof(idx));
		SVT_CHECK(idx >= 0 && idx < N && !sids[idx]);
		sids[idx] = ev->id;
		SVT_CHECK(rdma_ack_cm_event(ev) == 0);
		cmt_qp(sids[idx], IBV_QPT_RC);
		p.private_data = &idx;
		SVT_CHECK(rdma_accept(sids[idx], &p) == 0);
	}
}

/*
 * N events of one type on ch, each for a distinct id (context = index).
 * TIMEWAIT_EXIT of ids already disconnected may come in between.
 */
static void expect_n(struct rdma_event_channel *ch,
		     enum rdma_cm_event_type type, bool check_pdata)
{
	bool seen[N] = { false };
	struct rdma_cm_event *ev;
	int i, idx = -1;

	for (i = 0; i < N; i++) {
		ev = cmt_next(ch);
		if (ev->event == RDMA_CM_EVENT_TIMEWAIT_EXIT &&
		    type == RDMA_CM_EVENT_DISCONNECTED) {
			SVT_CHECK(rdma_ack_cm_event(ev) == 0);
			i--;
			continue;
		}
		SVT_CHECK(ev->event == type);
		idx = (int)(uintptr_t)ev->id->context;
		SVT_CHECK(idx >= 0 && idx < N && !seen[idx]);
		seen[idx] = true;
		if (check_pdata)
			SVT_CHECK(!memcmp(ev->param.conn.private_data, &idx,
					  sizeof(idx)));
		SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	}
}

int main(void)
{
	struct rdma_cm_id *cids[N], *sids[N] = { NULL }, *listen;
	struct svt_daemon d;
	uint16_t port;
	int i;

	svt_daemon_start(&d);
	sch = rdma_create_event_channel();
	cch = rdma_create_event_channel();
	SVT_CHECK(sch && cch);
	port = cmt_listen(sch, &listen, RDMA_PS_TCP, N);
	connect_all(cids, port);
	accept_all(sids);
	/* The server's ids got the listener's context: index them too. */
	for (i = 0; i < N; i++)
		sids[i]->context = (void *)(uintptr_t)i;
	expect_n(cch, RDMA_CM_EVENT_ESTABLISHED, true);
	expect_n(sch, RDMA_CM_EVENT_ESTABLISHED, false);
	for (i = 0; i < N; i++)
		SVT_CHECK(rdma_disconnect(cids[i]) == 0);
	expect_n(sch, RDMA_CM_EVENT_DISCONNECTED, false);
	for (i = 0; i < N; i++)
		SVT_CHECK(rdma_disconnect(sids[i]) == 0);
	expect_n(cch, RDMA_CM_EVENT_DISCONNECTED, false);
	for (i = 0; i < N; i++) {
		rdma_destroy_qp(cids[i]);
		rdma_destroy_qp(sids[i]);
		SVT_CHECK(rdma_destroy_id(cids[i]) == 0);
		SVT_CHECK(rdma_destroy_id(sids[i]) == 0);
	}
	SVT_CHECK(rdma_destroy_id(listen) == 0);
	rdma_destroy_event_channel(sch);
	rdma_destroy_event_channel(cch);
	svt_daemon_stop(&d);
	printf("PASS\n");
	return SVT_PASS;
}
