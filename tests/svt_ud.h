/* SPDX-License-Identifier: MIT */
/*
 * UD helpers shared by the UD, multicast and cross-user tests: a UD QP
 * taken to RTS, and a bounded spin on a CQ. Include after svtest.h.
 */
#ifndef SVT_UD_H
#define SVT_UD_H

#include <infiniband/verbs.h>

/* A UD QP of pd on cq (send and receive), depth deep, in RTS with qkey. */
static inline struct ibv_qp *svt_ud_qp(struct ibv_pd *pd, struct ibv_cq *cq,
				       uint32_t qkey, uint32_t depth,
				       uint32_t sq_psn)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_UD,
		.cap = { .max_send_wr = depth, .max_recv_wr = depth,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qkey = qkey };
	struct ibv_qp *qp = ibv_create_qp(pd, &ia);

	SVT_CHECK(qp);
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
						 IBV_QP_PORT | IBV_QP_QKEY));
	a.qp_state = IBV_QPS_RTR;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE));
	a.qp_state = IBV_QPS_RTS;
	a.sq_psn = sq_psn;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN));
	return qp;
}

/* One completion into *wc within spins polls: 1, else 0. */
static inline int svt_poll_spins(struct ibv_cq *cq, struct ibv_wc *wc,
				 long spins)
{
	while (spins--) {
		int n = ibv_poll_cq(cq, 1, wc);

		SVT_CHECK(n >= 0);
		if (n)
			return 1;
	}
	return 0;
}

#endif
