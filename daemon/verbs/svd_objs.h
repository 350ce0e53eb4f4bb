/* SPDX-License-Identifier: MIT */
/*
 * The verbs objects behind uobjects. Each is owned by its module
 * (std_<obj>.c); the engine (engine.c) reads QPs, CQs, SRQs and MRs.
 *
 * Concurrency rule: commands run on the main thread; engine threads run the
 * data path. Anything the engine touches is published/unpublished under
 * dev->lock (device-wide maps: qpn -> QP, key -> MR) and freed only after
 * svd_engine_quiesce(dev) returns, so the engine never sees freed memory.
 */
#ifndef SVD_OBJS_H
#define SVD_OBJS_H

#include "svd.h"

struct svd_pd {
	uint32_t pdn;
	atomic_int usecnt; /* MRs, MWs, QPs, SRQs, AHs on this PD */
	struct svd_ucontext *uctx;
};

/* Memory regions and windows. Keys are device-wide: key = index << 8 | tag. */
struct svd_mr {
	struct svd_pd *pd;
	struct svd_ucontext *uctx;
	uint32_t lkey, rkey;
	uint32_t access; /* IB_ACCESS_* / IBV_ACCESS_* */
	uint64_t iova; /* address the keys name */
	uint64_t length;
	struct svd_umem *umem; /* where the bytes are (VA or mapped) */
	atomic_int usecnt; /* MWs bound to it */
	bool is_mw; /* memory window (type 1 or 2) */
	uint32_t mw_type;
	bool revoked; /* dma-buf revoke: all access fails */
	struct svd_dm *dm; /* device memory it is on (std_dm.c), or NULL */
};

struct svd_ah {
	struct svd_pd *pd;
	struct ib_uverbs_ah_attr attr;
};

struct svd_cq {
	struct svd_ucontext *uctx;
	uint32_t cqe; /* capacity reported to the user */
	uint32_t entries; /* ring slots, power of two */
	struct svd_umem *ring; /* struct sv_cqe[entries], mapped */
	struct svd_umem *dbrec; /* struct sv_dbrec, mapped */
	struct svd_uobj *channel; /* completion channel uobj or NULL */
	uint64_t user_handle; /* cq_handle for events */
	uint32_t comp_events_reported;
	uint32_t async_events_reported;
	atomic_int usecnt; /* QPs, SRQs using it */
	pthread_mutex_t lock; /* producers: engine threads */
};

struct svd_srq {
	struct svd_ucontext *uctx;
	struct svd_pd *pd;
	struct svd_cq *cq; /* XRC SRQ */
	uint32_t srq_type;
	uint32_t srqn;
	uint32_t max_wr, max_sge, limit, entries, wqe_size;
	struct svd_umem *ring;
	struct svd_umem *dbrec;
	uint64_t user_handle;
	atomic_int usecnt;
	pthread_mutex_t lock; /* consumers: engine threads */
	uint32_t events_reported;
	struct svd_tm *tm; /* IB_UVERBS_SRQT_TM: its tag list (svd_tm.h) */
};

struct svd_qp {
	struct svd_ucontext *uctx;
	struct svd_pd *pd;
	struct svd_cq *send_cq, *recv_cq;
	struct svd_srq *srq;
	uint32_t qpn;
	uint32_t qp_type; /* IB_QPT_* */
	uint64_t user_handle;
	/* Attributes (IBTA state machine lives in std_qp.c). */
	uint32_t state; /* IB_QPS_* */
	struct ib_uverbs_qp_attr attr; /* last values set by modify */
	uint32_t max_send_wr, max_recv_wr, max_send_sge, max_recv_sge;
	uint32_t max_inline_data;
	bool sq_sig_all;
	/* Rings: library-allocated, handed over with SV_ATTR_BUFFERS. */
	uint32_t sq_entries, rq_entries, sq_wqe_size, rq_wqe_size;
	struct svd_umem *sq, *rq, *dbrec;
	uint32_t db_page_index;
	uint32_t events_reported;
	atomic_int usecnt; /* flows steering to it (EBUSY on destroy) */
	struct svd_rss *rss; /* RSS raw QP: its WQs and hash (svd_rss.h) */
	void *eng; /* engine-private per-QP state */
	struct svd_drx *drx; /* direct SEND receive ring (direct_rx.c) */
};

/* Device-wide lookups for the engine (under dev->lock). */
struct svd_qp *svd_dev_qp_find(struct svd_device *dev, uint32_t qpn);
struct svd_mr *svd_dev_key_find(struct svd_device *dev, uint32_t key);


#endif
