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

/* std_qp.c: qp was modified (after the change) / is being destroyed. */
void svd_direct_qp_modified(struct svd_qp *qp);
void svd_direct_qp_gone(struct svd_qp *qp);

#endif
