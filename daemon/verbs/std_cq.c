// SPDX-License-Identifier: MIT
/*
 * Completion queues and completion channels.
 *
 * A CQ's ring (struct sv_cqe[entries]) and doorbell record live in client
 * memory (one memfd) that the daemon maps: the engine writes CQEs and
 * publishes 'prod' with release; the library polls without a syscall and
 * publishes 'cons'. Arming is a library write too (arm_seq/arm_flags); the
 * engine consumes an arm when it adds a completion and sends a completion
 * event on the channel.
 *
 * Nothing in the shared memory is trusted: the daemon keeps its own copy of
 * 'prod' and 'armed_seen', and every slot index is masked.
 *
 * A completion channel is a SOCK_SEQPACKET socketpair: the daemon keeps one
 * end in an fd uobject, the client gets the other as channel->fd and reads
 * struct ib_uverbs_comp_event_desc from it. ibv_destroy_comp_channel just
 * closes the client end; the daemon end is freed at context teardown (the
 * daemon never learns about the close otherwise, and a late event to a
 * closed peer is harmless).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svd.h"
#include "svd_nic.h"
#include "svd_cq.h"
#include "svd_mem.h"
#include "svd_objs.h"

/* The daemon-private part of a CQ (svd_cq is what other modules see). */
struct cq_priv {
	struct svd_cq cq;
	uint32_t prod; /* authoritative producer index */
	uint32_t armed_seen; /* last arm_seq consumed */
	uint32_t flags; /* IB_UVERBS_CQ_FLAGS_* */
	/* The ring has a payload area (SV_CQ_CREATE_SCATTER), asked for by
	 * the library of process 'pid': only its memory is scattered. */
	bool scatter;
	pid_t pid;
};

static struct cq_priv *to_priv(struct svd_cq *cq)
{
	return (struct cq_priv *)((char *)cq - offsetof(struct cq_priv, cq));
}

struct comp_channel {
	atomic_int ncqs; /* CQs bound to it (informational) */
};

/* The kernel's IB_EVENT_CQ_ERR (userspace IBV_EVENT_CQ_ERR). */
#define SVD_EVENT_CQ_ERR 0

#define SVD_CQ_FLAGS_SUPPORTED                                                 \
	(IB_UVERBS_CQ_FLAGS_TIMESTAMP_COMPLETION |                             \
	 IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN)

/* ---------------------------------------------------------------------- */
/* Shared-memory accessors                                                 */
/* ---------------------------------------------------------------------- */

/*
 * Client memory may vanish under us (a truncated memfd raises SIGBUS), so
 * every access goes through the engine's guarded helpers; a failed read
 * yields a value that makes the caller back off.
 */
#define DB_OFF(f) offsetof(struct sv_dbrec, f)

static uint32_t db_load(struct svd_cq *cq, size_t off, uint32_t dflt)
{
	uint32_t v;

	return svd_mem_load32(cq->dbrec, off, &v) ? dflt : v;
}

static void db_store(struct svd_cq *cq, size_t off, uint32_t v)
{
	svd_mem_store32(cq->dbrec, off, v);
}

uint32_t svd_cq_max_cqe(const struct svd_device *dev)
{
	uint32_t max = dev->attr.max_cqe;

	return max ? max : SVD_CQ_DEFAULT_MAX_CQE;
}

/* ---------------------------------------------------------------------- */
/* Engine services                                                         */
/* ---------------------------------------------------------------------- */

/* Where slot's payload lives: after the entries CQEs of the ring. */
static uint64_t scat_off(uint32_t entries, uint64_t slot)
{
	return (uint64_t)entries * sizeof(struct sv_cqe) +
	       slot * SV_CQ_SCAT_SLOT;
}

pid_t svd_cq_scatter_pid(struct svd_cq *cq)
{
	struct cq_priv *p = to_priv(cq);

	return p->scatter ? p->pid : 0;
}

/* The payload goes in before the CQE, both before prod moves. */
static int cq_write(struct svd_cq *cq, uint64_t slot, const struct sv_cqe *cqe,
		    const void *data)
{
	if (data && (!to_priv(cq)->scatter || cqe->byte_len > SV_CQ_SCAT_MAX ||
		     svd_mem_write(cq->ring, scat_off(cq->entries, slot), data,
				   cqe->byte_len)))
		return -ENOSPC;
	return svd_mem_write(cq->ring, slot * sizeof(*cqe), cqe, sizeof(*cqe)) ?
		       -ENOSPC : 0;
}

int svd_cq_push_data(struct svd_cq *cq, const struct sv_cqe *cqe,
		     const void *data)
{
	struct cq_priv *p = to_priv(cq);
	uint64_t slot;
	uint32_t cons;
	int ret = 0;

	pthread_mutex_lock(&cq->lock);
	/* Unreadable dbrec: behave as if full. */
	cons = db_load(cq, DB_OFF(cons), p->prod - cq->entries);
	slot = p->prod & (cq->entries - 1);
	/* A consumer ahead of us, or a full ring: both are an overrun. */
	if ((uint32_t)(p->prod - cons) >= cq->entries)
		ret = -ENOSPC;
	else
		ret = cq_write(cq, slot, cqe, data);
	if (!ret) {
		p->prod++;
		db_store(cq, DB_OFF(prod), p->prod);
	}
	pthread_mutex_unlock(&cq->lock);
	if (ret && !(p->flags & IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN))
		svd_uctx_async_event(cq->uctx, cq->user_handle,
				     SVD_EVENT_CQ_ERR);
	return ret;
}

int svd_cq_push(struct svd_cq *cq, const struct sv_cqe *cqe)
{
	return svd_cq_push_data(cq, cqe, NULL);
}

/* Is the current arm (if any) one this completion fires? */
static bool cq_take_arm(struct cq_priv *p, bool solicited)
{
	uint32_t seq = db_load(&p->cq, DB_OFF(arm_seq), p->armed_seen);
	uint32_t flags;

	if (seq == p->armed_seen)
		return false;
	flags = db_load(&p->cq, DB_OFF(arm_flags), SV_CQ_ARM_NEXT);
	/* A solicited-only arm stays armed across unsolicited CQEs. */
	if ((flags & SV_CQ_ARM_SOLICITED) && !(flags & SV_CQ_ARM_NEXT) &&
	    !solicited)
		return false;
	p->armed_seen = seq;
	db_store(&p->cq, DB_OFF(armed_seen), seq);
	return true;
}

void svd_cq_notify(struct svd_cq *cq, bool solicited)
{
	struct ib_uverbs_comp_event_desc ev = { .cq_handle = cq->user_handle };
	struct cq_priv *p = to_priv(cq);
	bool fire;

	pthread_mutex_lock(&cq->lock);
	fire = cq_take_arm(p, solicited);
	if (fire && cq->channel && cq->channel->fd >= 0) {
		/* Never block the engine; a full channel drops the event. */
		if (send(cq->channel->fd, &ev, sizeof(ev),
			 MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof(ev))
			cq->comp_events_reported++;
	}
	pthread_mutex_unlock(&cq->lock);
}

/* ---------------------------------------------------------------------- */
/* Object types                                                            */
/* ---------------------------------------------------------------------- */

static void cq_free(struct svd_cq *cq)
{
	if (cq->channel) {
		struct comp_channel *ch = cq->channel->object;

		if (ch)
			atomic_fetch_sub(&ch->ncqs, 1);
		svd_uobj_put(cq->channel);
	}
	svd_umem_release(cq->ring);
	svd_umem_release(cq->dbrec);
	pthread_mutex_destroy(&cq->lock);
	free(to_priv(cq));
}

static int cq_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_cq *cq = uobj->object;

	/* The kernel refuses to free a CQ that QPs/SRQs still use. */
	if (svd_destroy_busy(why, &cq->usecnt))
		return -EBUSY;
	/* QPs pin the CQ (usecnt); still, let a running pass finish. */
	svd_nic_quiesce(cq->uctx->dev);
	cq_free(cq);
	return 0;
}

/* The events the CQ raised, for its destroy response. */
static void cq_destroy_resp(const struct svd_uobj *uobj, void *out)
{
	struct ib_uverbs_destroy_cq_resp *resp = out;
	struct svd_cq *cq = uobj->object;

	pthread_mutex_lock(&cq->lock);
	resp->comp_events_reported = cq->comp_events_reported;
	resp->async_events_reported = cq->async_events_reported;
	pthread_mutex_unlock(&cq->lock);
}

SVD_DECLARE_IDR_TYPE_RESP(cq, UVERBS_OBJECT_CQ, SVD_ORDER_CQ_XRCD_DM,
			  cq_destroy, cq_destroy_resp);

static int channel_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct comp_channel *ch = uobj->object;

	if (svd_destroy_busy(why, &ch->ncqs))
		return -EBUSY;
	free(ch);
	/* uobj->fd (the daemon end) is closed with the last reference. */
	return 0;
}

SVD_DECLARE_FD_TYPE(comp_channel, UVERBS_OBJECT_COMP_CHANNEL,
		    SVD_ORDER_CHANNEL, channel_destroy);

/* ---------------------------------------------------------------------- */
/* Creation                                                                */
/* ---------------------------------------------------------------------- */

struct cq_params {
	uint32_t cqe;
	uint32_t comp_vector;
	uint32_t flags;
	uint64_t user_handle;
	struct svd_uobj *channel; /* borrowed: the caller holds it */
	struct sv_create_ring_req req;
};

static int cq_check_params(struct svd_bundle *b, const struct cq_params *p)
{
	uint32_t max = svd_cq_max_cqe(b->dev);
	uint32_t n = p->req.sq_entries;

	if (!p->cqe || p->cqe > max)
		return -EINVAL;
	if (p->comp_vector >= SVD_NUM_COMP_VECTORS)
		return -EINVAL;
	if (p->flags & ~SVD_CQ_FLAGS_SUPPORTED)
		return -EINVAL;
	if (p->flags & IB_UVERBS_CQ_FLAGS_TIMESTAMP_COMPLETION)
		return -EOPNOTSUPP;
	/* The ring: a power of two with room for cqe + 1, not absurdly big. */
	if (!n || (n & (n - 1)) || n <= p->cqe || n / 2 > max)
		return -EINVAL;
	if (p->req.wqe_size && p->req.wqe_size != sizeof(struct sv_cqe))
		return -EINVAL;
	if (p->req.rq_entries & ~SV_CQ_CREATE_SCATTER)
		return -EINVAL;
	return 0;
}

/* Load one buffer slot: present, big enough, and mapped (not VA). */
static int cq_load_slot(struct svd_umem_list *l, unsigned int idx,
			size_t size, struct svd_umem **out)
{
	struct svd_umem *u = svd_umem_list_load(l, idx, size);

	if (!u)
		return -EINVAL;
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	/* The engine cannot reach a VA ring at CQE rate. */
	if (u->kind != SVD_UMEM_MAPPED)
		return -EOPNOTSUPP;
	*out = u;
	return 0;
}

/* The ring, and with SV_CQ_CREATE_SCATTER its payload area behind it. */
static int cq_load_buffers(struct svd_bundle *b,
			   const struct sv_create_ring_req *req,
			   struct svd_umem **ring, struct svd_umem **dbrec)
{
	uint32_t entries = req->sq_entries;
	struct svd_umem_list *l;
	int ret;

	l = svd_umem_list_create(b, SV_CQ_BUF_SLOT_MAX);
	if (svd_is_err(l))
		return (int)svd_ptr_err(l);
	ret = cq_load_slot(l, SV_CQ_BUF_RING,
			   (req->rq_entries & SV_CQ_CREATE_SCATTER) ?
				   scat_off(entries, entries) :
				   (size_t)entries * sizeof(struct sv_cqe),
			   ring);
	if (!ret)
		ret = cq_load_slot(l, SV_CQ_BUF_DBREC, sizeof(struct sv_dbrec),
				   dbrec);
	if (ret)
		return ret;
	*ring = svd_umem_list_take(l, SV_CQ_BUF_RING);
	*dbrec = svd_umem_list_take(l, SV_CQ_BUF_DBREC);
	return 0;
}

/* Start the indices from what the library wrote (zero for a new ring). */
static void cq_init_indices(struct cq_priv *p)
{
	p->prod = db_load(&p->cq, DB_OFF(cons), 0);
	db_store(&p->cq, DB_OFF(prod), p->prod);
	p->armed_seen = db_load(&p->cq, DB_OFF(arm_seq), 0);
	db_store(&p->cq, DB_OFF(armed_seen), p->armed_seen);
}

static int cq_create(struct svd_bundle *b, const struct cq_params *prm,
		     struct svd_uobj *uobj)
{
	struct svd_umem *ring = NULL, *dbrec = NULL;
	struct cq_priv *p;
	int ret;

	ret = cq_check_params(b, prm);
	if (ret)
		return ret;
	ret = cq_load_buffers(b, &prm->req, &ring, &dbrec);
	if (ret)
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p) {
		svd_umem_release(ring);
		svd_umem_release(dbrec);
		return -ENOMEM;
	}
	p->flags = prm->flags;
	p->scatter = prm->req.rq_entries & SV_CQ_CREATE_SCATTER;
	p->pid = b->pid;
	p->cq.uctx = b->uctx;
	p->cq.entries = prm->req.sq_entries;
	p->cq.cqe = p->cq.entries - 1;
	p->cq.ring = ring;
	p->cq.dbrec = dbrec;
	p->cq.user_handle = prm->user_handle;
	pthread_mutex_init(&p->cq.lock, NULL);
	if (prm->channel) {
		struct comp_channel *ch = prm->channel->object;

		svd_uobj_get(prm->channel);
		atomic_fetch_add(&ch->ncqs, 1);
		p->cq.channel = prm->channel;
	}
	cq_init_indices(p);
	uobj->user_handle = prm->user_handle;
	uobj->object = &p->cq;
	return 0;
}

/* ioctl: UVERBS_METHOD_CQ_CREATE */
static int cq_method_create(struct svd_bundle *b)
{
	struct cq_params prm = {};
	struct svd_uobj *uobj;
	struct svd_cq *cq;
	int ret;

	ret = svd_attr_get_u32(b, UVERBS_ATTR_CREATE_CQ_CQE, &prm.cqe);
	if (!ret)
		ret = svd_attr_get_u64(b, UVERBS_ATTR_CREATE_CQ_USER_HANDLE,
				       &prm.user_handle);
	if (!ret)
		ret = svd_attr_get_u32(b, UVERBS_ATTR_CREATE_CQ_COMP_VECTOR,
				       &prm.comp_vector);
	if (ret)
		return ret;
	if (svd_attr_is_present(b, UVERBS_ATTR_CREATE_CQ_FLAGS))
		prm.flags = (uint32_t)svd_attr_get(b, UVERBS_ATTR_CREATE_CQ_FLAGS)
				    ->data;
	prm.channel = svd_attr_get_uobj(b, UVERBS_ATTR_CREATE_CQ_COMP_CHANNEL);
	ret = svd_uhw_copy_from(b, &prm.req, sizeof(prm.req));
	if (ret)
		return ret;
	uobj = b->new_uobj; /* UVERBS_ATTR_CREATE_CQ_HANDLE */
	ret = cq_create(b, &prm, uobj);
	if (ret)
		return ret;
	cq = uobj->object;
	return svd_attr_copy_to(b, UVERBS_ATTR_CREATE_CQ_RESP_CQE, &cq->cqe,
				sizeof(cq->cqe));
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_CQ_CREATE, cq_method_create,
    SVD_METHOD_UHW | SVD_METHOD_BUFFERS,
    SVD_ATTR_IDR(UVERBS_ATTR_CREATE_CQ_HANDLE, &svd_type_cq, SVD_ACCESS_NEW,
		 SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_CQ_CQE, uint32_t, SVD_MANDATORY),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_CQ_USER_HANDLE, uint64_t, SVD_MANDATORY),
    SVD_ATTR_FD(UVERBS_ATTR_CREATE_CQ_COMP_CHANNEL, &svd_type_comp_channel,
		SVD_ACCESS_READ, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(UVERBS_ATTR_CREATE_CQ_COMP_VECTOR, uint32_t, SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_CREATE_CQ_FLAGS,
		      IB_UVERBS_CQ_FLAGS_TIMESTAMP_COMPLETION |
			  IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN,
		      SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_CREATE_CQ_RESP_CQE, uint32_t, SVD_MANDATORY),
    /* The async event file: every context has one; accepted, unused. */
    SVD_ATTR_FD(UVERBS_ATTR_CREATE_CQ_EVENT_FD, NULL, SVD_ACCESS_READ,
		SVD_OPTIONAL));

/*
 * Legacy write: driver data is struct sv_create_ring_req followed by the
 * seed-001 descriptors (their fd = SCM_RIGHTS slot), which are bound as if
 * they had come in SV_ATTR_BUFFERS.
 */
static int write_bind_udata(struct svd_bundle *b, struct sv_create_ring_req *r)
{
	const uint8_t *in = b->uhw_in.in;
	size_t len = b->uhw_in.present ? b->uhw_in.len : 0;

	if (len < sizeof(*r))
		return -EINVAL;
	memcpy(r, in, sizeof(*r));
	if (len > sizeof(*r)) {
		b->buffers.present = true;
		b->buffers.in = in + sizeof(*r);
		b->buffers.len = (uint16_t)(len - sizeof(*r));
	}
	return 0;
}

/* comp_channel (an fd number in the kernel ABI) travels in fd slot 1. */
static struct svd_uobj *write_get_channel(struct svd_bundle *b, int32_t fd)
{
	if (fd < 0)
		return NULL;
	if (b->nfds < 2)
		return svd_err_ptr(-EBADF);
	return svd_uobj_lookup_fd(b->uctx, &svd_type_comp_channel, b->fds[1],
				  SVD_LOOKUP_READ);
}

static int write_create_common(struct svd_bundle *b, struct cq_params *prm,
			       int32_t channel_fd, uint32_t *handle,
			       uint32_t *cqe)
{
	struct svd_uobj *uobj;
	int ret;

	ret = write_bind_udata(b, &prm->req);
	if (ret)
		return ret;
	prm->channel = write_get_channel(b, channel_fd);
	if (svd_is_err(prm->channel))
		return (int)svd_ptr_err(prm->channel);
	uobj = svd_bundle_new_uobj(b, 0, &svd_type_cq);
	if (svd_is_err(uobj))
		ret = (int)svd_ptr_err(uobj);
	else
		ret = cq_create(b, prm, uobj);
	if (prm->channel)
		svd_uobj_unlock(prm->channel, SVD_LOOKUP_READ);
	if (ret)
		return ret;
	*handle = uobj->handle;
	*cqe = ((struct svd_cq *)uobj->object)->cqe;
	return 0;
}

/* write(): IB_USER_VERBS_CMD_CREATE_CQ */
static int write_create_cq(struct svd_bundle *b)
{
	const struct ib_uverbs_create_cq *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_create_cq_resp resp = {};
	struct cq_params prm = {
		.cqe = cmd->cqe,
		.comp_vector = cmd->comp_vector,
		.user_handle = cmd->user_handle,
	};
	int ret;

	ret = write_create_common(b, &prm, cmd->comp_channel, &resp.cq_handle,
				  &resp.cqe);
	if (ret)
		return ret;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* write(): IB_USER_VERBS_EX_CMD_CREATE_CQ */
static int write_ex_create_cq(struct svd_bundle *b)
{
	const struct ib_uverbs_ex_create_cq *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_ex_create_cq_resp resp = {};
	struct cq_params prm = {
		.cqe = cmd->cqe,
		.comp_vector = cmd->comp_vector,
		.user_handle = cmd->user_handle,
		.flags = cmd->flags,
	};
	int ret;

	if (cmd->comp_mask || cmd->reserved)
		return -EINVAL;
	ret = write_create_common(b, &prm, cmd->comp_channel,
				  &resp.base.cq_handle, &resp.base.cqe);
	if (ret)
		return ret;
	resp.response_length = sizeof(resp);
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ---------------------------------------------------------------------- */
/* Destroy                                                                 */
/* ---------------------------------------------------------------------- */

/* ioctl: UVERBS_METHOD_CQ_DESTROY */
SVD_DECLARE_METHOD_DESTROY_RESP(UVERBS_METHOD_CQ_DESTROY,
				UVERBS_ATTR_DESTROY_CQ_HANDLE, &svd_type_cq,
				UVERBS_ATTR_DESTROY_CQ_RESP,
				struct ib_uverbs_destroy_cq_resp);

/* ---------------------------------------------------------------------- */
/* Resize                                                                  */
/* ---------------------------------------------------------------------- */

/*
 * Move the unpolled CQEs to the new ring, keeping the free-running indices
 * (and the arm state) so the library's view does not change. Runs under
 * cq->lock, so no producer races it; the library does not poll meanwhile.
 */
/*
 * One CQE, and its payload if it was scattered: a new ring without a
 * payload area cannot take it (the library always asks for one when its
 * old ring had one).
 */
static int cq_move_one(struct svd_cq *cq, uint32_t i, struct svd_umem *ring,
		       uint32_t entries, bool scatter)
{
	uint64_t from = i & (cq->entries - 1), to = i & (entries - 1);
	uint8_t data[SV_CQ_SCAT_MAX];
	struct sv_cqe e;

	if (svd_mem_read(cq->ring, from * sizeof(e), &e, sizeof(e)))
		return -EFAULT;
	if (to_priv(cq)->scatter && (e.reserved & SV_CQE_F_SCATTER)) {
		if (!scatter || e.byte_len > SV_CQ_SCAT_MAX)
			return -EINVAL;
		if (svd_mem_read(cq->ring, scat_off(cq->entries, from), data,
				 e.byte_len) ||
		    svd_mem_write(ring, scat_off(entries, to), data,
				  e.byte_len))
			return -EFAULT;
	}
	return svd_mem_write(ring, to * sizeof(e), &e, sizeof(e)) ? -EFAULT : 0;
}

static int cq_move_ring(struct svd_cq *cq, uint32_t new_cqe,
			struct svd_umem *ring, struct svd_umem *dbrec,
			const struct sv_create_ring_req *req)
{
	struct cq_priv *p = to_priv(cq);
	uint32_t cons = db_load(cq, DB_OFF(cons), p->prod + 1);
	uint32_t used = p->prod - cons, i, entries = req->sq_entries;
	bool scatter = req->rq_entries & SV_CQ_CREATE_SCATTER;
	int ret;

	if (used > cq->entries || used > new_cqe)
		return -EINVAL;
	for (i = cons; i != p->prod; i++) {
		ret = cq_move_one(cq, i, ring, entries, scatter);
		if (ret)
			return ret;
	}
	if (svd_mem_store32(dbrec, DB_OFF(cons), cons) ||
	    svd_mem_store32(dbrec, DB_OFF(arm_flags),
			    db_load(cq, DB_OFF(arm_flags), 0)) ||
	    svd_mem_store32(dbrec, DB_OFF(arm_seq),
			    db_load(cq, DB_OFF(arm_seq), p->armed_seen)) ||
	    svd_mem_store32(dbrec, DB_OFF(armed_seen), p->armed_seen) ||
	    svd_mem_store32(dbrec, DB_OFF(prod), p->prod))
		return -EFAULT;
	cq->ring = ring;
	cq->dbrec = dbrec;
	cq->entries = entries;
	cq->cqe = entries - 1;
	p->scatter = scatter;
	return 0;
}

static int cq_resize(struct svd_bundle *b, struct svd_cq *cq, uint32_t cqe,
		     const struct sv_create_ring_req *req)
{
	struct svd_umem *ring, *dbrec, *oring, *odbrec;
	struct cq_params prm = { .cqe = cqe, .req = *req };
	int ret;

	ret = cq_check_params(b, &prm);
	if (ret)
		return ret;
	ret = cq_load_buffers(b, req, &ring, &dbrec);
	if (ret)
		return ret;
	/*
	 * Run the engine dry first, so the resize sees every CQE already
	 * posted work will produce (on hardware they would long be there).
	 */
	b->dev->nic->drain(b->dev);
	pthread_mutex_lock(&cq->lock);
	oring = cq->ring;
	odbrec = cq->dbrec;
	ret = cq_move_ring(cq, cqe, ring, dbrec, req);
	pthread_mutex_unlock(&cq->lock);
	if (ret) {
		svd_umem_release(ring);
		svd_umem_release(dbrec);
		return ret;
	}
	svd_umem_release(oring);
	svd_umem_release(odbrec);
	return 0;
}

/* write(): IB_USER_VERBS_CMD_RESIZE_CQ, the new ring in the driver data */
static int write_resize_cq(struct svd_bundle *b)
{
	const struct ib_uverbs_resize_cq *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_resize_cq_resp resp = {};
	struct sv_create_ring_req req;
	struct svd_uobj *u;
	int ret;

	ret = write_bind_udata(b, &req);
	if (ret)
		return ret;
	u = svd_uobj_lookup(b->uctx, &svd_type_cq, cmd->cq_handle,
			    SVD_LOOKUP_WRITE);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	ret = cq_resize(b, u->object, cmd->cqe, &req);
	resp.cqe = ((struct svd_cq *)u->object)->cqe;
	svd_uobj_unlock(u, SVD_LOOKUP_WRITE);
	if (ret)
		return ret;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ---------------------------------------------------------------------- */
/* Completion channels                                                     */
/* ---------------------------------------------------------------------- */

static int channel_setup(struct svd_bundle *b, struct svd_uobj *uobj,
			 uint32_t *slot)
{
	struct comp_channel *ch;
	struct stat st;
	int sv[2], ret;

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	uobj->object = ch;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	uobj->fd = sv[0]; /* closed with the uobject */
	if (fstat(sv[1], &st)) {
		ret = -errno;
		close(sv[1]);
		return ret;
	}
	uobj->peer_ino = st.st_ino;
	/* The reply carries it; the transport closes our copy afterwards. */
	ret = svd_bundle_add_out_fd(b, sv[1]);
	if (ret < 0) {
		close(sv[1]);
		return ret;
	}
	*slot = (uint32_t)ret;
	return 0;
}

/* write(): IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL */
static int write_create_comp_channel(struct svd_bundle *b)
{
	struct ib_uverbs_create_comp_channel_resp resp = {};
	struct svd_uobj *uobj;
	int ret;

	uobj = svd_bundle_new_uobj(b, 0, &svd_type_comp_channel);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	ret = channel_setup(b, uobj, &resp.fd);
	if (ret)
		return ret;
	return svd_write_resp(b, &resp, sizeof(resp));
}

const struct svd_module svd_mod_cq = {
    .name = "cq",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_CQ, &svd_type_cq,
			   SVD_METHOD_REF(UVERBS_METHOD_CQ_CREATE),
			   SVD_METHOD_REF(UVERBS_METHOD_CQ_DESTROY))),
    SVD_WRITE_CMDS(
	SVD_WRITE(IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL,
		  write_create_comp_channel,
		  struct ib_uverbs_create_comp_channel,
		  struct ib_uverbs_create_comp_channel_resp),
	SVD_WRITE(IB_USER_VERBS_CMD_CREATE_CQ, write_create_cq,
		  struct ib_uverbs_create_cq, struct ib_uverbs_create_cq_resp),
	SVD_WRITE_EX(IB_USER_VERBS_EX_CMD_CREATE_CQ, write_ex_create_cq,
		     struct ib_uverbs_ex_create_cq,
		     struct ib_uverbs_ex_create_cq_resp),
	SVD_WRITE(IB_USER_VERBS_CMD_RESIZE_CQ, write_resize_cq,
		  struct ib_uverbs_resize_cq, struct ib_uverbs_resize_cq_resp),
	SVD_WRITE_DESTROY_RESP(IB_USER_VERBS_CMD_DESTROY_CQ, cq)),
};
