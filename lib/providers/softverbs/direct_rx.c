// SPDX-License-Identifier: MIT
/*
 * Direct SEND, receiver side (docs/direct-path.md, "SEND").
 *
 * At its first ibv_post_recv an RC QP asks the daemon for a receive ring
 * (SV_METHOD_DIRECT_RECV). From then on each receive WQE it posts is also
 * copied to the ring's mirror, so a granted initiator can check the
 * receive its message will take. poll_cq on the QP's receive CQ drains
 * the ring: it takes the next receive WQE (the RQ's cons in the dbrec, as
 * the engine left it), copies the message into its buffers and writes the
 * receive completion to the CQ's direct ring (direct_cq.c), stamped after
 * every daemon completion already there. Before the initiator's next
 * daemon-path work the engine drains what is left itself (into the
 * daemon's CQ ring), so that work never waits for our poll_cq; the
 * ring's drainer word keeps the two from draining at once, and the RQ's
 * cons moves through the dbrec, which the engine reads back.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "direct.h"
#include "svl_prov.h"

static int recv_cmd(struct svl_qp *q, struct sv_direct_recv_resp *r, int *fd,
		    int *tfd)
{
	struct ib_uverbs_attr *f, *t;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_DIRECT_RECV);
	svl_attr_idr(&c, SV_ATTR_DIRECT_RECV_QP, q->qp.handle);
	svl_attr_out(&c, SV_ATTR_DIRECT_RECV_RESP, r, sizeof(*r));
	f = svl_attr_fd_new(&c, SV_ATTR_DIRECT_RECV_FD);
	t = svl_attr_fd_new(&c, SV_ATTR_DIRECT_RECV_TABLE);
	ret = svl_exec(q->qp.context, &c);
	*fd = ret ? -1 : (int)f->data_s64;
	*tfd = ret ? -1 : (int)t->data_s64;
	return ret;
}

/* The ring, mapped, if it has the geometry of q's receive queue. */
static void *rx_map(const struct svl_qp *q, const struct sv_direct_recv_resp *r,
		    int fd)
{
	struct stat st;
	void *p;

	if (r->rq_entries != q->rq.entries || r->rq_stride != q->rq.stride ||
	    r->size != sv_direct_rx_size(r->rq_entries, r->rq_stride) ||
	    fstat(fd, &st) || (uint64_t)st.st_size < r->size)
		return NULL;
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static struct svl_drx *rx_new(struct svl_qp *q)
{
	struct sv_direct_recv_resp r = {};
	struct svl_drx *x = NULL;
	const uint8_t *table;
	int fd, tfd;
	void *map;

	if (recv_cmd(q, &r, &fd, &tfd))
		return NULL;
	table = tfd >= 0 ? svl_direct_table_map(tfd) : NULL;
	map = fd >= 0 && table ? rx_map(q, &r, fd) : NULL;
	if (fd >= 0)
		close(fd);
	if (map && !(x = svl_lines_zalloc(sizeof(*x))))
		munmap(map, r.size);
	if (!x)
		return NULL;
	*x = (struct svl_drx){ .q = q, .map = map, .len = r.size, .h = map,
			       .mirror = (uint8_t *)map +
					 SV_DIRECT_RX_MIRROR_OFF,
			       .slots = (uint8_t *)map +
					sv_direct_rx_slots_off(r.rq_entries,
							       r.rq_stride),
			       .entries = r.rq_entries, .stride = r.rq_stride,
			       .table = table, .dev = r.dev, .pd = r.pd };
	return x;
}

/* Copy the receive WQEs posted since the last call to the mirror. */
static void mirror_sync(struct svl_drx *x, const struct svl_ring *rq)
{
	uint32_t from = svl_load_relaxed(&x->h->rq_prod), to = rq->prod;
	size_t off;

	if (to - from > x->entries)
		from = to - x->entries;
	for (; from != to; from++) {
		off = (size_t)(from & (x->entries - 1)) * x->stride;
		memcpy(x->mirror + off, rq->buf + off, x->stride);
	}
	svl_store_release(&x->h->rq_prod, to);
}

static bool rx_wanted(const struct svl_qp *q)
{
	return q->qp.qp_type == IBV_QPT_RC && !q->qp.srq && q->rq.entries &&
	       q->qp.recv_cq && svl_direct_on();
}

/* Under cq->lock: the SV_CQ_ARM_* of an arm the daemon has not taken. */
uint32_t svl_direct_cq_arm_pending(const struct svl_cq *cq)
{
	if (svl_load_acquire(&cq->db->arm_seq) ==
	    svl_load_acquire(&cq->db->armed_seen))
		return 0;
	return svl_load_relaxed(&cq->db->arm_flags) &
	       (SV_CQ_ARM_NEXT | SV_CQ_ARM_SOLICITED);
}

/* Ask for the ring once; on the receive CQ's list if we got it. */
static void rx_register(struct svl_qp *q)
{
	struct svl_cq *cq = to_svl_cq(q->qp.recv_cq);
	struct svl_drx *x = rx_new(q);
	struct svl_dcq *d;

	if (!x)
		return;
	svl_cq_lock(cq);
	d = svl_dcq_get(cq);
	if (d) {
		x->next = d->rxs;
		d->rxs = x;
		/* Armed before the ring existed (perftest -e arms, then
		 * posts): the first direct SEND must wake us too. */
		atomic_store((_Atomic uint32_t *)&x->h->armed,
			     svl_direct_cq_arm_pending(cq));
	}
	svl_cq_unlock(cq);
	if (!d) {
		munmap(x->map, x->len);
		free(x);
		return;
	}
	svl_ring_lock(&q->rq);
	mirror_sync(x, &q->rq);
	__atomic_store_n(&q->drx, x, __ATOMIC_RELEASE);
	svl_ring_unlock(&q->rq);
	svl_dassist_add(x); /* our helper serves its initiator's jobs */
}

/*
 * Have we taken a message from the ring since it was made or reset? Then
 * our peer is a granted same-host QP whose SENDs come through the ring
 * (its others wait for their RNR timer in the engine, wake or not).
 */
static bool rx_in_use(const struct svl_drx *x)
{
	return __atomic_load_n(&x->used, __ATOMIC_RELAXED);
}

bool svl_direct_recv_posted(struct svl_qp *q)
{
	struct svl_drx *x = __atomic_load_n(&q->drx, __ATOMIC_ACQUIRE);
	bool used;

	if (!x) {
		if (q->drx_tried || !rx_wanted(q) ||
		    __atomic_exchange_n(&q->drx_tried, true, __ATOMIC_ACQ_REL))
			return false;
		rx_register(q);
		return false;
	}
	svl_ring_lock(&q->rq);
	mirror_sync(x, &q->rq);
	used = rx_in_use(x);
	svl_ring_unlock(&q->rq);
	return used;
}

/* ---------------------------------------------------------------------- */
/* Draining (under the receive CQ's lock)                                  */
/* ---------------------------------------------------------------------- */

/* The buffer of one of our receive SGEs, if its key says it is ours. */
static uint8_t *sge_ptr(const struct svl_drx *x, const struct sv_sge *g,
			uint32_t len)
{
	struct sv_direct_key e;

	if (!svl_direct_key_ok(x->table, x->dev, g->lkey, x->pd, g->addr, len,
			       IBV_ACCESS_LOCAL_WRITE, &e) ||
	    (pid_t)e.pid != svl_self_pid() || !e.va ||
	    (e.flags & SV_DIRECT_KEY_MAPPED)) /* the initiator refuses those */
		return NULL;
	return (uint8_t *)(uintptr_t)(e.va + (g->addr - e.iova));
}

/* The WQE's SGE list fits its slot and the QP (as the engine checks). */
static bool wqe_shape_ok(const struct svl_drx *x, const struct sv_recv_wqe *w)
{
	return w->num_sge <= (x->stride - sizeof(*w)) / sizeof(struct sv_sge) &&
	       w->num_sge <= x->q->max_recv_sge;
}

/* Copy len bytes into the WQE's buffers: an ibv_wc_status. */
static uint32_t scatter(const struct svl_drx *x, const uint8_t *wqe,
			const uint8_t *src, uint32_t len)
{
	const struct sv_recv_wqe *w = (const void *)wqe;
	const struct sv_sge *g = (const void *)(w + 1);
	uint32_t i, n;
	uint8_t *dst;

	if (!wqe_shape_ok(x, w))
		return IBV_WC_LOC_LEN_ERR;
	for (i = 0; i < w->num_sge && len; i++) {
		n = g[i].length < len ? g[i].length : len;
		dst = n ? sge_ptr(x, &g[i], n) : NULL;
		if (n && !dst)
			return IBV_WC_LOC_PROT_ERR;
		if (n)
			memcpy(dst, src, n);
		src += n;
		len -= n;
	}
	return len ? IBV_WC_LOC_LEN_ERR : IBV_WC_SUCCESS;
}

static void rx_cqe(struct sv_cqe *e, const struct svl_drx *x,
		   const struct sv_direct_rx_msg *m, uint64_t wr_id)
{
	*e = (struct sv_cqe){ .wr_id = wr_id, .opcode = IBV_WC_RECV,
			      .byte_len = m->len, .qp_num = x->q->qp.qp_num,
			      .src_qp = m->src_qp,
			      .slid = (uint16_t)m->slid };
	if (m->flags & SV_DIRECT_RX_IMM) {
		e->imm_data = m->imm;
		e->wc_flags = IBV_WC_WITH_IMM;
	}
	if (m->flags & SV_DIRECT_RX_INV) {
		e->imm_data = m->imm; /* the invalidated rkey */
		e->wc_flags = IBV_WC_WITH_INV;
	}
	if (m->flags & SV_DIRECT_RX_WRITE)
		e->opcode = IBV_WC_RECV_RDMA_WITH_IMM;
}

/*
 * A SEND the initiator wrote into the WQE's first SGE: still a buffer of
 * ours that holds it (a key deregistered since gives LOC_PROT_ERR, as a
 * copy here would).
 */
static uint32_t placed_status(const struct svl_drx *x, const uint8_t *wqe,
			      uint32_t len)
{
	const struct sv_recv_wqe *w = (const void *)wqe;
	const struct sv_sge *g = (const void *)(w + 1);

	if (!wqe_shape_ok(x, w) || !w->num_sge || g->length < len)
		return IBV_WC_LOC_LEN_ERR;
	return sge_ptr(x, g, len) ? IBV_WC_SUCCESS : IBV_WC_LOC_PROT_ERR;
}

/* Message m (payload at src) into receive WQE wqe: an ibv_wc_status. */
static uint32_t rx_status(const struct svl_drx *x, const uint8_t *wqe,
			  const struct sv_direct_rx_msg *m, const uint8_t *src)
{
	/* WRITE_WITH_IMM: the data is in place, the receive only taken. */
	if (m->flags & SV_DIRECT_RX_WRITE)
		return wqe_shape_ok(x, (const void *)wqe) ? IBV_WC_SUCCESS :
							    IBV_WC_LOC_LEN_ERR;
	if (m->flags & SV_DIRECT_RX_PLACED)
		return placed_status(x, wqe, m->len);
	if (m->len > SV_DIRECT_RX_EAGER)
		return IBV_WC_LOC_LEN_ERR;
	return scatter(x, wqe, src, m->len);
}

static uint32_t rx_taken(const struct svl_drx *x)
{
	return (uint32_t)atomic_load_explicit((_Atomic uint64_t *)&x->h->cons,
					      memory_order_relaxed);
}

/* The slot of message number n. */
static const uint8_t *rx_slot(const struct svl_drx *x, uint32_t n)
{
	return x->slots + (size_t)(n % SV_DIRECT_RX_SLOTS) * SV_DIRECT_RX_SLOT;
}

/*
 * Message n is there: its slot's seq, which the initiator writes last
 * (after prod), says so. Polling it costs one cache line per message.
 */
static bool rx_arrived(const struct svl_drx *x, uint32_t n)
{
	const struct sv_direct_rx_msg *m = (const void *)rx_slot(x, n);

	return svl_load_acquire(&m->seq) == n + 1;
}

/* One message into the next receive WQE; false if none can be taken. */
static bool drain_one(struct svl_cq *cq, struct svl_drx *x)
{
	struct svl_ring *rq = &x->q->rq;
	uint32_t taken = rx_taken(x), rc;
	struct sv_direct_rx_msg m;
	const uint8_t *slot, *wqe;
	struct sv_cqe e;

	if (!rx_arrived(x, taken))
		return false;
	rc = svl_load_acquire(&rq->db->cons);
	if (svl_load_relaxed(&rq->db->prod) == rc || svl_dcq_reserve(cq))
		return false; /* no receive (after a reset) or no room: later */
	slot = rx_slot(x, taken);
	memcpy(&m, slot, sizeof(m));
	wqe = rq->buf + (size_t)(rc & (rq->entries - 1)) * rq->stride;
	rx_cqe(&e, x, &m, ((const struct sv_recv_wqe *)wqe)->wr_id);
	e.status = rx_status(x, wqe, &m, slot + sizeof(m));
	svl_store_release(&rq->db->cons, rc + 1);
	atomic_store_explicit((_Atomic uint64_t *)&x->h->cons,
			      (uint64_t)(rc + 1) << 32 | (taken + 1),
			      memory_order_release);
	__atomic_store_n(&x->used, true, __ATOMIC_RELAXED);
	svl_dcq_push(cq, &e);
	return true;
}

/* The engine may be draining the ring too (before the initiator's next
 * daemon-path work): whoever holds the drainer word does it. */
static bool drainer_take(struct svl_drx *x)
{
	uint64_t idle = 0;

	if (!rx_arrived(x, rx_taken(x)))
		return false;
	return atomic_compare_exchange_strong_explicit(
		(_Atomic uint64_t *)&x->h->drainer, &idle, 1,
		memory_order_acquire, memory_order_relaxed);
}

void svl_direct_rx_drain(struct svl_cq *cq)
{
	struct svl_drx *x;

	for (x = cq->dcq->rxs; x; x = x->next) {
		if (!drainer_take(x))
			continue;
		while (drain_one(cq, x))
			;
		atomic_store_explicit((_Atomic uint64_t *)&x->h->drainer, 0,
				      memory_order_release);
	}
}

void svl_direct_cq_armed(struct svl_cq *cq, int solicited)
{
	struct svl_drx *x;

	if (!cq->dcq)
		return;
	for (x = cq->dcq->rxs; x; x = x->next)
		atomic_store((_Atomic uint32_t *)&x->h->armed,
			     solicited ? SV_CQ_ARM_SOLICITED : SV_CQ_ARM_NEXT);
}

/* RESET empties the receive queue: the ring's messages go with it. */
void svl_direct_rx_reset(struct svl_qp *q)
{
	struct svl_cq *cq = to_svl_cq(q->qp.recv_cq);
	struct svl_drx *x = q->drx;
	uint32_t prod;

	if (!x)
		return;
	svl_cq_lock(cq);
	prod = svl_load_acquire(&x->h->prod);
	__atomic_store_n(&x->used, false, __ATOMIC_RELAXED);
	atomic_store((_Atomic uint64_t *)&x->h->cons, (uint64_t)prod);
	svl_store_release(&x->h->rq_prod, 0);
	svl_cq_unlock(cq);
	svl_dassist_quiet(svl_dwar_rx_reset, x); /* its small WRITEs too */
}

void svl_direct_rx_free(struct svl_qp *q)
{
	struct svl_cq *cq = to_svl_cq(q->qp.recv_cq);
	struct svl_drx *x = q->drx, **pp;

	if (!x)
		return;
	svl_cq_lock(cq);
	for (pp = &cq->dcq->rxs; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	svl_cq_unlock(cq);
	svl_dassist_del(x);
	munmap(x->map, x->len);
	free(x);
	q->drx = NULL;
}
