// SPDX-License-Identifier: MIT
/*
 * SRQs (ioctl SRQ_CREATE with the ring as seed-001 buffers; modify, query
 * and destroy by legacy write) and XRC domains (legacy write).
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "svl_prov.h"
#include "svl_qp.h"

#define SVL_SRQ_COMP_MASK                                                      \
	(IBV_SRQ_INIT_ATTR_TYPE | IBV_SRQ_INIT_ATTR_PD |                       \
	 IBV_SRQ_INIT_ATTR_XRCD | IBV_SRQ_INIT_ATTR_CQ | IBV_SRQ_INIT_ATTR_TM)

static void srq_free(struct svl_srq *s)
{
	struct svl_obj_src src;

	if (s->map || s->fd >= 0)
		svl_ring_free_src(s->map_len, s->fd, s->map, &s->ring_src);
	svl_rrec_free(&s->rq);
	svl_block_destroy(&s->rq.lock);
	pthread_mutex_destroy(&s->srq.mutex);
	pthread_cond_destroy(&s->srq.cond);
	src = s->src;
	svl_obj_free(s, &src);
}

static int srq_check(struct ibv_context *ctx, struct ibv_srq_init_attr_ex *a,
		     uint32_t *type)
{
	if (a->comp_mask & ~SVL_SRQ_COMP_MASK)
		return EINVAL;
	*type = (a->comp_mask & IBV_SRQ_INIT_ATTR_TYPE) ? a->srq_type :
							  IBV_SRQT_BASIC;
	if (*type > IBV_SRQT_TM)
		return EINVAL;
	if (*type == IBV_SRQT_TM && svl_srq_tm_check(ctx, a))
		return EINVAL;
	if (!(a->comp_mask & IBV_SRQ_INIT_ATTR_PD) || !a->pd)
		return EINVAL;
	if (*type == IBV_SRQT_XRC &&
	    (!(a->comp_mask & IBV_SRQ_INIT_ATTR_XRCD) || !a->xrcd ||
	     !(a->comp_mask & IBV_SRQ_INIT_ATTR_CQ) || !a->cq))
		return EINVAL;
	/* Absurd sizes: the daemon has the real limits. */
	if (a->attr.max_wr > (1U << 24) || a->attr.max_sge > 256)
		return EINVAL;
	return 0;
}

static int srq_exec_create(struct ibv_context *ctx, struct svl_srq *s,
			   struct ibv_srq_init_attr_ex *a, size_t ring_len)
{
	struct sv_create_ring_req req = {
		.wqe_size = s->rq.stride,
		.rq_entries = s->rq.entries,
	};
	struct sv_buffer_desc d[2] = {
		{ .fd = s->fd, .type = SV_BUFFER_TYPE_DMABUF,
		  .index = SV_SRQ_BUF_RING, .addr = 0, .length = ring_len },
		{ .fd = s->fd, .type = SV_BUFFER_TYPE_DMABUF,
		  .index = SV_SRQ_BUF_DBREC, .addr = ring_len,
		  .length = sizeof(struct sv_dbrec) },
	};
	uint32_t max_wr = 0, max_sge = 0, srqn = 0;
	uint64_t uh = (uintptr_t)s;
	struct ib_uverbs_attr *h;
	struct svl_cmd c;
	int ret;

	/* Without a page, ringing falls back to the engine's own timer. */
	svl_qp_db_index(ctx,
			(a->comp_mask & IBV_SRQ_INIT_ATTR_PD) ? a->pd : NULL,
			&req.db_page_index);
	s->db_page_index = req.db_page_index;
	svl_cmd_init(&c, UVERBS_OBJECT_SRQ, UVERBS_METHOD_SRQ_CREATE);
	h = svl_attr_idr_new(&c, UVERBS_ATTR_CREATE_SRQ_HANDLE);
	svl_attr_idr(&c, UVERBS_ATTR_CREATE_SRQ_PD_HANDLE, a->pd->handle);
	if (s->srq_type == IBV_SRQT_XRC)
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_SRQ_XRCD_HANDLE,
			     svl_xrcd_handle(a->xrcd));
	if (s->srq_type != IBV_SRQT_BASIC)
		svl_attr_idr(&c, UVERBS_ATTR_CREATE_SRQ_CQ_HANDLE,
			     a->cq->handle);
	if (s->srq_type == IBV_SRQT_TM)
		svl_attr_in(&c, UVERBS_ATTR_CREATE_SRQ_MAX_NUM_TAGS,
			    &a->tm_cap.max_num_tags, 4);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_SRQ_USER_HANDLE, &uh, sizeof(uh));
	svl_attr_in(&c, UVERBS_ATTR_CREATE_SRQ_MAX_WR, &a->attr.max_wr, 4);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_SRQ_MAX_SGE, &a->attr.max_sge, 4);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_SRQ_LIMIT, &a->attr.srq_limit, 4);
	svl_attr_u64(&c, UVERBS_ATTR_CREATE_SRQ_TYPE, s->srq_type);
	svl_attr_out(&c, UVERBS_ATTR_CREATE_SRQ_RESP_MAX_WR, &max_wr, 4);
	svl_attr_out(&c, UVERBS_ATTR_CREATE_SRQ_RESP_MAX_SGE, &max_sge, 4);
	svl_attr_out(&c, UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM, &srqn, 4);
	svl_attr_in(&c, UVERBS_ATTR_UHW_IN, &req, sizeof(req));
	svl_attr_buffers(&c, d, 2);
	ret = svl_exec(ctx, &c);
	if (ret)
		return ret;
	s->srq.handle = (uint32_t)h->data;
	s->srqn = srqn;
	s->max_sge = max_sge;
	a->attr.max_wr = max_wr;
	a->attr.max_sge = max_sge;
	return 0;
}

struct ibv_srq *svl_create_srq_ex(struct ibv_context *ctx,
				  struct ibv_srq_init_attr_ex *a)
{
	struct ibv_pd *pd = (a->comp_mask & IBV_SRQ_INIT_ATTR_PD) ? a->pd : NULL;
	struct svl_obj_src src;
	struct svl_srq *s;
	size_t ring_len;
	uint32_t type;
	int ret;

	ret = srq_check(ctx, a, &type);
	if (ret)
		return svl_fail(ret);
	s = svl_obj_alloc(pd, sizeof(*s), SVL_RES_TYPE_SRQ, &src);
	if (!s)
		return NULL;
	s->src = src;
	s->fd = -1;
	s->srq_type = type;
	s->rq.no_lock = svl_pd_has_td(pd); /* the TD's one thread posts */
	svl_block_init(&s->rq.lock);
	pthread_mutex_init(&s->srq.mutex, NULL);
	pthread_cond_init(&s->srq.cond, NULL);
	s->rq.entries = svl_roundup_pow2(a->attr.max_wr ? a->attr.max_wr : 1);
	s->rq.stride = svl_recv_stride(a->attr.max_sge);
	/* Records for scattered payloads (cq_scatter.c); not for XRC or
	 * tag matching, whose completions the daemon never scatters. */
	if (type == IBV_SRQT_BASIC)
		svl_rrec_init(&s->rq);
	ring_len = svl_ring_align((size_t)s->rq.entries * s->rq.stride);
	s->map_len = ring_len + svl_ring_align(sizeof(struct sv_dbrec));
	ret = svl_ring_alloc_src(pd, SVL_RES_TYPE_SRQ_RING, s->map_len, &s->fd,
				 &s->map, &s->ring_src);
	if (!ret) {
		s->rq.buf = s->map;
		s->rq.db = (void *)((uint8_t *)s->map + ring_len);
		ret = srq_exec_create(ctx, s, a, ring_len);
	}
	if (!ret)
		svl_ring_drop_fd(&s->fd);
	if (ret) {
		srq_free(s);
		errno = ret;
		return NULL;
	}
	s->srq.context = ctx;
	s->srq.srq_context = a->srq_context;
	s->srq.pd = a->pd;
	return &s->srq;
}

SVL_EXPORT struct ibv_srq *ibv_create_srq(struct ibv_pd *pd,
					  struct ibv_srq_init_attr *attr)
{
	struct ibv_srq_init_attr_ex ax = {};
	struct ibv_srq *srq;

	if (!pd || !attr)
		return svl_fail(EINVAL);
	ax.srq_context = attr->srq_context;
	ax.attr = attr->attr;
	ax.comp_mask = IBV_SRQ_INIT_ATTR_PD;
	ax.pd = pd;
	srq = svl_create_srq_ex(pd->context, &ax);
	if (srq)
		attr->attr = ax.attr;
	return srq;
}

SVL_EXPORT int ibv_modify_srq(struct ibv_srq *srq, struct ibv_srq_attr *attr,
			      int mask)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_modify_srq body;
	} cmd = {};

	cmd.body.srq_handle = srq->handle;
	cmd.body.attr_mask = (uint32_t)mask;
	cmd.body.max_wr = attr->max_wr;
	cmd.body.srq_limit = attr->srq_limit;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_MODIFY_SRQ, sizeof(cmd), 0);
	return svl_write(srq->context, &cmd, sizeof(cmd), NULL, 0, -1, NULL);
}

SVL_EXPORT int ibv_query_srq(struct ibv_srq *srq, struct ibv_srq_attr *attr)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_query_srq body;
	} cmd = {};
	struct ib_uverbs_query_srq_resp resp = {};
	int ret;

	cmd.body.srq_handle = srq->handle;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_QUERY_SRQ, sizeof(cmd),
		      sizeof(resp));
	ret = svl_write(srq->context, &cmd, sizeof(cmd), &resp, sizeof(resp),
			-1, NULL);
	if (ret)
		return ret;
	attr->max_wr = resp.max_wr;
	attr->max_sge = resp.max_sge;
	attr->srq_limit = resp.srq_limit;
	return 0;
}

SVL_EXPORT int ibv_destroy_srq(struct ibv_srq *srq)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_destroy_srq body;
	} cmd = {};
	struct ib_uverbs_destroy_srq_resp resp = {};
	int ret;

	cmd.body.srq_handle = srq->handle;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_DESTROY_SRQ, sizeof(cmd),
		      sizeof(resp));
	ret = svl_write(srq->context, &cmd, sizeof(cmd), &resp, sizeof(resp),
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
	srq_free(to_svl_srq(srq));
	return 0;
}

int svl_get_srq_num(struct ibv_srq *srq, uint32_t *num)
{
	*num = to_svl_srq(srq)->srqn;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* XRC domains                                                             */
/* ---------------------------------------------------------------------- */

struct ibv_xrcd *svl_open_xrcd(struct ibv_context *ctx,
			       struct ibv_xrcd_init_attr *attr)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_open_xrcd body;
	} cmd = {};
	struct ib_uverbs_open_xrcd_resp resp = {};
	struct svl_xrcd *x;
	int fd = -1, ret;

	if (attr->comp_mask & ~(IBV_XRCD_INIT_ATTR_FD |
				IBV_XRCD_INIT_ATTR_OFLAGS) ||
	    !(attr->comp_mask & IBV_XRCD_INIT_ATTR_OFLAGS)) {
		errno = EINVAL;
		return NULL;
	}
	if (attr->comp_mask & IBV_XRCD_INIT_ATTR_FD)
		fd = attr->fd;
	x = svl_zalloc(sizeof(*x));
	if (!x)
		return NULL;
	cmd.body.fd = (uint32_t)fd;
	cmd.body.oflags = (uint32_t)attr->oflags;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_OPEN_XRCD, sizeof(cmd),
		      sizeof(resp));
	ret = svl_write(ctx, &cmd, sizeof(cmd), &resp, sizeof(resp), fd, NULL);
	if (ret) {
		free(x);
		errno = ret;
		return NULL;
	}
	x->xrcd.context = ctx;
	x->handle = resp.xrcd_handle;
	return &x->xrcd;
}

int svl_close_xrcd(struct ibv_xrcd *xrcd)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_close_xrcd body;
	} cmd = {};
	int ret;

	cmd.body.xrcd_handle = svl_xrcd_handle(xrcd);
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_CLOSE_XRCD, sizeof(cmd), 0);
	ret = svl_write(xrcd->context, &cmd, sizeof(cmd), NULL, 0, -1, NULL);
	if (!ret)
		free(xrcd);
	return ret;
}
