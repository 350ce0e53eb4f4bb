// SPDX-License-Identifier: MIT
/*
 * Tag-matching SRQs, the library side: the creation attributes it checks
 * (tm_cap against the device's tm_caps) and ibv_post_srq_ops, which hands
 * each work request to the daemon (SV_METHOD_SRQ_TM_OP). The list, the
 * matching and the completions are the daemon's (docs/tag-matching.md).
 */
#include <string.h>

#include "svl_prov.h"
#include "svl_qp.h"

int svl_srq_tm_check(struct ibv_context *c,
		     const struct ibv_srq_init_attr_ex *a)
{
	(void)c;
	if (!(a->comp_mask & IBV_SRQ_INIT_ATTR_TM) ||
	    !(a->comp_mask & IBV_SRQ_INIT_ATTR_CQ) || !a->cq ||
	    (a->comp_mask & IBV_SRQ_INIT_ATTR_XRCD))
		return EINVAL;
	if (!a->tm_cap.max_num_tags ||
	    a->tm_cap.max_num_tags > SV_TM_MAX_NUM_TAGS ||
	    !a->tm_cap.max_ops || a->tm_cap.max_ops > SV_TM_MAX_OPS)
		return EINVAL;
	return 0;
}

/* The wire form of one work request; EINVAL for what cannot be sent. */
static int tm_op_from_wr(const struct ibv_ops_wr *wr, struct sv_tm_op *op)
{
	int i;

	memset(op, 0, sizeof(*op));
	op->wr_id = wr->wr_id;
	op->opcode = (uint32_t)wr->opcode;
	op->flags = (uint32_t)wr->flags;
	op->unexpected_cnt = wr->tm.unexpected_cnt;
	op->handle = wr->tm.handle;
	if (wr->opcode != IBV_WR_TAG_ADD)
		return 0;
	if (wr->tm.add.num_sge < 0 || wr->tm.add.num_sge > SV_TM_MAX_SGE ||
	    (wr->tm.add.num_sge && !wr->tm.add.sg_list))
		return EINVAL;
	op->recv_wr_id = wr->tm.add.recv_wr_id;
	op->tag = wr->tm.add.tag;
	op->mask = wr->tm.add.mask;
	op->num_sge = (uint32_t)wr->tm.add.num_sge;
	for (i = 0; i < wr->tm.add.num_sge; i++) {
		op->sge[i].addr = wr->tm.add.sg_list[i].addr;
		op->sge[i].length = wr->tm.add.sg_list[i].length;
		op->sge[i].lkey = wr->tm.add.sg_list[i].lkey;
	}
	return 0;
}

static int tm_post_one(struct ibv_srq *srq, struct ibv_ops_wr *wr)
{
	struct sv_tm_op op;
	uint32_t handle = 0;
	struct svl_cmd c;
	int ret;

	ret = tm_op_from_wr(wr, &op);
	if (ret)
		return ret;
	svl_cmd_init(&c, UVERBS_OBJECT_SRQ, SV_METHOD_SRQ_TM_OP);
	svl_attr_idr(&c, SV_ATTR_SRQ_TM_OP_HANDLE, srq->handle);
	svl_attr_in(&c, SV_ATTR_SRQ_TM_OP_REQ, &op, sizeof(op));
	svl_attr_out(&c, SV_ATTR_SRQ_TM_OP_TAG, &handle, sizeof(handle));
	ret = svl_exec(srq->context, &c);
	if (!ret && wr->opcode == IBV_WR_TAG_ADD)
		wr->tm.handle = handle;
	return ret;
}

int svl_post_srq_ops(struct ibv_srq *srq, struct ibv_ops_wr *wr,
		     struct ibv_ops_wr **bad_wr)
{
	int ret = to_svl_srq(srq)->srq_type == IBV_SRQT_TM ? 0 : EINVAL;

	for (; wr && !ret; wr = ret ? wr : wr->next)
		ret = tm_post_one(srq, wr);
	if (ret && bad_wr)
		*bad_wr = wr;
	return ret;
}
