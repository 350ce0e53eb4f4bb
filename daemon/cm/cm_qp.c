// SPDX-License-Identifier: MIT
/*
 * rdma_init_qp_attr: the QP attributes for each transition, from what the
 * CM exchange agreed (the kernel's ib_cm_init_qp_attr / cma_init_qp_attr).
 * The library applies them with ibv_modify_qp on the application's QP.
 */
#include <errno.h>
#include <string.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "cm.h"

#define CM_MIN_RNR_TIMER 0 /* 655 ms: what ib_cm sets, patient senders */
#define CM_DEFAULT_ACK_TIMEOUT 14

static bool connected(const struct cm_id *id)
{
	return id->state >= CM_REQ_RCVD && id->state <= CM_DREQ_RCVD &&
	       id->state != CM_REQ_SENT;
}

static int attr_init(const struct cm_id *id, struct sv_cm_qp_attr *a)
{
	a->mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT;
	a->pkey_index = 0;
	a->port_num = 1;
	if (id->qp_type == IBV_QPT_UD) {
		a->mask |= IBV_QP_QKEY;
		a->qkey = id->qkey ? id->qkey : RDMA_UDP_QKEY;
		return 0;
	}
	/* Before a peer exists the kernel grants nothing remote. */
	a->mask |= IBV_QP_ACCESS_FLAGS;
	if (connected(id) || id->state == CM_REQ_SENT)
		a->access = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	return 0;
}

static int attr_rtr(const struct cm_id *id, struct sv_cm_qp_attr *a)
{
	a->mask = IBV_QP_STATE;
	if (id->qp_type == IBV_QPT_UD)
		return 0;
	if (!connected(id))
		return -EINVAL;
	a->mask |= IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
		   IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
		   IBV_QP_MIN_RNR_TIMER;
	a->path_mtu = id->mtu;
	a->dest_qp_num = id->remote_qpn;
	/*
	 * A REQ's or REP's starting PSN is the one its sender expects to
	 * receive first (the kernel's CM: rq_psn from its own REQ, sq_psn
	 * from the REP), so each side sends from the PSN the other chose.
	 */
	a->rq_psn = id->local_psn;
	a->max_dest_rd_atomic = id->resp_res;
	a->min_rnr_timer = CM_MIN_RNR_TIMER;
	a->port_num = 1;
	memcpy(a->dgid, id->dgid, 16);
	a->sgid_index = id->sgid_index;
	a->hop_limit = cm_hop_limit(id);
	a->traffic_class = id->tos;
	return 0;
}

static int attr_rts(const struct cm_id *id, struct sv_cm_qp_attr *a)
{
	a->mask = IBV_QP_STATE | IBV_QP_SQ_PSN;
	a->sq_psn = id->local_psn;
	if (id->qp_type == IBV_QPT_UD)
		return 0;
	a->sq_psn = id->remote_psn; /* what the peer expects (attr_rtr) */
	if (!connected(id))
		return -EINVAL;
	a->mask |= IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
		   IBV_QP_MAX_QP_RD_ATOMIC;
	a->timeout = id->ack_timeout ? id->ack_timeout : CM_DEFAULT_ACK_TIMEOUT;
	a->retry_cnt = id->retry_count;
	a->rnr_retry = id->rnr_retry;
	a->max_rd_atomic = id->init_depth;
	return 0;
}

int cm_init_qp_attr(struct cm_id *id, int state, struct sv_cm_qp_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->qp_state = state;
	if (!id->dev)
		return -EINVAL; /* no device yet: nothing to configure */
	switch (state) {
	case IBV_QPS_INIT:
		return attr_init(id, a);
	case IBV_QPS_RTR:
		return attr_rtr(id, a);
	case IBV_QPS_RTS:
		return attr_rts(id, a);
	}
	return -EINVAL;
}
