// SPDX-License-Identifier: MIT
/*
 * QPs: create (ioctl, rings handed over as seed-001 buffers), modify
 * (legacy and extended write) with the IBTA state machine, query (write),
 * open of an XRC target by number (write OPEN_QP) and destroy (write and
 * ioctl). An XRC target may have several handles (svd_qp_share.h).
 *
 * The rings belong to the library; the daemon maps them (DMABUF buffers
 * only) and trusts none of their contents. The QP is published in the
 * device-wide QPN map under dev->lock once fully built.
 */
#include <stdlib.h>
#include <string.h>

#include "svd_direct.h"
#include "svd_flow.h"
#include "svd_mem.h"
#include "svd_qp_share.h"
#include "svd_rss.h"

/* What the QP holds beyond struct svd_qp (which the engine sees). */
struct qp_priv {
	struct svd_qp qp;
	struct svd_qp_share *share; /* XRC_TGT: its handles (qp_share.c) */
	struct svd_ind_tbl *tbl; /* RSS raw QP */
	bool published; /* in the QPN map */
	bool counted; /* usecnts taken */
};

static struct qp_priv *to_priv(struct svd_qp *qp)
{
	return (struct qp_priv *)qp;
}

uint32_t svd_qp_xrcdn(const struct svd_qp *qp)
{
	const struct qp_priv *p = (const struct qp_priv *)qp;

	return p->share ? svd_qp_share_xrcdn(p->share) : 0;
}

void svd_qp_async_event(struct svd_qp *qp, uint32_t event_type)
{
	struct qp_priv *p = to_priv(qp);

	qp->events_reported++;
	if (p->share)
		svd_qp_share_event(p->share, event_type);
	else
		svd_uctx_async_event(qp->uctx, qp->user_handle, event_type);
}

/* Add delta to the use count of every object the QP holds (EBUSY rule). */
static void qp_count_refs(struct qp_priv *p, int delta)
{
	struct svd_qp *qp = &p->qp;
	atomic_int *counts[] = {
		qp->pd ? &qp->pd->usecnt : NULL,
		qp->send_cq ? &qp->send_cq->usecnt : NULL,
		qp->recv_cq ? &qp->recv_cq->usecnt : NULL,
		qp->srq ? &qp->srq->usecnt : NULL,
		p->tbl ? &p->tbl->usecnt : NULL,
	};
	unsigned int i;

	for (i = 0; i < SVD_ARRAY_SIZE(counts); i++)
		if (counts[i])
			atomic_fetch_add(counts[i], delta);
	p->counted = delta > 0;
}

static void qp_put_refs(struct qp_priv *p)
{
	if (p->counted)
		qp_count_refs(p, -1);
}

static void qp_free(struct qp_priv *p)
{
	struct svd_qp *qp = &p->qp;

	if (p->published)
		svd_qpn_remove(qp->uctx->dev, qp);
	svd_direct_qp_gone(qp); /* its direct grants end */
	/* The engine drops its references (and waits) before we free. */
	if (p->published)
		qp->uctx->dev->nic->qp_destroy(qp);
	qp_put_refs(p);
	svd_umem_release(qp->sq);
	svd_umem_release(qp->rq);
	svd_umem_release(qp->dbrec);
	svd_qp_share_free(p->share);
	free(qp->rss);
	free(p);
}

static int qp_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_qp *qp = uobj->object;
	struct qp_priv *p = to_priv(qp);

	/* Flow rules steering to it hold it, as in the kernel. */
	if (svd_destroy_busy(why, &qp->usecnt))
		return -EBUSY;
	/* A shared XRC target lives on while another handle holds it. */
	if (p->share && svd_qp_share_close(p->share, uobj))
		return 0;
	if (why == SVD_REMOVE_DESTROY && p->published)
		qp->uctx->dev->nic->qp_send_out(qp);
	qp_free(p);
	return 0;
}

/* The events the QP raised (to this handle), for its destroy response. */
static void qp_destroy_resp(const struct svd_uobj *uobj, void *out)
{
	struct ib_uverbs_destroy_qp_resp *resp = out;
	struct qp_priv *p = to_priv(uobj->object);

	resp->events_reported = p->share ?
		svd_qp_share_events(p->share, uobj) : p->qp.events_reported;
}

SVD_DECLARE_IDR_TYPE_RESP(qp, UVERBS_OBJECT_QP, SVD_ORDER_QP,
			  qp_destroy, qp_destroy_resp);

/* ---------------------------------------------------------------------- */
/* Create                                                                  */
/* ---------------------------------------------------------------------- */

struct qp_args {
	uint32_t type;
	uint64_t flags;
	struct ib_uverbs_qp_cap cap;
	struct sv_create_ring_req req;
	struct svd_pd *pd;
	struct svd_cq *scq, *rcq;
	struct svd_srq *srq;
	struct svd_xrcd *xrcd;
	struct svd_ind_tbl *tbl; /* RSS: frames spread over its WQs */
	struct sv_create_qp_rss rss;
};

/* Which objects each QP type needs, as the kernel's create_qp checks. */
static int check_objs(const struct qp_args *a)
{
	/* An RSS QP receives through its table's WQs only. */
	if (a->tbl)
		return (a->type != SVD_QPT_RAW_PACKET || !a->pd || a->scq ||
			a->rcq || a->srq || a->xrcd) ?
			       -EINVAL :
			       0;
	switch (a->type) {
	case SVD_QPT_RC:
	case SVD_QPT_UC:
	case SVD_QPT_UD:
	case SVD_QPT_RAW_PACKET:
		if (!a->pd || !a->scq || !a->rcq || a->xrcd)
			return -EINVAL;
		/* Frames land in the QP's own RQ only (eng_raw.c). */
		if (a->type == SVD_QPT_RAW_PACKET && a->srq)
			return -EOPNOTSUPP;
		return 0;
	case SVD_QPT_XRC_INI:
		if (!a->pd || !a->scq || a->srq || a->xrcd)
			return -EINVAL;
		return 0;
	case SVD_QPT_XRC_TGT:
		if (!a->xrcd || a->srq || a->scq || a->rcq)
			return -EINVAL;
		return 0;
	case SVD_QPT_DRIVER:
		return -EOPNOTSUPP;
	default:
		return -EINVAL;
	}
}

static bool has_rq(const struct qp_args *a)
{
	return a->type != SVD_QPT_XRC_TGT && a->type != SVD_QPT_XRC_INI &&
	       !a->srq && !a->tbl;
}

/* XRC targets and RSS QPs have no rings of their own. */
static bool ringless(const struct qp_args *a)
{
	return a->type == SVD_QPT_XRC_TGT || a->tbl;
}

static uint32_t max_entries(const struct svd_device *dev)
{
	uint32_t v = 1;

	while (v < dev->attr.max_qp_wr)
		v <<= 1;
	return v;
}

/* Requested caps against the device, ring geometry against the caps. */
static int check_caps(const struct svd_device *dev, struct qp_args *a)
{
	struct ib_uverbs_qp_cap *c = &a->cap;
	const struct sv_create_ring_req *r = &a->req;
	uint32_t need, lim = max_entries(dev);

	static const struct ib_uverbs_qp_cap none;

	if (ringless(a)) {
		if (a->tbl && memcmp(c, &none, sizeof(none)))
			return -EINVAL;
		memset(c, 0, sizeof(*c));
		return (r->sq_entries || r->rq_entries) ? -EINVAL : 0;
	}
	if (!has_rq(a))
		c->max_recv_wr = c->max_recv_sge = 0;
	if (c->max_send_wr > dev->attr.max_qp_wr ||
	    c->max_recv_wr > dev->attr.max_qp_wr ||
	    c->max_send_sge > dev->attr.max_sge ||
	    c->max_recv_sge > dev->attr.max_sge ||
	    c->max_inline_data > SVD_QP_MAX_INLINE)
		return -EINVAL;
	need = c->max_send_sge * sizeof(struct sv_sge);
	if (need < c->max_inline_data)
		need = c->max_inline_data;
	need += sizeof(struct sv_send_wqe);
	if (!svd_is_pow2(r->wqe_size) || r->wqe_size < need ||
	    r->wqe_size > 4096)
		return -EINVAL;
	if (!svd_is_pow2(r->sq_entries) || r->sq_entries < c->max_send_wr ||
	    r->sq_entries > lim)
		return -EINVAL;
	if (!has_rq(a))
		return r->rq_entries ? -EINVAL : 0;
	if (!svd_is_pow2(r->rq_entries) || r->rq_entries < c->max_recv_wr ||
	    r->rq_entries > lim)
		return -EINVAL;
	return 0;
}

static struct svd_umem *load_ring(struct svd_umem_list *l, unsigned int slot,
				  size_t size, size_t align, int *err)
{
	struct svd_umem *u = svd_umem_list_load(l, slot, size);

	if (!u) {
		*err = -EINVAL; /* the rings are mandatory */
		return NULL;
	}
	if (svd_is_err(u)) {
		*err = (int)svd_ptr_err(u);
		return NULL;
	}
	/* The daemon touches rings directly: they must be mapped. */
	if (u->kind != SVD_UMEM_MAPPED || ((uintptr_t)u->map & (align - 1))) {
		*err = -EINVAL;
		return NULL;
	}
	return svd_umem_list_take(l, slot);
}

static int qp_load_rings(struct svd_bundle *b, struct qp_args *a,
			 struct svd_qp *qp)
{
	struct svd_umem_list *l;
	int err = 0;

	if (ringless(a))
		return 0;
	l = svd_umem_list_create(b, SV_QP_BUF_SLOT_MAX);
	if (svd_is_err(l))
		return (int)svd_ptr_err(l);
	qp->sq = load_ring(l, SV_QP_BUF_SQ,
			   (size_t)a->req.sq_entries * a->req.wqe_size, 8, &err);
	if (!err && has_rq(a))
		qp->rq = load_ring(l, SV_QP_BUF_RQ,
				   (size_t)a->req.rq_entries * qp->rq_wqe_size,
				   8, &err);
	if (!err)
		qp->dbrec = load_ring(l, SV_QP_BUF_DBREC, SV_QP_DBREC_SIZE,
				      SV_CACHELINE, &err);
	return err;
}

static void qp_fill_caps(const struct svd_device *dev, struct qp_args *a,
			 struct svd_qp *qp)
{
	struct ib_uverbs_qp_cap *c = &a->cap;
	uint32_t room;

	if (ringless(a))
		return;
	qp->sq_entries = a->req.sq_entries;
	qp->sq_wqe_size = a->req.wqe_size;
	room = qp->sq_wqe_size - sizeof(struct sv_send_wqe);
	/* Report what the rings really hold, within the device limits. */
	c->max_send_wr = qp->sq_entries < dev->attr.max_qp_wr ?
				 qp->sq_entries : dev->attr.max_qp_wr;
	c->max_send_sge = room / sizeof(struct sv_sge);
	if (c->max_send_sge > dev->attr.max_sge)
		c->max_send_sge = dev->attr.max_sge;
	c->max_inline_data = room < SVD_QP_MAX_INLINE ? room :
							SVD_QP_MAX_INLINE;
	if (has_rq(a)) {
		qp->rq_entries = a->req.rq_entries;
		qp->rq_wqe_size = svd_rq_stride(c->max_recv_sge);
		c->max_recv_wr = qp->rq_entries < dev->attr.max_qp_wr ?
					 qp->rq_entries : dev->attr.max_qp_wr;
	}
	qp->max_send_wr = c->max_send_wr;
	qp->max_recv_wr = c->max_recv_wr;
	qp->max_send_sge = c->max_send_sge;
	qp->max_recv_sge = c->max_recv_sge;
	qp->max_inline_data = c->max_inline_data;
	qp->attr.max_send_wr = c->max_send_wr;
	qp->attr.max_recv_wr = c->max_recv_wr;
	qp->attr.max_send_sge = c->max_send_sge;
	qp->attr.max_recv_sge = c->max_recv_sge;
	qp->attr.max_inline_data = c->max_inline_data;
}

static int qp_get_args(struct svd_bundle *b, struct qp_args *a)
{
	int ret;

	memset(a, 0, sizeof(*a));
	ret = svd_attr_get_u32(b, UVERBS_ATTR_CREATE_QP_TYPE, &a->type);
	if (ret)
		return ret;
	/* Raw QPs send and see any frame: CAP_NET_RAW, checked first. */
	if (a->type == SVD_QPT_RAW_PACKET) {
		ret = svd_bundle_net_raw(b);
		if (ret)
			return ret;
		/* Ethernet frames need an Ethernet port (mlx5 alike). */
		if (b->dev->port.attr.link_layer != SV_QP_LINK_LAYER_ETHERNET)
			return -EOPNOTSUPP;
	}
	if (svd_attr_is_present(b, UVERBS_ATTR_CREATE_QP_FLAGS))
		svd_attr_get_u64(b, UVERBS_ATTR_CREATE_QP_FLAGS, &a->flags);
	if (svd_attr_is_present(b, UVERBS_ATTR_CREATE_QP_SOURCE_QPN))
		return -EOPNOTSUPP;
	ret = svd_attr_copy_from(b, UVERBS_ATTR_CREATE_QP_CAP, &a->cap,
				 sizeof(a->cap));
	if (ret)
		return ret;
	a->tbl = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_QP_IND_TABLE_HANDLE);
	if (a->tbl) {
		ret = svd_uhw_copy_from(b, &a->rss, sizeof(a->rss));
		a->req = a->rss.ring;
	} else {
		ret = svd_uhw_copy_from(b, &a->req, sizeof(a->req));
	}
	if (ret)
		return ret;
	a->pd = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_QP_PD_HANDLE);
	a->scq = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_QP_SEND_CQ_HANDLE);
	a->rcq = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_QP_RECV_CQ_HANDLE);
	a->srq = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_QP_SRQ_HANDLE);
	a->xrcd = svd_attr_get_obj(b, UVERBS_ATTR_CREATE_QP_XRCD_HANDLE);
	ret = check_objs(a);
	if (ret)
		return ret;
	/* An XRC SRQ is reached through XRC_TGT QPs only; TM is for RC. */
	if (a->srq && a->srq->srq_type != IB_UVERBS_SRQT_BASIC &&
	    (a->srq->srq_type != IB_UVERBS_SRQT_TM || a->type != SVD_QPT_RC))
		return -EINVAL;
	return check_caps(b->dev, a);
}

static void qp_take_refs(struct qp_priv *p, struct qp_args *a)
{
	struct svd_qp *qp = &p->qp;

	qp->pd = a->pd;
	qp->send_cq = a->scq;
	qp->recv_cq = a->rcq;
	qp->srq = a->srq;
	p->tbl = a->tbl;
	qp_count_refs(p, 1);
}

/*
 * An XRC target lives in its share's context, not the creator's: other
 * contexts may hold it after the creator is gone (qp_share.c).
 */
static int qp_share_start(struct svd_bundle *b, const struct qp_args *a,
			  struct svd_uobj *uobj, struct qp_priv *p)
{
	p->share = svd_qp_share_new(b->uctx, a->xrcd->xrcdn);
	if (!p->share)
		return -ENOMEM;
	p->qp.uctx = svd_qp_share_home(p->share);
	return svd_qp_share_add(p->share, uobj, a->xrcd);
}

static int qp_build(struct svd_bundle *b, struct qp_args *a,
		    struct svd_uobj *uobj, struct qp_priv **out)
{
	struct qp_priv *p = calloc(1, sizeof(*p));
	struct svd_qp *qp;
	int ret;

	if (!p)
		return -ENOMEM;
	qp = &p->qp;
	qp->uctx = b->uctx;
	qp->qp_type = a->type;
	qp->state = SVD_QPS_RESET;
	qp->sq_sig_all = a->flags & IB_UVERBS_QP_CREATE_SQ_SIG_ALL;
	qp->db_page_index = a->req.db_page_index;
	svd_attr_get_u64(b, UVERBS_ATTR_CREATE_QP_USER_HANDLE,
			 &qp->user_handle);
	uobj->user_handle = qp->user_handle;
	qp_fill_caps(b->dev, a, qp);
	ret = a->tbl ? svd_rss_build(a->tbl, &a->rss, &qp->rss) : 0;
	if (!ret && a->xrcd)
		ret = qp_share_start(b, a, uobj, p);
	if (!ret)
		ret = qp_load_rings(b, a, qp);
	if (!ret)
		ret = svd_qpn_insert(b->dev, qp);
	if (ret) {
		qp_free(p);
		return ret;
	}
	p->published = true;
	qp_take_refs(p, a);
	*out = p;
	return 0;
}

/* ioctl: UVERBS_METHOD_QP_CREATE */
static int qp_method_create(struct svd_bundle *b)
{
	struct sv_create_qp_resp uresp = {};
	struct svd_uobj *uobj;
	struct qp_priv *p;
	struct qp_args a;
	int ret;

	ret = qp_get_args(b, &a);
	if (ret)
		return ret;
	uobj = b->new_uobj; /* UVERBS_ATTR_CREATE_QP_HANDLE */
	ret = qp_build(b, &a, uobj, &p);
	if (ret)
		return ret;
	uobj->object = &p->qp;
	uresp.qpn = p->qp.qpn;
	uresp.sq_wqe_size = p->qp.sq_wqe_size;
	uresp.rq_wqe_size = p->qp.rq_wqe_size;
	uresp.db_page_index = p->qp.db_page_index;
	ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_QP_RESP_CAP, &a.cap,
			       sizeof(a.cap));
	if (!ret)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_CREATE_QP_RESP_QP_NUM,
				       &p->qp.qpn, sizeof(p->qp.qpn));
	if (!ret)
		ret = svd_uhw_copy_to(b, &uresp, sizeof(uresp));
	return ret;
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_QP_CREATE, qp_method_create,
    SVD_METHOD_UHW | SVD_METHOD_BUFFERS,
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_HANDLE, &svd_type_qp, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_XRCD_HANDLE, &svd_type_xrcd,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_PD_HANDLE, &svd_type_pd, SVD_ACCESS_READ,
		 SVD_OPTIONAL),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_SRQ_HANDLE, &svd_type_srq,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_SEND_CQ_HANDLE, &svd_type_cq,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_RECV_CQ_HANDLE, &svd_type_cq,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_QP_IND_TABLE_HANDLE, &svd_type_ind_tbl,
		 SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_QP_USER_HANDLE, uint64_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_QP_CAP, struct ib_uverbs_qp_cap,
		    SVD_MANDATORY),
    SVD_ATTR_CONST_IN(UVERBS_ATTR_CREATE_QP_TYPE, 0xff, SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_CREATE_QP_FLAGS,
		      IB_UVERBS_QP_CREATE_SQ_SIG_ALL |
			  IB_UVERBS_QP_CREATE_BLOCK_MULTICAST_LOOPBACK,
		      SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_QP_SOURCE_QPN, uint32_t, SVD_OPTIONAL),
    /* Async events go to the context's queue; the fd is only checked. */
    {.id = UVERBS_ATTR_CREATE_QP_EVENT_FD, .type = SVD_ATTR_FD},
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_QP_RESP_CAP, struct ib_uverbs_qp_cap,
		     SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_QP_RESP_QP_NUM, uint32_t,
		     SVD_MANDATORY));

#define M(x) SV_QPA_##x

/* ---------------------------------------------------------------------- */
/* Modify                                                                  */
/* ---------------------------------------------------------------------- */

static void dest_to_ah(const struct ib_uverbs_qp_dest *d,
		       struct ib_uverbs_ah_attr *ah)
{
	memset(ah, 0, sizeof(*ah));
	memcpy(ah->grh.dgid, d->dgid, 16);
	SV_QP_DEST_FIELDS(SV_AH_FROM_DEST)
}

static void ah_to_dest(const struct ib_uverbs_ah_attr *ah,
		       struct ib_uverbs_qp_dest *d)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->dgid, ah->grh.dgid, 16);
	SV_QP_DEST_FIELDS(SV_DEST_FROM_AH)
}

_Static_assert(SVD_MAX_GIDS == SV_QP_MAX_GIDS, "gid_valid holds every index");

/* The device's side of the modify rules (softverbs/qp_rules.h). */
static void qp_limits(const struct svd_device *dev, struct sv_qp_limits *l)
{
	const struct ib_uverbs_query_port_resp *pa = &dev->port.attr;
	unsigned int i;

	l->max_qp_init_rd_atom = dev->attr.max_qp_init_rd_atom;
	l->max_qp_rd_atom = dev->attr.max_qp_rd_atom;
	l->gid_tbl_len = pa->gid_tbl_len;
	l->pkey_tbl_len = pa->pkey_tbl_len;
	l->max_mtu = pa->max_mtu;
	l->link_layer = pa->link_layer;
	l->gid_valid = 0;
	for (i = 0; i < SVD_MAX_GIDS; i++)
		if (dev->port.gids[i].valid)
			l->gid_valid |= 1U << i;
}

static void apply_attrs(struct svd_qp *qp, const struct ib_uverbs_modify_qp *c,
			uint32_t next)
{
	struct ib_uverbs_qp_attr *a = &qp->attr;
	uint32_t m = c->attr_mask;

	if (m & M(ACCESS_FLAGS))
		a->qp_access_flags = c->qp_access_flags;
	if (m & M(PKEY_INDEX))
		a->pkey_index = c->pkey_index;
	if (m & M(PORT))
		a->port_num = c->port_num;
	if (m & M(QKEY))
		a->qkey = c->qkey;
	if (m & M(AV))
		dest_to_ah(&c->dest, &a->ah_attr);
	if (m & M(PATH_MTU))
		a->path_mtu = c->path_mtu;
	if (m & M(TIMEOUT))
		a->timeout = c->timeout;
	if (m & M(RETRY_CNT))
		a->retry_cnt = c->retry_cnt;
	if (m & M(RNR_RETRY))
		a->rnr_retry = c->rnr_retry;
	if (m & M(RQ_PSN))
		a->rq_psn = c->rq_psn & SVD_QPN_MASK;
	if (m & M(SQ_PSN))
		a->sq_psn = c->sq_psn & SVD_QPN_MASK;
	if (m & M(MAX_QP_RD_ATOMIC))
		a->max_rd_atomic = c->max_rd_atomic;
	if (m & M(MAX_DEST_RD_ATOMIC))
		a->max_dest_rd_atomic = c->max_dest_rd_atomic;
	if (m & M(MIN_RNR_TIMER))
		a->min_rnr_timer = c->min_rnr_timer;
	if (m & M(ALT_PATH)) {
		dest_to_ah(&c->alt_dest, &a->alt_ah_attr);
		a->alt_pkey_index = c->alt_pkey_index;
		a->alt_port_num = c->alt_port_num;
		a->alt_timeout = c->alt_timeout;
	}
	if (m & M(PATH_MIG_STATE))
		a->path_mig_state = c->path_mig_state;
	if (m & M(DEST_QPN))
		a->dest_qp_num = c->dest_qp_num;
	if (m & M(EN_SQD_ASYNC_NOTIFY))
		a->en_sqd_async_notify = c->en_sqd_async_notify;
	a->qp_attr_mask |= m;
	a->qp_state = next;
	a->cur_qp_state = next;
	qp->state = next;
}

/*
 * RESET empties the rings: both indices restart at 0. The records are
 * client memory (a memfd the client could truncate): through mem.c.
 */
static void qp_reset_rings(struct svd_qp *qp)
{
	uint64_t rec;

	/* The SQ's record, then the RQ's. */
	for (rec = 0; qp->dbrec && rec < 2 * sizeof(struct sv_dbrec);
	     rec += sizeof(struct sv_dbrec)) {
		svd_mem_store32(qp->dbrec,
				rec + offsetof(struct sv_dbrec, prod), 0);
		svd_mem_store32(qp->dbrec,
				rec + offsetof(struct sv_dbrec, cons), 0);
	}
}

static int qp_do_modify(struct svd_bundle *b,
			const struct ib_uverbs_modify_qp *c)
{
	struct svd_device *dev = b->dev;
	uint32_t cur, next, old;
	struct sv_qp_limits lim;
	struct svd_uobj *u;
	struct svd_qp *qp;
	int ret;

	if ((c->attr_mask & M(CUR_STATE)) && c->cur_qp_state > SVD_QPS_ERR)
		return -EINVAL;
	if ((c->attr_mask & M(STATE)) && c->qp_state > SVD_QPS_ERR)
		return -EINVAL;
	u = svd_uobj_lookup(b->uctx, &svd_type_qp, c->qp_handle,
			    SVD_LOOKUP_WRITE);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	qp = u->object;
	old = qp->state;
	cur = (c->attr_mask & M(CUR_STATE)) ? c->cur_qp_state : old;
	next = (c->attr_mask & M(STATE)) ? c->qp_state : cur;
	qp_limits(dev, &lim);
	ret = sv_qp_modify_check(&lim, old, qp->qp_type, c);
	if (!ret) {
		pthread_mutex_lock(&dev->lock);
		apply_attrs(qp, c, next);
		pthread_mutex_unlock(&dev->lock);
		/* The engine flushes on ERR and forgets work on RESET. */
		dev->nic->qp_modified(qp, old);
		if (next == SVD_QPS_RESET && old != SVD_QPS_RESET)
			qp_reset_rings(qp);
		svd_direct_qp_modified(qp);
	}
	svd_uobj_unlock(u, SVD_LOOKUP_WRITE);
	return ret;
}

/* Bits the legacy command knows (IB_QP_ATTR_STANDARD_BITS). */
#define QP_STD_BITS ((1U << 21) - 1)

/* write(): IB_USER_VERBS_CMD_MODIFY_QP */
static int write_modify_qp(struct svd_bundle *b)
{
	const struct ib_uverbs_modify_qp *c = svd_write_req(b, NULL);

	if (c->attr_mask & ~QP_STD_BITS)
		return -EOPNOTSUPP;
	return qp_do_modify(b, c);
}

/* write(): extended MODIFY_QP */
static int write_ex_modify_qp(struct svd_bundle *b)
{
	const struct ib_uverbs_ex_modify_qp *c = svd_write_req(b, NULL);
	struct ib_uverbs_ex_modify_qp_resp resp = {
		.response_length = sizeof(resp),
	};
	int ret;

	if (c->base.attr_mask & ~(QP_STD_BITS | SV_QPA_RATE_LIMIT))
		return -EOPNOTSUPP;
	if (c->reserved)
		return -EINVAL;
	/* Raw QPs may name a rate limit; 0 (none) is all the NIC paces. */
	if ((c->base.attr_mask & SV_QPA_RATE_LIMIT) && c->rate_limit)
		return -EOPNOTSUPP;
	ret = qp_do_modify(b, &c->base);
	if (ret)
		return ret;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ---------------------------------------------------------------------- */
/* Query and destroy                                                       */
/* ---------------------------------------------------------------------- */

static void fill_query(const struct svd_qp *qp,
		       struct ib_uverbs_query_qp_resp *r)
{
	const struct ib_uverbs_qp_attr *a = &qp->attr;

	memset(r, 0, sizeof(*r));
	ah_to_dest(&a->ah_attr, &r->dest);
	ah_to_dest(&a->alt_ah_attr, &r->alt_dest);
	r->max_send_wr = qp->max_send_wr;
	r->max_recv_wr = qp->max_recv_wr;
	r->max_send_sge = qp->max_send_sge;
	r->max_recv_sge = qp->max_recv_sge;
	r->max_inline_data = qp->max_inline_data;
	r->qkey = a->qkey;
	r->rq_psn = a->rq_psn;
	r->sq_psn = a->sq_psn;
	r->dest_qp_num = a->dest_qp_num;
	r->qp_access_flags = a->qp_access_flags;
	r->pkey_index = a->pkey_index;
	r->alt_pkey_index = a->alt_pkey_index;
	r->qp_state = (uint8_t)qp->state;
	r->cur_qp_state = (uint8_t)qp->state;
	r->path_mtu = (uint8_t)a->path_mtu;
	r->path_mig_state = (uint8_t)a->path_mig_state;
	/* SQD is reached at once: the SQ is never draining. */
	r->max_rd_atomic = a->max_rd_atomic;
	r->max_dest_rd_atomic = a->max_dest_rd_atomic;
	r->min_rnr_timer = a->min_rnr_timer;
	r->port_num = a->port_num ? a->port_num : 1;
	r->timeout = a->timeout;
	r->retry_cnt = a->retry_cnt;
	r->rnr_retry = a->rnr_retry;
	r->alt_port_num = a->alt_port_num;
	r->alt_timeout = a->alt_timeout;
	r->sq_sig_all = qp->sq_sig_all;
}

/* write(): IB_USER_VERBS_CMD_QUERY_QP */
static int write_query_qp(struct svd_bundle *b)
{
	const struct ib_uverbs_query_qp *c = svd_write_req(b, NULL);
	struct ib_uverbs_query_qp_resp resp;
	struct svd_uobj *u;

	u = svd_uobj_lookup(b->uctx, &svd_type_qp, c->qp_handle,
			    SVD_LOOKUP_READ);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	pthread_mutex_lock(&b->dev->lock);
	fill_query(u->object, &resp);
	pthread_mutex_unlock(&b->dev->lock);
	svd_uobj_unlock(u, SVD_LOOKUP_READ);
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ---------------------------------------------------------------------- */
/* Open (XRC targets shared through an XRC domain)                         */
/* ---------------------------------------------------------------------- */

/*
 * The XRC target qpn on domain xrcdn. Anything else (no such QP, another
 * type, another domain) is EINVAL, as the kernel's per-XRCD lookup says.
 */
static int tgt_find(struct svd_device *dev, uint32_t qpn, uint32_t xrcdn,
		    struct qp_priv **out)
{
	struct svd_qp *qp;

	pthread_mutex_lock(&dev->lock);
	qp = svd_dev_qp_find(dev, qpn);
	pthread_mutex_unlock(&dev->lock);
	/* Commands run on this thread only: it cannot go meanwhile. */
	if (!qp || qp->qp_type != SVD_QPT_XRC_TGT ||
	    svd_qp_xrcdn(qp) != xrcdn)
		return -EINVAL;
	*out = to_priv(qp);
	return 0;
}

/* A new handle on an existing XRC target, through the opener's XRCD. */
static int qp_open(struct svd_bundle *b, const struct ib_uverbs_open_qp *c,
		   struct svd_uobj *uobj, struct qp_priv **out)
{
	struct svd_uobj *xu;
	struct svd_xrcd *x;
	int ret;

	/* The kernel says EINVAL for any XRCD handle it cannot take. */
	xu = svd_uobj_lookup(b->uctx, &svd_type_xrcd, c->pd_handle,
			     SVD_LOOKUP_READ);
	if (svd_is_err(xu))
		return -EINVAL;
	x = xu->object;
	ret = c->qp_type == SVD_QPT_XRC_TGT ? 0 : -EINVAL;
	if (!ret)
		ret = tgt_find(b->dev, c->qpn, x->xrcdn, out);
	if (!ret)
		ret = svd_qp_share_add((*out)->share, uobj, x);
	svd_uobj_unlock(xu, SVD_LOOKUP_READ);
	return ret;
}

/* write(): IB_USER_VERBS_CMD_OPEN_QP */
static int write_open_qp(struct svd_bundle *b)
{
	const struct ib_uverbs_open_qp *c = svd_write_req(b, NULL);
	struct ib_uverbs_create_qp_resp resp = {};
	struct svd_uobj *uobj;
	struct qp_priv *p;
	int ret;

	uobj = svd_bundle_new_uobj(b, 0, &svd_type_qp);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	uobj->user_handle = c->user_handle;
	ret = qp_open(b, c, uobj, &p);
	if (ret)
		return ret;
	/* From here an abort drops the handle through qp_destroy(). */
	uobj->object = &p->qp;
	resp.qp_handle = uobj->handle;
	resp.qpn = p->qp.qpn;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ioctl: UVERBS_METHOD_QP_DESTROY */
SVD_DECLARE_METHOD_DESTROY_RESP(UVERBS_METHOD_QP_DESTROY,
				UVERBS_ATTR_DESTROY_QP_HANDLE, &svd_type_qp,
				UVERBS_ATTR_DESTROY_QP_RESP,
				struct ib_uverbs_destroy_qp_resp);

const struct svd_module svd_mod_qp = {
    .name = "qp",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_QP, &svd_type_qp,
			   SVD_METHOD_REF(UVERBS_METHOD_QP_CREATE),
			   SVD_METHOD_REF(UVERBS_METHOD_QP_DESTROY))),
    SVD_WRITE_CMDS(
	SVD_WRITE_NO_RESP(IB_USER_VERBS_CMD_MODIFY_QP, write_modify_qp,
			  struct ib_uverbs_modify_qp),
	SVD_WRITE_EX(IB_USER_VERBS_EX_CMD_MODIFY_QP, write_ex_modify_qp,
		     struct ib_uverbs_ex_modify_qp,
		     struct ib_uverbs_ex_modify_qp_resp),
	SVD_WRITE(IB_USER_VERBS_CMD_QUERY_QP, write_query_qp,
		  struct ib_uverbs_query_qp, struct ib_uverbs_query_qp_resp),
	SVD_WRITE(IB_USER_VERBS_CMD_OPEN_QP, write_open_qp,
		  struct ib_uverbs_open_qp, struct ib_uverbs_create_qp_resp),
	SVD_WRITE_DESTROY_RESP(IB_USER_VERBS_CMD_DESTROY_QP, qp)),
};
