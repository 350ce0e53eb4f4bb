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

struct softverbsdv_ops {
	uint32_t magic; /* SOFTVERBSDV_OPS_MAGIC */
	uint32_t size;	/* bytes of this struct the library knows */
	int (*get_data_direct_sysfs_path)(struct ibv_context *ctx, char *buf,
					  size_t buf_len);
	struct ibv_mr *(*reg_dmabuf_mr)(struct ibv_pd *pd, uint64_t offset,
					size_t length, uint64_t iova, int fd,
					int access, int sv_access);
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

#ifdef __cplusplus
}
#endif

#endif /* SOFTVERBS_DV_H */
