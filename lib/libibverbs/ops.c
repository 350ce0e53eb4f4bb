// SPDX-License-Identifier: MIT
/*
 * The ops tables of a context. verbs.h's inline fast-path functions call
 * context->ops.X directly (no NULL check), so every such slot gets a
 * function; a verb the library does not implement yet returns EOPNOTSUPP.
 * Extended ops (struct verbs_context) may stay NULL: verbs.h turns a NULL
 * into EOPNOTSUPP itself.
 */
#include "svl.h"
#include "svl_ops.h"

static int nop_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
			 struct ibv_send_wr **bad)
{
	*bad = wr;
	return EOPNOTSUPP;
}

static int nop_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
			 struct ibv_recv_wr **bad)
{
	*bad = wr;
	return EOPNOTSUPP;
}

static int nop_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr,
			     struct ibv_recv_wr **bad)
{
	*bad = wr;
	return EOPNOTSUPP;
}

static int nop_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	return -1; /* verbs.h: negative on error */
}

static int nop_req_notify(struct ibv_cq *cq, int solicited)
{
	return EOPNOTSUPP;
}

static struct ibv_mw *nop_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type t)
{
	errno = EOPNOTSUPP;
	return NULL;
}

static int nop_bind_mw(struct ibv_qp *qp, struct ibv_mw *mw,
		       struct ibv_mw_bind *bind)
{
	return EOPNOTSUPP;
}

static int nop_dealloc_mw(struct ibv_mw *mw)
{
	return EOPNOTSUPP;
}

#define OR(f, dflt) ((f) ? (f) : (dflt))

void svl_context_set_ops(struct svl_context *ctx)
{
	struct ibv_context_ops *o = &ctx->vctx.context.ops;
	struct verbs_context *v = &ctx->vctx;

	o->post_send = OR(svl_post_send, nop_post_send);
	o->post_recv = OR(svl_post_recv, nop_post_recv);
	o->post_srq_recv = OR(svl_post_srq_recv, nop_post_srq_recv);
	o->poll_cq = OR(svl_poll_cq, nop_poll_cq);
	o->req_notify_cq = OR(svl_req_notify_cq, nop_req_notify);
	o->alloc_mw = OR(svl_alloc_mw, nop_alloc_mw);
	o->bind_mw = OR(svl_bind_mw, nop_bind_mw);
	o->dealloc_mw = OR(svl_dealloc_mw, nop_dealloc_mw);

	v->query_port = svl_query_port_ex;
	v->query_device_ex = svl_query_device_ex;
	v->create_cq_ex = svl_create_cq_ex;
	v->create_qp_ex = svl_create_qp_ex;
	v->create_srq_ex = svl_create_srq_ex;
	v->open_xrcd = svl_open_xrcd;
	v->close_xrcd = svl_close_xrcd;
	v->open_qp = svl_open_qp;
	v->get_srq_num = svl_get_srq_num;
	v->alloc_td = svl_alloc_td;
	v->dealloc_td = svl_dealloc_td;
	v->alloc_parent_domain = svl_alloc_parent_domain;
	v->modify_cq = svl_modify_cq;
	v->query_rt_values = svl_query_rt_values;
	v->alloc_null_mr = svl_alloc_null_mr;
	v->advise_mr = svl_advise_mr;
	v->alloc_dm = svl_alloc_dm;
	v->free_dm = svl_free_dm;
	v->reg_dm_mr = svl_reg_dm_mr;
}
