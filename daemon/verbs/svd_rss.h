/* SPDX-License-Identifier: MIT */
/*
 * Receive-side scaling for raw packet QPs (std_wq.c): receive work queues
 * (WQs), indirection tables of WQs, and the hash an RSS QP spreads frames
 * with. The NIC (nic/eng_raw.c) reads them under dev->lock; a WQ's ring is
 * an SRQ-style receive ring with its own CQ.
 */
#ifndef SVD_RSS_H
#define SVD_RSS_H

#include <infiniband/verbs.h> /* the IBV_RX_HASH_* values (the ABI) */

#include "svd.h"
#include "svd_objs.h"

struct svd_wq {
	struct svd_ucontext *uctx;
	struct svd_pd *pd;
	struct svd_cq *cq;
	uint32_t wqn;
	uint32_t state; /* IB_WQS_*, under dev->lock */
	uint32_t max_wr, max_sge, entries, wqe_size;
	struct svd_umem *ring, *dbrec;
	uint32_t cons; /* the NIC's consumer index, under dev->lock */
	uint64_t user_handle;
	atomic_int usecnt; /* indirection tables holding it */
};

struct svd_ind_tbl {
	uint32_t log_size;
	atomic_int usecnt; /* RSS QPs over it */
	struct svd_wq *wqs[]; /* 1 << log_size */
};

/* What an RSS QP (svd_qp.rss) hashes frames with. */
struct svd_rss {
	struct svd_ind_tbl *tbl;
	uint64_t fields; /* IB_RX_HASH_* (enum ibv_rx_hash_fields) */
	uint8_t key_len;
	uint8_t key[SV_RSS_KEY_MAX];
};

enum { SVD_WQS_RESET, SVD_WQS_RDY, SVD_WQS_ERR };

/* The hash fields softverbs computes (Toeplitz over IPs and ports). */
#define SVD_RSS_FIELDS                                                         \
	(IBV_RX_HASH_SRC_IPV4 | IBV_RX_HASH_DST_IPV4 | IBV_RX_HASH_SRC_IPV6 |  \
	 IBV_RX_HASH_DST_IPV6 | IBV_RX_HASH_SRC_PORT_TCP |                     \
	 IBV_RX_HASH_DST_PORT_TCP | IBV_RX_HASH_SRC_PORT_UDP |                 \
	 IBV_RX_HASH_DST_PORT_UDP)

extern const struct svd_obj_type svd_type_ind_tbl;

/* std_qp.c: check an RSS QP's hash and take the table; 0 or errno. */
int svd_rss_build(struct svd_ind_tbl *tbl, const struct sv_create_qp_rss *c,
		  struct svd_rss **out);

#endif
