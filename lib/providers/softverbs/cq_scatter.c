// SPDX-License-Identifier: MIT
/*
 * Scatter-to-CQE, the library's half (docs/datapath.md, "Small receives
 * scattered at poll"; the daemon's half is eng_resp.c's resp_scatter).
 *
 * The daemon reaches a private (VA) receive buffer only with a system
 * call, a third of a SEND hop. For a small SEND into such a buffer it
 * writes the payload beside the CQE instead, in the CQ's payload area,
 * and poll_cq copies it into the buffer before the application sees the
 * completion, as mlx5 scatters small receives to its CQE.
 *
 * Where the bytes go is never read from shared memory: posting a receive
 * keeps a private record of its SGEs (addr, length) per ring slot, and
 * the CQE only names the ring index, which must match the record's. A
 * record stays until a completion naming it is polled; a post into a slot
 * whose record is still held is not marked (the daemon then writes the
 * buffer itself, as before), so a record is never overwritten under a
 * CQE that needs it. A CQ finds a QP's records by QPN in a small table;
 * the records outlive a destroyed QP while a completion may still name
 * them (its CQEs stay pollable, and their payloads still land), so the
 * CQ's ring is never read outside a poll.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "svl_cq.h"
#include "svl_qp.h"

/* Receives with more SGEs are not recorded (the daemon writes them). */
#define RREC_SGE 4
#define SCAT_BUCKETS 64U

struct svl_rrec {
	uint64_t wr_id;
	uint32_t seq; /* the ring index it was posted at */
	uint8_t held; /* posted, no completion polled yet */
	uint8_t nsge;
	struct {
		uint64_t addr;
		uint32_t len;
	} sge[RREC_SGE];
};

/* A ring's records: shared by the ring and the CQ tables naming them. */
struct svl_rrecs {
	pthread_spinlock_t lock;
	atomic_int refs;
	uint32_t entries;
	uint32_t held; /* records held */
	struct svl_rrec *rec; /* entries of them, made at the first post */
};

/* One QP whose receives complete on the CQ (dead: destroyed). */
struct svl_scat_ent {
	uint32_t qpn;
	bool dead;
	struct svl_rrecs *st;
	struct svl_scat_ent *next;
};

/* ---- records ---- */

void svl_rrec_init(struct svl_ring *r)
{
	struct svl_rrecs *st;

	if (r->rec || !r->entries)
		return;
	st = calloc(1, sizeof(*st));
	if (!st)
		return; /* then the daemon writes every receive */
	pthread_spin_init(&st->lock, PTHREAD_PROCESS_PRIVATE);
	atomic_init(&st->refs, 1);
	st->entries = r->entries;
	r->rec = st;
}

static void rrecs_put(struct svl_rrecs *st)
{
	if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	pthread_spin_destroy(&st->lock);
	free(st->rec);
	free(st);
}

static void rrec_fill(struct svl_rrec *rec, const struct ibv_recv_wr *wr,
		      uint32_t idx)
{
	int i;

	rec->wr_id = wr->wr_id;
	rec->seq = idx;
	rec->nsge = (uint8_t)wr->num_sge;
	for (i = 0; i < wr->num_sge; i++) {
		rec->sge[i].addr = wr->sg_list[i].addr;
		rec->sge[i].len = wr->sg_list[i].length;
	}
	rec->held = 1;
}

uint32_t svl_rrec_put(struct svl_ring *r, const struct ibv_recv_wr *wr,
		      uint32_t idx)
{
	struct svl_rrecs *st = r->rec;
	struct svl_rrec *rec;
	uint32_t flag = 0;

	if (!st || wr->num_sge > RREC_SGE)
		return 0;
	pthread_spin_lock(&st->lock);
	if (!st->rec)
		st->rec = calloc(st->entries, sizeof(*st->rec));
	rec = st->rec ? &st->rec[idx & (st->entries - 1)] : NULL;
	/* A held record: an older WQE's scattered CQE may still need it. */
	if (rec && !rec->held) {
		rrec_fill(rec, wr, idx);
		st->held++;
		flag = SV_RWQE_F_INDEX;
	}
	pthread_spin_unlock(&st->lock);
	return flag;
}

void svl_rrec_reset(struct svl_ring *r)
{
	struct svl_rrecs *st = r->rec;

	if (!st)
		return;
	pthread_spin_lock(&st->lock);
	if (st->rec)
		memset(st->rec, 0, st->entries * sizeof(*st->rec));
	st->held = 0;
	pthread_spin_unlock(&st->lock);
}

void svl_rrec_free(struct svl_ring *r)
{
	rrecs_put(r->rec);
	r->rec = NULL;
}

/* Copy len payload bytes over the record's SGEs, as the daemon would. */
static bool rrec_copy(const struct svl_rrec *rec, const uint8_t *data,
		      uint32_t len)
{
	unsigned int i;

	for (i = 0; i < rec->nsge && len; i++) {
		uint32_t n = rec->sge[i].len < len ? rec->sge[i].len : len;

		memcpy((void *)(uintptr_t)rec->sge[i].addr, data, n);
		data += n;
		len -= n;
	}
	return !len;
}

/*
 * Release the record e names; copy data (scattered) into its buffers.
 * *left: records still held.
 */
static bool rrec_take(struct svl_rrecs *st, const struct sv_cqe *e,
		      const uint8_t *data, uint32_t *left)
{
	uint32_t idx = (uint32_t)e->tm_tag;
	struct svl_rrec *rec;
	bool ok = false;

	pthread_spin_lock(&st->lock);
	rec = st->rec ? &st->rec[idx & (st->entries - 1)] : NULL;
	if (rec && rec->held && rec->seq == idx && rec->wr_id == e->wr_id) {
		rec->held = 0;
		st->held--;
		ok = !data || (e->byte_len <= SV_CQ_SCAT_MAX &&
			       rrec_copy(rec, data, e->byte_len));
	}
	*left = st->held;
	pthread_spin_unlock(&st->lock);
	return ok;
}

/* ---- the CQ's table of QPs (under cq->lock) ---- */

static struct svl_scat_ent **scat_bucket(struct svl_cq *cq, uint32_t qpn)
{
	return &cq->scat_qps[qpn & (SCAT_BUCKETS - 1)];
}

static struct svl_scat_ent **scat_find(struct svl_cq *cq, uint32_t qpn)
{
	struct svl_scat_ent **pp;

	if (!cq->scat_qps)
		return NULL;
	for (pp = scat_bucket(cq, qpn); *pp; pp = &(*pp)->next)
		if ((*pp)->qpn == qpn)
			return pp;
	return NULL;
}

static void scat_unlink(struct svl_scat_ent **pp)
{
	struct svl_scat_ent *x = *pp;

	*pp = x->next;
	rrecs_put(x->st);
	free(x);
}

/* Take the record e names from the QP's store (a destroyed QP's too). */
static bool scat_take_rec(struct svl_cq *cq, const struct sv_cqe *e,
			  const uint8_t *data)
{
	struct svl_scat_ent **pp = scat_find(cq, e->qp_num);
	uint32_t left;
	bool ok;

	if (!pp)
		return false;
	ok = rrec_take((*pp)->st, e, data, &left);
	if ((*pp)->dead && !left)
		scat_unlink(pp); /* nothing can name its records any more */
	return ok;
}

void svl_scat_take(struct svl_cq *cq, struct sv_cqe *e)
{
	uint16_t f = e->reserved;
	const uint8_t *data = NULL;
	bool ok = false;

	if (f & SV_CQE_F_SCATTER && cq->scat)
		data = cq->scat + (size_t)(e - cq->ring) * SV_CQ_SCAT_SLOT;
	if (f & SV_CQE_F_RIDX)
		ok = scat_take_rec(cq, e, data);
	if (!ok && (f & SV_CQE_F_SCATTER) && e->status == IBV_WC_SUCCESS)
		e->status = IBV_WC_GENERAL_ERR; /* the bytes have nowhere to go */
	if (f & SV_CQE_F_RIDX)
		e->tm_tag = 0;
	e->reserved = 0;
}

void svl_scat_move(struct svl_cq *cq, uint32_t from, uint32_t to)
{
	const struct sv_cqe *e = &cq->ring[to];

	if ((e->reserved & SV_CQE_F_SCATTER) && cq->scat &&
	    e->byte_len <= SV_CQ_SCAT_MAX)
		memmove(cq->scat + (size_t)to * SV_CQ_SCAT_SLOT,
			cq->scat + (size_t)from * SV_CQ_SCAT_SLOT, e->byte_len);
}

static struct svl_rrecs *qp_store(struct svl_qp *q)
{
	if (q->qp.srq)
		return to_svl_srq(q->qp.srq)->rq.rec;
	svl_rrec_init(&q->rq);
	return q->rq.rec;
}

void svl_scat_qp_add(struct svl_qp *q)
{
	struct svl_scat_ent *x, **pp;
	struct svl_cq *cq;

	if (!q->qp.recv_cq || (q->qp.qp_type != IBV_QPT_RC &&
			       q->qp.qp_type != IBV_QPT_UC))
		return;
	x = calloc(1, sizeof(*x));
	if (!x)
		return;
	x->qpn = q->qp.qp_num;
	x->st = qp_store(q);
	cq = to_svl_cq(q->qp.recv_cq);
	svl_cq_lock(cq);
	if (!cq->scat_qps)
		cq->scat_qps = calloc(SCAT_BUCKETS, sizeof(*cq->scat_qps));
	/* A destroyed QP's QPN given again: its records are past use. */
	while ((pp = scat_find(cq, x->qpn)))
		scat_unlink(pp);
	if (cq->scat_qps && x->st) {
		atomic_fetch_add(&x->st->refs, 1);
		pp = scat_bucket(cq, x->qpn);
		x->next = *pp;
		*pp = x;
		x = NULL;
	}
	svl_cq_unlock(cq);
	free(x);
	if (!q->qp.srq && !(cq->scat_qps && q->rq.rec))
		svl_rrec_free(&q->rq); /* not findable: record nothing */
}

/*
 * The QP is destroyed: its records stay while a completion may name them
 * (its CQEs are still polled, their payloads still land).
 */
void svl_scat_qp_del(struct svl_qp *q)
{
	struct svl_scat_ent **pp;
	struct svl_cq *cq;
	bool idle;

	if (!q->qp.recv_cq)
		return;
	cq = to_svl_cq(q->qp.recv_cq);
	svl_cq_lock(cq);
	pp = scat_find(cq, q->qp.qp_num);
	if (pp) {
		pthread_spin_lock(&(*pp)->st->lock);
		idle = !(*pp)->st->held;
		pthread_spin_unlock(&(*pp)->st->lock);
		if (idle)
			scat_unlink(pp);
		else
			(*pp)->dead = true;
	}
	svl_cq_unlock(cq);
}

void svl_scat_cq_free(struct svl_cq *cq)
{
	unsigned int i;

	for (i = 0; cq->scat_qps && i < SCAT_BUCKETS; i++)
		while (cq->scat_qps[i])
			scat_unlink(&cq->scat_qps[i]);
	free(cq->scat_qps);
	cq->scat_qps = NULL;
}
