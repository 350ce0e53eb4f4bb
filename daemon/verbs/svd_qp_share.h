/* SPDX-License-Identifier: MIT */
/*
 * XRC target QPs held through several handles (qp_share.c): the creator's
 * and one per ibv_open_qp(), in any context that opened the same XRC
 * domain. As in the kernel (ib_open_qp, __ib_destroy_shared_qp), the QP
 * lives until its last handle is destroyed, whichever context made it,
 * and every handle gets the QP's async events under its own user handle.
 *
 * The QP belongs to no client's context: its uctx is the share's own
 * "home" context (no handles, no async FD; the creator's device and uid),
 * so the engine and the NIC never follow a pointer into a context that
 * closed while other handles keep the QP.
 */
#ifndef SVD_QP_SHARE_H
#define SVD_QP_SHARE_H

#include "svd_qpn.h"

struct svd_qp_share;

/* A share for a new XRC_TGT QP on domain xrcdn, made by creator. */
struct svd_qp_share *svd_qp_share_new(const struct svd_ucontext *creator,
				      uint32_t xrcdn);
/* Free it; handles still listed (a failed create) give back their count. */
void svd_qp_share_free(struct svd_qp_share *s);
/* The context the QP lives in (qp->uctx). */
struct svd_ucontext *svd_qp_share_home(struct svd_qp_share *s);
uint32_t svd_qp_share_xrcdn(const struct svd_qp_share *s);

/*
 * A new handle: uobj (its context and user handle) through xrcd, whose
 * use count it holds (that XRCD cannot be closed while it lives).
 */
int svd_qp_share_add(struct svd_qp_share *s, struct svd_uobj *uobj,
		     struct svd_xrcd *xrcd);
/* Drop uobj's handle; true if other handles still hold the QP. */
bool svd_qp_share_close(struct svd_qp_share *s, const struct svd_uobj *uobj);
/* Events queued to uobj's handle (its destroy response). */
uint32_t svd_qp_share_events(struct svd_qp_share *s,
			     const struct svd_uobj *uobj);
/* Queue an async event to every handle (engine thread or main thread). */
void svd_qp_share_event(struct svd_qp_share *s, uint32_t event_type);

/*
 * std_qp.c: raise an async event of a QP: to its context, or to every
 * handle of a shared XRC target. Counts it in events_reported.
 */
void svd_qp_async_event(struct svd_qp *qp, uint32_t event_type);

#endif
