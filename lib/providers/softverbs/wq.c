// SPDX-License-Identifier: MIT
/*
 * Receive-side scaling objects: receive work queues (ibv_create_wq: ioctl
 * WQ_CREATE with the ring as seed-001 buffers; ibv_modify_wq: extended
 * write MODIFY_WQ; ibv_destroy_wq: ioctl WQ_DESTROY) and their indirection
 * tables (extended writes CREATE_RWQ_IND_TBL / DESTROY_RWQ_IND_TBL). A WQ
 * ring is laid out as an SRQ's: receive WQEs, then a doorbell record; its
 * receives are posted through wq->post_recv like any receive queue.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "svl_prov.h"
#include "svl_qp.h"

struct svl_wq {
	struct ibv_wq wq;
	int fd;
	void *map;
	size_t map_len;
	struct svl_ring rq;
	uint32_t max_sge;
	uint32_t db_page_index;
};

static struct svl_wq *to_svl_wq(struct ibv_wq *wq)
{
	return (struct svl_wq *)wq;
}

static int wq_post_recv(struct ibv_wq *wq, struct ibv_recv_wr *wr,
			struct ibv_recv_wr **bad)
{
	struct svl_wq *w = to_svl_wq(wq);
	int ret = svl_ring_post_recv(&w->rq, w->max_sge, wq->context, wr, bad);

	svl_doorbell_ring(to_svl_ctx(wq->context), w->db_page_index);
	return ret;
}

static void wq_free(struct svl_wq *w)
{
	if (w->map || w->fd >= 0)
		svl_ring_free(w->map_len, w->fd, w->map);
	svl_block_destroy(&w->rq.lock);
	pthread_mutex_destroy(&w->wq.mutex);
	pthread_cond_destroy(&w->wq.cond);
	free(w);
}

static int wq_exec_create(struct ibv_context *ctx, struct svl_wq *w,
			  struct ibv_wq_init_attr *a, size_t ring_len)
{
	struct sv_create_ring_req req = { .wqe_size = w->rq.stride,
					  .rq_entries = w->rq.entries };
	struct sv_buffer_desc d[2] = {
		{ .fd = w->fd, .type = SV_BUFFER_TYPE_DMABUF,
		  .index = SV_SRQ_BUF_RING, .addr = 0, .length = ring_len },
		{ .fd = w->fd, .type = SV_BUFFER_TYPE_DMABUF,
		  .index = SV_SRQ_BUF_DBREC, .addr = ring_len,
		  .length = sizeof(struct sv_dbrec) },
	};
	uint32_t max_wr = 0, max_sge = 0, wqn = 0;
	uint64_t uh = (uintptr_t)w;
	struct ib_uverbs_attr *h;
	struct svl_cmd c;
	int ret;

	svl_qp_db_index(ctx, a->pd, &req.db_page_index);
	w->db_page_index = req.db_page_index;
	svl_cmd_init(&c, UVERBS_OBJECT_WQ, UVERBS_METHOD_WQ_CREATE);
	h = svl_attr_idr_new(&c, UVERBS_ATTR_CREATE_WQ_HANDLE);
	svl_attr_idr(&c, UVERBS_ATTR_CREATE_WQ_PD_HANDLE, a->pd->handle);
	svl_attr_idr(&c, UVERBS_ATTR_CREATE_WQ_CQ_HANDLE, a->cq->handle);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_WQ_USER_HANDLE, &uh, sizeof(uh));
	svl_attr_u64(&c, UVERBS_ATTR_CREATE_WQ_TYPE, a->wq_type);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_WQ_MAX_WR, &a->max_wr, 4);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_WQ_MAX_SGE, &a->max_sge, 4);
	svl_attr_out(&c, UVERBS_ATTR_CREATE_WQ_RESP_MAX_WR, &max_wr, 4);
	svl_attr_out(&c, UVERBS_ATTR_CREATE_WQ_RESP_MAX_SGE, &max_sge, 4);
	svl_attr_out(&c, UVERBS_ATTR_CREATE_WQ_RESP_WQ_NUM, &wqn, 4);
	svl_attr_in(&c, UVERBS_ATTR_UHW_IN, &req, sizeof(req));
	svl_attr_buffers(&c, d, 2);
	ret = svl_exec(ctx, &c);
	if (ret)
		return ret;
	w->wq.handle = (uint32_t)h->data;
	w->wq.wq_num = wqn;
	w->max_sge = max_sge;
	a->max_wr = max_wr;
	a->max_sge = max_sge;
	return 0;
}

static int wq_check(struct ibv_context *ctx, const struct ibv_wq_init_attr *a)
{
	if (a->comp_mask & ~IBV_WQ_INIT_ATTR_FLAGS)
		return EINVAL;
	if ((a->comp_mask & IBV_WQ_INIT_ATTR_FLAGS) && a->create_flags)
		return EOPNOTSUPP; /* stripping, FCS, padding: not built */
	if (a->wq_type != IBV_WQT_RQ)
		return EOPNOTSUPP;
	if (!a->pd || !a->cq || a->pd->context != ctx ||
	    a->cq->context != ctx)
		return EINVAL;
	/* Absurd sizes: the daemon has the real limits. */
	if (!a->max_wr || a->max_wr > (1U << 24) || a->max_sge > 256)
		return EINVAL;
	return 0;
}

struct ibv_wq *svl_create_wq(struct ibv_context *ctx,
			     struct ibv_wq_init_attr *a)
{
	struct svl_wq *w;
	size_t ring_len;
	int ret = wq_check(ctx, a);

	if (ret)
		return svl_fail(ret);
	w = calloc(1, sizeof(*w));
	if (!w)
		return svl_fail(ENOMEM);
	w->fd = -1;
	svl_block_init(&w->rq.lock);
	pthread_mutex_init(&w->wq.mutex, NULL);
	pthread_cond_init(&w->wq.cond, NULL);
	w->rq.entries = svl_roundup_pow2(a->max_wr);
	w->rq.stride = svl_recv_stride(a->max_sge);
	ring_len = svl_ring_align((size_t)w->rq.entries * w->rq.stride);
	w->map_len = ring_len + sizeof(struct sv_dbrec);
	ret = svl_ring_alloc(w->map_len, &w->fd, &w->map);
	if (!ret) {
		w->rq.buf = w->map;
		w->rq.db = (void *)((uint8_t *)w->map + ring_len);
		ret = wq_exec_create(ctx, w, a, ring_len);
	}
	if (!ret)
		svl_ring_drop_fd(&w->fd);
	if (ret) {
		wq_free(w);
		return svl_fail(ret);
	}
	w->wq.context = ctx;
	w->wq.wq_context = a->wq_context;
	w->wq.pd = a->pd;
	w->wq.cq = a->cq;
	w->wq.wq_type = a->wq_type;
	w->wq.state = IBV_WQS_RESET;
	w->wq.post_recv = wq_post_recv;
	return &w->wq;
}

int svl_modify_wq(struct ibv_wq *wq, struct ibv_wq_attr *a)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_ex_modify_wq body;
	} cmd = {};
	struct svl_wq *w = to_svl_wq(wq);
	int ret;

	cmd.body.attr_mask = a->attr_mask;
	cmd.body.wq_handle = wq->handle;
	cmd.body.wq_state = a->wq_state;
	cmd.body.curr_wq_state = a->curr_wq_state;
	cmd.body.flags = a->flags;
	cmd.body.flags_mask = a->flags_mask;
	svl_write_ex_hdr(&cmd, IB_USER_VERBS_EX_CMD_MODIFY_WQ,
			 sizeof(cmd.body), 0, 0, 0, NULL);
	ret = svl_write(wq->context, &cmd, sizeof(cmd), NULL, 0, -1, NULL);
	if (ret || !(a->attr_mask & IBV_WQ_ATTR_STATE))
		return ret;
	wq->state = a->wq_state;
	if (a->wq_state == IBV_WQS_RESET) {
		/* The daemon restarted the ring at 0 too. */
		svl_ring_lock(&w->rq); /* receive rings: not biased (post.c) */
		w->rq.prod = 0;
		svl_ring_unlock(&w->rq);
	}
	return 0;
}

int svl_destroy_wq(struct ibv_wq *wq)
{
	uint32_t events = 0;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_WQ, UVERBS_METHOD_WQ_DESTROY);
	svl_attr_idr(&c, UVERBS_ATTR_DESTROY_WQ_HANDLE, wq->handle);
	svl_attr_out(&c, UVERBS_ATTR_DESTROY_WQ_RESP, &events, 4);
	ret = svl_exec(wq->context, &c);
	if (ret)
		return ret;
	wq_free(to_svl_wq(wq));
	return 0;
}

/* ---------------------------------------------------------------------- */

struct ibv_rwq_ind_table *
svl_create_rwq_ind_table(struct ibv_context *ctx,
			 struct ibv_rwq_ind_table_init_attr *a)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_ex_create_rwq_ind_table body;
		uint32_t handles[(1U << SV_RSS_MAX_LOG_TBL) + 1];
	} cmd = {};
	struct ib_uverbs_ex_create_rwq_ind_table_resp resp = {};
	struct ibv_rwq_ind_table *t;
	uint32_t i, n;
	size_t core;
	int ret;

	if (a->comp_mask)
		return svl_fail(EINVAL);
	if (a->log_ind_tbl_size > SV_RSS_MAX_LOG_TBL)
		return svl_fail(EINVAL);
	n = 1U << a->log_ind_tbl_size;
	cmd.body.log_ind_tbl_size = a->log_ind_tbl_size;
	for (i = 0; i < n; i++)
		cmd.handles[i] = a->ind_tbl[i]->handle;
	/* The handles are padded to 8 bytes, as the kernel reads them. */
	core = sizeof(cmd.body) + ((n * 4 + 7) & ~(size_t)7);
	svl_write_ex_hdr(&cmd, IB_USER_VERBS_EX_CMD_CREATE_RWQ_IND_TBL, core,
			 0, sizeof(resp), 0, &resp);
	t = calloc(1, sizeof(*t));
	if (!t)
		return svl_fail(ENOMEM);
	ret = svl_write(ctx, &cmd, offsetof(typeof(cmd), body) + core, &resp,
			sizeof(resp), -1, NULL);
	if (ret) {
		free(t);
		return svl_fail(ret);
	}
	t->context = ctx;
	t->ind_tbl_handle = (int)resp.ind_tbl_handle;
	t->ind_tbl_num = (int)resp.ind_tbl_num;
	return t;
}

int svl_destroy_rwq_ind_table(struct ibv_rwq_ind_table *t)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_ex_destroy_rwq_ind_table body;
	} cmd = {};
	int ret;

	cmd.body.ind_tbl_handle = (uint32_t)t->ind_tbl_handle;
	svl_write_ex_hdr(&cmd, IB_USER_VERBS_EX_CMD_DESTROY_RWQ_IND_TBL,
			 sizeof(cmd.body), 0, 0, 0, NULL);
	ret = svl_write(t->context, &cmd, sizeof(cmd), NULL, 0, -1, NULL);
	if (!ret)
		free(t);
	return ret;
}
