// SPDX-License-Identifier: MIT
/*
 * Thread domains and parent domains (rdma-core's ibv_alloc_td,
 * ibv_alloc_parent_domain). Both are library objects: the daemon never
 * sees them. A TD marks the objects of a parent domain bound to it as used
 * by one thread, so their data path takes no lock, and it owns a doorbell
 * page (domain_db.c): its QPs and SRQs ring that page, never the shared
 * one. No page left: ibv_alloc_td fails with ENOMEM (docs/resource-domains.md).
 */
#include <stdlib.h>
#include <string.h>

#include "svl_domain.h"
#include "svl_qp.h"

#define SVL_CACHE_LINE 64

struct ibv_td *svl_alloc_td(struct ibv_context *c, struct ibv_td_init_attr *a)
{
	struct svl_td *t;
	int ret;

	if (a->comp_mask)
		return svl_fail(EINVAL);
	t = svl_zalloc(sizeof(*t));
	if (!t)
		return NULL;
	ret = svl_td_db_get(c, &t->db_index);
	if (ret) {
		free(t);
		return svl_fail(ret);
	}
	t->td.context = c;
	atomic_init(&t->users, 0);
	return &t->td;
}

int svl_dealloc_td(struct ibv_td *td)
{
	struct svl_td *t = (struct svl_td *)td;

	if (atomic_load(&t->users))
		return EBUSY;
	svl_td_db_put(td->context, t->db_index);
	free(t);
	return 0;
}

#define SVL_PD_ATTR_MASK                                                       \
	(IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS |                              \
	 IBV_PARENT_DOMAIN_INIT_ATTR_PD_CONTEXT)

static int parent_check(struct ibv_context *c,
			const struct ibv_parent_domain_init_attr *a)
{
	if (a->comp_mask & ~(uint32_t)SVL_PD_ATTR_MASK)
		return EINVAL;
	if (!a->pd || a->pd->context != c || to_svl_pd(a->pd)->protection)
		return EINVAL; /* needs a real PD of this context */
	if (a->td && a->td->context != c)
		return EINVAL;
	if ((a->comp_mask & IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS) &&
	    (!a->alloc || !a->free))
		return EINVAL;
	return 0;
}

struct ibv_pd *svl_alloc_parent_domain(struct ibv_context *c,
				       struct ibv_parent_domain_init_attr *a)
{
	struct svl_pd *p;
	int ret = parent_check(c, a);

	if (ret)
		return svl_fail(ret);
	p = svl_zalloc(sizeof(*p));
	if (!p)
		return NULL;
	p->pd.context = c;
	p->pd.handle = a->pd->handle;
	p->protection = to_svl_pd(a->pd);
	p->td = (struct svl_td *)a->td;
	if (a->comp_mask & IBV_PARENT_DOMAIN_INIT_ATTR_PD_CONTEXT)
		p->pd_context = a->pd_context;
	if (a->comp_mask & IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS) {
		p->alloc = a->alloc;
		p->free = a->free;
	}
	atomic_fetch_add(&p->protection->users, 1);
	if (p->td)
		atomic_fetch_add(&p->td->users, 1);
	return &p->pd;
}

/* Objects whose memory came from its allocator must go first: their free
 * callback is the domain's. */
int svl_dealloc_parent_domain(struct svl_pd *p)
{
	if (atomic_load(&p->users))
		return EBUSY;
	atomic_fetch_sub(&p->protection->users, 1);
	if (p->td)
		atomic_fetch_sub(&p->td->users, 1);
	free(p);
	return 0;
}

bool svl_pd_has_td(struct ibv_pd *pd)
{
	return pd && to_svl_pd(pd)->td;
}

void svl_qp_db_index(struct ibv_context *ctx, struct ibv_pd *pd,
		     uint32_t *index)
{
	if (svl_pd_has_td(pd)) {
		*index = to_svl_pd(pd)->td->db_index;
		return;
	}
	*index = 0;
	if (svl_db_page_get(to_svl_ctx(ctx), index))
		*index = 0;
}

bool svl_pd_is_parent(struct ibv_context *c, struct ibv_pd *pd)
{
	return pd && pd->context == c && to_svl_pd(pd)->protection;
}

/*
 * The library's own memory for a QP, CQ or SRQ: whole cache lines. The
 * data path writes these objects (ring shadows, consumer indices, locks);
 * objects made one after another on one thread and used by two would
 * otherwise share a line at their boundary and bounce it between cores.
 */
void *svl_lines_zalloc(size_t size)
{
	size_t len = (size + SVL_CACHE_LINE - 1) & ~(size_t)(SVL_CACHE_LINE - 1);
	void *p = aligned_alloc(SVL_CACHE_LINE, len);

	if (!p)
		return svl_fail(ENOMEM);
	return memset(p, 0, len);
}

void *svl_obj_alloc(struct ibv_pd *pd, size_t size, uint64_t type,
		    struct svl_obj_src *src)
{
	struct svl_pd *p = pd ? to_svl_pd(pd) : NULL;
	void *ptr;

	src->domain = NULL;
	src->type = type;
	if (p && p->alloc) {
		ptr = p->alloc(pd, p->pd_context, size, 64, type);
		if (ptr != IBV_ALLOCATOR_USE_DEFAULT) {
			if (!ptr)
				return svl_fail(ENOMEM);
			src->domain = p;
			atomic_fetch_add(&p->users, 1);
			memset(ptr, 0, size);
			return ptr;
		}
	}
	return svl_lines_zalloc(size);
}

void svl_obj_free(void *ptr, const struct svl_obj_src *src)
{
	struct svl_pd *p = src->domain;

	if (p) {
		p->free(&p->pd, p->pd_context, ptr, src->type);
		atomic_fetch_sub(&p->users, 1);
	} else
		free(ptr);
}
