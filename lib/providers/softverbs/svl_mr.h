/* SPDX-License-Identifier: MIT */
/* Memory regions in the library (lib/mr.c, lib/import.c). */
#ifndef SVL_MR_H
#define SVL_MR_H

#include "svl.h"

/* Like rdma-core's verbs_mr: rereg is only for plain (VA) regions. */
enum svl_mr_type {
	SVL_MR_VA,
	SVL_MR_DMABUF,
	SVL_MR_IMPORTED,
	SVL_MR_DM, /* on device memory (dm.c) */
};

struct svl_mr {
	struct ibv_mr ibmr; /* must be first: the application sees this */
	enum svl_mr_type type;
	unsigned int access; /* IBV_ACCESS_* of a VA region (for rereg) */
	uint64_t iova; /* what the keys name at ibmr.addr (mr_keys.c) */
};

/*
 * The lkey registry (mr_keys.c): this process's own VA regions by lkey,
 * and where an SGE's bytes lie in our memory. Its capture entries are the
 * private VA regions post.c copies a small payload from into the WQE
 * (only from a range one of them covers); svl_mr_keys_add() takes the
 * region's iova from mr->iova.
 */
void svl_mr_keys_add(const struct svl_mr *mr);
bool svl_mr_keys_del(const struct svl_mr *mr); /* true: it was there */
bool svl_mr_keys_copy(const struct ibv_context *ctx, const struct ibv_sge *sg,
		      int n, uint8_t *dst);
/* The same without faulting on an unmapped page: false (mr_keys.c). */
bool svl_mr_keys_copy_safe(const struct ibv_context *ctx,
			   const struct ibv_sge *sg, int n, uint8_t *dst);

/*
 * Its ODP entries: regions registered with IBV_ACCESS_ON_DEMAND, added at
 * registration (iova: what the key names, stored in mr->iova), removed at
 * deregistration. svl_mr_odp_find() says where an SGE's bytes are;
 * svl_mr_odp_populate_write() (mr_odp.c) write-faults the pages of each
 * SGE that names one (ibv_advise_mr PREFETCH_WRITE).
 */
void svl_mr_odp_add(struct svl_mr *mr, uint64_t iova);
void svl_mr_odp_del(struct svl_mr *mr);
bool svl_mr_odp_find(const struct ibv_context *ctx, const struct ibv_sge *s,
		     uintptr_t *addr);
void svl_mr_odp_populate_write(const struct ibv_context *ctx,
			       const struct ibv_sge *sge, uint32_t n);

/*
 * The file behind [addr, addr+len) when it lies in one shared file mapping
 * (mr_file.c): a new fd (the caller closes it) and the file offset of addr
 * in *off; -1 when there is none and the range stays a VA region. write:
 * the region needs write access, so the mapping must be writable.
 */
int svl_mr_backing_file(const void *addr, size_t len, bool write,
			uint64_t *off);

static inline struct svl_mr *to_svl_mr(struct ibv_mr *mr)
{
	return (struct svl_mr *)mr;
}

#endif
