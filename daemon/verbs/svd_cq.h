/* SPDX-License-Identifier: MIT */
/*
 * CQ services for the data-path engine (std_cq.c).
 *
 * The engine produces completions with svd_cq_push() and then signals them
 * with svd_cq_notify(); both may run on any engine thread concurrently with
 * commands (they take cq->lock).
 */
#ifndef SVD_CQ_H
#define SVD_CQ_H

#include "svd.h"
#include "svd_objs.h"

/*
 * Completion vectors a context sees: UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS
 * must report the same number (comp_vector >= it is EINVAL).
 */
#define SVD_NUM_COMP_VECTORS 1
/* Used when the device model reports no max_cqe. */
#define SVD_CQ_DEFAULT_MAX_CQE 65535U

/*
 * Append a CQE. Returns 0, or -ENOSPC when the ring is full (or the client
 * corrupted its consumer index); then IBV_EVENT_CQ_ERR is raised on the
 * context unless the CQ ignores overruns.
 */
int svd_cq_push(struct svd_cq *cq, const struct sv_cqe *cqe);
/*
 * The same with a scattered receive's payload (cqe->byte_len bytes, at
 * most SV_CQ_SCAT_MAX, cqe->reserved has SV_CQE_F_SCATTER) written to the
 * CQE's slot of the payload area: -ENOSPC also when the CQ has none.
 */
int svd_cq_push_data(struct svd_cq *cq, const struct sv_cqe *cqe,
		     const void *data);
/*
 * The process whose library asked for a payload area at CQ create
 * (SV_CQ_CREATE_SCATTER), or 0: only receive buffers in that process's
 * private memory are scattered to this CQ. A resize may take the area
 * away meanwhile (under cq->lock): svd_cq_push_data checks again.
 */
pid_t svd_cq_scatter_pid(struct svd_cq *cq);

/*
 * A completion was added: if the CQ is armed (and, for a solicited-only
 * arm, the completion is solicited), consume the arm and send a completion
 * event on the CQ's channel.
 */
void svd_cq_notify(struct svd_cq *cq, bool solicited);

/* Largest CQE count the device accepts. */
uint32_t svd_cq_max_cqe(const struct svd_device *dev);

#endif /* SVD_CQ_H */
