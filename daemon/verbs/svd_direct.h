/* SPDX-License-Identifier: MIT */
/*
 * The same-host direct path, daemon side (direct.c, docs/direct-path.md):
 * the read-only table of regions and connections that clients' libraries
 * check before every direct access, and the grant that lets a connection
 * use it. The daemon stays the only writer of that table.
 */
#ifndef SVD_DIRECT_H
#define SVD_DIRECT_H

#include "svd_objs.h"

/* keys.c, under dev->lock: key now names mr / names nothing. */
void svd_direct_key_added(struct svd_device *dev, uint32_t key,
			  const struct svd_mr *mr);
void svd_direct_key_removed(struct svd_device *dev, uint32_t key);
/* mem.c: a guarded access found u truncated: its regions are revoked. */
void svd_direct_umem_revoked(const struct svd_umem *u);
/* std_mr.c rereg, under dev->lock: mr changed in place. */
void svd_direct_mr_changed(struct svd_device *dev, const struct svd_mr *mr);
/*
 * After unpublishing (no lock held): wait until no library still runs a
 * direct access that began before (its busy record names an old entry).
 */
void svd_direct_quiesce(void);

/*
 * eng_comp.c, before the SQ's consumer index moves past a work request
 * that failed: qp's grants stop being live, so a library that sees the
 * index move (and may go direct) sees this first (the error completion
 * and the QP's ERROR state come right after).
 */
void svd_direct_qp_failing(struct svd_qp *qp);

/* std_qp.c: qp was modified (after the change) / is being destroyed. */
void svd_direct_qp_modified(struct svd_qp *qp);
void svd_direct_qp_gone(struct svd_qp *qp);

/*
 * Direct SEND (direct_rx.c): an RC QP's receive ring, created for its
 * owner and mapped by a granted initiator. Set and cleared under dev->lock.
 */
struct svd_drx {
	int fd;
	struct svd_umem *umem;
	uint64_t size;
	uint32_t gen, entries, stride;
};

/* Engine, under dev->lock: qp's daemon-path work waits while its peer's
 * receive ring still holds direct messages (they come first). */
bool svd_direct_sq_hold(const struct svd_qp *qp);
/* Engine, under dev->lock, before taking a receive of qp: the receiver's
 * library may have consumed some (its dbrec cons) while draining. */
void svd_direct_rq_sync(const struct svd_qp *qp, uint32_t *cons);
/* Engine, under dev->lock: qp's receive queue cons is now next. */
void svd_direct_rq_consumed(const struct svd_qp *qp, uint32_t next);
/* direct.c qp_gone: the ring goes with the QP. */
void svd_direct_rx_free(struct svd_qp *qp);
/* qp->drx = x under the table's lock (dev->lock held); the old one. */
struct svd_drx *svd_direct_set_rx(struct svd_qp *qp, struct svd_drx *x);

/* Shared by direct.c and direct_rx.c. */
uint64_t svd_direct_tag(const void *p);
int svd_direct_table_fd(void); /* read-only, or -errno */
bool svd_direct_peer_ok(const struct svd_qp *qp, const struct svd_qp *peer);

#endif
