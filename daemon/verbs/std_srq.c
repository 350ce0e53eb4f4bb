// SPDX-License-Identifier: MIT
/*
 * SRQs: create (ioctl, ring handed over as seed-001 buffers), modify,
 * query and destroy (write; destroy also by ioctl). Basic, XRC and
 * tag-matching SRQs (their tag list: std_srq_tm.c). An SRQ used by QPs is
 * EBUSY.
 */
#include <stdlib.h>
#include <string.h>

#include "svd_qpn.h"
#include "svd_tm.h"

struct srq_priv {
	struct svd_srq srq;
	struct svd_xrcd *xrcd;
	bool published;
	bool counted;
};

uint32_t svd_srq_xrcdn(const struct svd_srq *srq)
{
	const struct srq_priv *p = (const struct srq_priv *)srq;

	return p->xrcd ? p->xrcd->xrcdn : 0;
}

static void srq_free(struct srq_priv *p)
{
	struct svd_srq *srq = &p->srq;

	if (p->published) {
		svd_srqn_remove(srq->uctx->dev, srq);
		srq->uctx->dev->nic->srq_destroy(srq);
	}
	if (p->counted) {
		atomic_fetch_sub(&srq->pd->usecnt, 1);
		if (srq->cq)
			atomic_fetch_sub(&srq->cq->usecnt, 1);
		if (p->xrcd)
			atomic_fetch_sub(&p->xrcd->usecnt, 1);
	}
	svd_umem_release(srq->ring);
	svd_umem_release(srq->dbrec);
	free(srq->tm);
	pthread_mutex_destroy(&srq->lock);
	free(p);
}

static int srq_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_srq *srq = uobj->object;

	if (svd_destroy_busy(why, &srq->usecnt))
		return -EBUSY;
	srq_free((struct srq_priv *)srq);
	return 0;
}

/* The events the SRQ raised, for its destroy response. */
static void srq_destroy_resp(const struct svd_uobj *uobj, void *out)
{
	struct ib_uverbs_destroy_srq_resp *resp = out;

	resp->events_reported =
		((const struct svd_srq *)uobj->object)->events_reported;
}

SVD_DECLARE_IDR_TYPE_RESP(srq, UVERBS_OBJECT_SRQ, SVD_ORDER_SRQ_MW_AH,
			  srq_destroy, srq_destroy_resp);

struct srq_args {
	uint32_t type, max_wr, max_sge, limit, max_tags;
	struct sv_create_ring_req req;
	struct svd_pd *pd;
	struct svd_cq *cq;
	struct svd_xrcd *xrcd;
};

static uint32_t roundup_pow2(uint32_t n)
{
	uint32_t v = 1;

	while (v < n)
		v <<= 1;
	return v;
}

/* A TM-SRQ: a CQ for its completions, no XRC domain, a sized tag list. */
static int srq_tm_args(struct svd_bundle *b, struct srq_args *a)
{
	if (!a->cq || a->xrcd ||
	    svd_attr_copy_from(b, UVERBS_ATTR_CREATE_SRQ_MAX_NUM_TAGS,
			       &a->max_tags, sizeof(a->max_tags)))
		return -EINVAL;
	return a->max_tags && a->max_tags <= SV_TM_MAX_NUM_TAGS ? 0 : -EINVAL;
}

static int srq_get_args(struct svd_bundle *b, struct srq_args *a)
{
	const struct ib_uverbs_query_device_resp *d = &b->dev->attr;
	int ret;

	memset(a, 0, sizeof(*a));
	ret = svd_attr_get_u32(b, UVERBS_ATTR_CREATE_SRQ_TYPE, &a->type);
	if (!ret)
		ret = svd_attr_copy_from(b, UVERBS_ATTR_CREATE_SRQ_MAX_WR,
					 &a->max_wr, sizeof(a->max_wr));
	if (!ret)
		ret = svd_attr_copy_from(b, UVERBS_ATTR_CREATE_SRQ_MAX_SGE,
					 &a->max_sge, sizeof(a->max_sge));
	if (!ret)
		ret = svd_attr_copy_from(b, UVERBS_ATTR_CREATE_SRQ_LIMIT,
					 &a->limit, sizeof(a->limit));
	if (!ret)
		ret = svd_uhw_copy_from(b, &a->req, sizeof(a->req));
	if (ret)
		return ret;
	a->pd = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_SRQ_PD_HANDLE);
	a->cq = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_SRQ_CQ_HANDLE);
	a->xrcd = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_SRQ_XRCD_HANDLE);
	if (a->type == IB_UVERBS_SRQT_TM && srq_tm_args(b, a))
		return -EINVAL;
	if (a->type == IB_UVERBS_SRQT_XRC && (!a->xrcd || !a->cq))
		return -EINVAL;
	if (a->type == IB_UVERBS_SRQT_BASIC && (a->xrcd || a->cq))
		return -EINVAL;
	if (!a->pd || a->type > IB_UVERBS_SRQT_TM)
		return -EINVAL;
	if (a->max_wr > d->max_srq_wr || a->max_sge > d->max_srq_sge ||
	    a->limit > a->max_wr)
		return -EINVAL;
	/* The ring: a power of two of canonical receive WQEs. */
	if (!svd_is_pow2(a->req.rq_entries) || a->req.rq_entries < a->max_wr ||
	    a->req.rq_entries > roundup_pow2(d->max_srq_wr) ||
	    a->req.sq_entries ||
	    (a->req.wqe_size && a->req.wqe_size != svd_rq_stride(a->max_sge)))
		return -EINVAL;
	return 0;
}

static int srq_build(struct svd_bundle *b, struct srq_args *a,
		     struct srq_priv **out)
{
	struct srq_priv *p = calloc(1, sizeof(*p));
	struct svd_umem_list *l;
	struct svd_srq *srq;
	int ret = 0;

	if (!p)
		return -ENOMEM;
	srq = &p->srq;
	pthread_mutex_init(&srq->lock, NULL);
	srq->uctx = b->uctx;
	srq->srq_type = a->type;
	srq->entries = a->req.rq_entries;
	srq->max_wr = srq->entries < b->dev->attr.max_srq_wr ?
			      srq->entries : b->dev->attr.max_srq_wr;
	srq->max_sge = a->max_sge;
	srq->limit = a->limit;
	srq->wqe_size = svd_rq_stride(a->max_sge);
	if (a->max_tags && !(srq->tm = svd_tm_alloc(a->max_tags))) {
		srq_free(p);
		return -ENOMEM;
	}
	l = svd_umem_list_create(b, SV_SRQ_BUF_SLOT_MAX);
	if (svd_is_err(l))
		ret = (int)svd_ptr_err(l);
	if (!ret)
		srq->ring = svd_umem_list_take_ring(
			l, SV_SRQ_BUF_RING,
			(size_t)srq->entries * srq->wqe_size, 8, &ret);
	if (!ret)
		srq->dbrec = svd_umem_list_take_ring(l, SV_SRQ_BUF_DBREC,
						     sizeof(struct sv_dbrec),
						     SV_CACHELINE, &ret);
	if (!ret)
		ret = svd_srqn_insert(b->dev, srq);
	if (ret) {
		srq_free(p);
		return ret;
	}
	p->published = true;
	srq->pd = a->pd;
	srq->cq = a->cq;
	p->xrcd = a->xrcd;
	atomic_fetch_add(&srq->pd->usecnt, 1);
	if (srq->cq)
		atomic_fetch_add(&srq->cq->usecnt, 1);
	if (p->xrcd)
		atomic_fetch_add(&p->xrcd->usecnt, 1);
	p->counted = true;
	*out = p;
	return 0;
}

/* ioctl: UVERBS_METHOD_SRQ_CREATE */
static int srq_method_create(struct svd_bundle *b)
{
	struct svd_uobj *uobj;
	struct srq_priv *p = NULL;
	struct srq_args a;
	int ret;

	ret = srq_get_args(b, &a);
	if (ret)
		return ret;
	uobj = b->new_uobj; /* UVERBS_ATTR_CREATE_SRQ_HANDLE */
	ret = srq_build(b, &a, &p);
	if (ret)
		return ret;
	uobj->object = &p->srq;
	svd_attr_get_u64(b, UVERBS_ATTR_CREATE_SRQ_USER_HANDLE,
			 &p->srq.user_handle);
	uobj->user_handle = p->srq.user_handle;
	ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_SRQ_RESP_MAX_WR,
			       &p->srq.max_wr, sizeof(uint32_t));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_SRQ_RESP_MAX_SGE,
				       &p->srq.max_sge, sizeof(uint32_t));
	if (!ret && svd_attr_is_present(b, UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM))
		ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM,
				       &p->srq.srqn, sizeof(uint32_t));
	return ret;
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_SRQ_CREATE, srq_method_create,
    SVD_METHOD_UHW | SVD_METHOD_BUFFERS,
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_SRQ_HANDLE, &svd_type_srq, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_SRQ_PD_HANDLE, &svd_type_pd,
		 SVD_ACCESS_READ, SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_SRQ_XRCD_HANDLE, &svd_type_xrcd,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_SRQ_CQ_HANDLE, &svd_type_cq,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_SRQ_USER_HANDLE, uint64_t,
		    SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_SRQ_MAX_WR, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_SRQ_MAX_SGE, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_SRQ_LIMIT, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_SRQ_MAX_NUM_TAGS, uint32_t,
		    SVD_OPTIONAL),
    SVD_ATTR_CONST_IN(UVERBS_ATTR_CREATE_SRQ_TYPE, 0xff, SVD_MANDATORY),
    {.id = UVERBS_ATTR_CREATE_SRQ_EVENT_FD, .type = SVD_ATTR_FD},
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_SRQ_RESP_MAX_WR, uint32_t,
		     SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_SRQ_RESP_MAX_SGE, uint32_t,
		     SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM, uint32_t,
		     SVD_OPTIONAL));

static struct svd_uobj *srq_lookup(struct svd_bundle *b, uint32_t handle,
				   enum svd_lookup mode)
{
	return svd_uobj_lookup(b->uctx, &svd_type_srq, handle, mode);
}

/* write(): IB_USER_VERBS_CMD_MODIFY_SRQ */
static int write_modify_srq(struct svd_bundle *b)
{
	const struct ib_uverbs_modify_srq *c = svd_write_req(b, NULL);
	struct svd_uobj *u;
	struct svd_srq *srq;
	int ret = 0;

	if (c->attr_mask & ~(SVD_SRQ_MAX_WR | SVD_SRQ_LIMIT))
		return -EINVAL;
	u = srq_lookup(b, c->srq_handle, SVD_LOOKUP_WRITE);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	srq = u->object;
	/* Resizing would move the ring under the engine: not supported. */
	if (c->attr_mask & SVD_SRQ_MAX_WR)
		ret = -EOPNOTSUPP;
	else if ((c->attr_mask & SVD_SRQ_LIMIT) && c->srq_limit > srq->max_wr)
		ret = -EINVAL;
	if (!ret && (c->attr_mask & SVD_SRQ_LIMIT)) {
		pthread_mutex_lock(&srq->lock);
		srq->limit = c->srq_limit; /* arms the limit event */
		pthread_mutex_unlock(&srq->lock);
	}
	svd_uobj_unlock(u, SVD_LOOKUP_WRITE);
	return ret;
}

/* write(): IB_USER_VERBS_CMD_QUERY_SRQ */
static int write_query_srq(struct svd_bundle *b)
{
	const struct ib_uverbs_query_srq *c = svd_write_req(b, NULL);
	struct ib_uverbs_query_srq_resp resp = {};
	struct svd_uobj *u;
	struct svd_srq *srq;

	u = srq_lookup(b, c->srq_handle, SVD_LOOKUP_READ);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	srq = u->object;
	resp.max_wr = srq->max_wr;
	resp.max_sge = srq->max_sge;
	pthread_mutex_lock(&srq->lock);
	resp.srq_limit = srq->limit;
	pthread_mutex_unlock(&srq->lock);
	svd_uobj_unlock(u, SVD_LOOKUP_READ);
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ioctl: UVERBS_METHOD_SRQ_DESTROY */
SVD_DECLARE_METHOD_DESTROY_RESP(UVERBS_METHOD_SRQ_DESTROY,
				UVERBS_ATTR_DESTROY_SRQ_HANDLE, &svd_type_srq,
				UVERBS_ATTR_DESTROY_SRQ_RESP,
				struct ib_uverbs_destroy_srq_resp);

const struct svd_module svd_mod_srq = {
    .name = "srq",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_SRQ, &svd_type_srq,
			   SVD_METHOD_REF(UVERBS_METHOD_SRQ_CREATE),
			   SVD_METHOD_REF(UVERBS_METHOD_SRQ_DESTROY))),
    SVD_WRITE_CMDS(
	SVD_WRITE_NO_RESP(IB_USER_VERBS_CMD_MODIFY_SRQ, write_modify_srq,
			  struct ib_uverbs_modify_srq),
	SVD_WRITE(IB_USER_VERBS_CMD_QUERY_SRQ, write_query_srq,
		  struct ib_uverbs_query_srq, struct ib_uverbs_query_srq_resp),
	SVD_WRITE_DESTROY_RESP(IB_USER_VERBS_CMD_DESTROY_SRQ, srq)),
};
