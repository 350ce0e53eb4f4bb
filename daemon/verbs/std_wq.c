// SPDX-License-Identifier: MIT
/*
 * Receive-side scaling: receive work queues (UVERBS_METHOD_WQ_CREATE /
 * _DESTROY, IB_USER_VERBS_EX_CMD_MODIFY_WQ), indirection tables
 * (IB_USER_VERBS_EX_CMD_CREATE_RWQ_IND_TBL / DESTROY, ioctl destroy) and
 * the hash of RSS QPs (svd_rss_build(), called by std_qp.c). A WQ is an
 * SRQ-style receive ring handed over as seed-001 buffers, with its own CQ;
 * the NIC (nic/eng_raw.c) fills it when an RSS QP's flow matches a frame
 * and the hash picks it. Tables hold their WQs and RSS QPs their table
 * (EBUSY on destroy); a closing context destroys QPs, then tables
 * (SVD_ORDER_SRQ_MW_AH), then WQs (SVD_ORDER_MR), then CQs and PDs.
 */
#include <stdlib.h>
#include <string.h>

#include "svd_mem.h"
#include "svd_qpn.h"
#include "svd_rss.h"

/* ---------------------------------------------------------------------- */
/* WQs                                                                     */
/* ---------------------------------------------------------------------- */

static void wq_free(struct svd_wq *wq)
{
	if (wq->pd)
		atomic_fetch_sub(&wq->pd->usecnt, 1);
	if (wq->cq)
		atomic_fetch_sub(&wq->cq->usecnt, 1);
	svd_umem_release(wq->ring);
	svd_umem_release(wq->dbrec);
	free(wq);
}

static int wq_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_wq *wq = uobj->object;

	if (svd_destroy_busy(why, &wq->usecnt))
		return -EBUSY;
	/* Unreachable by the NIC: no table (so no QP, no flow) names it. */
	wq_free(wq);
	return 0;
}

/* A WQ raises no events: its destroy reports none. */
static void wq_destroy_resp(const struct svd_uobj *uobj, void *out)
{
	(void)uobj;
	memset(out, 0, sizeof(uint32_t));
}

SVD_DECLARE_IDR_TYPE_RESP(wq, UVERBS_OBJECT_WQ, SVD_ORDER_MR, wq_destroy,
			  wq_destroy_resp);

struct wq_args {
	uint32_t type, max_wr, max_sge, flags;
	struct sv_create_ring_req req;
};

static int wq_get_args(struct svd_bundle *b, struct wq_args *a)
{
	const struct ib_uverbs_query_device_resp *d = &b->dev->attr;
	int ret;

	memset(a, 0, sizeof(*a));
	ret = svd_attr_get_u32(b, UVERBS_ATTR_CREATE_WQ_TYPE, &a->type);
	if (!ret)
		ret = svd_attr_copy_from(b, UVERBS_ATTR_CREATE_WQ_MAX_WR,
					 &a->max_wr, sizeof(a->max_wr));
	if (!ret)
		ret = svd_attr_copy_from(b, UVERBS_ATTR_CREATE_WQ_MAX_SGE,
					 &a->max_sge, sizeof(a->max_sge));
	if (!ret && svd_attr_is_present(b, UVERBS_ATTR_CREATE_WQ_FLAGS))
		ret = svd_attr_get_u32(b, UVERBS_ATTR_CREATE_WQ_FLAGS,
				       &a->flags);
	if (!ret)
		ret = svd_uhw_copy_from(b, &a->req, sizeof(a->req));
	if (ret)
		return ret;
	/* VLAN stripping, scatter FCS, delay drop, padding: not built. */
	if (a->type != IBV_WQT_RQ || a->flags)
		return -EOPNOTSUPP;
	if (!a->max_wr || a->max_wr > d->max_qp_wr || a->max_sge > d->max_sge)
		return -EINVAL;
	if (!svd_is_pow2(a->req.rq_entries) || a->req.rq_entries < a->max_wr ||
	    a->req.rq_entries > 2 * d->max_qp_wr || a->req.sq_entries ||
	    (a->req.wqe_size && a->req.wqe_size != svd_rq_stride(a->max_sge)))
		return -EINVAL;
	return 0;
}

static int wq_build(struct svd_bundle *b, const struct wq_args *a,
		    struct svd_uobj *uobj, struct svd_wq **out)
{
	struct svd_wq *wq = calloc(1, sizeof(*wq));
	struct svd_umem_list *l;
	int ret = 0;

	if (!wq)
		return -ENOMEM;
	wq->uctx = b->uctx;
	wq->entries = a->req.rq_entries;
	wq->max_wr = wq->entries;
	wq->max_sge = a->max_sge;
	wq->wqe_size = svd_rq_stride(a->max_sge);
	wq->wqn = uobj->handle;
	l = svd_umem_list_create(b, SV_SRQ_BUF_SLOT_MAX);
	if (svd_is_err(l))
		ret = (int)svd_ptr_err(l);
	if (!ret)
		wq->ring = svd_umem_list_take_ring(
			l, SV_SRQ_BUF_RING, (size_t)wq->entries * wq->wqe_size,
			8, &ret);
	if (!ret)
		wq->dbrec = svd_umem_list_take_ring(l, SV_SRQ_BUF_DBREC,
						    sizeof(struct sv_dbrec),
						    SV_CACHELINE, &ret);
	if (ret) {
		wq_free(wq);
		return ret;
	}
	wq->pd = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_WQ_PD_HANDLE);
	wq->cq = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_WQ_CQ_HANDLE);
	atomic_fetch_add(&wq->pd->usecnt, 1);
	atomic_fetch_add(&wq->cq->usecnt, 1);
	*out = wq;
	return 0;
}

/* ioctl: UVERBS_METHOD_WQ_CREATE */
static int wq_method_create(struct svd_bundle *b)
{
	struct svd_uobj *uobj = b->new_uobj;
	struct svd_wq *wq = NULL;
	struct wq_args a;
	int ret = wq_get_args(b, &a);

	if (!ret)
		ret = wq_build(b, &a, uobj, &wq);
	if (ret)
		return ret;
	svd_attr_get_u64(b, UVERBS_ATTR_CREATE_WQ_USER_HANDLE,
			 &wq->user_handle);
	uobj->user_handle = wq->user_handle;
	uobj->object = wq;
	ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_WQ_RESP_MAX_WR,
			       &wq->max_wr, sizeof(wq->max_wr));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_WQ_RESP_MAX_SGE,
				       &wq->max_sge, sizeof(wq->max_sge));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_WQ_RESP_WQ_NUM,
				       &wq->wqn, sizeof(wq->wqn));
	return ret;
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_WQ_CREATE, wq_method_create,
    SVD_METHOD_UHW | SVD_METHOD_BUFFERS,
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_WQ_HANDLE, &svd_type_wq, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_WQ_PD_HANDLE, &svd_type_pd,
		 SVD_ACCESS_READ, SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_WQ_CQ_HANDLE, &svd_type_cq,
		 SVD_ACCESS_READ, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_WQ_USER_HANDLE, uint64_t,
		    SVD_MANDATORY),
    SVD_ATTR_CONST_IN(UVERBS_ATTR_CREATE_WQ_TYPE, 0xff, SVD_MANDATORY),
    /* Async events go to the context's queue; the fd is only checked. */
    {.id = UVERBS_ATTR_CREATE_WQ_EVENT_FD, .type = SVD_ATTR_FD},
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_WQ_MAX_WR, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_WQ_MAX_SGE, uint32_t, SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_CREATE_WQ_FLAGS, 0xf, SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_WQ_RESP_MAX_WR, uint32_t,
		     SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_WQ_RESP_MAX_SGE, uint32_t,
		     SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_WQ_RESP_WQ_NUM, uint32_t,
		     SVD_OPTIONAL));

/* ioctl: UVERBS_METHOD_WQ_DESTROY */
SVD_DECLARE_METHOD_DESTROY_RESP(UVERBS_METHOD_WQ_DESTROY,
				UVERBS_ATTR_DESTROY_WQ_HANDLE, &svd_type_wq,
				UVERBS_ATTR_DESTROY_WQ_RESP, uint32_t);

/* RESET empties the ring: the indices restart at 0 (through mem.c). */
static void wq_reset(struct svd_wq *wq)
{
	wq->cons = 0;
	svd_mem_store32(wq->dbrec, offsetof(struct sv_dbrec, prod), 0);
	svd_mem_store32(wq->dbrec, offsetof(struct sv_dbrec, cons), 0);
}

#define WQ_ATTR_STATE 1U
#define WQ_ATTR_CUR_STATE 2U
#define WQ_ATTR_FLAGS 4U

/* write(): IB_USER_VERBS_EX_CMD_MODIFY_WQ */
static int write_modify_wq(struct svd_bundle *b)
{
	const struct ib_uverbs_ex_modify_wq *c = svd_write_req(b, NULL);
	struct svd_uobj *u;
	struct svd_wq *wq;
	uint32_t cur;
	int ret = 0;

	if (!c->attr_mask ||
	    c->attr_mask > (WQ_ATTR_STATE | WQ_ATTR_CUR_STATE | WQ_ATTR_FLAGS))
		return -EINVAL;
	if ((c->attr_mask & WQ_ATTR_FLAGS) && c->flags_mask)
		return -EOPNOTSUPP;
	if (c->wq_state > SVD_WQS_ERR || c->curr_wq_state > SVD_WQS_ERR)
		return -EINVAL;
	u = svd_uobj_lookup(b->uctx, &svd_type_wq, c->wq_handle,
			    SVD_LOOKUP_WRITE);
	if (svd_is_err(u))
		return svd_ptr_err(u) == -ENOENT ? -EINVAL : (int)svd_ptr_err(u);
	wq = u->object;
	pthread_mutex_lock(&b->dev->lock);
	cur = (c->attr_mask & WQ_ATTR_CUR_STATE) ? c->curr_wq_state : wq->state;
	if (cur != wq->state)
		ret = -EINVAL;
	else if (c->attr_mask & WQ_ATTR_STATE)
		wq->state = c->wq_state;
	if (!ret && wq->state == SVD_WQS_RESET)
		wq_reset(wq);
	pthread_mutex_unlock(&b->dev->lock);
	svd_uobj_unlock(u, SVD_LOOKUP_WRITE);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Indirection tables                                                      */
/* ---------------------------------------------------------------------- */

static void tbl_free(struct svd_ind_tbl *t, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		atomic_fetch_sub(&t->wqs[i]->usecnt, 1);
	free(t);
}

static int tbl_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_ind_tbl *t = uobj->object;

	if (svd_destroy_busy(why, &t->usecnt))
		return -EBUSY;
	tbl_free(t, 1U << t->log_size);
	return 0;
}

SVD_DECLARE_IDR_TYPE(ind_tbl, UVERBS_OBJECT_RWQ_IND_TBL, SVD_ORDER_SRQ_MW_AH,
		     tbl_destroy);

/* Take each named WQ (held by the table); 0 or the kernel's errno. */
static int tbl_take_wqs(struct svd_bundle *b, struct svd_ind_tbl *t,
			const uint32_t *handles, uint32_t n)
{
	struct svd_uobj *u;
	uint32_t i;

	for (i = 0; i < n; i++) {
		u = svd_uobj_lookup(b->uctx, &svd_type_wq, handles[i],
				    SVD_LOOKUP_READ);
		if (svd_is_err(u)) {
			tbl_free(t, i);
			return -EINVAL;
		}
		t->wqs[i] = u->object;
		atomic_fetch_add(&t->wqs[i]->usecnt, 1);
		svd_uobj_unlock(u, SVD_LOOKUP_READ);
	}
	return 0;
}

/* write(): IB_USER_VERBS_EX_CMD_CREATE_RWQ_IND_TBL */
static int write_create_ind_tbl(struct svd_bundle *b)
{
	const struct ib_uverbs_ex_create_rwq_ind_table *c =
		svd_write_req(b, NULL);
	struct ib_uverbs_ex_create_rwq_ind_table_resp resp = {
		.response_length = sizeof(resp),
	};
	uint32_t n = 1U << (c->log_ind_tbl_size & 31), handles[256];
	size_t have = b->uhw_in.present ? b->uhw_in.len : 0;
	struct svd_ind_tbl *t;
	struct svd_uobj *u;
	int ret;

	if (c->comp_mask)
		return -EOPNOTSUPP;
	if (c->log_ind_tbl_size > SV_RSS_MAX_LOG_TBL)
		return -EINVAL;
	/* One handle is padded to 8 bytes, as the kernel reads it. */
	if (have < n * sizeof(uint32_t) + (n == 1 ? 4 : 0))
		return -EINVAL;
	memcpy(handles, b->uhw_in.in, n * sizeof(uint32_t));
	u = svd_bundle_new_uobj(b, 0, &svd_type_ind_tbl);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	t = calloc(1, sizeof(*t) + n * sizeof(t->wqs[0]));
	if (!t)
		return -ENOMEM;
	t->log_size = c->log_ind_tbl_size;
	ret = tbl_take_wqs(b, t, handles, n);
	if (ret)
		return ret;
	u->object = t;
	resp.ind_tbl_handle = u->handle;
	resp.ind_tbl_num = u->handle;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* write(): IB_USER_VERBS_EX_CMD_DESTROY_RWQ_IND_TBL */
static int write_destroy_ex(struct svd_bundle *b)
{
	const uint32_t *comp_mask = svd_write_req(b, NULL);

	if (*comp_mask)
		return -EINVAL;
	return svd_write_destroy_def_handler(b);
}

/* ioctl: UVERBS_METHOD_RWQ_IND_TBL_DESTROY */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_RWQ_IND_TBL_DESTROY,
			   UVERBS_ATTR_DESTROY_RWQ_IND_TBL_HANDLE,
			   &svd_type_ind_tbl);

/* ---------------------------------------------------------------------- */
/* RSS QPs                                                                 */
/* ---------------------------------------------------------------------- */

int svd_rss_build(struct svd_ind_tbl *tbl, const struct sv_create_qp_rss *c,
		  struct svd_rss **out)
{
	struct svd_rss *r;

	if (c->rx_hash_function != IBV_RX_HASH_FUNC_TOEPLITZ ||
	    (c->rx_hash_fields_mask & ~(uint64_t)SVD_RSS_FIELDS))
		return -EOPNOTSUPP;
	if (!c->rx_hash_key_len || c->rx_hash_key_len > SV_RSS_KEY_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->tbl = tbl;
	r->fields = c->rx_hash_fields_mask;
	r->key_len = c->rx_hash_key_len;
	memcpy(r->key, c->rx_hash_key, r->key_len);
	*out = r;
	return 0;
}

const struct svd_module svd_mod_wq = {
    .name = "wq",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_WQ, &svd_type_wq,
			   SVD_METHOD_REF(UVERBS_METHOD_WQ_CREATE),
			   SVD_METHOD_REF(UVERBS_METHOD_WQ_DESTROY)),
		SVD_OBJECT(UVERBS_OBJECT_RWQ_IND_TBL, &svd_type_ind_tbl,
			   SVD_METHOD_REF(UVERBS_METHOD_RWQ_IND_TBL_DESTROY))),
    SVD_WRITE_CMDS(
	{ .cmd = IB_USER_VERBS_EX_CMD_MODIFY_WQ, .ex = true,
	  .handler = write_modify_wq,
	  .req_size = sizeof(struct ib_uverbs_ex_modify_wq) },
	SVD_WRITE_EX(IB_USER_VERBS_EX_CMD_CREATE_RWQ_IND_TBL,
		     write_create_ind_tbl,
		     struct ib_uverbs_ex_create_rwq_ind_table,
		     struct ib_uverbs_ex_create_rwq_ind_table_resp),
	{ .cmd = IB_USER_VERBS_EX_CMD_DESTROY_RWQ_IND_TBL, .ex = true,
	  .handler = write_destroy_ex,
	  .req_size = sizeof(struct ib_uverbs_ex_destroy_rwq_ind_table),
	  .destroy_type = &svd_type_ind_tbl,
	  .handle_off = offsetof(struct ib_uverbs_ex_destroy_rwq_ind_table,
				 ind_tbl_handle) }),
};
