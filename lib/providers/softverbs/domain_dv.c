// SPDX-License-Identifier: MIT
/*
 * The resource-domain calls of <softverbs/softverbs_dv.h> (seed 002):
 * the device query with max_resource_domains, QP creation with a resource
 * domain index, and queries that show which doorbell page, lock and ring
 * memory an object got (docs/resource-domains.md).
 */
#include <softverbs/softverbs_dv.h>

#include "svl_cq.h"
#include "svl_domain.h"
#include "svl_prov.h"
#include "svl_qp.h"

_Static_assert((int)SOFTVERBSDV_RES_TYPE_QP_RING == SVL_RES_TYPE_QP_RING &&
		       (int)SOFTVERBSDV_RES_TYPE_CQ_RING ==
			       SVL_RES_TYPE_CQ_RING &&
		       (int)SOFTVERBSDV_RES_TYPE_SRQ_RING ==
			       SVL_RES_TYPE_SRQ_RING &&
		       (int)SOFTVERBSDV_RES_TYPE_QP == SVL_RES_TYPE_QP,
	       "the public resource types are the library's");

/* SV_METHOD_QUERY_STATS: the daemon's view of the doorbell pages (and of
 * one page's QPs unless page is NULL). */
static int stats_exec(struct ibv_context *ctx, const uint32_t *page,
		      struct sv_query_stats_resp *r)
{
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_QUERY_STATS);
	svl_attr_out(&c, SV_ATTR_QUERY_STATS_RESP, r, sizeof(*r));
	if (page)
		svl_attr_in(&c, SV_ATTR_QUERY_STATS_PAGE, page, sizeof(*page));
	return svl_exec(ctx, &c);
}

/* How many QPs the engine rings through page (0 if it cannot say). */
static uint32_t page_qps(struct ibv_context *ctx, uint32_t page)
{
	struct sv_query_stats_resp r = {};

	return stats_exec(ctx, &page, &r) ? 0 : r.page_qps;
}

int svl_dv_query_device(struct ibv_context *ctx,
			   struct softverbsdv_device_attr *a)
{
	struct sv_query_stats_resp r = {};
	struct svl_domain_counts n;
	int ret;

	if (a->comp_mask)
		return EINVAL;
	ret = stats_exec(ctx, NULL, &r);
	if (ret)
		return ret;
	svl_domains_counts(ctx, &n);
	memset(a, 0, sizeof(*a));
	a->max_resource_domains = r.max_resource_domains;
	a->max_db_pages = r.max_db_pages;
	a->db_pages_used = r.db_pages_used;
	a->ctx_db_pages = r.ctx_db_pages;
	a->shared_db_page = to_svl_ctx(ctx)->db_page_index;
	a->td_db_pages = n.td_pages;
	a->rd_db_pages = n.rd_pages;
	a->free_db_pages = n.free_pages;
	a->rd_fallbacks = n.rd_fallbacks;
	return 0;
}

struct ibv_qp *svl_dv_create_qp(struct ibv_context *ctx,
				   struct ibv_qp_init_attr_ex *attr,
				   struct softverbsdv_qp_init_attr *sv)
{
	const uint64_t known = SOFTVERBSDV_QP_INIT_ATTR_RES_DOMAIN;
	int64_t rd = -1;

	if (sv && (sv->comp_mask & ~known))
		return svl_fail(EINVAL);
	if (sv && (sv->comp_mask & SOFTVERBSDV_QP_INIT_ATTR_RES_DOMAIN))
		rd = sv->resource_domain;
	return svl_create_qp_rd(ctx, attr, rd);
}

int svl_dv_query_qp(struct ibv_qp *qp, struct softverbsdv_obj_attr *o)
{
	struct svl_qp *q = to_svl_qp(qp);

	memset(o, 0, sizeof(*o));
	o->db_page = q->db_page_index;
	o->page_qps = page_qps(qp->context, q->db_page_index);
	o->ring = q->map;
	if (q->db_dedicated)
		o->flags |= SOFTVERBSDV_OBJ_DEDICATED_DB;
	if (q->sq.no_lock)
		o->flags |= SOFTVERBSDV_OBJ_NO_LOCK;
	if (q->ring_src.domain)
		o->flags |= SOFTVERBSDV_OBJ_RING_FROM_ALLOC;
	if (q->rd >= 0) {
		o->flags |= SOFTVERBSDV_OBJ_RES_DOMAIN;
		o->resource_domain = (uint32_t)q->rd;
	}
	return 0;
}

/* A CQ rings no doorbell page: the engine writes it. */
int svl_dv_query_cq(struct ibv_cq *ibcq, struct softverbsdv_obj_attr *o)
{
	struct svl_cq *cq = to_svl_cq(ibcq);

	memset(o, 0, sizeof(*o));
	o->ring = cq->map;
	if (cq->no_lock)
		o->flags |= SOFTVERBSDV_OBJ_NO_LOCK;
	if (cq->ring_src.domain)
		o->flags |= SOFTVERBSDV_OBJ_RING_FROM_ALLOC;
	return 0;
}

int svl_dv_query_srq(struct ibv_srq *srq, struct softverbsdv_obj_attr *o)
{
	struct svl_srq *s = to_svl_srq(srq);

	memset(o, 0, sizeof(*o));
	o->db_page = s->db_page_index;
	o->page_qps = page_qps(srq->context, s->db_page_index);
	o->ring = s->map;
	if (s->rq.no_lock)
		o->flags |= SOFTVERBSDV_OBJ_NO_LOCK |
			    SOFTVERBSDV_OBJ_DEDICATED_DB; /* both: its TD's */
	if (s->ring_src.domain)
		o->flags |= SOFTVERBSDV_OBJ_RING_FROM_ALLOC;
	return 0;
}
