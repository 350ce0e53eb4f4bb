// SPDX-License-Identifier: MIT
/*
 * QPs on rdma_cm ids: rdma_create_qp and friends, and rdma_init_qp_attr.
 * The attributes of each transition come from the daemon's CM state (what
 * the REQ/REP carried), as the kernel's ib_cm_init_qp_attr provides them;
 * the library applies them with ibv_modify_qp on the application's own
 * context.
 */
#include <errno.h>
#include <string.h>

#include "cma_priv.h"

static void attr_from_abi(struct ibv_qp_attr *a, int *mask,
			  const struct sv_cm_qp_attr *k)
{
	memset(a, 0, sizeof(*a));
	*mask = k->mask;
	a->qp_state = k->qp_state;
	a->qkey = k->qkey;
	a->dest_qp_num = k->dest_qp_num;
	a->rq_psn = k->rq_psn;
	a->sq_psn = k->sq_psn;
	a->qp_access_flags = k->access;
	a->pkey_index = k->pkey_index;
	a->port_num = k->port_num;
	a->path_mtu = k->path_mtu;
	a->max_dest_rd_atomic = k->max_dest_rd_atomic;
	a->max_rd_atomic = k->max_rd_atomic;
	a->min_rnr_timer = k->min_rnr_timer;
	a->timeout = k->timeout;
	a->retry_cnt = k->retry_cnt;
	a->rnr_retry = k->rnr_retry;
	a->ah_attr.is_global = 1;
	a->ah_attr.port_num = k->port_num;
	a->ah_attr.grh.hop_limit = k->hop_limit;
	a->ah_attr.grh.traffic_class = k->traffic_class;
	a->ah_attr.grh.flow_label = k->flow_label;
	a->ah_attr.grh.sgid_index = k->sgid_index;
	memcpy(a->ah_attr.grh.dgid.raw, k->dgid, 16);
}

static int init_qp_attr(struct cma_id_private *p, struct ibv_qp_attr *attr,
			int *mask)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_INIT_QP_ATTR, .id = p->handle };
	struct sv_cm_reply rep;
	int ret;

	cmd.arg = attr->qp_state;
	ret = cma_call(&cmd, &rep);
	if (ret)
		return ret;
	attr_from_abi(attr, mask, &rep.attr);
	/* The local accept/connect parameters bound the RDMA read depth. */
	if (*mask & IBV_QP_MAX_DEST_RD_ATOMIC &&
	    p->responder_resources != RDMA_MAX_RESP_RES)
		attr->max_dest_rd_atomic = p->responder_resources;
	if (*mask & IBV_QP_MAX_QP_RD_ATOMIC &&
	    p->initiator_depth != RDMA_MAX_INIT_DEPTH)
		attr->max_rd_atomic = p->initiator_depth;
	return 0;
}

int rdma_init_qp_attr(struct rdma_cm_id *id, struct ibv_qp_attr *qp_attr,
		      int *qp_attr_mask)
{
	if (!qp_attr || !qp_attr_mask)
		return cma_errno(-EINVAL);
	return cma_errno(init_qp_attr(to_priv(id), qp_attr, qp_attr_mask));
}

int cma_modify_qp(struct cma_id_private *p, enum ibv_qp_state state)
{
	struct ibv_qp_attr attr = { .qp_state = state };
	int mask, ret;

	ret = init_qp_attr(p, &attr, &mask);
	if (ret)
		return ret;
	return -ibv_modify_qp(p->id.qp, &attr, mask);
}

/*
 * INIT again (now with the access rights the connection grants), then
 * RTR and RTS: rdma-core's order once the peer is known.
 */
int cma_qp_connect(struct cma_id_private *p)
{
	int ret = cma_modify_qp(p, IBV_QPS_INIT);

	if (!ret)
		ret = cma_modify_qp(p, IBV_QPS_RTR);
	if (!ret)
		ret = cma_modify_qp(p, IBV_QPS_RTS);
	return ret;
}

int cma_qp_to_err(struct cma_id_private *p)
{
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };

	if (!p->id.qp)
		return 0;
	return -ibv_modify_qp(p->id.qp, &attr, IBV_QP_STATE);
}

/* UD QPs need no peer: INIT, RTR and RTS right away (rdma-core does). */
int cma_ud_qp_ready(struct cma_id_private *p)
{
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_RTS, .sq_psn = 0 };
	int ret;

	ret = cma_modify_qp(p, IBV_QPS_INIT);
	if (!ret)
		ret = cma_modify_qp(p, IBV_QPS_RTR);
	if (!ret)
		ret = -ibv_modify_qp(p->id.qp, &attr,
				     IBV_QP_STATE | IBV_QP_SQ_PSN);
	return ret;
}

static struct ibv_cq *make_cq(struct cma_id_private *p, uint32_t depth,
			      struct ibv_comp_channel **chp)
{
	struct ibv_comp_channel *ch = ibv_create_comp_channel(p->id.verbs);
	struct ibv_cq *cq;

	if (!ch)
		return NULL;
	cq = ibv_create_cq(p->id.verbs, depth ? depth : 1, p, ch, 0);
	if (!cq) {
		ibv_destroy_comp_channel(ch);
		return NULL;
	}
	*chp = ch;
	return cq;
}

static void drop_cq(struct ibv_cq **cq, struct ibv_comp_channel **ch)
{
	if (*cq)
		ibv_destroy_cq(*cq);
	if (*ch)
		ibv_destroy_comp_channel(*ch);
	*cq = NULL;
	*ch = NULL;
}

static void drop_own_cqs(struct cma_id_private *p)
{
	if (!p->own_cqs)
		return;
	drop_cq(&p->id.send_cq, &p->id.send_cq_channel);
	drop_cq(&p->id.recv_cq, &p->id.recv_cq_channel);
	p->own_cqs = false;
}

/* rdma-core makes the CQs (with channels) an attr leaves out. */
static int own_cqs(struct cma_id_private *p, struct ibv_qp_init_attr_ex *a)
{
	if (a->send_cq && a->recv_cq)
		return 0;
	p->own_cqs = true;
	if (!a->send_cq) {
		p->id.send_cq = make_cq(p, a->cap.max_send_wr,
					&p->id.send_cq_channel);
		a->send_cq = p->id.send_cq;
	}
	if (!a->recv_cq && !a->srq) {
		p->id.recv_cq = make_cq(p, a->cap.max_recv_wr,
					&p->id.recv_cq_channel);
		a->recv_cq = p->id.recv_cq;
	}
	if (!a->send_cq || (!a->recv_cq && !a->srq)) {
		drop_own_cqs(p);
		return -ENOMEM;
	}
	return 0;
}

static struct ibv_qp *create_qp(struct cma_id_private *p,
				struct ibv_qp_init_attr_ex *a)
{
	if (a->comp_mask == IBV_QP_INIT_ATTR_PD)
		return ibv_create_qp(a->pd, (struct ibv_qp_init_attr *)a);
	return ibv_create_qp_ex(p->id.verbs, a);
}

static int qp_setup(struct cma_id_private *p, struct ibv_qp_init_attr_ex *a)
{
	struct ibv_qp *qp;
	int ret;

	ret = own_cqs(p, a);
	if (ret)
		return ret;
	qp = create_qp(p, a);
	if (!qp) {
		ret = -errno;
		drop_own_cqs(p);
		return ret;
	}
	p->id.qp = qp;
	if (p->id.qp_type == IBV_QPT_UD)
		ret = cma_ud_qp_ready(p);
	else
		ret = cma_modify_qp(p, IBV_QPS_INIT);
	if (ret) {
		ibv_destroy_qp(qp);
		p->id.qp = NULL;
		drop_own_cqs(p);
	}
	return ret;
}

int rdma_create_qp_ex(struct rdma_cm_id *id,
		      struct ibv_qp_init_attr_ex *attr)
{
	struct cma_id_private *p = to_priv(id);
	struct ibv_qp_init_attr_ex a;

	if (!id->verbs || !attr || id->qp)
		return cma_errno(-EINVAL);
	a = *attr;
	if (!(a.comp_mask & IBV_QP_INIT_ATTR_PD) || !a.pd) {
		a.pd = id->pd ? id->pd : cma_default_pd(p->dev);
		a.comp_mask |= IBV_QP_INIT_ATTR_PD;
	}
	if (!a.pd || a.pd->context != id->verbs)
		return cma_errno(-EINVAL);
	if (!a.send_cq)
		a.send_cq = id->send_cq;
	if (!a.recv_cq)
		a.recv_cq = id->recv_cq;
	if (!a.srq)
		a.srq = id->srq;
	a.qp_type = a.qp_type ? a.qp_type : id->qp_type;
	if (a.qp_type != id->qp_type)
		return cma_errno(-EINVAL);
	if (qp_setup(p, &a))
		return -1;
	attr->cap = a.cap;
	cma_ece_from_qp(p);
	return 0;
}

int rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *pd,
		   struct ibv_qp_init_attr *qp_init_attr)
{
	struct ibv_qp_init_attr_ex a;
	int ret;

	if (!qp_init_attr)
		return cma_errno(-EINVAL);
	memset(&a, 0, sizeof(a));
	memcpy(&a, qp_init_attr, sizeof(*qp_init_attr));
	a.qp_type = qp_init_attr->qp_type;
	a.pd = pd;
	a.comp_mask = IBV_QP_INIT_ATTR_PD;
	ret = rdma_create_qp_ex(id, &a);
	if (!ret)
		qp_init_attr->cap = a.cap;
	return ret;
}

void rdma_destroy_qp(struct rdma_cm_id *id)
{
	struct cma_id_private *p = to_priv(id);

	if (id->qp)
		ibv_destroy_qp(id->qp);
	id->qp = NULL;
	drop_own_cqs(p);
}

int rdma_create_srq_ex(struct rdma_cm_id *id,
		       struct ibv_srq_init_attr_ex *attr)
{
	struct cma_id_private *p = to_priv(id);
	struct ibv_srq_init_attr plain;
	struct ibv_pd *pd;

	if (!id->verbs || !attr || id->srq)
		return cma_errno(-EINVAL);
	if (attr->comp_mask & ~(IBV_SRQ_INIT_ATTR_PD | IBV_SRQ_INIT_ATTR_TYPE) ||
	    (attr->comp_mask & IBV_SRQ_INIT_ATTR_TYPE &&
	     attr->srq_type != IBV_SRQT_BASIC))
		return cma_errno(-EOPNOTSUPP); /* XRC/TM SRQs over rdma_cm */
	pd = attr->comp_mask & IBV_SRQ_INIT_ATTR_PD ? attr->pd : NULL;
	if (!pd)
		pd = id->pd ? id->pd : cma_default_pd(p->dev);
	if (!pd)
		return -1;
	plain.srq_context = attr->srq_context;
	plain.attr = attr->attr;
	id->srq = ibv_create_srq(pd, &plain);
	if (!id->srq)
		return -1;
	attr->attr = plain.attr;
	return 0;
}

int rdma_create_srq(struct rdma_cm_id *id, struct ibv_pd *pd,
		    struct ibv_srq_init_attr *attr)
{
	struct ibv_srq_init_attr_ex a;
	int ret;

	if (!attr)
		return cma_errno(-EINVAL);
	memset(&a, 0, sizeof(a));
	a.srq_context = attr->srq_context;
	a.attr = attr->attr;
	a.pd = pd;
	a.comp_mask = pd ? IBV_SRQ_INIT_ATTR_PD : 0;
	ret = rdma_create_srq_ex(id, &a);
	if (!ret)
		attr->attr = a.attr;
	return ret;
}

void rdma_destroy_srq(struct rdma_cm_id *id)
{
	if (id->srq)
		ibv_destroy_srq(id->srq);
	id->srq = NULL;
}
