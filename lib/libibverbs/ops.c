// SPDX-License-Identifier: MIT
/*
 * Installing a provider's ops in a context (the library's verbs_set_ops()).
 * verbs.h's inline fast-path functions call context->ops.X directly, so
 * the provider must fill those (checked at start-up of every context);
 * extended ops (struct verbs_context) may stay NULL, which verbs.h turns
 * into EOPNOTSUPP.
 */
#include <assert.h>

#include "svl.h"
#include "svl_ops.h"

static void set_fast_path(struct ibv_context_ops *o, const struct svl_ops *p)
{
	assert(p->post_send && p->post_recv && p->post_srq_recv &&
	       p->poll_cq && p->req_notify_cq && p->alloc_mw && p->bind_mw &&
	       p->dealloc_mw);
	o->post_send = p->post_send;
	o->post_recv = p->post_recv;
	o->post_srq_recv = p->post_srq_recv;
	o->poll_cq = p->poll_cq;
	o->req_notify_cq = p->req_notify_cq;
	o->alloc_mw = p->alloc_mw;
	o->bind_mw = p->bind_mw;
	o->dealloc_mw = p->dealloc_mw;
}

static void set_extended(struct verbs_context *v, const struct svl_ops *p)
{
	v->query_port = p->query_port;
	v->query_device_ex = p->query_device_ex;
	v->create_cq_ex = p->create_cq_ex;
	v->create_qp_ex = p->create_qp_ex;
	v->create_srq_ex = p->create_srq_ex;
	v->open_xrcd = p->open_xrcd;
	v->close_xrcd = p->close_xrcd;
	v->open_qp = p->open_qp;
	v->get_srq_num = p->get_srq_num;
	v->post_srq_ops = p->post_srq_ops;
	v->query_rt_values = p->query_rt_values;
	v->alloc_td = p->alloc_td;
	v->dealloc_td = p->dealloc_td;
	v->alloc_parent_domain = p->alloc_parent_domain;
	v->modify_cq = p->modify_cq;
	v->alloc_null_mr = p->alloc_null_mr;
	v->advise_mr = p->advise_mr;
	v->alloc_dm = p->alloc_dm;
	v->free_dm = p->free_dm;
	v->reg_dm_mr = p->reg_dm_mr;
	v->ibv_create_flow = p->create_flow;
	v->ibv_destroy_flow = p->destroy_flow;
	v->create_wq = p->create_wq;
	v->modify_wq = p->modify_wq;
	v->destroy_wq = p->destroy_wq;
	v->create_rwq_ind_table = p->create_rwq_ind_table;
	v->destroy_rwq_ind_table = p->destroy_rwq_ind_table;
	/* rdma-core's private slot; softverbs' library owns it. Read only. */
	v->priv = (struct verbs_ex_private *)(uintptr_t)p->dv;
}

void svl_set_ops(struct svl_context *ctx, const struct svl_ops *ops)
{
	set_fast_path(&ctx->vctx.context.ops, ops);
	set_extended(&ctx->vctx, ops);
}
