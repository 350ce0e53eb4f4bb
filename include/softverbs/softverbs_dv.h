/* SPDX-License-Identifier: MIT */
/*
 * softverbs direct verbs: the device's own extensions to the verbs API, as
 * <infiniband/mlx5dv.h> is for mlx5. Include it after <infiniband/verbs.h>.
 *
 * Header only: every call goes through a table (struct softverbsdv_ops)
 * that softverbs' libibverbs.so.1 installs in each context it opens, in
 * the verbs_context slot rdma-core keeps for library-private data. So a
 * program needs no extra library, and with another libibverbs (or a
 * softverbs too old for a call) the call fails with EOPNOTSUPP instead of
 * misbehaving, the way verbs.h treats a provider without an extended op.
 *
 * Calls so far:
 *   data-direct DMA (seed 003), as mlx5dv_get_data_direct_sysfs_path() and
 *   mlx5dv_reg_dmabuf_mr(..., MLX5DV_REG_DMABUF_ACCESS_DATA_DIRECT):
 *     softverbsdv_get_data_direct_sysfs_path()
 *     softverbsdv_reg_dmabuf_mr()
 *   resource domains (seed 002; docs/resource-domains.md), the seed's
 *   ibv_query_device_ex max_resource_domains and ibv_create_qp_ex
 *   resource_domain, which upstream's verbs.h never took:
 *     softverbsdv_query_device()
 *     softverbsdv_create_qp()
 *     softverbsdv_query_qp(), softverbsdv_query_cq(), softverbsdv_query_srq()
 *
 * Adding a call: append a member to struct softverbsdv_ops (never reorder
 * or remove one) and a static inline wrapper that checks it with
 * softverbsdv_has(); the library sets 'size', so an older library simply
 * lacks the member.
 */
#ifndef SOFTVERBS_DV_H
#define SOFTVERBS_DV_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOFTVERBSDV_OPS_MAGIC 0x56445653U /* "SVDV" */

/* softverbsdv_reg_dmabuf_mr()'s sv_access bits. */
enum softverbsdv_reg_dmabuf_access {
	/* DMA for this region through the device's data-direct path. */
	SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT = 1 << 0,
};

/*
 * resource_type values a parent domain's alloc/free callbacks see
 * (ibv_alloc_parent_domain with IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS).
 * The *_RING blocks become the object's rings: the library asks for whole
 * pages aligned to 4096 and shares them with the device.
 */
enum softverbsdv_res_type {
	SOFTVERBSDV_RES_TYPE_QP = 1, /* the QP's library state */
	SOFTVERBSDV_RES_TYPE_CQ = 2, /* the CQ's library state */
	SOFTVERBSDV_RES_TYPE_SRQ = 3, /* the SRQ's library state */
	SOFTVERBSDV_RES_TYPE_QP_RING = 4, /* SQ, RQ, doorbell records */
	SOFTVERBSDV_RES_TYPE_CQ_RING = 5, /* CQE ring, doorbell record */
	SOFTVERBSDV_RES_TYPE_SRQ_RING = 6, /* receive ring, doorbell record */
};

/* softverbsdv_query_device(): the device's and this context's doorbells. */
struct softverbsdv_device_attr {
	uint64_t comp_mask; /* in: 0 */
	/* Seed 002: valid resource domain indices are [0, this). */
	uint32_t max_resource_domains;
	uint32_t max_db_pages; /* doorbell pages of the device */
	uint32_t db_pages_used; /* by all contexts of the device */
	uint32_t ctx_db_pages; /* held by this context (shared one included) */
	uint32_t shared_db_page; /* index of this context's shared page */
	uint32_t td_db_pages; /* dedicated to this context's live TDs */
	uint32_t rd_db_pages; /* dedicated to resource domain indices in use */
	uint32_t free_db_pages; /* dedicated pages kept for reuse */
	/* QPs that asked for a resource domain when no page was left and so
	 * share the context's page (the seed-002 exhaustion policy) */
	uint32_t rd_fallbacks;
	uint32_t reserved;
};

enum softverbsdv_qp_init_attr_mask {
	SOFTVERBSDV_QP_INIT_ATTR_RES_DOMAIN = 1 << 0,
};

/* softverbsdv_create_qp()'s softverbs part. */
struct softverbsdv_qp_init_attr {
	uint64_t comp_mask; /* enum softverbsdv_qp_init_attr_mask */
	/* With SOFTVERBSDV_QP_INIT_ATTR_RES_DOMAIN: < max_resource_domains */
	uint32_t resource_domain;
	uint32_t reserved;
};

enum softverbsdv_obj_flags {
	/* Rings a doorbell page no object outside its domain rings. */
	SOFTVERBSDV_OBJ_DEDICATED_DB = 1 << 0,
	/* Its data path takes no lock (TD or resource domain contract). */
	SOFTVERBSDV_OBJ_NO_LOCK = 1 << 1,
	/* Its rings are pages its parent domain's alloc returned. */
	SOFTVERBSDV_OBJ_RING_FROM_ALLOC = 1 << 2,
	/* Created with a resource domain index (resource_domain is valid). */
	SOFTVERBSDV_OBJ_RES_DOMAIN = 1 << 3,
};

/* softverbsdv_query_qp/cq/srq(): where an object's resources are. */
struct softverbsdv_obj_attr {
	uint32_t flags; /* enum softverbsdv_obj_flags */
	uint32_t db_page; /* doorbell page index it rings (QP, SRQ) */
	uint32_t resource_domain;
	/* QP, SRQ: the QPs the device's engine finds through that page (its
	 * own count; a QP joins it at its first ibv_modify_qp) */
	uint32_t page_qps;
	void *ring; /* its ring memory (QP: the SQ, then the RQ) */
};

struct softverbsdv_ops {
	uint32_t magic; /* SOFTVERBSDV_OPS_MAGIC */
	uint32_t size;	/* bytes of this struct the library knows */
	int (*get_data_direct_sysfs_path)(struct ibv_context *ctx, char *buf,
					  size_t buf_len);
	struct ibv_mr *(*reg_dmabuf_mr)(struct ibv_pd *pd, uint64_t offset,
					size_t length, uint64_t iova, int fd,
					int access, int sv_access);
	int (*query_device)(struct ibv_context *ctx,
			    struct softverbsdv_device_attr *attr);
	struct ibv_qp *(*create_qp)(struct ibv_context *ctx,
				    struct ibv_qp_init_attr_ex *attr,
				    struct softverbsdv_qp_init_attr *sv_attr);
	int (*query_qp)(struct ibv_qp *qp, struct softverbsdv_obj_attr *out);
	int (*query_cq)(struct ibv_cq *cq, struct softverbsdv_obj_attr *out);
	int (*query_srq)(struct ibv_srq *srq, struct softverbsdv_obj_attr *out);
};

/* The context's table, or NULL if it is not a softverbs context. */
static inline const struct softverbsdv_ops *
softverbsdv_get_ops(struct ibv_context *ctx)
{
	struct verbs_context *v = verbs_get_ctx(ctx);
	const struct softverbsdv_ops *ops;

	if (!v || !v->priv)
		return NULL;
	ops = (const struct softverbsdv_ops *)(const void *)v->priv;
	return ops->magic == SOFTVERBSDV_OPS_MAGIC ? ops : NULL;
}

/* Does ctx's library offer member (a struct softverbsdv_ops field)? */
#define softverbsdv_has(ops, member)                                         \
	((ops) &&                                                            \
	 offsetof(struct softverbsdv_ops, member) + sizeof((ops)->member) <= \
	     (ops)->size &&                                                  \
	 (ops)->member)

/*
 * The path of the device's data-direct DMA device (a directory holding its
 * identity: vuid, vendor, device, ibdev), NUL-terminated, into buf.
 * Returns 0, ENODEV when the device has none (or it is disabled), ENOSPC
 * when buf_len is too short, EOPNOTSUPP without softverbs.
 */
static inline int
softverbsdv_get_data_direct_sysfs_path(struct ibv_context *ctx, char *buf,
				       size_t buf_len)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(ctx);

	if (!softverbsdv_has(ops, get_data_direct_sysfs_path))
		return EOPNOTSUPP;
	return ops->get_data_direct_sysfs_path(ctx, buf, buf_len);
}

/*
 * ibv_reg_dmabuf_mr() with softverbs access bits (sv_access). With
 * SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT the region's DMA goes through
 * the data-direct device: ENODEV when there is none, EOPNOTSUPP for an
 * IOVA that is not page aligned (both as mlx5). The region is revoked if
 * the data-direct device goes away. NULL with errno set on failure.
 */
static inline struct ibv_mr *
softverbsdv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset, size_t length,
			  uint64_t iova, int fd, int access, int sv_access)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(pd->context);

	if (!softverbsdv_has(ops, reg_dmabuf_mr)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	return ops->reg_dmabuf_mr(pd, offset, length, iova, fd, access,
				  sv_access);
}

/*
 * The seed-002 device attributes (max_resource_domains) and the doorbell
 * pages of the device and of ctx, from the daemon (SV_METHOD_QUERY_STATS)
 * and the library. 0, EINVAL (comp_mask), EOPNOTSUPP without softverbs.
 */
static inline int
softverbsdv_query_device(struct ibv_context *ctx,
			 struct softverbsdv_device_attr *attr)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(ctx);

	if (!softverbsdv_has(ops, query_device))
		return EOPNOTSUPP;
	return ops->query_device(ctx, attr);
}

/*
 * ibv_create_qp_ex() with a seed-002 resource domain index: QPs created
 * with the same index share one doorbell page (and the engine's scheduling
 * of it); each new index gets a page of its own while the device has
 * pages, then shares the context's page (rd_fallbacks counts it). The
 * application promises one thread per resource domain: the QP's data path
 * takes no lock. EINVAL for an index out of range. NULL with errno set.
 */
static inline struct ibv_qp *
softverbsdv_create_qp(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *attr,
		      struct softverbsdv_qp_init_attr *sv_attr)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(ctx);

	if (!softverbsdv_has(ops, create_qp)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	return ops->create_qp(ctx, attr, sv_attr);
}

/* Where a QP's, CQ's or SRQ's resources are. 0 or EOPNOTSUPP. */
static inline int softverbsdv_query_qp(struct ibv_qp *qp,
				       struct softverbsdv_obj_attr *out)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(qp->context);

	if (!softverbsdv_has(ops, query_qp))
		return EOPNOTSUPP;
	return ops->query_qp(qp, out);
}

static inline int softverbsdv_query_cq(struct ibv_cq *cq,
				       struct softverbsdv_obj_attr *out)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(cq->context);

	if (!softverbsdv_has(ops, query_cq))
		return EOPNOTSUPP;
	return ops->query_cq(cq, out);
}

static inline int softverbsdv_query_srq(struct ibv_srq *srq,
					struct softverbsdv_obj_attr *out)
{
	const struct softverbsdv_ops *ops = softverbsdv_get_ops(srq->context);

	if (!softverbsdv_has(ops, query_srq))
		return EOPNOTSUPP;
	return ops->query_srq(srq, out);
}

#ifdef __cplusplus
}
#endif

#endif /* SOFTVERBS_DV_H */
