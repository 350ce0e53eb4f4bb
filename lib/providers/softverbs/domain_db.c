// SPDX-License-Identifier: MIT
/*
 * Doorbell pages per domain (docs/resource-domains.md).
 *
 * A context starts with one shared page (doorbell.c) that every object
 * without a domain rings. Two things get pages of their own:
 *   - a thread domain (ibv_alloc_td): one dedicated page, or ENOMEM when
 *     the device has none left (UCX then falls back to a plain PD);
 *   - a seed-002 resource domain index (softverbsdv_create_qp): the QPs of
 *     one index share one page; a new index gets a dedicated page while
 *     pages remain, then falls back to the shared page (counted in
 *     softverbsdv_query_domains' rd_fallbacks).
 * A page that is no longer used goes on the context's free list and the
 * next TD or index takes it (pages go back to the device with the
 * context, as the doorbell pages of mlx5's dynamic UARs).
 *
 * Ringing finds a page by its daemon index in by_index[], read without the
 * lock: an entry is written before the object that rings it exists, and
 * pages stay mapped until the context closes.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svl_domain.h"

struct svl_db {
	struct sv_db_page *page;
	uint32_t index; /* the daemon's page index */
	struct svl_db *next_free;
};

struct svl_domains {
	pthread_mutex_t lock;
	/* resource domain index -> its page (&shared once it fell back) */
	struct svl_db **by_rd;
	uint32_t *rd_users; /* QPs per resource domain index */
	struct svl_db shared; /* stands for the context's shared page */
	struct svl_db **by_index; /* daemon page index -> page */
	uint32_t max_pages; /* entries of both tables */
	struct svl_db *free;
	uint32_t td_pages, rd_pages, free_pages, rd_fallbacks;
};

static pthread_mutex_t domains_init_lock = PTHREAD_MUTEX_INITIALIZER;

static struct svl_domains *domains_new(struct svl_context *ctx)
{
	uint32_t n = ctx->uresp.max_db_pages;
	struct svl_domains *d = calloc(1, sizeof(*d));

	if (!d || !n)
		goto err;
	d->by_rd = calloc(n, sizeof(*d->by_rd));
	d->by_index = calloc(n, sizeof(*d->by_index));
	d->rd_users = calloc(n, sizeof(*d->rd_users));
	if (!d->by_rd || !d->by_index || !d->rd_users)
		goto err;
	d->max_pages = n;
	pthread_mutex_init(&d->lock, NULL);
	return d;
err:
	if (d) {
		free(d->by_rd);
		free(d->by_index);
		free(d->rd_users);
	}
	free(d);
	return NULL;
}

/* The context's table, made on first use; NULL only without memory. */
static struct svl_domains *domains(struct svl_context *ctx)
{
	struct svl_domains *d =
		__atomic_load_n(&ctx->domains, __ATOMIC_ACQUIRE);

	if (d)
		return d;
	pthread_mutex_lock(&domains_init_lock);
	d = ctx->domains;
	if (!d) {
		d = domains_new(ctx);
		__atomic_store_n(&ctx->domains, d, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&domains_init_lock);
	return d;
}

/* A fresh page from the daemon, tagged with its purpose. */
static struct svl_db *db_new(struct svl_context *ctx, struct svl_domains *d,
			     uint32_t purpose)
{
	struct svl_db *db = calloc(1, sizeof(*db));
	void *page;
	int ret;

	if (!db)
		return svl_fail(ENOMEM);
	ret = svl_db_page_alloc(ctx, purpose, &page, &db->index);
	if (!ret && db->index >= d->max_pages) {
		munmap(page, SV_DB_PAGE_SIZE); /* the daemon broke its word */
		ret = EPROTO;
	}
	if (ret) {
		free(db);
		return svl_fail(ret);
	}
	db->page = page;
	/* Ringing reads it without the lock (svl_db_page_of). */
	__atomic_store_n(&d->by_index[db->index], db, __ATOMIC_RELEASE);
	return db;
}

/*
 * A dedicated page: a free one of this context, else a new one. The
 * shared page comes first, so that objects without a domain still have a
 * page when dedicated ones took the device's last pages.
 */
static struct svl_db *db_get(struct svl_context *ctx, struct svl_domains *d,
			     uint32_t purpose)
{
	struct svl_db *db = d->free;
	uint32_t shared;
	int ret;

	if (!db) {
		ret = svl_db_page_get(ctx, &shared);
		return ret ? svl_fail(ret) : db_new(ctx, d, purpose);
	}
	d->free = db->next_free;
	d->free_pages--;
	db->next_free = NULL;
	/* What the engine saw before is harvested: a stale bit only makes
	 * it look at a QP once more. */
	return db;
}

static void db_put(struct svl_domains *d, struct svl_db *db)
{
	db->next_free = d->free;
	d->free = db;
	d->free_pages++;
}

int svl_td_db_get(struct ibv_context *c, uint32_t *index)
{
	struct svl_domains *d = domains(to_svl_ctx(c));
	struct svl_db *db;

	if (!d)
		return ENOMEM;
	pthread_mutex_lock(&d->lock);
	db = db_get(to_svl_ctx(c), d, SV_DB_DOMAIN_TD);
	if (db) {
		d->td_pages++;
		*index = db->index;
	}
	pthread_mutex_unlock(&d->lock);
	/* Any failure to get a page is exhaustion to the caller. */
	return db ? 0 : ENOMEM;
}

void svl_td_db_put(struct ibv_context *c, uint32_t index)
{
	struct svl_domains *d = to_svl_ctx(c)->domains;

	if (!d || index >= d->max_pages || !d->by_index[index])
		return;
	pthread_mutex_lock(&d->lock);
	d->td_pages--;
	db_put(d, d->by_index[index]);
	pthread_mutex_unlock(&d->lock);
}

/*
 * The page of resource domain rd: its own while pages remain, else the
 * shared one, and then for as long as the index has QPs (all QPs of one
 * index always ring one page).
 */
static struct svl_db *rd_take(struct svl_context *ctx, struct svl_domains *d,
			      uint32_t rd)
{
	struct svl_db *db = d->by_rd[rd];

	if (!db) {
		db = db_get(ctx, d, rd);
		if (db)
			d->rd_pages++;
		else
			db = &d->shared;
		d->by_rd[rd] = db;
	}
	if (db == &d->shared)
		d->rd_fallbacks++;
	d->rd_users[rd]++;
	return db;
}

int svl_rd_db_get(struct ibv_context *c, uint32_t rd, uint32_t *index,
		  bool *dedicated)
{
	struct svl_context *ctx = to_svl_ctx(c);
	struct svl_domains *d = domains(ctx);
	struct svl_db *db;
	int ret = 0;

	if (!d)
		return ENOMEM;
	if (rd >= d->max_pages)
		return EINVAL;
	pthread_mutex_lock(&d->lock);
	db = rd_take(ctx, d, rd);
	pthread_mutex_unlock(&d->lock);
	*dedicated = db != &d->shared;
	if (*dedicated)
		*index = db->index;
	else
		ret = svl_db_page_get(ctx, index);
	if (ret)
		svl_rd_db_put(c, rd);
	return ret;
}

void svl_rd_db_put(struct ibv_context *c, uint32_t rd)
{
	struct svl_domains *d = to_svl_ctx(c)->domains;
	struct svl_db *db;

	if (!d || rd >= d->max_pages)
		return;
	pthread_mutex_lock(&d->lock);
	db = d->by_rd[rd];
	if (db && d->rd_users[rd] && !--d->rd_users[rd]) {
		d->by_rd[rd] = NULL;
		if (db != &d->shared) {
			d->rd_pages--;
			db_put(d, db);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

struct sv_db_page *svl_db_page_of(struct svl_context *ctx, uint32_t index)
{
	struct svl_domains *d =
		__atomic_load_n(&ctx->domains, __ATOMIC_ACQUIRE);
	struct svl_db *db;

	if (index == ctx->db_page_index || !d || index >= d->max_pages)
		return NULL;
	db = __atomic_load_n(&d->by_index[index], __ATOMIC_ACQUIRE);
	return db ? db->page : NULL;
}

void svl_domains_counts(struct ibv_context *c, struct svl_domain_counts *out)
{
	struct svl_domains *d = to_svl_ctx(c)->domains;

	memset(out, 0, sizeof(*out));
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	out->td_pages = d->td_pages;
	out->rd_pages = d->rd_pages;
	out->free_pages = d->free_pages;
	out->rd_fallbacks = d->rd_fallbacks;
	pthread_mutex_unlock(&d->lock);
}

void svl_domains_fini(struct svl_context *ctx)
{
	struct svl_domains *d = ctx->domains;
	uint32_t i;

	if (ctx->db_page)
		munmap(ctx->db_page, SV_DB_PAGE_SIZE);
	ctx->db_page = NULL;
	if (ctx->wake)
		munmap(ctx->wake, SV_WAKE_PAGE_SIZE);
	ctx->wake = NULL;
	if (!d)
		return;
	for (i = 0; i < d->max_pages; i++) {
		if (d->by_index[i]) {
			munmap(d->by_index[i]->page, SV_DB_PAGE_SIZE);
			free(d->by_index[i]);
		}
	}
	free(d->by_rd);
	free(d->by_index);
	free(d->rd_users);
	pthread_mutex_destroy(&d->lock);
	free(d);
	ctx->domains = NULL;
}
