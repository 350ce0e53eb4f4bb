/* SPDX-License-Identifier: MIT */
/*
 * Tag matching on a TM-SRQ (docs/tag-matching.md): the SRQ's list of
 * tagged buffers and its phase counters, shared by the command layer
 * (std_srq_tm.c: tag ADD / DEL / SYNC) and the responder (nic/eng_tm.c:
 * matching arriving SENDs). Everything below is guarded by srq->lock.
 *
 * Phase synchronisation: the NIC counts the messages it found unexpected
 * (unexp_hw); software reports, with IBV_OPS_TM_SYNC, how many of them it
 * has handled (unexp_sw). A tag added while the two differ could belong
 * to an unexpected message software has not seen yet, so it takes part in
 * matching only once a SYNC brings the counts together.
 */
#ifndef SVD_TM_H
#define SVD_TM_H

#include "svd_objs.h"

struct svd_tm_entry {
	bool used;
	bool armed; /* may match (added or synced in phase) */
	uint64_t seq; /* posting order: the oldest matching entry wins */
	uint64_t tag, mask, recv_wr_id;
	uint32_t num_sge;
	struct sv_sge sge[SV_TM_MAX_SGE];
};

struct svd_tm {
	uint32_t max_tags;
	uint32_t unexp_hw, unexp_sw;
	uint64_t next_seq;
	struct svd_tm_entry entry[]; /* max_tags, indexed by handle */
};

struct svd_tm *svd_tm_alloc(uint32_t max_tags);
/* One ibv_post_srq_ops work request: 0 or the kernel's errno. */
int svd_tm_post_op(struct svd_srq *srq, const struct sv_tm_op *op,
		   uint32_t *handle);
/*
 * The oldest armed entry matching tag, taken off the list (copied to
 * *out): true if there was one. Called with srq->lock held.
 */
bool svd_tm_take(struct svd_tm *tm, uint64_t tag, struct svd_tm_entry *out);

#endif /* SVD_TM_H */
