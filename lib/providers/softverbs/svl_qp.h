/* SPDX-License-Identifier: MIT */
/*
 * Library QPs and SRQs (qp.c, srq.c, post.c, qp_ex.c).
 *
 * A QP's SQ ring, RQ ring and doorbell records live in one memfd shared
 * with the daemon (include/softverbs/abi.h). The library is the producer
 * of both rings: it writes a WQE at prod & (entries - 1), then publishes
 * prod with a release store; the engine consumes and advances cons.
 */
#ifndef SVL_QP_H
#define SVL_QP_H

#include "bias_lock.h"
#include "ring.h"
#include "svl_pd.h"

/* Largest inline payload (the daemon's SVD_QP_MAX_INLINE). */
#define SVL_MAX_INLINE 256U

struct svl_ring {
	uint8_t *buf; /* entries * stride bytes */
	struct sv_dbrec *db; /* its doorbell record */
	uint32_t entries; /* power of two; 0 = no ring */
	uint32_t stride;
	uint32_t prod; /* our shadow of db->prod */
	struct svl_block lock; /* biased to the thread that posts */
	bool no_lock; /* on a TD: one thread posts, so the lock is skipped */
	/* Receive rings: our own record of each WQE, for payloads the
	 * daemon scattered to the CQ (cq_scatter.c), or NULL. */
	struct svl_rrecs *rec;
};

/*
 * Receive records (cq_scatter.c): a ring keeps them once init made its
 * store; posting a receive at ring index idx returns SV_RWQE_F_INDEX if
 * it was recorded; a ring starts again (RESET) or is freed.
 */
void svl_rrec_init(struct svl_ring *r);
uint32_t svl_rrec_put(struct svl_ring *r, const struct ibv_recv_wr *wr,
		      uint32_t idx);
void svl_rrec_reset(struct svl_ring *r);
void svl_rrec_free(struct svl_ring *r);

/* Send posts: the poster may become the lock's owner (bias_lock.h). */
static inline void svl_ring_lock_post(struct svl_ring *r)
{
	if (!r->no_lock)
		svl_block_lock(&r->lock);
}

/* Anything else (receive posts, modify, flush, the library's threads). */
static inline void svl_ring_lock(struct svl_ring *r)
{
	if (!r->no_lock)
		svl_block_lock_other(&r->lock);
}

/* Does the calling thread post to r (its lock's owner, or a TD's ring)? */
static inline bool svl_ring_mine(struct svl_ring *r)
{
	return r->no_lock || atomic_load_explicit(&r->lock.state,
						  memory_order_relaxed) ==
				     svl_block_me();
}

static inline void svl_ring_unlock(struct svl_ring *r)
{
	if (!r->no_lock)
		svl_block_unlock(&r->lock);
}

struct svl_qp {
	/* ibv_qp_ex starts with ibv_qp: both views share the memory. */
	union {
		struct ibv_qp qp;
		struct ibv_qp_ex qp_ex;
	};
	struct svl_obj_src src; /* where this object's memory came from */
	bool is_ex; /* created with IBV_QP_INIT_ATTR_SEND_OPS_FLAGS */
	int fd; /* the memfd of rings + dbrec, -1 for XRC_RECV */
	void *map;
	size_t map_len;
	struct svl_ring sq, rq;
	uint32_t max_send_sge, max_recv_sge, max_inline;
	uint32_t db_page_index;
	/* Seed-002 resource domain index (softverbsdv_create_qp), -1: none */
	int64_t rd;
	bool db_dedicated; /* its page is a TD's or its domain's own */
	struct svl_obj_src ring_src; /* rings from a parent domain's alloc? */
	struct svl_ring_slot slot; /* rings from the ring pool (ring_pool.c)? */
	bool sq_sig_all;
	/* A posted modify was refused: qp.state may not be the daemon's, and
	 * nothing is posted until a modify waited for sets it again. */
	bool state_unsure;
	uint64_t send_ops;
	/* ibv_wr_* batch state (under sq.lock between start and complete) */
	struct sv_send_wqe *wr_cur;
	uint32_t wr_prod;
	int wr_err;
	/* The same-host direct path (direct.c): NULL until granted. */
	struct svl_dqp *dq;
	int dstate; /* enum svl_dstate */
	uint32_t dretry; /* posts until a refused grant is asked again */
	/* Serializes asking for the grant (a daemon round trip) without holding
	 * sq.lock across it: a thread waiting for the answer sleeps, it does not
	 * spin against a thread that sleeps holding a spinlock. */
	pthread_mutex_t dgrant;
	uint32_t dgen; /* under sq.lock: moves at every modify */
	struct svl_drx *drx; /* direct SEND receive ring (direct_rx.c) */
	bool drx_tried;
	/* Large payloads copied at post (stage.c), under sq.lock. */
	struct svl_stage *stage;
	bool stage_off; /* the stage could not be made: never again */
};

struct svl_srq {
	struct ibv_srq srq;
	struct svl_obj_src src; /* where this object's memory came from */
	int fd;
	void *map;
	size_t map_len;
	struct svl_ring rq;
	uint32_t max_sge;
	uint32_t srqn;
	uint32_t db_page_index;
	struct svl_obj_src ring_src; /* ring from a parent domain's alloc? */
	uint32_t srq_type; /* enum ibv_srq_type */
};

/* Same layout as rdma-core's struct verbs_xrcd. */
struct svl_xrcd {
	struct ibv_xrcd xrcd;
	uint32_t comp_mask;
	uint32_t handle;
};

static inline uint32_t svl_xrcd_handle(struct ibv_xrcd *x)
{
	return ((struct svl_xrcd *)x)->handle;
}

static inline struct svl_qp *to_svl_qp(struct ibv_qp *qp)
{
	return (struct svl_qp *)qp;
}

static inline struct svl_srq *to_svl_srq(struct ibv_srq *srq)
{
	return (struct svl_srq *)srq;
}

/* Same stride on both sides: see sv_recv_wqe_stride() in the ABI header. */
static inline uint32_t svl_recv_stride(uint32_t max_sge)
{
	return sv_recv_wqe_stride(max_sge);
}

/* doorbell.c: bump the context's doorbell page, waking a sleeping engine. */
void svl_doorbell_ring(struct svl_context *ctx, uint32_t db_page_index);

/* doorbell.c: ring for a QP's work (its slot bit names it to the engine). */
void svl_doorbell_ring_qp(struct svl_context *ctx, uint32_t db_page_index,
			  uint32_t qpn);

/*
 * domain_db.c: the doorbell page an object created on pd rings: its TD's
 * if pd is a parent domain with a TD, else the context's shared page
 * (page 0 if none can be had: ringing retries, any page wakes the engine).
 */
void svl_qp_db_index(struct ibv_context *ctx, struct ibv_pd *pd,
		     uint32_t *index);

/* post.c */
/* Receives need no doorbell: the engine reads the ring when a message
 * arrives (post.c, svl_post_recv). */
int svl_ring_post_recv(struct svl_ring *r, uint32_t max_sge,
		       struct ibv_context *ctx, struct ibv_recv_wr *wr,
		       struct ibv_recv_wr **bad);
void svl_qp_kick(struct svl_qp *q);
/*
 * Bytes of a small payload ibv_post_send / ibv_wr_set_sge* copy into the
 * WQE (post.c, SV_WQE_CAPTURED): at most this many, and what the slot
 * holds after the SGEs (48 bytes with one SGE and no inline data).
 */
#define SVL_CAPTURE_MAX 64
void svl_wqe_capture(struct svl_qp *q, struct sv_send_wqe *w,
		     const struct ibv_sge *sg, int n);

/*
 * stage.c: copy the payload of the WQE just built at SQ index idx from wr
 * into the QP's stage (SV_WQE_STAGED) if it is large, from private VA
 * regions, and going to the daemon; otherwise leave the WQE as it is.
 */
void svl_stage_wqe(struct svl_qp *q, uint32_t idx,
		   const struct ibv_send_wr *wr);
void svl_stage_reset(struct svl_qp *q); /* RESET, under sq.lock */
void svl_stage_free(struct svl_qp *q); /* the daemon let go of the QP */

/* qp_ex.c: fill the ibv_wr_* pointers; EOPNOTSUPP if ops are unsupported. */
int svl_qp_ex_init(struct svl_qp *q, uint64_t send_ops_flags);
/* Can the daemon not refuse modify c of a QP in state? (qp_limits.c) */
bool svl_qp_modify_sure(struct ibv_context *ctx, uint32_t state,
			uint32_t qp_type, const struct ib_uverbs_modify_qp *c);

#endif
