// SPDX-License-Identifier: MIT
/*
 * The direct path's hot path (struct svl_dhot in direct.h).
 *
 * A stream of small WRITEs or READs to one mapped region repeats the
 * same checks: the rkey's entry (device, the peer QP's PD, access, range),
 * the connection record (live, ours, the peer QP's access) and the lkey's
 * entry (our PD, this process, the range, LOCAL_WRITE for a READ). The
 * full path (direct_op.c) keeps what it checked here; while the seqs of
 * those three entries have not moved, nothing in them changed, so the
 * next work request with the same keys inside the same ranges in an
 * allowed direction is checked by three loads and two range compares.
 * The remote seq is loaded again once the busy record names it
 * (svl_dop_copy), so a region unpublished meanwhile is never touched.
 * A mapped region is copied with memcpy, a VA one (up to SMALL_IO) with
 * one pwrite/pread on the registrar's mm handle, as the full path does:
 * there the call is the cost, and the hot path saves the rest.
 *
 * ibv_post_send comes here straight from the ibv_send_wr, before a WQE
 * is built; the ibv_wr_* batches come from their WQEs.
 */
#include <string.h>
#include <sys/uio.h>

#include "direct.h"
#include "direct_op.h"
#include "svl_prov.h"

enum { HOT_WRITE = 1, HOT_READ = 2 };

/* A WRITE or READ as the hot path sees it (direct.h). */
#define hot_req svl_dwar_req

static bool in_range(uint64_t lo, uint64_t len, uint64_t addr, uint64_t n)
{
	return addr >= lo && addr - lo <= len && n <= len - (addr - lo);
}

/* What a region allows of HOT_WRITE / HOT_READ, from access flags. */
static uint32_t hot_ops(uint32_t access)
{
	return ((access & IBV_ACCESS_REMOTE_WRITE) ? HOT_WRITE : 0) |
	       ((access & IBV_ACCESS_REMOTE_READ) ? HOT_READ : 0);
}

static void fill_local(struct svl_dhot *h, const uint8_t *table,
		       const struct sv_direct_key *l)
{
	h->lseq = l->seq;
	h->lseq_p = svl_dkey_seq(table, l->key);
	h->liova = l->iova;
	h->llen = l->length;
	h->lbase = (uintptr_t)l->va;
	if (!(l->access & IBV_ACCESS_LOCAL_WRITE))
		h->ops &= ~(uint32_t)HOT_READ;
}

/* The full path just did op, a WRITE or READ: keep its translation if
 * the hot path can use it (a mapped region, one SGE or inline bytes). */
void svl_direct_hot_fill(struct svl_qp *q, const struct sv_send_wqe *w,
			 const struct dop *op)
{
	struct svl_dqp *d = q->dq;
	struct svl_dcache *ch = &d->cache;
	struct svl_dhot *h = &ch->hot;
	const struct sv_direct_key *r = &ch->remote;
	const struct sv_sge *s = (const void *)(w + 1);
	bool inl = w->flags & SV_WQE_INLINE;

	if (!op->map || op->map != ch->map || op->atomic ||
	    (!inl && op->nlocal != 1))
		return;
	h->rseq = r->seq;
	h->rslot = op->rslot;
	h->rseq_p = op->rseq_p;
	h->riova = r->iova;
	h->rlen = r->length;
	/* Mapped: its bytes here; VA: the registrar's address (pwrite). */
	h->rbase = op->map->base ?
			   op->map->base + (r->file_off - op->map->off) :
			   NULL;
	h->rva = r->va;
	h->cseq = ch->conn.seq;
	h->cseq_p = &((const struct sv_direct_conn *)(d->table +
						      SV_DIRECT_CONN_OFF) +
		      d->conn)->seq;
	h->ops = hot_ops(r->access & ch->conn.peer_access);
	h->lkey = inl ? 0 : s->lkey;
	if (!inl)
		fill_local(h, d->table, &ch->local);
	h->rkey = r->key; /* valid from here */
}

/* The local bytes of r, from the hot entry; false: not covered. */
static bool hot_local(const struct svl_dhot *h, const struct hot_req *r,
		      void **local)
{
	if (r->inl) {
		*local = (void *)(uintptr_t)r->laddr;
		return true;
	}
	if (!h->lkey || r->lkey != h->lkey ||
	    !in_range(h->liova, h->llen, r->laddr, r->len) ||
	    svl_dload32(h->lseq_p, memory_order_acquire) != h->lseq)
		return false;
	*local = (void *)(h->lbase + (uintptr_t)(r->laddr - h->liova));
	return true;
}

/* Does the hot entry cover r? Then *local is its local side. */
static bool hot_covers(const struct svl_dhot *h, const struct hot_req *r,
		       void **local)
{
	return h->rkey && r->rkey == h->rkey && r->len &&
	       r->len <= (h->rbase ? DIRECT_MAX : SMALL_IO) &&
	       (h->ops & (r->read ? HOT_READ : HOT_WRITE)) &&
	       in_range(h->riova, h->rlen, r->raddr, r->len) &&
	       hot_local(h, r, local) &&
	       svl_dload32(h->cseq_p, memory_order_acquire) == h->cseq;
}

/* Mapped: memcpy; false if the guard saw a fault in the mapping. */
static bool hot_map(const struct rmap *m, const struct hot_req *r,
		    void *local, uint8_t *remote)
{
	if (r->read)
		svl_dcopy(local, remote, r->len);
	else
		svl_dcopy(remote, local, r->len);
	/* A fault inside the copy set the word in this thread's handler. */
	atomic_signal_fence(memory_order_seq_cst);
	return !__atomic_load_n(&m->faulted, __ATOMIC_ACQUIRE);
}

/* VA: one call on the registrar's mm handle, as the full path makes. */
static bool hot_va(const struct rmap *m, const struct hot_req *r,
		   void *local, uint64_t remote)
{
	struct iovec v = { local, r->len };
	ssize_t n = r->read ? preadv(m->fd, &v, 1, (off_t)remote) :
			      pwritev(m->fd, &v, 1, (off_t)remote);

	return n >= 0 && (uint64_t)n == r->len;
}

/* The copy, inside the busy record. */
static bool hot_copy(const struct svl_dqp *d, const struct hot_req *r,
		     void *local)
{
	const struct svl_dhot *h = &d->cache.hot;
	uint64_t off = r->raddr - h->riova;
	bool ok;

	if (!svl_dbusy_enter(d, h->rseq_p, h->rseq, h->rslot))
		return false;
	ok = h->rbase ? hot_map(d->cache.map, r, local, h->rbase + off) :
			hot_va(d->cache.map, r, local, h->rva + off);
	svl_dbusy_leave(d);
	return ok;
}

static int hot_exec(struct svl_qp *q, struct hot_req *r)
{
	struct svl_dqp *d = q->dq;
	struct svl_cq *cq;
	void *local;

	/* Anything of ours in the daemon: the full path sorts it out. */
	if (q->dstate != SVL_DIRECT_GRANTED || q->qp.state != IBV_QPS_RTS ||
	    d->dmn || d->failed || !hot_covers(&d->cache.hot, r, &local))
		return -1;
	/* A small WRITE to a VA region: a record for the peer's helper. */
	if (!r->read && !d->cache.hot.rbase) {
		r->local = local;
		if (!svl_dwar_write(q, r))
			return 0;
	}
	/* Records of ours not applied yet come first (or went to the
	 * daemon, and this follows them there). */
	if (!svl_dwar_fence(q) || d->dmn)
		return -1;
	cq = to_svl_cq(q->qp.send_cq);
	if (!svl_direct_cq_room(cq, r->signaled))
		return -1;
	if (!hot_copy(d, r, local)) {
		svl_direct_cq_unroom(cq, r->signaled);
		return -1;
	}
	if (r->signaled)
		svl_direct_complete_id(q, r->wr_id, cq,
				       r->read ? IBV_WC_RDMA_READ :
						 IBV_WC_RDMA_WRITE,
				       r->len);
	/* A small WRITE by system call: its end, for the next one's gap
	 * (direct_war.c: a stream makes records). */
	if (!r->read && !d->cache.hot.rbase) {
		d->war_tsc = __builtin_ia32_rdtsc();
		d->war_posts = 0;
	}
	return 0;
}

int svl_direct_hot_wqe(struct svl_qp *q, const struct sv_send_wqe *w)
{
	const struct sv_sge *s = (const void *)(w + 1);
	struct hot_req r = {
		.wr_id = w->wr_id,
		.raddr = w->rdma.remote_addr,
		.rkey = w->rdma.rkey,
		.read = w->opcode == IBV_WR_RDMA_READ,
		.signaled = w->send_flags & IBV_SEND_SIGNALED,
		.inl = w->flags & SV_WQE_INLINE,
	};

	if ((w->opcode != IBV_WR_RDMA_WRITE && !r.read) ||
	    (r.inl && (r.read || w->num_sge > q->max_inline)) ||
	    (!r.inl && w->num_sge != 1))
		return -1;
	r.laddr = r.inl ? (uintptr_t)(w + 1) : s->addr;
	r.len = r.inl ? w->num_sge : s->length;
	r.lkey = r.inl ? 0 : s->lkey;
	return hot_exec(q, &r);
}

/*
 * Straight from the application's WR: what build_send() would have
 * checked and written, read where it is. A READ ignores
 * IBV_SEND_INLINE, as build_send() does.
 */
int svl_direct_hot_wr(struct svl_qp *q, const struct ibv_send_wr *wr)
{
	const struct ibv_sge *s = wr->sg_list;
	struct hot_req r = {
		.wr_id = wr->wr_id,
		.raddr = wr->wr.rdma.remote_addr,
		.rkey = wr->wr.rdma.rkey,
		.read = wr->opcode == IBV_WR_RDMA_READ,
		.signaled = (wr->send_flags & IBV_SEND_SIGNALED) ||
			    q->sq_sig_all,
	};

	if ((wr->opcode != IBV_WR_RDMA_WRITE && !r.read) ||
	    wr->num_sge != 1 || q->max_send_sge < 1)
		return -1;
	r.inl = !r.read && (wr->send_flags & IBV_SEND_INLINE);
	if (r.inl && s->length > q->max_inline)
		return -1;
	r.laddr = s->addr;
	r.len = s->length;
	r.lkey = s->lkey;
	return hot_exec(q, &r);
}
