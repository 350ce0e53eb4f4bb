// SPDX-License-Identifier: MIT
/*
 * Completion queues and completion channels.
 *
 * Creation goes through UVERBS_METHOD_CQ_CREATE with the ring handed over
 * as seed-001 DMABUF descriptors; destroy through UVERBS_METHOD_CQ_DESTROY;
 * channels and resize through the legacy write commands. Polling and
 * arming touch only the shared ring (see svl_cq.h).
 *
 * Events: the daemon sends struct ib_uverbs_comp_event_desc whose cq_handle
 * is our struct svl_cq pointer. It is only trusted after it is found in the
 * channel's list of live CQs, so an event still queued for a destroyed CQ
 * is dropped instead of dereferenced.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "direct.h"
#include "svl_cq.h"
#include "svl_prov.h"

/* Sanity cap before allocating; the daemon enforces the device max. */
#define SVL_CQ_CQE_CAP (1 << 24)

/* ---------------------------------------------------------------------- */
/* Rings                                                                   */
/* ---------------------------------------------------------------------- */

struct cq_ring {
	int fd;
	void *map;
	size_t len;
	uint32_t entries;
	size_t dbrec_off;
	struct svl_obj_src src; /* a parent domain's allocator gave it? */
};

/* pd: the parent domain whose allocator may give the pages, or NULL. */
static int cq_ring_alloc(uint32_t cqe, struct ibv_pd *pd, struct cq_ring *r)
{
	size_t ring_len;
	int ret;

	r->entries = svl_roundup_pow2(cqe + 1);
	if (!r->entries)
		return EINVAL;
	/* The CQEs, then a payload slot per CQE (cq_scatter.c). */
	ring_len = (size_t)r->entries *
		   (sizeof(struct sv_cqe) + SV_CQ_SCAT_SLOT);
	r->dbrec_off = svl_ring_align(ring_len);
	r->len = r->dbrec_off + sizeof(struct sv_dbrec);
	ret = svl_ring_alloc_src(pd, SVL_RES_TYPE_CQ_RING, r->len, &r->fd,
				 &r->map, &r->src);
	if (ret)
		r->fd = -1;
	return ret;
}

static void cq_ring_free(struct cq_ring *r)
{
	svl_ring_free_src(r->len, r->fd, r->map, &r->src);
}

/*
 * Rings replaced by ibv_resize_cq stay mapped until the CQ is destroyed:
 * a poll that found nothing without taking the lock
 * (svl_cq_seems_empty) may still read the old doorbell record.
 */
struct cq_retired {
	const struct svl_cq *cq;
	struct cq_ring r;
	struct cq_retired *next;
};

static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cq_retired *retired;

static void cq_ring_retire(const struct svl_cq *cq, struct cq_ring *r)
{
	struct cq_retired *x = malloc(sizeof(*x));

	if (!x) {
		/* Rather a leak than an unmap under a reader. */
		return;
	}
	x->cq = cq;
	x->r = *r;
	pthread_mutex_lock(&retired_lock);
	x->next = retired;
	retired = x;
	pthread_mutex_unlock(&retired_lock);
}

static void cq_retired_free(const struct svl_cq *cq)
{
	struct cq_retired **pp, *x;

	pthread_mutex_lock(&retired_lock);
	for (pp = &retired; (x = *pp);) {
		if (x->cq != cq) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		cq_ring_free(&x->r);
		free(x);
	}
	pthread_mutex_unlock(&retired_lock);
}

/* Seed-001 descriptors for the ring and dbrec, plus the ring geometry. */
static void cq_ring_descs(const struct cq_ring *r, struct sv_buffer_desc *d,
			  struct sv_create_ring_req *req)
{
	memset(d, 0, 2 * sizeof(*d));
	d[0].fd = r->fd;
	d[0].type = SV_BUFFER_TYPE_DMABUF;
	d[0].index = SV_CQ_BUF_RING;
	d[0].addr = 0;
	d[0].length = (uint64_t)r->entries *
		      (sizeof(struct sv_cqe) + SV_CQ_SCAT_SLOT);
	d[1].fd = r->fd;
	d[1].type = SV_BUFFER_TYPE_DMABUF;
	d[1].index = SV_CQ_BUF_DBREC;
	d[1].addr = r->dbrec_off;
	d[1].length = sizeof(struct sv_dbrec);
	memset(req, 0, sizeof(*req));
	req->wqe_size = sizeof(struct sv_cqe);
	req->sq_entries = r->entries;
	req->rq_entries = SV_CQ_CREATE_SCATTER;
}

static void cq_use_ring(struct svl_cq *cq, struct cq_ring *r)
{
	cq->fd = r->fd;
	cq->map = r->map;
	cq->map_len = r->len;
	cq->ring_src = r->src;
	cq->entries = r->entries;
	cq->ring = r->map;
	cq->scat = (uint8_t *)r->map + (size_t)r->entries * sizeof(struct sv_cqe);
	/* Release: svl_cq_seems_empty() reads it without the lock. */
	__atomic_store_n(&cq->db,
			 (struct sv_dbrec *)((char *)r->map + r->dbrec_off),
			 __ATOMIC_RELEASE);
	cq->cons = svl_load_acquire(&cq->db->cons);
	svl_ring_drop_fd(&cq->fd);
}

/* ---------------------------------------------------------------------- */
/* Channels                                                                */
/* ---------------------------------------------------------------------- */

SVL_EXPORT struct ibv_comp_channel *
ibv_create_comp_channel(struct ibv_context *context)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_create_comp_channel core;
	} cmd = {};
	struct ib_uverbs_create_comp_channel_resp resp = {};
	struct svl_comp_channel *ch = calloc(1, sizeof(*ch));
	int fd = -1, ret;

	if (!ch)
		return svl_fail(ENOMEM);
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, sizeof(cmd),
		      sizeof(resp));
	cmd.core.response = (uintptr_t)&resp;
	ret = svl_write(context, &cmd, sizeof(cmd), &resp, sizeof(resp), -1,
			&fd);
	if (!ret && fd < 0)
		ret = EPROTO;
	if (ret) {
		free(ch);
		errno = ret;
		return NULL;
	}
	pthread_mutex_init(&ch->lock, NULL);
	ch->ch.context = context;
	ch->ch.fd = fd; /* resp.fd is the daemon's slot number: patched */
	ch->ch.refcnt = 0;
	return &ch->ch;
}

/*
 * The kernel frees a channel when its fd is closed; here closing our end
 * is the whole destroy: the daemon's end lives until the context closes.
 */
SVL_EXPORT int ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	struct svl_comp_channel *ch = to_svl_ch(channel);

	pthread_mutex_lock(&ch->lock);
	if (ch->ch.refcnt) {
		pthread_mutex_unlock(&ch->lock);
		errno = EBUSY;
		return EBUSY;
	}
	pthread_mutex_unlock(&ch->lock);
	close(ch->ch.fd);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
	return 0;
}

static void channel_attach(struct svl_cq *cq)
{
	struct svl_comp_channel *ch;

	if (!cq->cq.channel)
		return;
	ch = to_svl_ch(cq->cq.channel);
	pthread_mutex_lock(&ch->lock);
	cq->ch_next = ch->cqs;
	ch->cqs = cq;
	ch->ch.refcnt++;
	pthread_mutex_unlock(&ch->lock);
}

/* Unlink; returns how many events were handed out for this CQ. */
static uint32_t channel_detach(struct svl_cq *cq)
{
	struct svl_comp_channel *ch;
	struct svl_cq **pp;
	uint32_t n;

	if (!cq->cq.channel)
		return 0;
	ch = to_svl_ch(cq->cq.channel);
	pthread_mutex_lock(&ch->lock);
	for (pp = &ch->cqs; *pp; pp = &(*pp)->ch_next) {
		if (*pp == cq) {
			*pp = cq->ch_next;
			break;
		}
	}
	ch->ch.refcnt--;
	n = cq->events_read;
	pthread_mutex_unlock(&ch->lock);
	return n;
}

static struct svl_cq *channel_find(struct svl_comp_channel *ch, uint64_t h)
{
	struct svl_cq *cq;

	for (cq = ch->cqs; cq; cq = cq->ch_next)
		if ((uintptr_t)cq == h)
			return cq;
	return NULL;
}

SVL_EXPORT int ibv_get_cq_event(struct ibv_comp_channel *channel,
				struct ibv_cq **cq, void **cq_context)
{
	struct svl_comp_channel *ch = to_svl_ch(channel);
	struct ib_uverbs_comp_event_desc ev;
	struct svl_cq *found;
	ssize_t n;

	for (;;) {
		n = read(channel->fd, &ev, sizeof(ev));
		if (n < 0)
			return -1;
		if (n != sizeof(ev)) {
			errno = n ? EINVAL : EIO;
			return -1;
		}
		pthread_mutex_lock(&ch->lock);
		found = channel_find(ch, ev.cq_handle);
		if (found)
			found->events_read++;
		pthread_mutex_unlock(&ch->lock);
		if (found)
			break;
		/* An event for a CQ destroyed meanwhile: drop it. */
	}
	*cq = &found->cq;
	*cq_context = found->cq.cq_context;
	return 0;
}

SVL_EXPORT void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	pthread_mutex_lock(&cq->mutex);
	cq->comp_events_completed += nevents;
	pthread_cond_signal(&cq->cond);
	pthread_mutex_unlock(&cq->mutex);
}

/* ---------------------------------------------------------------------- */
/* Create / destroy                                                        */
/* ---------------------------------------------------------------------- */

static int cq_cmd_create(struct ibv_context *ctx, struct svl_cq *cq,
			 struct cq_ring *r, uint32_t cqe, uint32_t comp_vector,
			 uint32_t flags)
{
	struct ib_uverbs_attr *handle;
	struct sv_create_ring_req req;
	struct sv_buffer_desc d[2];
	uint64_t uh = (uintptr_t)cq;
	uint32_t resp_cqe = 0;
	struct svl_cmd c;
	int ret;

	cq_ring_descs(r, d, &req);
	svl_cmd_init(&c, UVERBS_OBJECT_CQ, UVERBS_METHOD_CQ_CREATE);
	handle = svl_attr_idr_new(&c, UVERBS_ATTR_CREATE_CQ_HANDLE);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_CQ_CQE, &cqe, sizeof(cqe));
	svl_attr_in(&c, UVERBS_ATTR_CREATE_CQ_USER_HANDLE, &uh, sizeof(uh));
	if (cq->cq.channel)
		svl_attr_fd(&c, UVERBS_ATTR_CREATE_CQ_COMP_CHANNEL,
			    cq->cq.channel->fd);
	svl_attr_in(&c, UVERBS_ATTR_CREATE_CQ_COMP_VECTOR, &comp_vector,
		    sizeof(comp_vector));
	if (flags)
		svl_attr_in(&c, UVERBS_ATTR_CREATE_CQ_FLAGS, &flags,
			    sizeof(flags));
	svl_attr_out(&c, UVERBS_ATTR_CREATE_CQ_RESP_CQE, &resp_cqe,
		     sizeof(resp_cqe));
	svl_attr_in(&c, UVERBS_ATTR_UHW_IN, &req, sizeof(req));
	svl_attr_buffers(&c, d, 2);
	ret = svl_exec(ctx, &c);
	if (ret)
		return ret;
	cq->cq.handle = (uint32_t)handle->data;
	cq->cq.cqe = (int)resp_cqe;
	return 0;
}

struct svl_cq *svl_cq_create(struct ibv_context *ctx, int cqe,
			     void *cq_context, struct ibv_comp_channel *ch,
			     int comp_vector, uint32_t flags, struct ibv_pd *pd)
{
	struct cq_ring r = { .fd = -1 };
	struct svl_obj_src src;
	struct svl_cq *cq;
	int ret;

	/* Bounds here only protect the allocation; the daemon says EINVAL. */
	if (cqe < 1 || cqe > SVL_CQ_CQE_CAP || comp_vector < 0)
		return svl_fail(EINVAL);
	cq = svl_obj_alloc(pd, sizeof(*cq), SVL_RES_TYPE_CQ, &src);
	if (!cq)
		return NULL;
	cq->src = src;
	ret = cq_ring_alloc((uint32_t)cqe, pd, &r);
	if (ret)
		goto err;
	cq->no_lock = svl_pd_has_td(pd); /* the TD's single-thread contract */
	cq->cq.context = ctx;
	cq->cq.channel = ch;
	cq->cq.cq_context = cq_context;
	ret = cq_cmd_create(ctx, cq, &r, (uint32_t)cqe, (uint32_t)comp_vector,
			    flags);
	if (ret)
		goto err;
	cq_use_ring(cq, &r);
	pthread_mutex_init(&cq->lock, NULL);
	pthread_mutex_init(&cq->cq.mutex, NULL);
	pthread_cond_init(&cq->cq.cond, NULL);
	channel_attach(cq);
	return cq;
err:
	cq_ring_free(&r);
	svl_obj_free(cq, &src);
	errno = ret;
	return NULL;
}

SVL_EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *context, int cqe,
					void *cq_context,
					struct ibv_comp_channel *channel,
					int comp_vector)
{
	struct svl_cq *cq = svl_cq_create(context, cqe, cq_context, channel,
					  comp_vector, 0, NULL);

	return cq ? &cq->cq : NULL;
}

static int cq_cmd_destroy(struct svl_cq *cq,
			  struct ib_uverbs_destroy_cq_resp *resp)
{
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_CQ, UVERBS_METHOD_CQ_DESTROY);
	svl_attr_idr(&c, UVERBS_ATTR_DESTROY_CQ_HANDLE, cq->cq.handle);
	svl_attr_out(&c, UVERBS_ATTR_DESTROY_CQ_RESP, resp, sizeof(*resp));
	return svl_exec(cq->cq.context, &c);
}

SVL_EXPORT int ibv_destroy_cq(struct ibv_cq *ibcq)
{
	struct svl_cq *cq = to_svl_cq(ibcq);
	struct ib_uverbs_destroy_cq_resp resp = {};
	struct svl_obj_src src;
	uint32_t events;
	int ret;

	ret = cq_cmd_destroy(cq, &resp);
	if (ret)
		return ret;
	/*
	 * Like rdma-core, wait until every event handed out was acked. The
	 * count is ours (events read), not the daemon's (events sent): an
	 * event never read is dropped with the CQ, as the kernel does. Async
	 * events are not waited for: the daemon does not count their reads.
	 */
	events = channel_detach(cq);
	pthread_mutex_lock(&ibcq->mutex);
	while (ibcq->comp_events_completed != events)
		pthread_cond_wait(&ibcq->cond, &ibcq->mutex);
	pthread_mutex_unlock(&ibcq->mutex);
	svl_ring_free_src(cq->map_len, cq->fd, cq->map, &cq->ring_src);
	cq_retired_free(cq);
	svl_dcq_free(cq);
	svl_scat_cq_free(cq);
	pthread_mutex_destroy(&cq->lock);
	pthread_cond_destroy(&ibcq->cond);
	pthread_mutex_destroy(&ibcq->mutex);
	src = cq->src;
	svl_obj_free(cq, &src);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Resize                                                                  */
/* ---------------------------------------------------------------------- */

struct resize_cmd {
	struct ib_uverbs_cmd_hdr hdr;
	struct ib_uverbs_resize_cq core;
	struct sv_create_ring_req req;
	struct sv_buffer_desc d[2];
};

/*
 * The new ring travels as descriptors in the driver data with its memfd in
 * fd slot 1; the daemon moves unpolled CQEs over (indices unchanged).
 */
SVL_EXPORT int ibv_resize_cq(struct ibv_cq *ibcq, int cqe)
{
	struct svl_cq *cq = to_svl_cq(ibcq);
	struct ib_uverbs_resize_cq_resp resp = {};
	struct cq_ring r = { .fd = -1 }, old = { .fd = -1 };
	struct resize_cmd cmd = {};
	int ret;

	if (cqe < 1 || cqe > SVL_CQ_CQE_CAP)
		return errno = EINVAL;
	ret = cq_ring_alloc((uint32_t)cqe, NULL, &r); /* the library's pages */
	if (ret)
		return errno = ret;
	svl_write_hdr(&cmd, IB_USER_VERBS_CMD_RESIZE_CQ, sizeof(cmd),
		      sizeof(resp));
	cmd.core.response = (uintptr_t)&resp;
	cmd.core.cq_handle = ibcq->handle;
	cmd.core.cqe = (uint32_t)cqe;
	cq_ring_descs(&r, cmd.d, &cmd.req);
	cmd.d[0].fd = cmd.d[1].fd = 1; /* SCM_RIGHTS slot of in_fd */
	svl_cq_lock(cq);
	ret = svl_write(ibcq->context, &cmd, sizeof(cmd), &resp, sizeof(resp),
			r.fd, NULL);
	if (!ret) {
		old = (struct cq_ring){ .fd = cq->fd, .map = cq->map,
					.len = cq->map_len,
					.src = cq->ring_src };
		cq_use_ring(cq, &r);
		ibcq->cqe = (int)resp.cqe;
	}
	svl_cq_unlock(cq);
	if (ret)
		cq_ring_free(&r);
	else
		cq_ring_retire(cq, &old);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Polling and arming (no syscall)                                         */
/* ---------------------------------------------------------------------- */

static void cqe_to_wc(const struct sv_cqe *e, struct ibv_wc *wc)
{
	wc->wr_id = e->wr_id;
	wc->status = (enum ibv_wc_status)e->status;
	wc->opcode = (enum ibv_wc_opcode)e->opcode;
	wc->vendor_err = e->status ? e->vendor_err : 0; /* tm_priv otherwise */
	wc->byte_len = e->byte_len;
	wc->imm_data = e->imm_data; /* also invalidated_rkey */
	wc->qp_num = e->qp_num;
	wc->src_qp = e->src_qp;
	wc->wc_flags = e->wc_flags;
	wc->pkey_index = e->pkey_index;
	wc->slid = e->slid;
	wc->sl = e->sl;
	wc->dlid_path_bits = e->dlid_path_bits;
}

int svl_poll_cq(struct ibv_cq *ibcq, int n, struct ibv_wc *wc)
{
	struct svl_cq *cq = to_svl_cq(ibcq);
	const struct sv_cqe *e;
	int i = 0;

	svl_dwar_poll(cq); /* small WRITEs applied since: completions */
	if (svl_cq_seems_empty(cq))
		return 0;
	svl_cq_lock(cq);
	/* The daemon's ring merged with the direct path's (direct_cq.c). */
	for (; i < n && (e = svl_cq_peek(cq)); i++) {
		svl_scat_peeked(cq, e); /* small payloads land now */
		cqe_to_wc(e, &wc[i]);
		svl_cq_pop(cq);
	}
	/* Release: the slots may be reused only after we read them. */
	if (i)
		svl_store_release(&cq->db->cons, cq->cons);
	svl_cq_unlock(cq);
	return i;
}

/*
 * Drop the unpolled CQEs of one QP (modify to RESET, as libmlx5 does):
 * the QP starts again with nothing of its past in its CQs. Kept entries
 * slide towards prod and cons moves forward; the engine only writes at
 * or after the prod we read, so it never races the entries we move.
 */
void svl_cq_clean(struct ibv_cq *ibcq, uint32_t qpn)
{
	struct svl_cq *cq = to_svl_cq(ibcq);
	uint32_t prod, src, dst, mask = cq->entries - 1;

	svl_cq_lock(cq);
	prod = svl_load_acquire(&cq->db->prod);
	if (prod - cq->cons > cq->entries)
		prod = cq->cons; /* garbage: leave the ring alone */
	for (src = dst = prod; src != cq->cons;) {
		src--;
		if (cq->ring[src & mask].qp_num == qpn) {
			/* Its receive records are released with it. */
			svl_scat_peeked(cq, &cq->ring[src & mask]);
			continue;
		}
		dst--;
		if (dst == src)
			continue;
		cq->ring[dst & mask] = cq->ring[src & mask];
		svl_scat_move(cq, src & mask, dst & mask);
	}
	if (dst != cq->cons) {
		cq->cons = dst;
		svl_store_release(&cq->db->cons, cq->cons);
	}
	svl_dcq_clean(cq, qpn);
	svl_cq_unlock(cq);
}

/*
 * Arm: publish the kind first, then bump the sequence with release; the
 * daemon consumes the arm on the next (solicited) completion.
 */
int svl_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
	struct svl_cq *cq = to_svl_cq(ibcq);

	/* The lock only keeps a concurrent resize from moving the dbrec. */
	svl_cq_lock(cq);
	svl_store_relaxed(&cq->db->arm_flags, solicited_only ?
			  SV_CQ_ARM_SOLICITED : SV_CQ_ARM_NEXT);
	atomic_fetch_add_explicit((_Atomic uint32_t *)&cq->db->arm_seq, 1,
				  memory_order_release);
	svl_direct_cq_armed(cq, solicited_only); /* direct SENDs wake us */
	svl_cq_unlock(cq);
	return 0;
}
