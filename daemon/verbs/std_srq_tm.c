// SPDX-License-Identifier: MIT
/*
 * Tag-matching SRQs, the command side: the tag list and the work requests
 * of ibv_post_srq_ops (TAG_ADD, TAG_DEL, TAG_SYNC), one per
 * SV_METHOD_SRQ_TM_OP. Each runs at once, as a NIC's list operation would
 * by the time its completion is polled, and its completion (signaled, or
 * any failure) goes to the SRQ's CQ. The matching of arriving messages is
 * the responder's (nic/eng_tm.c); svd_tm.h has the phase rule.
 */
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "svd_cq.h"
#include "svd_tm.h"

struct svd_tm *svd_tm_alloc(uint32_t max_tags)
{
	struct svd_tm *tm;

	tm = calloc(1, sizeof(*tm) + (size_t)max_tags * sizeof(tm->entry[0]));
	if (tm)
		tm->max_tags = max_tags;
	return tm;
}

bool svd_tm_take(struct svd_tm *tm, uint64_t tag, struct svd_tm_entry *out)
{
	struct svd_tm_entry *best = NULL, *t;
	uint32_t i;

	for (i = 0; i < tm->max_tags; i++) {
		t = &tm->entry[i];
		if (!t->used || !t->armed || (tag & t->mask) != (t->tag & t->mask))
			continue;
		if (!best || t->seq < best->seq)
			best = t;
	}
	if (!best)
		return false;
	*out = *best;
	best->used = false;
	return true;
}

/* What the op reports in its completion (IBV_WC_* status and flags). */
struct tm_result {
	uint32_t status, wc_flags;
};

/* IBV_OPS_TM_SYNC: software has handled this many unexpected messages. */
static void tm_sync(struct svd_tm *tm, uint32_t cnt)
{
	uint32_t i;

	tm->unexp_sw = cnt;
	if (tm->unexp_sw != tm->unexp_hw)
		return;
	for (i = 0; i < tm->max_tags; i++)
		tm->entry[i].armed = true;
}

static int tm_add(struct svd_srq *srq, const struct sv_tm_op *op,
		  uint32_t *handle, struct tm_result *r)
{
	struct svd_tm *tm = srq->tm;
	struct svd_tm_entry *t = NULL;
	uint32_t i;

	if (op->num_sge > SV_TM_MAX_SGE || op->num_sge > srq->max_sge)
		return -EINVAL;
	for (i = 0; i < tm->max_tags && !t; i++)
		if (!tm->entry[i].used)
			t = &tm->entry[i];
	if (!t)
		return -ENOMEM; /* the list is full, as mlx5 says */
	memset(t, 0, sizeof(*t));
	t->used = true;
	t->seq = tm->next_seq++;
	t->tag = op->tag;
	t->mask = op->mask;
	t->recv_wr_id = op->recv_wr_id;
	t->num_sge = op->num_sge;
	memcpy(t->sge, op->sge, sizeof(t->sge[0]) * op->num_sge);
	/* Out of phase: it waits for a SYNC, and says so. */
	t->armed = tm->unexp_sw == tm->unexp_hw;
	if (!t->armed)
		r->wc_flags |= IBV_WC_TM_SYNC_REQ;
	*handle = (uint32_t)(t - tm->entry);
	return 0;
}

/* A tag consumed by a message meanwhile is a TM_ERR completion. */
static int tm_del(struct svd_tm *tm, uint32_t handle, struct tm_result *r)
{
	if (handle >= tm->max_tags)
		return -EINVAL;
	if (!tm->entry[handle].used)
		r->status = IBV_WC_TM_ERR;
	tm->entry[handle].used = false;
	return 0;
}

static uint32_t tm_wc_opcode(uint32_t opcode)
{
	return opcode == IBV_WR_TAG_ADD ? IBV_WC_TM_ADD :
	       opcode == IBV_WR_TAG_DEL ? IBV_WC_TM_DEL :
					  IBV_WC_TM_SYNC;
}

static int tm_exec(struct svd_srq *srq, const struct sv_tm_op *op,
		   uint32_t *handle, struct tm_result *r)
{
	if (op->flags & IBV_OPS_TM_SYNC)
		tm_sync(srq->tm, op->unexpected_cnt);
	switch (op->opcode) {
	case IBV_WR_TAG_ADD:
		return tm_add(srq, op, handle, r);
	case IBV_WR_TAG_DEL:
		return tm_del(srq->tm, op->handle, r);
	default: /* IBV_WR_TAG_SYNC: the counter only */
		return 0;
	}
}

int svd_tm_post_op(struct svd_srq *srq, const struct sv_tm_op *op,
		   uint32_t *handle)
{
	struct tm_result r = { .status = IBV_WC_SUCCESS };
	struct sv_cqe cqe = {};
	int ret;

	if (!srq->tm)
		return -EINVAL; /* not a TM-SRQ: no list to work on */
	if (op->opcode > IBV_WR_TAG_SYNC ||
	    op->flags & ~(uint32_t)(IBV_OPS_SIGNALED | IBV_OPS_TM_SYNC) ||
	    op->reserved)
		return -EINVAL;
	pthread_mutex_lock(&srq->lock);
	ret = tm_exec(srq, op, handle, &r);
	pthread_mutex_unlock(&srq->lock);
	if (ret || (!(op->flags & IBV_OPS_SIGNALED) && !r.status &&
		    !r.wc_flags))
		return ret;
	cqe.wr_id = op->wr_id;
	cqe.status = r.status;
	cqe.opcode = tm_wc_opcode(op->opcode);
	cqe.wc_flags = r.wc_flags;
	if (srq->cq && !svd_cq_push(srq->cq, &cqe))
		svd_cq_notify(srq->cq, false);
	return 0;
}

/* ioctl: driver method SV_METHOD_SRQ_TM_OP */
static int srq_method_tm_op(struct svd_bundle *b)
{
	struct svd_srq *srq = svd_attr_get_obj(b, SV_ATTR_SRQ_TM_OP_HANDLE);
	struct sv_tm_op op;
	uint32_t handle = 0;
	int ret;

	ret = svd_attr_copy_from(b, SV_ATTR_SRQ_TM_OP_REQ, &op, sizeof(op));
	if (!ret)
		ret = svd_tm_post_op(srq, &op, &handle);
	if (!ret && svd_attr_is_present(b, SV_ATTR_SRQ_TM_OP_TAG))
		ret = svd_attr_copy_to(b, SV_ATTR_SRQ_TM_OP_TAG, &handle,
				       sizeof(handle));
	return ret;
}
SVD_DECLARE_METHOD(SV_METHOD_SRQ_TM_OP, srq_method_tm_op,
		   SVD_ATTR_IDR(SV_ATTR_SRQ_TM_OP_HANDLE, &svd_type_srq,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_SRQ_TM_OP_REQ, struct sv_tm_op,
				   SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_SRQ_TM_OP_TAG, uint32_t,
				    SVD_OPTIONAL));

const struct svd_module svd_mod_srq_tm = {
    .name = "srq_tm",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_SRQ, &svd_type_srq,
			   SVD_METHOD_REF(SV_METHOD_SRQ_TM_OP))),
};
