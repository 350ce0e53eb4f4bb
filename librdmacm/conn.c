// SPDX-License-Identifier: MIT
/*
 * Connection establishment: rdma_connect / accept / reject / disconnect /
 * establish. The daemon sends the CM messages (REQ, REP, RTU, REJ, DREQ,
 * DREP, SIDR); the QP moves here, before the message that promises it is
 * ready goes out, in the order rdma-core's librdmacm uses:
 *   passive: RTR, RTS, then REP      active: REP seen, RTR, RTS, then RTU
 */
#include <errno.h>
#include <string.h>

#include "cma_priv.h"

static int device_max_rd_atom(struct cma_id_private *p, bool init)
{
	struct ibv_device_attr attr;

	if (!p->id.verbs || ibv_query_device(p->id.verbs, &attr))
		return 0;
	return init ? attr.max_qp_init_rd_atom : attr.max_qp_rd_atom;
}

/* RDMA_MAX_* mean "what the device allows"; more than that is EINVAL. */
static int clamp_rd_atom(struct cma_id_private *p, uint8_t *val, bool init)
{
	int max = device_max_rd_atom(p, init);
	uint8_t def = init ? RDMA_MAX_INIT_DEPTH : RDMA_MAX_RESP_RES;

	if (*val == def) {
		*val = max;
		return 0;
	}
	return *val > max ? -EINVAL : 0;
}

static int conn_from_param(struct cma_id_private *p, struct sv_cm_conn *c,
			   const struct rdma_conn_param *param)
{
	int ret;

	c->responder_resources = param->responder_resources;
	c->initiator_depth = param->initiator_depth;
	ret = clamp_rd_atom(p, &c->responder_resources, false);
	if (!ret)
		ret = clamp_rd_atom(p, &c->initiator_depth, true);
	if (ret)
		return ret;
	p->responder_resources = c->responder_resources;
	p->initiator_depth = c->initiator_depth;
	c->flow_control = param->flow_control;
	c->retry_count = param->retry_count;
	c->rnr_retry_count = param->rnr_retry_count;
	c->srq = p->id.srq || (p->id.qp && p->id.qp->srq) ? 1 : param->srq;
	c->qp_num = p->id.qp ? p->id.qp->qp_num : param->qp_num;
	if (param->private_data_len && !param->private_data)
		return -EINVAL;
	c->pdata_len = param->private_data_len;
	if (c->pdata_len > SV_CM_PDATA_MAX)
		return -EINVAL;
	if (c->pdata_len)
		memcpy(c->pdata, param->private_data, c->pdata_len);
	cma_ece_to_conn(p, c);
	return 0;
}

int rdma_connect(struct rdma_cm_id *id, struct rdma_conn_param *conn_param)
{
	struct cma_id_private *p = to_priv(id);
	struct rdma_conn_param def = {
		.responder_resources = RDMA_MAX_RESP_RES,
		.initiator_depth = RDMA_MAX_INIT_DEPTH,
		.retry_count = 7,
		.rnr_retry_count = 7,
	};
	struct sv_cm_cmd cmd = { .op = SV_CM_CONNECT, .id = p->handle };
	int ret;

	ret = conn_from_param(p, &cmd.conn, conn_param ? conn_param : &def);
	cmd.conn.qp_type = id->qp_type;
	if (!ret)
		ret = cma_call(&cmd, NULL);
	if (!ret && p->sync)
		ret = cma_sync_wait(p, RDMA_CM_EVENT_ESTABLISHED);
	return cma_errno(ret);
}

static int accept_rc(struct cma_id_private *p)
{
	if (!p->id.qp)
		return 0; /* the application moves its own QP */
	return cma_qp_connect(p);
}

int rdma_accept(struct rdma_cm_id *id, struct rdma_conn_param *conn_param)
{
	struct cma_id_private *p = to_priv(id);
	struct rdma_conn_param def = {
		.responder_resources = RDMA_MAX_RESP_RES,
		.initiator_depth = RDMA_MAX_INIT_DEPTH,
		.rnr_retry_count = 7,
	};
	struct sv_cm_cmd cmd = { .op = SV_CM_ACCEPT, .id = p->handle };
	int ret;

	ret = conn_from_param(p, &cmd.conn, conn_param ? conn_param : &def);
	cmd.conn.qp_type = id->qp_type;
	if (!ret && id->qp_type != IBV_QPT_UD)
		ret = accept_rc(p);
	if (!ret)
		ret = cma_call(&cmd, NULL);
	if (ret) {
		cma_qp_to_err(p);
		return cma_errno(ret);
	}
	if (p->sync && id->qp_type != IBV_QPT_UD)
		ret = cma_sync_wait(p, RDMA_CM_EVENT_ESTABLISHED);
	return cma_errno(ret);
}

static int reject(struct rdma_cm_id *id, const void *pdata, uint8_t len,
		  int reason)
{
	struct sv_cm_cmd cmd = { .op = SV_CM_REJECT, .arg = reason };

	if (len && !pdata)
		return cma_errno(-EINVAL);
	cmd.id = to_priv(id)->handle;
	cmd.conn.pdata_len = len;
	if (len > SV_CM_PDATA_MAX)
		return cma_errno(-EINVAL);
	if (len)
		memcpy(cmd.conn.pdata, pdata, len);
	return cma_errno(cma_call(&cmd, NULL));
}

int rdma_reject(struct rdma_cm_id *id, const void *private_data,
		uint8_t private_data_len)
{
	return reject(id, private_data, private_data_len, 0);
}

/* IBTA REJ reason 35: vendor option not supported (what ECE rejects use). */
int rdma_reject_ece(struct rdma_cm_id *id, const void *private_data,
		    uint8_t private_data_len)
{
	return reject(id, private_data, private_data_len, 35);
}

int rdma_disconnect(struct rdma_cm_id *id)
{
	struct cma_id_private *p = to_priv(id);
	int ret;

	/* Flush the QP first: nothing may complete after DISCONNECTED. */
	cma_qp_to_err(p);
	ret = cma_simple(p, SV_CM_DISCONNECT, 0);
	if (!ret && p->sync)
		ret = cma_sync_wait(p, RDMA_CM_EVENT_DISCONNECTED);
	return cma_errno(ret);
}

int rdma_establish(struct rdma_cm_id *id)
{
	return cma_errno(cma_simple(to_priv(id), SV_CM_ESTABLISH, 0));
}
