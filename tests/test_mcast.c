// SPDX-License-Identifier: MIT
/*
 * UD multicast: two receivers attached to a group, one sender, a third
 * QP not attached. Each attached QP gets its own copy (payload, GRH,
 * src_qp checked); the bystander and the (unattached) sender get nothing;
 * after a detach only the remaining member receives. The kernel's errnos:
 * EINVAL for a non-UD QP, a unicast GID, a detach of a non-member.
 */
#include <errno.h>
#include <infiniband/verbs.h>
#include <stdint.h>

#include "svtest.h"
#include "svt_ud.h"

#define LEN 600
#define QKEY 0x01234567

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct ibv_mr *mr;
static uint8_t buf[8 * 4096];

/* One receive into page slot of buf. */
static void post_recv(struct ibv_qp *qp, int slot)
{
	struct ibv_sge sg = { (uintptr_t)buf + slot * 4096, 40 + LEN,
			      mr->lkey };
	struct ibv_recv_wr rw = { .wr_id = (uint64_t)slot, .sg_list = &sg,
				  .num_sge = 1 }, *bad;

	SVT_CHECK(!ibv_post_recv(qp, &rw, &bad));
}

static void send_group(struct ibv_qp *s, struct ibv_cq *cq,
		       struct ibv_ah *ah)
{
	struct ibv_sge ss = { (uintptr_t)buf, LEN, mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 100, .sg_list = &ss, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_wc wc;

	wr.wr.ud.ah = ah;
	wr.wr.ud.remote_qpn = 0xffffff;
	wr.wr.ud.remote_qkey = QKEY;
	SVT_CHECK(!ibv_post_send(s, &wr, &bad));
	SVT_CHECK(svt_poll_spins(cq, &wc, 5000000) && wc.wr_id == 100 &&
		  wc.status == IBV_WC_SUCCESS);
	/* The sender is not a member. */
	SVT_CHECK(!svt_poll_spins(cq, &wc, 1000));
}

/* The receive in slot arrived on cq: a copy of buf[0..LEN) from s. */
static void expect_copy(struct ibv_cq *cq, int slot, const struct ibv_qp *s)
{
	struct ibv_wc wc;

	SVT_CHECK(svt_poll_spins(cq, &wc, 5000000));
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == (uint64_t)slot);
	SVT_CHECK(wc.opcode == IBV_WC_RECV && wc.byte_len == 40 + LEN);
	SVT_CHECK((wc.wc_flags & IBV_WC_GRH) && wc.src_qp == s->qp_num);
	SVT_CHECK(!memcmp(buf + slot * 4096 + 40, buf, LEN));
	memset(buf + slot * 4096, 0, 40 + LEN);
}

static void check_errnos(struct ibv_qp *ud, const union ibv_gid *mgid)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = ud->send_cq, .recv_cq = ud->recv_cq,
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp *rc = ibv_create_qp(pd, &ia);
	union ibv_gid ucast = { .raw = { 0xfe, 0x80, [15] = 1 } };

	SVT_CHECK(rc);
	SVT_CHECK(ibv_attach_mcast(rc, mgid, 0) == EINVAL);
	SVT_CHECK(ibv_attach_mcast(ud, &ucast, 0) == EINVAL);
	SVT_CHECK(ibv_detach_mcast(ud, mgid, 0) == EINVAL); /* not a member */
	SVT_CHECK(!ibv_destroy_qp(rc));
}

static struct ibv_ah *group_ah(const union ibv_gid *mgid)
{
	struct ibv_ah_attr aa = { .is_global = 1, .port_num = 1 };
	union ibv_gid g;
	int i;

	for (i = 0; i < 16; i++)
		if (!ibv_query_gid(ctx, 1, i, &g) && g.raw[10] == 0xff)
			break;
	SVT_CHECK(i < 16);
	aa.grh.sgid_index = (uint8_t)i;
	aa.grh.hop_limit = 1;
	aa.grh.dgid = *mgid;
	return ibv_create_ah(pd, &aa);
}

int main(void)
{
	/* ::ffff:239.1.1.1, the RoCE MGID rdma_cm derives from IPv4. */
	union ibv_gid mgid = { .raw = { [10] = 0xff, [11] = 0xff, [12] = 239,
					[13] = 1, [14] = 1, [15] = 1 } };
	struct ibv_cq *cq[4];
	struct ibv_qp *qp[4];
	struct svt_daemon d;
	struct ibv_device_attr da;
	struct ibv_wc wc;
	struct ibv_ah *ah;
	int i;

	ctx = svt_start(&d);
	SVT_CHECK(!ibv_query_device(ctx, &da) && da.max_mcast_grp > 0 &&
		  da.max_mcast_qp_attach >= 2);
	pd = ibv_alloc_pd(ctx);
	mr = pd ? ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE) :
		  NULL;
	SVT_CHECK(mr);
	for (i = 0; i < 4; i++) {
		cq[i] = ibv_create_cq(ctx, 16, NULL, NULL, 0);
		SVT_CHECK(cq[i]);
		/* 0 sends, 1 and 2 join, 3 does not */
		qp[i] = svt_ud_qp(pd, cq[i], QKEY, 8, 0);
	}
	for (i = 0; i < LEN; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	check_errnos(qp[1], &mgid);
	SVT_CHECK(!ibv_attach_mcast(qp[1], &mgid, 0));
	SVT_CHECK(!ibv_attach_mcast(qp[2], &mgid, 0));
	SVT_CHECK(!ibv_attach_mcast(qp[2], &mgid, 0)); /* twice: still 0 */
	ah = group_ah(&mgid);
	SVT_CHECK(ah);
	for (i = 1; i < 4; i++)
		post_recv(qp[i], i);
	send_group(qp[0], cq[0], ah);
	expect_copy(cq[1], 1, qp[0]);
	expect_copy(cq[2], 2, qp[0]);
	SVT_CHECK(!svt_poll_spins(cq[3], &wc, 1000));

	SVT_CHECK(!ibv_detach_mcast(qp[2], &mgid, 0));
	post_recv(qp[1], 1);
	send_group(qp[0], cq[0], ah);
	expect_copy(cq[1], 1, qp[0]);
	/* Its receive stays posted. */
	SVT_CHECK(!svt_poll_spins(cq[2], &wc, 1000));
	printf("mcast: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
