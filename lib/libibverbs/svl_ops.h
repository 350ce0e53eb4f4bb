/* SPDX-License-Identifier: MIT */
/*
 * Every op a context can carry. Declared weak: a verb whose module has not
 * landed resolves to NULL, and ops.c substitutes EOPNOTSUPP.
 */
#ifndef SVL_OPS_H
#define SVL_OPS_H

#include "svl.h"

#define SVL_WEAK __attribute__((weak))

SVL_WEAK int svl_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
			   struct ibv_send_wr **bad);
SVL_WEAK int svl_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
			   struct ibv_recv_wr **bad);
SVL_WEAK int svl_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr,
			       struct ibv_recv_wr **bad);
SVL_WEAK int svl_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
SVL_WEAK int svl_req_notify_cq(struct ibv_cq *cq, int solicited);
SVL_WEAK struct ibv_mw *svl_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type t);
SVL_WEAK int svl_bind_mw(struct ibv_qp *qp, struct ibv_mw *mw,
			 struct ibv_mw_bind *bind);
SVL_WEAK int svl_dealloc_mw(struct ibv_mw *mw);

SVL_WEAK int svl_query_port_ex(struct ibv_context *c, uint8_t port,
			       struct ibv_port_attr *attr, size_t len);
SVL_WEAK int svl_query_device_ex(struct ibv_context *c,
				 const struct ibv_query_device_ex_input *in,
				 struct ibv_device_attr_ex *attr, size_t len);
SVL_WEAK struct ibv_cq_ex *svl_create_cq_ex(struct ibv_context *c,
					    struct ibv_cq_init_attr_ex *attr);
SVL_WEAK struct ibv_qp *svl_create_qp_ex(struct ibv_context *c,
					 struct ibv_qp_init_attr_ex *attr);
SVL_WEAK struct ibv_srq *svl_create_srq_ex(struct ibv_context *c,
					   struct ibv_srq_init_attr_ex *attr);
SVL_WEAK struct ibv_xrcd *svl_open_xrcd(struct ibv_context *c,
					struct ibv_xrcd_init_attr *attr);
SVL_WEAK int svl_close_xrcd(struct ibv_xrcd *x);
SVL_WEAK struct ibv_qp *svl_open_qp(struct ibv_context *c,
				    struct ibv_qp_open_attr *attr);
SVL_WEAK int svl_get_srq_num(struct ibv_srq *srq, uint32_t *num);
SVL_WEAK struct ibv_td *svl_alloc_td(struct ibv_context *c,
				     struct ibv_td_init_attr *attr);
SVL_WEAK int svl_dealloc_td(struct ibv_td *td);
SVL_WEAK struct ibv_pd *
svl_alloc_parent_domain(struct ibv_context *c,
			struct ibv_parent_domain_init_attr *attr);
SVL_WEAK int svl_modify_cq(struct ibv_cq *cq, struct ibv_modify_cq_attr *attr);
SVL_WEAK int svl_query_rt_values(struct ibv_context *c,
				 struct ibv_values_ex *v);
SVL_WEAK struct ibv_mr *svl_alloc_null_mr(struct ibv_pd *pd);
SVL_WEAK int svl_advise_mr(struct ibv_pd *pd, enum ibv_advise_mr_advice adv,
			   uint32_t flags, struct ibv_sge *sg, uint32_t n);
SVL_WEAK struct ibv_dm *svl_alloc_dm(struct ibv_context *c,
				     struct ibv_alloc_dm_attr *attr);
SVL_WEAK int svl_free_dm(struct ibv_dm *dm);
SVL_WEAK struct ibv_mr *svl_reg_dm_mr(struct ibv_pd *pd, struct ibv_dm *dm,
				      uint64_t off, size_t len,
				      unsigned int access);

#endif
