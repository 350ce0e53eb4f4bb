// SPDX-License-Identifier: MIT
/*
 * UCX's pattern (uct_ib_mlx5 per worker): each of 8 worker threads, in
 * its own thread, asks for a TD; if ibv_alloc_td fails it falls back to
 * the plain PD, otherwise it builds a parent domain on the PD and the TD
 * (failure there is an error), then creates its CQ and QPs on that
 * domain and runs its traffic (tests/svt_td.h), all workers at once.
 * The device has 6 doorbell pages (SOFTVERBS_MAX_DB_PAGES): the context's
 * shared page and 5 TDs, so exactly 3 workers take the fallback, with
 * ENOMEM, and share the context's page; all 8 see correct traffic.
 */
#include "svtest.h"
#include "svt_ep.h"
#include "svt_td.h"

#define NW 8

static struct svt_worker w[NW];
static pthread_barrier_t setup_done;
static int fallbacks_enomem;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void worker_domain(struct svt_worker *x)
{
	struct ibv_td_init_attr ta = {};
	struct ibv_parent_domain_init_attr pa = { .pd = x->pd };

	x->td = ibv_alloc_td(x->ctx, &ta);
	if (!x->td) {
		pthread_mutex_lock(&count_lock);
		fallbacks_enomem += errno == ENOMEM;
		pthread_mutex_unlock(&count_lock);
		x->dom = x->pd;
		return;
	}
	pa.td = x->td;
	x->dom = ibv_alloc_parent_domain(x->ctx, &pa);
	SVT_CHECK(x->dom);
}

static void *worker(void *arg)
{
	struct svt_worker *x = arg;
	struct softverbsdv_obj_attr o;

	worker_domain(x);
	svt_worker_make(x);
	SVT_CHECK(!softverbsdv_query_qp(x->a.qp, &o));
	SVT_CHECK(!!(o.flags & SOFTVERBSDV_OBJ_DEDICATED_DB) == !!x->td);
	SVT_CHECK(!!(o.flags & SOFTVERBSDV_OBJ_NO_LOCK) == !!x->td);
	pthread_barrier_wait(&setup_done); /* then all traffic at once */
	return svt_worker_run(x);
}

int main(void)
{
	struct softverbsdv_device_attr da = {};
	struct ibv_context *ctx;
	struct svt_daemon d;
	pthread_t t[NW];
	struct ibv_pd *pd;
	int i, tds = 0;

	setenv("SOFTVERBS_MAX_DB_PAGES", "6", 1);
	ctx = svt_start(&d);
	SVT_CHECK((pd = ibv_alloc_pd(ctx)));
	pthread_barrier_init(&setup_done, NULL, NW);
	for (i = 0; i < NW; i++) {
		w[i] = (struct svt_worker){ .id = i, .ctx = ctx, .pd = pd,
					    .seed = 31u * (uint32_t)i + 5 };
		SVT_CHECK(!pthread_create(&t[i], NULL, worker, &w[i]));
	}
	for (i = 0; i < NW; i++)
		SVT_CHECK(!pthread_join(t[i], NULL));
	for (i = 0; i < NW; i++) {
		SVT_CHECK(w[i].writes == SVT_TD_ROUNDS * SVT_TD_BATCH);
		tds += !!w[i].td;
	}
	SVT_CHECK(!softverbsdv_query_device(ctx, &da));
	SVT_CHECK(tds == 5 && fallbacks_enomem == 3 && da.td_db_pages == 5);
	SVT_CHECK(da.db_pages_used == 6 && da.max_db_pages == 6);
	for (i = 0; i < NW; i++) { /* the engine: 3 x 2 QPs share a page */
		struct softverbsdv_obj_attr o;

		SVT_CHECK(!softverbsdv_query_qp(w[i].a.qp, &o));
		SVT_CHECK(o.page_qps == (w[i].td ? 2u : 6u));
	}
	for (i = 0; i < NW; i++)
		svt_worker_free(&w[i]);
	SVT_CHECK(!ibv_dealloc_pd(pd) && !ibv_close_device(ctx));
	svt_daemon_stop(&d);
	printf("test_td_ucx: pass (%d workers with a TD, %d on the plain PD)\n",
	       tds, NW - tds);
	return SVT_PASS;
}
