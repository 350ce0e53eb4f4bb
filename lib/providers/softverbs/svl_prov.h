/* SPDX-License-Identifier: MIT */
/*
 * The softverbs provider's ops: each is defined in the file named, and
 * ops.c lists them all in svl_softverbs_ops (libibverbs/svl_ops.h).
 */
#ifndef SVL_PROV_H
#define SVL_PROV_H

#include "svl.h"

/* post.c */
int svl_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
		  struct ibv_send_wr **bad);
int svl_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
		  struct ibv_recv_wr **bad);
int svl_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr,
		      struct ibv_recv_wr **bad);
/* cq.c, cq_ex.c */
int svl_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
int svl_req_notify_cq(struct ibv_cq *cq, int solicited);
struct ibv_cq_ex *svl_create_cq_ex(struct ibv_context *c,
				   struct ibv_cq_init_attr_ex *attr);
/* mr.c */
struct ibv_mr *svl_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
				 size_t length, uint64_t iova, int fd,
				 int access, uint32_t sv_access);
struct ibv_mw *svl_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type t);
int svl_bind_mw(struct ibv_qp *qp, struct ibv_mw *mw,
		struct ibv_mw_bind *bind);
int svl_dealloc_mw(struct ibv_mw *mw);
/* query.c */
int svl_query_port_ex(struct ibv_context *c, uint8_t port,
		      struct ibv_port_attr *attr, size_t len);
int svl_query_device_ex(struct ibv_context *c,
			const struct ibv_query_device_ex_input *in,
			struct ibv_device_attr_ex *attr, size_t len);
int svl_query_rt_values(struct ibv_context *c, struct ibv_values_ex *v);
/* qp.c */
/* Receive-side scaling (wq.c). */
struct ibv_wq *svl_create_wq(struct ibv_context *ctx,
			     struct ibv_wq_init_attr *a);
int svl_modify_wq(struct ibv_wq *wq, struct ibv_wq_attr *a);
int svl_destroy_wq(struct ibv_wq *wq);
struct ibv_rwq_ind_table *
svl_create_rwq_ind_table(struct ibv_context *ctx,
			 struct ibv_rwq_ind_table_init_attr *a);
int svl_destroy_rwq_ind_table(struct ibv_rwq_ind_table *t);
/* Flow steering (flow.c). */
struct ibv_flow *svl_create_flow(struct ibv_qp *qp, struct ibv_flow_attr *a);
int svl_destroy_flow(struct ibv_flow *flow);
struct ibv_qp *svl_create_qp_ex(struct ibv_context *c,
				struct ibv_qp_init_attr_ex *attr);
/* svl_create_qp_ex with a seed-002 resource domain index (-1: none). */
struct ibv_qp *svl_create_qp_rd(struct ibv_context *c,
				struct ibv_qp_init_attr_ex *attr, int64_t rd);
struct ibv_qp *svl_open_qp(struct ibv_context *c,
			   struct ibv_qp_open_attr *attr);
/* srq.c */
struct ibv_srq *svl_create_srq_ex(struct ibv_context *c,
				  struct ibv_srq_init_attr_ex *attr);
struct ibv_xrcd *svl_open_xrcd(struct ibv_context *c,
			       struct ibv_xrcd_init_attr *attr);
int svl_close_xrcd(struct ibv_xrcd *x);
int svl_get_srq_num(struct ibv_srq *srq, uint32_t *num);
/* srq_tm.c */
int svl_srq_tm_check(struct ibv_context *c,
		     const struct ibv_srq_init_attr_ex *attr);
int svl_post_srq_ops(struct ibv_srq *srq, struct ibv_ops_wr *wr,
		     struct ibv_ops_wr **bad_wr);

/* dm.c */
struct ibv_dm *svl_alloc_dm(struct ibv_context *c,
			    struct ibv_alloc_dm_attr *attr);
int svl_free_dm(struct ibv_dm *dm);

/* advise.c */
int svl_advise_mr(struct ibv_pd *pd, enum ibv_advise_mr_advice advice,
		  uint32_t flags, struct ibv_sge *sg_list, uint32_t num_sge);
struct ibv_mr *svl_reg_dm_mr(struct ibv_pd *pd, struct ibv_dm *dm,
			     uint64_t off, size_t len, unsigned int access);

/* domain_dv.c: the resource-domain calls of the direct-verbs table */
struct softverbsdv_device_attr;
struct softverbsdv_qp_init_attr;
struct softverbsdv_obj_attr;
int svl_dv_query_device(struct ibv_context *ctx,
			struct softverbsdv_device_attr *a);
struct ibv_qp *svl_dv_create_qp(struct ibv_context *ctx,
				struct ibv_qp_init_attr_ex *attr,
				struct softverbsdv_qp_init_attr *sv);
int svl_dv_query_qp(struct ibv_qp *qp, struct softverbsdv_obj_attr *o);
int svl_dv_query_cq(struct ibv_cq *cq, struct softverbsdv_obj_attr *o);
int svl_dv_query_srq(struct ibv_srq *srq, struct softverbsdv_obj_attr *o);

/* dv.c: the direct-verbs table */
extern const struct softverbsdv_ops svl_softverbs_dv_ops;

#endif
