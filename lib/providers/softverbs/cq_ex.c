// SPDX-License-Identifier: MIT
/*
 * Extended CQs (ibv_create_cq_ex): the same ring as a legacy CQ, read one
 * entry at a time through start_poll / next_poll / end_poll and the read_*
 * accessors. start_poll takes the CQ lock and end_poll drops it, so a batch
 * is consumed atomically with respect to other pollers and resize.
 */
#include <limits.h>
#include <string.h>

#include "direct.h"
#include "svl_cq.h"
#include "svl_prov.h"

static inline struct svl_cq *cur_cq(struct ibv_cq_ex *ibcq)
{
	return ex_to_svl_cq(ibcq);
}

/* Load the entry at cons (if any) into the public wr_id/status. */
static int ex_load(struct svl_cq *cq)
{
	/* The daemon's ring merged with the direct path's (direct_cq.c). */
	cq->cur = svl_cq_peek(cq);
	if (!cq->cur)
		return ENOENT;
	svl_scat_peeked(cq, cq->cur); /* small payloads land now */
	cq->cq_ex.wr_id = cq->cur->wr_id;
	cq->cq_ex.status = (enum ibv_wc_status)cq->cur->status;
	return 0;
}

static int ex_start_poll(struct ibv_cq_ex *ibcq, struct ibv_poll_cq_attr *attr)
{
	struct svl_cq *cq = cur_cq(ibcq);
	int ret;

	if (attr->comp_mask)
		return EINVAL;
	svl_dwar_poll(cq); /* small WRITEs applied since: completions */
	svl_cq_lock(cq);
	ret = ex_load(cq);
	/* end_poll is not called after a failed start_poll. */
	if (ret)
		svl_cq_unlock(cq);
	return ret;
}

static int ex_next_poll(struct ibv_cq_ex *ibcq)
{
	struct svl_cq *cq = cur_cq(ibcq);

	if (cq->cur)
		svl_cq_pop(cq);
	return ex_load(cq);
}

static void ex_end_poll(struct ibv_cq_ex *ibcq)
{
	struct svl_cq *cq = cur_cq(ibcq);

	if (cq->cur)
		svl_cq_pop(cq);
	cq->cur = NULL;
	svl_store_release(&cq->db->cons, cq->cons);
	svl_cq_unlock(cq);
}

static enum ibv_wc_opcode ex_read_opcode(struct ibv_cq_ex *ibcq)
{
	return (enum ibv_wc_opcode)cur_cq(ibcq)->cur->opcode;
}

static uint32_t ex_read_vendor_err(struct ibv_cq_ex *ibcq)
{
	const struct sv_cqe *e = cur_cq(ibcq)->cur;

	return e->status ? e->vendor_err : 0; /* tm_priv otherwise */
}

static uint32_t ex_read_byte_len(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->byte_len;
}

static __be32 ex_read_imm_data(struct ibv_cq_ex *ibcq)
{
	return (__be32)cur_cq(ibcq)->cur->imm_data; /* stored big-endian */
}

static uint32_t ex_read_qp_num(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->qp_num;
}

static uint32_t ex_read_src_qp(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->src_qp;
}

static unsigned int ex_read_wc_flags(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->wc_flags;
}

static uint32_t ex_read_slid(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->slid;
}

static uint8_t ex_read_sl(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->sl;
}

static uint8_t ex_read_dlid_path_bits(struct ibv_cq_ex *ibcq)
{
	return cur_cq(ibcq)->cur->dlid_path_bits;
}

/* The matched TMH's tag and app_ctx; zero unless IBV_WC_TM_MATCH. */
static void ex_read_tm_info(struct ibv_cq_ex *ibcq,
			    struct ibv_wc_tm_info *info)
{
	const struct sv_cqe *e = cur_cq(ibcq)->cur;
	bool match = e->wc_flags & IBV_WC_TM_MATCH;

	info->tag = match ? e->tm_tag : 0;
	info->priv = match ? e->tm_priv : 0;
}

void svl_cq_ex_init(struct svl_cq *cq, uint64_t wc_flags)
{
	struct ibv_cq_ex *x = &cq->cq_ex;

	cq->wc_flags = wc_flags;
	x->comp_mask = 0;
	x->start_poll = ex_start_poll;
	x->next_poll = ex_next_poll;
	x->end_poll = ex_end_poll;
	x->read_opcode = ex_read_opcode;
	x->read_vendor_err = ex_read_vendor_err;
	x->read_byte_len = ex_read_byte_len;
	x->read_imm_data = ex_read_imm_data;
	x->read_qp_num = ex_read_qp_num;
	x->read_src_qp = ex_read_src_qp;
	x->read_wc_flags = ex_read_wc_flags;
	x->read_slid = ex_read_slid;
	x->read_sl = ex_read_sl;
	x->read_dlid_path_bits = ex_read_dlid_path_bits;
	x->read_tm_info = ex_read_tm_info;
	/* Timestamps, cvlan, flow tag: creation refuses those flags. */
}

#define SVL_CQ_EX_FLAGS                                                        \
	(IBV_CREATE_CQ_ATTR_SINGLE_THREADED | IBV_CREATE_CQ_ATTR_IGNORE_OVERRUN)

/* Check what we can honour; the errnos follow rdma-core providers. */
static int cq_ex_check(const struct ibv_cq_init_attr_ex *attr, uint32_t *flags)
{
	*flags = 0;
	if (attr->comp_mask &
	    ~(uint32_t)(IBV_CQ_INIT_ATTR_MASK_FLAGS | IBV_CQ_INIT_ATTR_MASK_PD))
		return EINVAL;
	if (attr->wc_flags &
	    ~(uint64_t)(IBV_WC_STANDARD_FLAGS | IBV_WC_EX_WITH_TM_INFO))
		return EOPNOTSUPP;
	if (attr->cqe > INT_MAX || attr->comp_vector > INT_MAX)
		return EINVAL;
	if (!(attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_FLAGS))
		return 0;
	if (attr->flags & ~SVL_CQ_EX_FLAGS)
		return EOPNOTSUPP;
	if (attr->flags & IBV_CREATE_CQ_ATTR_IGNORE_OVERRUN)
		*flags |= IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN;
	return 0;
}

/*
 * A parent domain (IBV_CQ_INIT_ATTR_MASK_PD) gives the CQ's library state
 * and ring pages through its allocator (domain_ring.c); with a TD the CQ
 * is polled without a lock (docs/resource-domains.md).
 */
struct ibv_cq_ex *svl_create_cq_ex(struct ibv_context *ctx,
				   struct ibv_cq_init_attr_ex *attr)
{
	struct ibv_pd *pd = NULL;
	struct svl_cq *cq;
	uint32_t flags;
	int ret;

	ret = cq_ex_check(attr, &flags);
	if (!ret && (attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_PD)) {
		pd = attr->parent_domain;
		if (!svl_pd_is_parent(ctx, pd))
			ret = EINVAL; /* as mlx5: only a parent domain */
	}
	if (ret)
		return svl_fail(ret);
	cq = svl_cq_create(ctx, (int)attr->cqe, attr->cq_context,
			   attr->channel, (int)attr->comp_vector, flags, pd);
	if (!cq)
		return NULL;
	svl_cq_ex_init(cq, attr->wc_flags);
	return &cq->cq_ex;
}
