/* SPDX-License-Identifier: MIT */
/*
 * Protection domains, thread domains and parent domains (pd.c, domain.c).
 *
 * Every struct ibv_pd the library hands out is a struct svl_pd. A parent
 * domain is a library object only: its handle is its protection domain's
 * daemon handle, so QPs, CQs, SRQs and MRs created on it use that PD.
 */
#ifndef SVL_PD_H
#define SVL_PD_H

#include <stdatomic.h>

#include "svl.h"

/* Resource types passed to a parent domain's alloc/free callbacks (the
 * public names: SOFTVERBSDV_RES_TYPE_* in softverbs_dv.h). */
enum {
	SVL_RES_TYPE_QP = 1, /* struct svl_qp: the QP's library state */
	SVL_RES_TYPE_CQ = 2, /* struct svl_cq: the CQ's library state */
	SVL_RES_TYPE_SRQ = 3, /* struct svl_srq: the SRQ's library state */
	SVL_RES_TYPE_QP_RING = 4, /* SQ + RQ rings + doorbell records */
	SVL_RES_TYPE_CQ_RING = 5, /* CQE ring + doorbell record */
	SVL_RES_TYPE_SRQ_RING = 6, /* receive ring + doorbell record */
};

struct svl_td {
	struct ibv_td td;
	atomic_uint users; /* parent domains naming this TD */
	uint32_t db_index; /* its dedicated doorbell page */
};

struct svl_pd {
	struct ibv_pd pd;
	struct svl_pd *protection; /* parent domain: its PD; NULL for a PD */
	struct svl_td *td; /* parent domain: its TD, may be NULL */
	void *pd_context;
	void *(*alloc)(struct ibv_pd *pd, void *pd_context, size_t size,
		       size_t alignment, uint64_t resource_type);
	void (*free)(struct ibv_pd *pd, void *pd_context, void *ptr,
		     uint64_t resource_type);
	/* PD: parent domains built on it; parent domain: objects whose
	 * memory its allocator gave */
	atomic_uint users;
};

static inline struct svl_pd *to_svl_pd(struct ibv_pd *pd)
{
	return (struct svl_pd *)pd;
}

/* Whence an object's memory came, to give it back the same way. */
struct svl_obj_src {
	struct svl_pd *domain; /* NULL: the default allocator (calloc) */
	uint64_t type;
};

/* domain.c */
struct ibv_td *svl_alloc_td(struct ibv_context *c, struct ibv_td_init_attr *a);
int svl_dealloc_td(struct ibv_td *td);
struct ibv_pd *svl_alloc_parent_domain(struct ibv_context *c,
				       struct ibv_parent_domain_init_attr *a);
int svl_dealloc_parent_domain(struct svl_pd *p);
/* True if pd is a parent domain bound to a TD (single-thread contract). */
bool svl_pd_has_td(struct ibv_pd *pd);
/* True if pd is a parent domain of context c. */
bool svl_pd_is_parent(struct ibv_context *c, struct ibv_pd *pd);
/* Zeroed object memory, from pd's allocator if it is a parent domain with
 * one (and it does not answer IBV_ALLOCATOR_USE_DEFAULT). */
/* Zeroed whole cache lines (domain.c): state one thread writes on its
 * data path never shares a line with another thread's. */
void *svl_lines_zalloc(size_t size);
void *svl_obj_alloc(struct ibv_pd *pd, size_t size, uint64_t type,
		    struct svl_obj_src *src);
void svl_obj_free(void *ptr, const struct svl_obj_src *src);

/* domain_ring.c: svl_ring_alloc() whose pages come from pd's allocator
 * when it has one and its memory can be shared (src->domain set then). */
/* Does pd's allocator place ring memory (a parent domain with one)? */
bool svl_pd_ring_allocator(struct ibv_pd *pd);
int svl_ring_alloc_src(struct ibv_pd *pd, uint64_t type, size_t len, int *fd,
		       void **addr, struct svl_obj_src *src);
void svl_ring_free_src(size_t len, int fd, void *addr,
		       const struct svl_obj_src *src);

#endif
