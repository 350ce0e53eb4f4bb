/* SPDX-License-Identifier: MIT */
/*
 * Device-wide memory keys (keys.c) and memory-window binding (std_mw.c).
 *
 * A key is index << 8 | tag. The 24-bit index is a keyed permutation of
 * a slot in the key map (keys.c, svd_perm.h); the 8-bit tag starts random
 * and changes every time a slot is reused (and, for a memory window,
 * whenever the consumer binds it with a new rkey), so a stale key never
 * reaches a new region.
 *
 * Locking: insert/remove/rekey take dev->lock themselves. The engine calls
 * svd_dev_key_find() with dev->lock held and may use the returned MR until
 * it drops the lock: regions are unpublished under dev->lock before they
 * are freed.
 */
#ifndef SVD_KEYS_H
#define SVD_KEYS_H

#include "svd_direct.h"
#include "svd_nic.h"
#include "svd_objs.h"

#define SVD_KEY_TAG_BITS 8
#define SVD_KEY_INDEX(k) ((k) >> SVD_KEY_TAG_BITS)
#define SVD_KEY_TAG(k) ((k) & ((1U << SVD_KEY_TAG_BITS) - 1))

/* Publish mr under a fresh key; returns the key in *key. -ENOMEM if full. */
int svd_keys_insert(struct svd_device *dev, struct svd_mr *mr, uint32_t *key);
/* Unpublish the slot of key (any tag). Takes dev->lock. */
void svd_keys_remove(struct svd_device *dev, uint32_t key);
/*
 * After unpublishing: wait until no engine thread still uses what it found.
 * Call without dev->lock held.
 */
static inline void svd_keys_quiesce(struct svd_device *dev)
{
	svd_nic_quiesce(dev);
	svd_direct_quiesce(); /* and direct accesses (direct.c) */
}

/*
 * Call fn on every published region (MRs and MWs) of dev, e.g. to revoke
 * them. Caller holds dev->lock, so the engine sees all or none of it.
 */
void svd_keys_for_each(struct svd_device *dev,
		       void (*fn)(struct svd_mr *mr, void *arg), void *arg);

/* Number of published keys on dev (tests/statistics). */
unsigned int svd_keys_count(struct svd_device *dev);

/*
 * ib_check_mr_access(): REMOTE_WRITE/ATOMIC need LOCAL_WRITE (-EINVAL),
 * unknown bits -EINVAL, FLUSH_* -EOPNOTSUPP (not offered); ON_DEMAND is fine.
 * Optional-range bits (relaxed ordering...) are accepted. (std_mr.c)
 */
int svd_mr_check_access(uint32_t flags);

/* UVERBS_METHOD_ADVISE_MR's work on n SGEs (mr_advise.c, docs/odp.md). */
int svd_mr_advise(struct svd_bundle *b, const struct svd_pd *pd,
		  uint32_t advice, uint32_t flags,
		  const struct ib_uverbs_sge *sge, size_t n);

/*
 * Build and publish a region over umem in the new uobj (REG_MR,
 * REG_DMABUF_MR, DM_MR_REG). On success uobj owns the region and umem; on
 * failure the caller still owns umem.
 */
int svd_mr_create(struct svd_bundle *b, struct svd_uobj *uobj,
		  struct svd_pd *pd, struct svd_umem *umem, uint64_t iova,
		  uint32_t access);

/* The object behind an MW uobject: the key map holds &mw->mr. */
struct svd_mw {
	struct svd_mr mr;      /* must be first */
	struct svd_mr *parent; /* the MR it is bound to, or NULL */
};

static inline struct svd_mw *svd_to_mw(struct svd_mr *mr)
{
	return (struct svd_mw *)mr;
}

/*
 * Memory windows. An MW is a struct svd_mr with is_mw set; while unbound
 * its length is 0 and every access through its rkey fails.
 *
 * Bind mw to [addr, addr + len) of mr with new_rkey (whose index must be
 * the MW's; only the tag may change) and access (IBV_ACCESS_REMOTE_*).
 * Caller holds dev->lock (the engine, executing a bind WQE). Errors:
 * -EINVAL bad rkey/range/type, -EACCES mr lacks MW_BIND or local write for
 * remote write/atomic, -EPERM PD mismatch.
 */
int svd_mw_bind(struct svd_mr *mw, struct svd_mr *mr, uint64_t addr,
		uint64_t len, uint32_t access, uint32_t new_rkey);
/* Invalidate (type 2 local/remote invalidate): caller holds dev->lock. */
int svd_mw_invalidate(struct svd_mr *mw, uint32_t rkey);

/*
 * For the engine executing a bind WQE (struct sv_send_wqe.bind) of qp:
 * finds the MW by handle in qp's context and the MR by lkey, then binds
 * under dev->lock. Call WITHOUT dev->lock held. Errors as svd_mw_bind,
 * plus -EINVAL for an unknown MW handle or lkey.
 */
struct svd_qp;
int svd_mw_bind_wqe(struct svd_qp *qp, uint32_t mw_handle, uint32_t mr_lkey,
		    uint64_t addr, uint64_t len, uint32_t access,
		    uint32_t new_rkey);
/*
 * LOCAL_INV / SEND_WITH_INV of rkey on a PD: invalidates a bound type 2
 * MW. Call WITHOUT dev->lock held. -EINVAL if rkey names no such window.
 */
int svd_mw_invalidate_key(struct svd_device *dev, const struct svd_pd *pd,
			  uint32_t rkey);

#endif
