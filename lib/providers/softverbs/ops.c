// SPDX-License-Identifier: MIT
/*
 * The softverbs provider's ops table (see libibverbs/svl_ops.h). A verb
 * not listed here is EOPNOTSUPP through verbs.h (extended ops only: the
 * fast-path ones are all required).
 */
#include "svl_ops.h"
#include "svl_pd.h"
#include "svl_prov.h"

const struct svl_ops svl_softverbs_ops = {
	.post_send = svl_post_send,
	.post_recv = svl_post_recv,
	.post_srq_recv = svl_post_srq_recv,
	.poll_cq = svl_poll_cq,
	.req_notify_cq = svl_req_notify_cq,
	.alloc_mw = svl_alloc_mw,
	.bind_mw = svl_bind_mw,
	.dealloc_mw = svl_dealloc_mw,
	.query_port = svl_query_port_ex,
	.query_device_ex = svl_query_device_ex,
	.create_cq_ex = svl_create_cq_ex,
	.create_qp_ex = svl_create_qp_ex,
	.create_srq_ex = svl_create_srq_ex,
	.open_xrcd = svl_open_xrcd,
	.close_xrcd = svl_close_xrcd,
	.open_qp = svl_open_qp,
	.get_srq_num = svl_get_srq_num,
	.post_srq_ops = svl_post_srq_ops,
	.query_rt_values = svl_query_rt_values,
	.alloc_td = svl_alloc_td,
	.dealloc_td = svl_dealloc_td,
	.alloc_parent_domain = svl_alloc_parent_domain,
	.alloc_dm = svl_alloc_dm,
	.free_dm = svl_free_dm,
	.advise_mr = svl_advise_mr,
	.reg_dm_mr = svl_reg_dm_mr,
	.create_flow = svl_create_flow,
	.destroy_flow = svl_destroy_flow,
	.create_wq = svl_create_wq,
	.modify_wq = svl_modify_wq,
	.destroy_wq = svl_destroy_wq,
	.create_rwq_ind_table = svl_create_rwq_ind_table,
	.destroy_rwq_ind_table = svl_destroy_rwq_ind_table,
	.dv = &svl_softverbs_dv_ops,
};
