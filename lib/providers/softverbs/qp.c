// SPDX-License-Identifier: MIT
/*
 * QP control path: create (ioctl QP_CREATE with the rings as seed-001
 * buffers), modify / query / destroy (legacy write, as rdma-core does).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "direct.h"
#include "ring.h"
#include "svl_cq.h"
#include "svl_domain.h"
#include "svl_prov.h"
#include "svl_qp.h"

#define SVL_QP_CREATE_FLAGS IBV_QP_CREATE_BLOCK_SELF_MCAST_LB
#define SVL_QP_COMP_MASK                                                       \
	(IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_XRCD |                         \
	 IBV_QP_INIT_ATTR_CREATE_FLAGS | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS |      \
	 IBV_QP_INIT_ATTR_IND_TABLE | IBV_QP_INIT_ATTR_RX_HASH)

/* Ring geometry, computed the way the daemon checks it. */
struct qp_geom {
	uint32_t sq_entries, sq_stride, rq_entries, rq_stride;
	size_t sq_len, rq_len, len;
};

/* An RSS QP receives through its indirection table's WQs only. */
static bool qp_is_rss(const struct ibv_qp_init_attr_ex *a)
{
	return a->comp_mask & IBV_QP_INIT_ATTR_IND_TABLE;
}

static bool qp_has_rq(const struct ibv_qp_init_attr_ex *a)
{
	return a->qp_type != IBV_QPT_XRC_SEND &&
	       a->qp_type != IBV_QPT_XRC_RECV && !a->srq && !qp_is_rss(a);
}

static int qp_geometry(struct ibv_qp_init_attr_ex *a, struct qp_geom *g)
{
	struct ibv_qp_cap *c = &a->cap;
	uint32_t need;

	memset(g, 0, sizeof(*g));
	if (a->qp_type == IBV_QPT_XRC_RECV || qp_is_rss(a))
		return 0;
	/* Keep absurd requests from sizing a huge memfd; the daemon has
	 * the real limits. */
	if (c->max_send_wr > (1U << 24) || c->max_recv_wr > (1U << 24) ||
	    c->max_send_sge > 256 || c->max_recv_sge > 256 ||
	    c->max_inline_data > SVL_MAX_INLINE)
		return EINVAL;
	need = c->max_send_sge * sizeof(struct sv_sge);
	if (need < c->max_inline_data)
		need = c->max_inline_data;
	g->sq_stride = svl_roundup_pow2(sizeof(struct sv_send_wqe) + need);
	g->sq_entries = svl_roundup_pow2(c->max_send_wr ? c->max_send_wr : 1);
	g->sq_len = svl_ring_align((size_t)g->sq_entries * g->sq_stride);
	if (qp_has_rq(a)) {
		g->rq_stride = svl_recv_stride(c->max_recv_sge);
		g->rq_entries =
			svl_roundup_pow2(c->max_recv_wr ? c->max_recv_wr : 1);
		g->rq_len =
			svl_ring_align((size_t)g->rq_entries * g->rq_stride);
	}
	g->len = g->sq_len + g->rq_len + svl_ring_align(SV_QP_DBREC_SIZE);
	return 0;
}

static void qp_set_rings(struct svl_qp *q, const struct qp_geom *g)
{
	uint8_t *base = q->map;
	struct sv_dbrec *db = (void *)(base + g->sq_len + g->rq_len);

	q->sq.buf = base;
	q->sq.db = &db[0];
	q->sq.entries = g->sq_entries;
	q->sq.stride = g->sq_stride;
	if (g->rq_entries) {
		q->rq.buf = base + g->sq_len;
		q->rq.db = &db[1];
		q->rq.entries = g->rq_entries;
		q->rq.stride = g->rq_stride;
	}
}

static void qp_free(struct svl_qp *q)
{
	struct svl_obj_src src;

	if (q->slot.chunk)
		svl_ring_pool_free(&q->slot, q->map_len);
	else if (q->map || q->fd >= 0)
		svl_ring_free_src(q->map_len, q->fd, q->map, &q->ring_src);
	if (q->rd >= 0)
		svl_rd_db_put(q->qp.context, (uint32_t)q->rd);
	svl_rrec_free(&q->rq);
	svl_block_destroy(&q->sq.lock);
	svl_block_destroy(&q->rq.lock);
	pthread_mutex_destroy(&q->qp.mutex);
	pthread_cond_destroy(&q->qp.cond);
	src = q->src;
	svl_obj_free(q, &src);
}

static int qp_check_attr(struct ibv_context *ctx,
			 struct ibv_qp_init_attr_ex *a)
{
	if (a->comp_mask & ~SVL_QP_COMP_MASK)
		return EINVAL;
	switch (a->qp_type) {
	case IBV_QPT_RC:
	case IBV_QPT_UC:
	case IBV_QPT_UD:
	case IBV_QPT_RAW_PACKET:
	case IBV_QPT_XRC_SEND:
		if (!(a->comp_mask & IBV_QP_INIT_ATTR_PD) || !a->pd)
			return EINVAL;
		break;
	case IBV_QPT_XRC_RECV:
		if (!(a->comp_mask & IBV_QP_INIT_ATTR_XRCD) || !a->xrcd)
			return EINVAL;
		break;
	case IBV_QPT_DRIVER:
		return EOPNOTSUPP;
	default:
		return EINVAL;
	}
	if ((a->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS) &&
	    (a->create_flags & ~SVL_QP_CREATE_FLAGS))
		return EOPNOTSUPP;
	if (qp_is_rss(a) != !!(a->comp_mask & IBV_QP_INIT_ATTR_RX_HASH) ||
	    (qp_is_rss(a) && (a->qp_type != IBV_QPT_RAW_PACKET ||
			      !a->rwq_ind_tbl ||
			      a->rx_hash_conf.rx_hash_key_len > SV_RSS_KEY_MAX)))
		return EINVAL;
	if (a->pd && a->pd->context != ctx)
		return EINVAL;
	return 0;
}

/* An RSS QP's driver data: no rings, and the receive hash. */
static void qp_rss_req(const struct ibv_qp_init_attr_ex *a,
		       const struct sv_create_ring_req *req,
		       struct sv_create_qp_rss *rss)
{
	const struct ibv_rx_hash_conf *h = &a->rx_hash_conf;

	memset(rss, 0, sizeof(*rss));
	rss->ring.db_page_index = req->db_page_index;
	rss->rx_hash_fields_mask = h->rx_hash_fields_mask;
	rss->rx_hash_function = h->rx_hash_function;
	rss->rx_hash_key_len = h->rx_hash_key_len;
	if (h->rx_hash_key)
		memcpy(rss->rx_hash_key, h->rx_hash_key, h->rx_hash_key_len);
}

/* The rings' buffer descriptors (one memfd, at q's offset in it). */
static uint32_t qp_ring_descs(const struct svl_qp *q, const struct qp_geom *g,
			      struct sv_buffer_desc *d)
{
	uint64_t off = q->slot.off;
	uint32_t n = 0;

	d[n++] = (struct sv_buffer_desc){ .fd = q->fd,
		.type = SV_BUFFER_TYPE_DMABUF, .index = SV_QP_BUF_SQ,
		.addr = off, .length = g->sq_len };
	if (g->rq_entries)
		d[n++] = (struct sv_buffer_desc){ .fd = q->fd,
			.type = SV_BUFFER_TYPE_DMABUF, .index = SV_QP_BUF_RQ,
			.addr = off + g->sq_len, .length = g->rq_len };
	d[n++] = (struct sv_buffer_desc){ .fd = q->fd,
		.type = SV_BUFFER_TYPE_DMABUF, .index = SV_QP_BUF_DBREC,
		.addr = off + g->sq_len + g->rq_len,
		.length = SV_QP_DBREC_SIZE };
	return n;
}

/* The QP_CREATE ioctl. */
static int qp_exec_create(struct ibv_context *ctx, struct svl_qp *q,
			  struct ibv_qp_init_attr_ex *a,
			  const struct qp_geom *g)
{
	struct sv_create_ring_req req = {
		.wqe_size = g->sq_stride,
		.sq_entries = g->sq_entries,
		.rq_entries = g->rq_entries,
	};
	struct ib_uverbs_qp_cap cap = {
		.max_send_wr = a->cap.max_send_wr,
		.max_recv_wr = a->cap.max_recv_wr,
		.max_send_sge = a->cap.max_send_sge,
		.max_recv_sge = a->cap.max_recv_sge,
		.max_inline_data = a->cap.max_inline_data,
	}, rcap = {};
	struct sv_buffer_desc d[3];
	struct sv_create_qp_resp resp = {};
	struct sv_create_qp_rss rss;
	uint64_t uh = (uintptr_t)q;
	struct ib_uverbs_attr *h;
	uint32_t flags = 0, qpn = 0, n = 0;
	struct svl_cmd c;
	int ret;

	req.db_page_index = q->db_page_index; /* qp_db_choose() */
	if (a->qp_type == IBV_QPT_XRC_RECV)
		memset(&cap, 0, sizeof(cap));
	if (!qp_has_rq(a))
		cap.max_recv_wr = cap.max_recv_sge = 0;
	if (a->sq_sig_all)
		flags |= IB_UVERBS_QP_CREATE_SQ_SIG_ALL;
	if ((a->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS) &&
	    (a->create_flags & IBV_QP_CREATE_BLOCK_SELF_MCAST_LB))
		flags |= IB_UVERBS_QP_CREATE_BLOCK_MULTICAST_LOOPBACK;

	svl_cmd_init(&c, UVERBS_OBJECT_QP, UVERBS_METHOD_QP_CREATE);
	/* Rings in memfds only; a raw QP's CAP_NET_RAW check needs us. */
	c.anonymous = a->qp_type != IBV_QPT_RAW_PACKET;
	h = svl_attr_idr_new(&c, UVERBS_ATTR_CREATE_QP_HANDLE);
	if (a->qp_type == IBV_QPT_XRC_RECV)
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_QP_XRCD_HANDLE,
			     svl_xrcd_handle(a->xrcd));
	else
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_QP_PD_HANDLE,
			     a->pd->handle);
	if (a->send_cq && a->qp_type != IBV_QPT_XRC_RECV)
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_QP_SEND_CQ_HANDLE,
			     a->send_cq->handle);
	if (a->recv_cq && a->qp_type != IBV_QPT_XRC_RECV &&
	    a->qp_type != IBV_QPT_XRC_SEND)
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_QP_RECV_CQ_HANDLE,
			     a->recv_cq->handle);
	if (a->srq && a->qp_type != IBV_QPT_XRC_RECV &&
	    a->qp_type != IBV_QPT_XRC_SEND)
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_QP_SRQ_HANDLE,
			     a->srq->handle);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_QP_USER_HANDLE, &uh, sizeof(uh));
	svl_attr_in(&c, UVERBS_ATTR_CREATE_QP_CAP, &cap, sizeof(cap));
	svl_attr_u64(&c, UVERBS_ATTR_CREATE_QP_TYPE, a->qp_type);
	if (flags)
		svl_attr_in(&c, UVERBS_ATTR_CREATE_QP_FLAGS, &flags,
			    sizeof(flags));
	svl_attr_out(&c, UVERBS_ATTR_CREATE_QP_RESP_CAP, &rcap, sizeof(rcap));
	svl_attr_out(&c, UVERBS_ATTR_CREATE_QP_RESP_QP_NUM, &qpn, sizeof(qpn));
	if (qp_is_rss(a)) {
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_QP_IND_TABLE_HANDLE,
			     (uint32_t)a->rwq_ind_tbl->ind_tbl_handle);
		qp_rss_req(a, &req, &rss);
		svl_attr_in(&c, UVERBS_ATTR_UHW_IN, &rss, sizeof(rss));
	} else {
		svl_attr_in(&c, UVERBS_ATTR_UHW_IN, &req, sizeof(req));
	}
	svl_attr_out(&c, UVERBS_ATTR_UHW_OUT, &resp, sizeof(resp));
	if (q->fd >= 0) {
		n = qp_ring_descs(q, g, d);
		svl_attr_buffers(&c, d, n);
	}
	ret = svl_exec(ctx, &c);
	if (ret)
		return ret;
	q->qp.handle = (uint32_t)h->data;
	q->qp.qp_num = qpn;
	a->cap.max_send_wr = rcap.max_send_wr;
	a->cap.max_recv_wr = rcap.max_recv_wr;
	a->cap.max_send_sge = rcap.max_send_sge;
	a->cap.max_recv_sge = rcap.max_recv_sge;
	a->cap.max_inline_data = rcap.max_inline_data;
	q->max_send_sge = rcap.max_send_sge;
	q->max_recv_sge = rcap.max_recv_sge;
	q->max_inline = rcap.max_inline_data;
	return 0;
}

/*
 * The doorbell page: the resource domain's (rd >= 0), the TD's, or the
 * context's shared one. A resource domain or a TD promises one thread per
 * domain, so the QP's post paths take no lock.
 */
static int qp_db_choose(struct ibv_context *ctx, struct svl_qp *q,
			struct ibv_pd *pd, int64_t rd)
{
	bool dedicated = false;
	int ret;

	q->rd = -1;
	if (rd >= 0) {
		ret = svl_rd_db_get(ctx, (uint32_t)rd, &q->db_page_index,
				    &dedicated);
		if (ret)
			return ret;
		q->rd = rd;
	} else {
		svl_qp_db_index(ctx, pd, &q->db_page_index);
		dedicated = svl_pd_has_td(pd);
	}
	q->db_dedicated = dedicated;
	q->sq.no_lock = rd >= 0 || svl_pd_has_td(pd);
	q->rq.no_lock = q->sq.no_lock;
	return 0;
}

/*
 * Small rings come from the ring pool; big ones, and those a parent
 * domain's allocator places, get a memfd of their own.
 */
static int qp_ring_alloc(struct ibv_pd *pd, struct svl_qp *q,
			 const struct qp_geom *g)
{
	q->map_len = g->len;
	if (!svl_pd_ring_allocator(pd) && svl_ring_pool_fits(g->len) &&
	    !svl_ring_pool_alloc(g->len, &q->slot)) {
		q->fd = q->slot.fd;
		q->map = q->slot.addr;
		return 0;
	}
	return svl_ring_alloc_src(pd, SVL_RES_TYPE_QP_RING, g->len, &q->fd,
				  &q->map, &q->ring_src);
}

/* A QP's memory and locks, before any ring or command (qp_free undoes). */
static struct svl_qp *qp_new(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct svl_obj_src src;
	struct svl_qp *q;

	q = svl_obj_alloc(pd, sizeof(*q), SVL_RES_TYPE_QP, &src);
	if (!q)
		return NULL;
	q->src = src;
	q->fd = -1;
	q->rd = -1;
	q->qp.context = ctx;
	svl_block_init(&q->sq.lock);
	svl_block_init(&q->rq.lock);
	pthread_mutex_init(&q->qp.mutex, NULL);
	pthread_mutex_init(&q->dgrant, NULL);
	pthread_cond_init(&q->qp.cond, NULL);
	return q;
}

static struct svl_qp *qp_alloc(struct ibv_context *ctx,
			       struct ibv_qp_init_attr_ex *a,
			       const struct qp_geom *g, int64_t rd)
{
	struct ibv_pd *pd = a->qp_type == IBV_QPT_XRC_RECV ? NULL : a->pd;
	struct svl_qp *q;
	int ret = 0;

	q = qp_new(ctx, pd);
	if (!q)
		return NULL;
	ret = qp_db_choose(ctx, q, pd, rd);
	if (!ret && g->len) {
		ret = qp_ring_alloc(pd, q, g);
		if (!ret)
			qp_set_rings(q, g);
	}
	if (!ret)
		ret = qp_exec_create(ctx, q, a, g);
	if (!ret && q->slot.chunk)
		q->fd = -1; /* the pool's: it stays open for the next QP */
	else if (!ret)
		svl_ring_drop_fd(&q->fd);
	if (ret) {
		qp_free(q);
		errno = ret;
		return NULL;
	}
	return q;
}

struct ibv_qp *svl_create_qp_ex(struct ibv_context *ctx,
				struct ibv_qp_init_attr_ex *a)
{
	return svl_create_qp_rd(ctx, a, -1);
}

struct ibv_qp *svl_create_qp_rd(struct ibv_context *ctx,
				struct ibv_qp_init_attr_ex *a, int64_t rd)
{
	struct qp_geom g;
	struct svl_qp *q;
	int ret;

	ret = qp_check_attr(ctx, a);
	if (!ret)
		ret = qp_geometry(a, &g);
	if (ret)
		return svl_fail(ret);
	q = qp_alloc(ctx, a, &g, rd);
	if (!q)
		return NULL;
	q->qp.context = ctx;
	q->qp.qp_context = a->qp_context;
	q->qp.pd = a->qp_type == IBV_QPT_XRC_RECV ? NULL : a->pd;
	q->qp.send_cq = a->send_cq;
	q->qp.recv_cq = a->recv_cq;
	q->qp.srq = a->srq;
	q->qp.qp_type = a->qp_type;
	q->qp.state = IBV_QPS_RESET;
	q->sq_sig_all = a->sq_sig_all;
	if (a->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) {
		ret = svl_qp_ex_init(q, a->send_ops_flags);
		if (ret) {
			ibv_destroy_qp(&q->qp);
			errno = ret;
			return NULL;
		}
	}
	svl_fate_qp_add(&q->qp); /* flushed if the daemon dies */
	svl_scat_qp_add(q); /* scattered receives find it by QPN */
	return &q->qp;
}

SVL_EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd,
					struct ibv_qp_init_attr *attr)
{
	struct ibv_qp_init_attr_ex ax = {};
	struct ibv_qp *qp;

	if (!pd || !attr)
		return svl_fail(EINVAL);
	memcpy(&ax, attr, sizeof(*attr));
	ax.comp_mask = IBV_QP_INIT_ATTR_PD;
	ax.pd = pd;
	qp = svl_create_qp_ex(pd->context, &ax);
	if (qp)
		attr->cap = ax.cap; /* the caps really granted */
	return qp;
}

SVL_EXPORT struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *qp)
{
	struct svl_qp *q = to_svl_qp(qp);

	return q->is_ex ? &q->qp_ex : NULL;
}

/* ---------------------------------------------------------------------- */

static void ah_to_dest(const struct ibv_ah_attr *ah,
		       struct ib_uverbs_qp_dest *d)
{
	memcpy(d->dgid, ah->grh.dgid.raw, 16);
	SV_QP_DEST_FIELDS(SV_DEST_FROM_AH)
}

static void dest_to_ah(const struct ib_uverbs_qp_dest *d,
		       struct ibv_ah_attr *ah)
{
	memset(ah, 0, sizeof(*ah));
	memcpy(ah->grh.dgid.raw, d->dgid, 16);
	SV_QP_DEST_FIELDS(SV_AH_FROM_DEST)
}

static void fill_modify(struct ib_uverbs_modify_qp *m, struct ibv_qp *qp,
			const struct ibv_qp_attr *a, int mask)
{
	m->qp_handle = qp->handle;
	m->attr_mask = (uint32_t)mask;
	m->qkey = a->qkey;
	m->rq_psn = a->rq_psn;
	m->sq_psn = a->sq_psn;
	m->dest_qp_num = a->dest_qp_num;
	m->qp_access_flags = a->qp_access_flags;
	m->pkey_index = a->pkey_index;
	m->alt_pkey_index = a->alt_pkey_index;
	m->qp_state = a->qp_state;
	m->cur_qp_state = a->cur_qp_state;
	m->path_mtu = a->path_mtu;
	m->path_mig_state = a->path_mig_state;
	m->en_sqd_async_notify = a->en_sqd_async_notify;
	m->max_rd_atomic = a->max_rd_atomic;
	m->max_dest_rd_atomic = a->max_dest_rd_atomic;
	m->min_rnr_timer = a->min_rnr_timer;
	m->port_num = a->port_num;
	m->timeout = a->timeout;
	m->retry_cnt = a->retry_cnt;
	m->rnr_retry = a->rnr_retry;
	m->alt_port_num = a->alt_port_num;
	m->alt_timeout = a->alt_timeout;
	if (mask & IBV_QP_AV)
		ah_to_dest(&a->ah_attr, &m->dest);
	if (mask & IBV_QP_ALT_PATH)
		ah_to_dest(&a->alt_ah_attr, &m->alt_dest);
}

static int modify_ex(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_ex_modify_qp body;
	} cmd = {};
	struct ib_uverbs_ex_modify_qp_resp resp;

	fill_modify(&cmd.body.base, qp, attr, mask);
	cmd.body.rate_limit = attr->rate_limit;
	svl_write_ex_hdr(&cmd, IB_USER_VERBS_EX_CMD_MODIFY_QP,
			 sizeof(cmd.body), 0, sizeof(resp), 0, &resp);
	return svl_write(qp->context, &cmd, sizeof(cmd), &resp, sizeof(resp),
			 -1, NULL);
}

/*
 * RESET empties the rings (the daemon zeroes its indices too) and, as
 * libmlx5 does, drops the QP's unpolled completions (flushes included).
 */
static void qp_reset_shadow(struct svl_qp *q)
{
	if (q->qp.recv_cq)
		svl_cq_clean(q->qp.recv_cq, q->qp.qp_num);
	if (q->qp.send_cq && q->qp.send_cq != q->qp.recv_cq)
		svl_cq_clean(q->qp.send_cq, q->qp.qp_num);
	svl_block_lock_other(&q->sq.lock);
	q->sq.prod = 0;
	svl_stage_reset(q);
	svl_block_unlock(&q->sq.lock);
	svl_block_lock_other(&q->rq.lock);
	q->rq.prod = 0;
	svl_rrec_reset(&q->rq);
	svl_block_unlock(&q->rq.lock);
	svl_direct_rx_reset(q);
}

/*
 * Two steps of a connection, RESET to INIT and RTR to RTS, are posted, not
 * waited for (transport.c), when the daemon cannot refuse them: the rules
 * it applies, run here (qp_limits.c), accept them, and nothing but our own
 * modifies moves a QP along these states. Their effect shows only in
 * later commands, which the daemon runs after them, and in the engine's
 * work, which follows the daemon's state: WQEs posted after a posted RTS
 * wait for it. RTR is always waited for: once it returns, the QP takes
 * packets, which a peer may send at once (a packet reaching a QP the
 * daemon still has in INIT is dropped, and only a retry would bring it
 * again). Waiting for it also makes every step posted before it, on any
 * QP of the context, run before the application goes on. Raw packet QPs
 * (flow rules hold them) and XRC targets (other handles, maybe in other
 * processes, move them: ibv_open_qp) are left out.
 */
static bool modify_postable(const struct svl_qp *q,
			    const struct ib_uverbs_modify_qp *m)
{
	const struct ibv_qp *qp = &q->qp;
	int next;

	if (q->state_unsure || to_svl_ctx(qp->context)->imported ||
	    qp->qp_type == IBV_QPT_RAW_PACKET ||
	    qp->qp_type == IBV_QPT_XRC_RECV ||
	    (m->attr_mask & (IBV_QP_STATE | IBV_QP_CUR_STATE)) != IBV_QP_STATE)
		return false;
	next = m->qp_state;
	if (!(qp->state == IBV_QPS_RESET && next == IBV_QPS_INIT) &&
	    !(qp->state == IBV_QPS_RTR && next == IBV_QPS_RTS))
		return false;
	return svl_qp_modify_sure(qp->context, qp->state, qp->qp_type, m);
}

static int modify_std(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_modify_qp body;
	} cmd = {};
	int ret = EAGAIN;

	fill_modify(&cmd.body, qp, attr, mask);
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_MODIFY_QP, sizeof(cmd), 0);
	if (modify_postable(to_svl_qp(qp), &cmd.body))
		ret = svl_write_post(qp->context, &cmd, sizeof(cmd),
				     qp->handle);
	if (ret != EAGAIN)
		return ret;
	ret = svl_write(qp->context, &cmd, sizeof(cmd), NULL, 0, -1, NULL);
	/* The daemon's state, as it says: posting may resume. */
	if (!ret && (mask & IBV_QP_STATE))
		to_svl_qp(qp)->state_unsure = false;
	return ret;
}

/* The direct path's small WRITEs land (or go to the daemon) before the
 * QP changes: they were posted before the modify. */
static void direct_fence(struct svl_qp *q)
{
	if (!q->dq)
		return;
	svl_ring_lock(&q->sq);
	svl_dwar_fence(q);
	svl_ring_unlock(&q->sq);
}

SVL_EXPORT int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr,
			     int attr_mask)
{
	/* A posted modify of this QP refused after all: said now. */
	int ret = svl_posted_error(qp->context, qp->handle);

	if (ret) {
		to_svl_qp(qp)->state_unsure = true;
		return ret;
	}
	direct_fence(to_svl_qp(qp));
	if (attr_mask & IBV_QP_RATE_LIMIT)
		ret = modify_ex(qp, attr, attr_mask);
	else
		ret = modify_std(qp, attr, attr_mask);
	if (ret)
		return ret;
	svl_direct_qp_modified(to_svl_qp(qp)); /* a new grant at next post */
	if (attr_mask & IBV_QP_STATE) {
		qp->state = attr->qp_state;
		if (attr->qp_state == IBV_QPS_RESET)
			qp_reset_shadow(to_svl_qp(qp));
		if (attr->qp_state == IBV_QPS_RTS)
			svl_direct_early(to_svl_qp(qp)); /* or at next post */
		/* A passive side may stay in RTR (direct_assist.c). */
		if (attr->qp_state == IBV_QPS_RTR)
			svl_direct_early_rtr(to_svl_qp(qp));
	}
	return 0;
}

static void fill_query(const struct ib_uverbs_query_qp_resp *src,
		       struct ibv_qp_attr *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->qp_state = src->qp_state;
	SVL_QP_ATTR_FIELDS(SVL_FROM_KERN)
	dest_to_ah(&src->dest, &dst->ah_attr);
	dest_to_ah(&src->alt_dest, &dst->alt_ah_attr);
}

SVL_EXPORT int ibv_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr,
			    int attr_mask, struct ibv_qp_init_attr *init)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_query_qp body;
	} cmd = {};
	struct ib_uverbs_query_qp_resp resp = {};
	int ret;

	if (!attr || !init)
		return EINVAL;
	cmd.body.qp_handle = qp->handle;
	cmd.body.attr_mask = (uint32_t)attr_mask;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_QUERY_QP, sizeof(cmd),
		      sizeof(resp));
	ret = svl_write(qp->context, &cmd, sizeof(cmd), &resp, sizeof(resp),
			-1, NULL);
	if (ret)
		return ret;
	fill_query(&resp, attr);
	memset(init, 0, sizeof(*init));
	init->qp_context = qp->qp_context;
	init->send_cq = qp->send_cq;
	init->recv_cq = qp->recv_cq;
	init->srq = qp->srq;
	init->cap = attr->cap;
	init->qp_type = qp->qp_type;
	init->sq_sig_all = resp.sq_sig_all;
	return 0;
}

SVL_EXPORT int ibv_destroy_qp(struct ibv_qp *qp)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_destroy_qp body;
	} cmd = {};
	struct ib_uverbs_destroy_qp_resp resp = {};
	int ret;

	svl_direct_early_cancel(to_svl_qp(qp)); /* its handle is ours */
	cmd.body.qp_handle = qp->handle;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_DESTROY_QP, sizeof(cmd),
		      sizeof(resp));
	ret = svl_write(qp->context, &cmd, sizeof(cmd), &resp, sizeof(resp),
			-1, NULL);
	if (ret)
		return ret;
	/*
	 * The kernel waits here until every event *read* by the application
	 * is acked. The daemon's events_reported counts events *queued*
	 * (it cannot see reads), so waiting on it would hang when an event
	 * was never read: the wait needs a library-side delivery count.
	 */
	(void)resp.events_reported;
	(void)svl_posted_error(qp->context, qp->handle); /* handle reused */
	svl_fate_qp_del(qp);
	svl_scat_qp_del(to_svl_qp(qp));
	svl_direct_qp_free(to_svl_qp(qp));
	svl_stage_free(to_svl_qp(qp));
	qp_free(to_svl_qp(qp));
	return 0;
}

#define SVL_QP_OPEN_NEEDED                                                     \
	(IBV_QP_OPEN_ATTR_NUM | IBV_QP_OPEN_ATTR_XRCD | IBV_QP_OPEN_ATTR_TYPE)

/* The OPEN_QP write command: a new handle on the XRC target qp_num. */
static int qp_exec_open(struct svl_qp *q, const struct ibv_qp_open_attr *a)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_open_qp body;
	} cmd = {};
	struct ib_uverbs_create_qp_resp resp = {};
	int ret;

	cmd.body.user_handle = (uintptr_t)q;
	cmd.body.pd_handle = svl_xrcd_handle(a->xrcd); /* the XRCD, by ABI */
	cmd.body.qpn = a->qp_num;
	cmd.body.qp_type = (uint8_t)a->qp_type;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_OPEN_QP, sizeof(cmd),
		      sizeof(resp));
	ret = svl_write(q->qp.context, &cmd, sizeof(cmd), &resp, sizeof(resp),
			-1, NULL);
	if (!ret)
		q->qp.handle = resp.qp_handle;
	return ret;
}

/*
 * ibv_open_qp: an XRC target another context (or this one) created on an
 * XRC domain this context opened too. Ours is a handle of its own, with
 * no rings: it is modified, queried and destroyed like the creator's,
 * and the QP lives while any handle does (daemon/verbs/qp_share.c).
 */
struct ibv_qp *svl_open_qp(struct ibv_context *ctx,
			   struct ibv_qp_open_attr *attr)
{
	struct svl_qp *q;
	int ret;

	if (!attr || attr->comp_mask >= IBV_QP_OPEN_ATTR_RESERVED)
		return svl_fail(attr ? EOPNOTSUPP : EINVAL);
	if ((attr->comp_mask & SVL_QP_OPEN_NEEDED) != SVL_QP_OPEN_NEEDED ||
	    !attr->xrcd || attr->xrcd->context != ctx)
		return svl_fail(EINVAL);
	q = qp_new(ctx, NULL);
	if (!q)
		return svl_fail(ENOMEM);
	ret = qp_exec_open(q, attr);
	if (ret) {
		qp_free(q);
		return svl_fail(ret);
	}
	q->qp.qp_context = attr->qp_context;
	q->qp.qp_num = attr->qp_num;
	q->qp.qp_type = attr->qp_type;
	/* Other handles move it too: its state is whatever a query says. */
	q->qp.state = IBV_QPS_UNKNOWN;
	svl_fate_qp_add(&q->qp);
	return &q->qp;
}
