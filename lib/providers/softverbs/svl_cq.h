/* SPDX-License-Identifier: MIT */
/*
 * Library CQs and completion channels (cq.c, cq_ex.c).
 *
 * A CQ's ring and doorbell record live in one memfd shared with the daemon:
 * ring at offset 0, dbrec at the next 4096-aligned offset. The daemon
 * produces (prod), we consume (cons) and arm (arm_seq/arm_flags) with plain
 * loads and stores: polling and arming make no syscall.
 */
#ifndef SVL_CQ_H
#define SVL_CQ_H

#include "ring.h"
#include "svl_pd.h"

struct svl_qp;

struct svl_cq {
	/* ibv_cq_ex starts with the fields of ibv_cq: one object, two views. */
	union {
		struct ibv_cq cq;
		struct ibv_cq_ex cq_ex;
	};
	/* Serializes pollers against each other and against resize. */
	pthread_mutex_t lock;
	/* On a parent domain with a TD: one thread polls, no lock taken. */
	bool no_lock;
	struct svl_obj_src src; /* where this object's memory came from */
	struct svl_obj_src ring_src; /* ring from a parent domain's alloc? */
	int fd; /* memfd holding ring + dbrec */
	void *map;
	size_t map_len;
	struct sv_cqe *ring;
	struct sv_dbrec *db;
	uint32_t entries; /* power of two */
	uint32_t cons; /* our consumer index (published in db->cons) */
	uint64_t wc_flags; /* extended CQ: what the user asked for */
	const struct sv_cqe *cur; /* extended CQ: entry being read */
	/* Channel bookkeeping, under the channel's lock. */
	struct svl_cq *ch_next;
	uint32_t events_read; /* events ibv_get_cq_event returned */
	/* Completions of the direct path (direct_cq.c), NULL until used. */
	struct svl_dcq *dcq;
	/* The arm (db->arm_seq) whose event a direct completion raised
	 * (direct_op.c), under lock: one event per arm. */
	uint32_t dnotified;
	/* Scatter-to-CQE (cq_scatter.c): the payload area after the ring,
	 * and the QPs whose receives complete here, by QPN. */
	uint8_t *scat;
	struct svl_scat_ent **scat_qps;
};

static inline void svl_cq_lock(struct svl_cq *cq)
{
	if (!cq->no_lock)
		pthread_mutex_lock(&cq->lock);
}

static inline void svl_cq_unlock(struct svl_cq *cq)
{
	if (!cq->no_lock)
		pthread_mutex_unlock(&cq->lock);
}

static inline struct svl_cq *to_svl_cq(struct ibv_cq *cq)
{
	return (struct svl_cq *)cq;
}

static inline struct svl_cq *ex_to_svl_cq(struct ibv_cq_ex *cq)
{
	return (struct svl_cq *)cq;
}

struct svl_comp_channel {
	struct ibv_comp_channel ch; /* ch.refcnt = CQs using it */
	pthread_mutex_t lock;
	struct svl_cq *cqs; /* live CQs: events for others are dropped */
};

static inline struct svl_comp_channel *to_svl_ch(struct ibv_comp_channel *c)
{
	return (struct svl_comp_channel *)c;
}

/* Common creation for ibv_create_cq and ibv_create_cq_ex (cq.c); pd, if
 * not NULL, is the parent domain whose allocator gives the object. */
struct svl_cq *svl_cq_create(struct ibv_context *ctx, int cqe,
			     void *cq_context, struct ibv_comp_channel *ch,
			     int comp_vector, uint32_t flags, struct ibv_pd *pd);
/* Remove the unpolled CQEs of QP qpn (modify to RESET). */
void svl_cq_clean(struct ibv_cq *cq, uint32_t qpn);
/* Fill the extended poll ops (cq_ex.c). */
void svl_cq_ex_init(struct svl_cq *cq, uint64_t wc_flags);

/*
 * Scatter-to-CQE (cq_scatter.c, docs/datapath.md): a receive CQE that
 * names the ring index of its WQE releases our record of it, and one
 * whose payload the daemon put in the CQ's payload area has it copied to
 * the WQE's buffers first (a record that does not match fails the
 * completion with IBV_WC_GENERAL_ERR). Under cq->lock, before the CQE is
 * read; e is in the daemon's ring (CQEs of the direct path never carry
 * the flags).
 */
void svl_scat_take(struct svl_cq *cq, struct sv_cqe *e);

static inline void svl_scat_peeked(struct svl_cq *cq, const struct sv_cqe *e)
{
	if (e && e->reserved && e >= cq->ring && e < cq->ring + cq->entries)
		svl_scat_take(cq, (struct sv_cqe *)e);
}
/* The CQE at ring slot 'from' moves to slot 'to' (svl_cq_clean). */
void svl_scat_move(struct svl_cq *cq, uint32_t from, uint32_t to);
/* QP create / destroy: its receives complete on its recv_cq. */
void svl_scat_qp_add(struct svl_qp *q);
void svl_scat_qp_del(struct svl_qp *q);
void svl_scat_cq_free(struct svl_cq *cq);

#endif /* SVL_CQ_H */
