// SPDX-License-Identifier: MIT
/*
 * rdma_set_option(RDMA_OPTION_IB, RDMA_OPTION_IB_PATH): the application
 * gives the route instead of rdma_resolve_route, as with the kernel's
 * ucma. Of the struct ibv_path_data array only the primary bidirectional
 * GMP path counts (an alternate path in front of it is skipped: rdma_cm
 * has no LAP); the id gets ROUTE_RESOLVED, its route shows the path's
 * traffic class, hop limit and MTU, and the connected QP uses them.
 * EINVAL: a length that is not whole path records, no primary path, a
 * source GID that is not the id's, a foreign P_Key, an id with no
 * resolved address. A synchronous id (no channel) returns once routed.
 */
#include <string.h>

#include "cm_test.h"

#define TCLASS 32
#define HOPS 7

static struct ibv_path_data paths[2];

/* [0] an alternate path (ignored), [1] the primary path to dst. */
static void make_paths(struct rdma_cm_id *id)
{
	struct ibv_path_record *pr = &paths[1].path;

	memset(paths, 0, sizeof(paths));
	paths[0].flags = IBV_PATH_FLAG_GMP | IBV_PATH_FLAG_ALTERNATE |
			 IBV_PATH_FLAG_BIDIRECTIONAL;
	paths[0].path.mtu = 0x80 | IBV_MTU_256;
	paths[1].flags = IBV_PATH_FLAG_GMP | IBV_PATH_FLAG_PRIMARY |
			 IBV_PATH_FLAG_BIDIRECTIONAL;
	pr->sgid = id->route.addr.addr.ibaddr.sgid;
	pr->dgid = id->route.addr.addr.ibaddr.dgid;
	pr->tclass = TCLASS;
	pr->flowlabel_hoplimit = htobe32(HOPS);
	pr->pkey = htobe16(0xffff);
	pr->mtu = 0x80 | IBV_MTU_1024;
	pr->reversible_numpath = 0x81;
}

static int set_path(struct rdma_cm_id *id, size_t len)
{
	return rdma_set_option(id, RDMA_OPTION_IB, RDMA_OPTION_IB_PATH, paths,
			       len);
}

static struct rdma_cm_id *resolved(struct rdma_event_channel *ch,
				   uint16_t port)
{
	struct sockaddr_in dst = cmt_addr(port);
	struct rdma_cm_id *id;

	SVT_CHECK(rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) == 0);
	SVT_CHECK(rdma_resolve_addr(id, NULL, (struct sockaddr *)&dst,
				    2000) == 0);
	if (ch)
		cmt_expect_ack(ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	return id;
}

static void bad_paths(struct rdma_event_channel *ch, uint16_t port)
{
	struct rdma_cm_id *idle, *id = resolved(ch, port);

	make_paths(id);
	SVT_CHECK(set_path(id, sizeof(paths) - 1) == -1 && errno == EINVAL);
	SVT_CHECK(set_path(id, sizeof(paths[0])) == -1 && errno == EINVAL);
	paths[1].path.sgid.raw[15] ^= 1;
	SVT_CHECK(set_path(id, sizeof(paths)) == -1 && errno == EINVAL);
	make_paths(id);
	paths[1].path.pkey = htobe16(0x1234);
	SVT_CHECK(set_path(id, sizeof(paths)) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_create_id(ch, &idle, NULL, RDMA_PS_TCP) == 0);
	make_paths(id);
	SVT_CHECK(set_path(idle, sizeof(paths)) == -1 && errno == EINVAL);
	SVT_CHECK(rdma_destroy_id(idle) == 0);
	SVT_CHECK(rdma_destroy_id(id) == 0);
}

static void check_route(struct rdma_cm_id *id)
{
	struct ibv_sa_path_rec *pr = id->route.path_rec;

	SVT_CHECK(id->route.num_paths == 1 && pr);
	SVT_CHECK(pr->traffic_class == TCLASS && pr->hop_limit == HOPS);
	SVT_CHECK(pr->mtu == IBV_MTU_1024);
}

/* The connected QP carries the path: MTU, hop limit, traffic class. */
static void check_qp(struct rdma_cm_id *id)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;

	SVT_CHECK(ibv_query_qp(id->qp, &a, IBV_QP_PATH_MTU | IBV_QP_AV,
			       &init) == 0);
	SVT_CHECK(a.path_mtu == IBV_MTU_1024);
	SVT_CHECK(a.ah_attr.grh.hop_limit == HOPS);
	SVT_CHECK(a.ah_attr.grh.traffic_class == TCLASS);
}

static void connect_on_path(struct rdma_event_channel *sch,
			    struct rdma_event_channel *cch,
			    struct rdma_cm_id *listen, uint16_t port)
{
	struct rdma_cm_id *cid = resolved(cch, port), *sid;
	struct rdma_cm_event *ev;

	make_paths(cid);
	SVT_CHECK(set_path(cid, sizeof(paths)) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	check_route(cid);
	cmt_qp(cid, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(cid, NULL) == 0);
	ev = cmt_expect(sch, RDMA_CM_EVENT_CONNECT_REQUEST);
	sid = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	cmt_qp(sid, IBV_QPT_RC);
	SVT_CHECK(rdma_accept(sid, NULL) == 0);
	cmt_expect_ack(cch, RDMA_CM_EVENT_ESTABLISHED);
	cmt_expect_ack(sch, RDMA_CM_EVENT_ESTABLISHED);
	check_qp(cid);
	cmt_disconnect_both(sch, cch, cid, sid);
}

static void sync_id(uint16_t port)
{
	struct rdma_cm_id *id = resolved(NULL, port);

	make_paths(id);
	SVT_CHECK(set_path(id, sizeof(paths)) == 0);
	check_route(id);
	SVT_CHECK(rdma_destroy_id(id) == 0);
}

int main(void)
{
	struct rdma_event_channel *sch, *cch;
	struct rdma_cm_id *listen;
	struct svt_daemon d;
	uint16_t port;

	svt_daemon_start(&d);
	cmt_channels(&sch, &cch);
	port = cmt_listen(sch, &listen, RDMA_PS_TCP, 4);
	bad_paths(cch, port);
	connect_on_path(sch, cch, listen, port);
	sync_id(port);
	SVT_CHECK(rdma_destroy_id(listen) == 0);
	rdma_destroy_event_channel(sch);
	rdma_destroy_event_channel(cch);
	svt_daemon_stop(&d);
	printf("PASS: IB_PATH routes an id; its QP follows the path\n");
	return SVT_PASS;
}
