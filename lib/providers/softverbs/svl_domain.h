/* SPDX-License-Identifier: MIT */
/*
 * Doorbell pages per domain (domain_db.c, doorbell.c): the context's shared
 * page, a thread domain's dedicated page, the pages of seed-002 resource
 * domain indices. docs/resource-domains.md says what is shared when.
 */
#ifndef SVL_DOMAIN_H
#define SVL_DOMAIN_H

#include <stdbool.h>
#include <string.h>

#include "svl.h"

/* doorbell.c: a new page from the daemon (SV_METHOD_DB_PAGE_ALLOC) for
 * purpose (SV_ATTR_DB_PAGE_DOMAIN), mapped. 0 or a positive errno. */
int svl_db_page_alloc(struct svl_context *ctx, uint32_t purpose, void **page,
		      uint32_t *index);
/* doorbell.c: the context's shared page (allocated once). */
int svl_db_page_get(struct svl_context *ctx, uint32_t *index);

/* A thread domain's dedicated page: 0, or ENOMEM when none is left. */
int svl_td_db_get(struct ibv_context *c, uint32_t *index);
void svl_td_db_put(struct ibv_context *c, uint32_t index);
/* The page of resource domain rd (< max_resource_domains, else EINVAL);
 * *dedicated is false when pages ran out and it shares the context's. */
int svl_rd_db_get(struct ibv_context *c, uint32_t rd, uint32_t *index,
		  bool *dedicated);
void svl_rd_db_put(struct ibv_context *c, uint32_t rd);
/* A dedicated page by daemon index; NULL for the shared page or none. */
struct sv_db_page *svl_db_page_of(struct svl_context *ctx, uint32_t index);

struct svl_domain_counts {
	uint32_t td_pages; /* dedicated to live thread domains */
	uint32_t rd_pages; /* dedicated to resource domain indices in use */
	uint32_t free_pages; /* dedicated pages kept for reuse */
	uint32_t rd_fallbacks; /* QPs of an index that got the shared page */
};
void svl_domains_counts(struct ibv_context *c, struct svl_domain_counts *out);

#endif
