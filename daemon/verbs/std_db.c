// SPDX-License-Identifier: MIT
/*
 * Doorbell pages: driver method SV_METHOD_DB_PAGE_ALLOC on the device.
 *
 * A page is a 4 KiB memfd (struct sv_db_page) shared by the daemon and a
 * context: the library bumps 'ring' after posting and FUTEX_WAKEs it when
 * the engine says it is 'sleeping'. Pages are a per-device resource
 * (dev->max_db_pages); the uobject frees the page with the context.
 * The memfd is sealed so a client cannot shrink it under the daemon.
 *
 * Resource domains (seed 002, docs/resource-domains.md): the optional
 * SV_ATTR_DB_PAGE_DOMAIN says what the page is for: the context's shared
 * page, a thread domain's dedicated page, or a resource domain index in
 * [0, max_resource_domains). The engine harvests every page on its own, so
 * QPs on different pages never share a cache line of doorbell state. When
 * the device's pages are used up, DB_PAGE_ALLOC fails with ENOMEM; the
 * library decides what that means (docs/resource-domains.md).
 *
 * SV_METHOD_QUERY_STATS reports the pages of the device and of the caller.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svd_nic.h"
#include "svd_objs.h"

struct svd_db_page {
	struct svd_device *dev;
	struct sv_db_page *page;
	uint32_t index;
	uint32_t domain; /* SV_ATTR_DB_PAGE_DOMAIN; absent: the shared page */
};

static int db_page_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_db_page *p = uobj->object;

	(void)why;
	if (!p)
		return 0;
	/* After db_del the engine no longer reads the page. */
	p->dev->nic->db_del(p->dev, p->index);
	munmap(p->page, SV_DB_PAGE_SIZE);
	free(p);
	uobj->object = NULL;
	return 0;
}

/*
 * A driver object (no core id). Torn down after the QPs, SRQs and CQs that
 * ring it: the engine may still read a page until they are gone.
 */
SVD_DECLARE_IDR_TYPE(db_page, 0, SVD_ORDER_DB_PAGE, db_page_destroy);

/* A sealed 4 KiB memfd, mapped; returns the fd or -errno. */
static int db_memfd(struct sv_db_page **map)
{
	int fd = svd_memfd_sealed("softverbs-db", SV_DB_PAGE_SIZE);
	void *p;

	if (fd < 0)
		return fd;
	p = mmap(NULL, SV_DB_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	*map = p;
	return fd;
}

/* The page's purpose: absent means the context's shared page. */
static int db_domain(struct svd_bundle *b, uint32_t *domain)
{
	const struct svd_attr *a = &b->attrs[2];

	*domain = SV_DB_DOMAIN_SHARED;
	if (!a->present)
		return 0;
	memcpy(domain, a->in, sizeof(*domain));
	if (*domain < b->dev->max_db_pages || *domain == SV_DB_DOMAIN_TD ||
	    *domain == SV_DB_DOMAIN_SHARED)
		return 0;
	return -EINVAL;
}

static int db_method_alloc(struct svd_bundle *b)
{
	/*
	 * attrs[i] matches db_alloc_attrs[i]. Indexing avoids svd_attr_get(),
	 * which treats ids 0x1000/0x1001 as UHW_IN/OUT.
	 */
	struct svd_attr *fd_attr = &b->attrs[0];
	bool wake = b->attrs[3].present;
	struct svd_db_page *p;
	struct svd_uobj *uobj;
	int fd, slot, ret, wake_fd = -1;

	uint32_t domain;

	if (!fd_attr->present || db_domain(b, &domain))
		return -EINVAL;
	uobj = svd_bundle_new_uobj(b, SV_ATTR_DB_PAGE_FD, &svd_type_db_page);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = b->dev;
	p->domain = domain;
	fd = db_memfd(&p->page);
	if (fd < 0) {
		free(p);
		return fd;
	}
	ret = b->dev->nic->db_add(b->dev, p->page, b->uctx, &p->index,
				  wake ? &wake_fd : NULL);
	if (ret)
		goto err;
	/* Before the page's fd: a failure here leaves no uobject behind. */
	ret = wake_fd < 0 ? 0 : svd_attr_fd_out(b, SV_ATTR_DB_PAGE_WAKE_FD,
						 wake_fd);
	if (ret) {
		b->dev->nic->db_del(b->dev, p->index);
		goto err;
	}
	slot = svd_bundle_add_out_fd(b, fd); /* the reply closes our copy */
	if (slot < 0) {
		b->dev->nic->db_del(b->dev, p->index);
		ret = slot;
		goto err;
	}
	fd = -1;
	fd_attr->data = (uint64_t)slot;
	fd_attr->out_valid = true;
	uobj->object = p;
	return svd_attr_copy_to(b, SV_ATTR_DB_PAGE_INDEX, &p->index,
				sizeof(p->index));
err:
	if (fd >= 0)
		close(fd);
	munmap(p->page, SV_DB_PAGE_SIZE);
	free(p);
	return ret;
}
SVD_DECLARE_METHOD(SV_METHOD_DB_PAGE_ALLOC, db_method_alloc,
		   SVD_ATTR_FD(SV_ATTR_DB_PAGE_FD, &svd_type_db_page,
			       SVD_ACCESS_NEW, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_DB_PAGE_INDEX, uint32_t,
				    SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_DB_PAGE_DOMAIN, uint32_t,
				   SVD_OPTIONAL),
		   SVD_ATTR_FD(SV_ATTR_DB_PAGE_WAKE_FD, &svd_type_db_page,
			       SVD_ACCESS_NEW, SVD_OPTIONAL));

/* Count the caller's pages by purpose (its handle table, under its lock). */
static void db_count_ctx(struct svd_ucontext *uctx,
			 struct sv_query_stats_resp *r)
{
	const struct svd_db_page *p;
	uint32_t i;

	pthread_mutex_lock(&uctx->lock);
	for (i = 0; i < uctx->nhandles; i++) {
		if (!uctx->handles[i] ||
		    uctx->handles[i]->type != &svd_type_db_page ||
		    !(p = uctx->handles[i]->object))
			continue;
		r->ctx_db_pages++;
		if (p->domain == SV_DB_DOMAIN_TD)
			r->ctx_td_pages++;
		else if (p->domain != SV_DB_DOMAIN_SHARED)
			r->ctx_rd_pages++;
	}
	pthread_mutex_unlock(&uctx->lock);
}

static int db_method_query_stats(struct svd_bundle *b)
{
	struct sv_query_stats_resp r = {
		.max_db_pages = b->dev->max_db_pages,
		.db_pages_used = atomic_load(&b->dev->db_pages_used),
		/* Each index may get a page of its own while pages remain. */
		.max_resource_domains = b->dev->max_db_pages,
	};
	struct svd_attr *page = svd_attr_get(b, SV_ATTR_QUERY_STATS_PAGE);
	uint32_t index;

	if (page) {
		memcpy(&index, page->in, sizeof(index));
		r.page_qps = b->dev->nic->db_page_qps(b->dev, index, b->uctx);
	}
	db_count_ctx(b->uctx, &r);
	return svd_attr_copy_to(b, SV_ATTR_QUERY_STATS_RESP, &r, sizeof(r));
}
SVD_DECLARE_METHOD(SV_METHOD_QUERY_STATS, db_method_query_stats,
		   SVD_ATTR_PTR_OUT(SV_ATTR_QUERY_STATS_RESP,
				    struct sv_query_stats_resp, SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_QUERY_STATS_PAGE, uint32_t,
				   SVD_OPTIONAL));

const struct svd_module svd_mod_db = {
    .name = "db",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			   SVD_METHOD_REF(SV_METHOD_DB_PAGE_ALLOC),
			   SVD_METHOD_REF(SV_METHOD_QUERY_STATS))),
};
