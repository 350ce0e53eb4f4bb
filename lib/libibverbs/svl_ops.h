/* SPDX-License-Identifier: MIT */
/*
 * The interface between the library surface (lib/libibverbs) and the
 * device provider (lib/providers/softverbs), as rdma-core's providers fill
 * one verbs_context_ops and hand it to verbs_set_ops(): the provider
 * defines one const table of its ops, and svl_set_ops() installs it in
 * every new context. The table names each function, so an op declared but
 * never written is a link error, not a silent NULL.
 */
#ifndef SVL_OPS_H
#define SVL_OPS_H

#include "svl.h"

struct svl_ops {
	/*
	 * struct ibv_context_ops: verbs.h's inline fast path calls these
	 * without a NULL check, so svl_set_ops() requires each of them.
	 */
	int (*post_send)(struct ibv_qp *qp, struct ibv_send_wr *wr,
			 struct ibv_send_wr **bad);
	int (*post_recv)(struct ibv_qp *qp, struct ibv_recv_wr *wr,
			 struct ibv_recv_wr **bad);
	int (*post_srq_recv)(struct ibv_srq *srq, struct ibv_recv_wr *wr,
			     struct ibv_recv_wr **bad);
	int (*poll_cq)(struct ibv_cq *cq, int n, struct ibv_wc *wc);
	int (*req_notify_cq)(struct ibv_cq *cq, int solicited);
	struct ibv_mw *(*alloc_mw)(struct ibv_pd *pd, enum ibv_mw_type t);
	int (*bind_mw)(struct ibv_qp *qp, struct ibv_mw *mw,
		       struct ibv_mw_bind *bind);
	int (*dealloc_mw)(struct ibv_mw *mw);
	/*
	 * struct verbs_context: verbs.h turns a NULL one into EOPNOTSUPP, so a
	 * verb the provider does not offer is simply left out of its table.
	 */
	int (*query_port)(struct ibv_context *c, uint8_t port,
			  struct ibv_port_attr *attr, size_t len);
	int (*query_device_ex)(struct ibv_context *c,
			       const struct ibv_query_device_ex_input *in,
			       struct ibv_device_attr_ex *attr, size_t len);
	struct ibv_cq_ex *(*create_cq_ex)(struct ibv_context *c,
					  struct ibv_cq_init_attr_ex *attr);
	struct ibv_qp *(*create_qp_ex)(struct ibv_context *c,
				       struct ibv_qp_init_attr_ex *attr);
	struct ibv_srq *(*create_srq_ex)(struct ibv_context *c,
					 struct ibv_srq_init_attr_ex *attr);
	struct ibv_xrcd *(*open_xrcd)(struct ibv_context *c,
				      struct ibv_xrcd_init_attr *attr);
	int (*close_xrcd)(struct ibv_xrcd *x);
	struct ibv_qp *(*open_qp)(struct ibv_context *c,
				  struct ibv_qp_open_attr *attr);
	int (*get_srq_num)(struct ibv_srq *srq, uint32_t *num);
	int (*post_srq_ops)(struct ibv_srq *srq, struct ibv_ops_wr *wr,
			    struct ibv_ops_wr **bad_wr);
	int (*query_rt_values)(struct ibv_context *c, struct ibv_values_ex *v);
	struct ibv_td *(*alloc_td)(struct ibv_context *c,
				   struct ibv_td_init_attr *attr);
	int (*dealloc_td)(struct ibv_td *td);
	struct ibv_pd *(*alloc_parent_domain)(
		struct ibv_context *c, struct ibv_parent_domain_init_attr *attr);
	int (*modify_cq)(struct ibv_cq *cq, struct ibv_modify_cq_attr *attr);
	struct ibv_mr *(*alloc_null_mr)(struct ibv_pd *pd);
	int (*advise_mr)(struct ibv_pd *pd, enum ibv_advise_mr_advice adv,
			 uint32_t flags, struct ibv_sge *sg, uint32_t n);
	struct ibv_dm *(*alloc_dm)(struct ibv_context *c,
				   struct ibv_alloc_dm_attr *attr);
	int (*free_dm)(struct ibv_dm *dm);
	struct ibv_mr *(*reg_dm_mr)(struct ibv_pd *pd, struct ibv_dm *dm,
				    uint64_t off, size_t len,
				    unsigned int access);
	struct ibv_flow *(*create_flow)(struct ibv_qp *qp,
					struct ibv_flow_attr *attr);
	int (*destroy_flow)(struct ibv_flow *flow);
	struct ibv_wq *(*create_wq)(struct ibv_context *c,
				    struct ibv_wq_init_attr *attr);
	int (*modify_wq)(struct ibv_wq *wq, struct ibv_wq_attr *attr);
	int (*destroy_wq)(struct ibv_wq *wq);
	struct ibv_rwq_ind_table *(*create_rwq_ind_table)(
		struct ibv_context *c, struct ibv_rwq_ind_table_init_attr *a);
	int (*destroy_rwq_ind_table)(struct ibv_rwq_ind_table *t);
	/*
	 * The provider's direct-verbs table (<softverbs/softverbs_dv.h>),
	 * published in verbs_context.priv for the header's inline calls.
	 */
	const struct softverbsdv_ops *dv;
};

/* The softverbs provider's table (providers/softverbs/ops.c). */
extern const struct svl_ops svl_softverbs_ops;

/* Install ops in a new context (libibverbs/ops.c). */
void svl_set_ops(struct svl_context *ctx, const struct svl_ops *ops);

#endif
