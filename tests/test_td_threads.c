// SPDX-License-Identifier: MIT
/*
 * 8 threads, each on its own thread domain: a TD, a parent domain on the
 * one PD, a CQ (ibv_create_cq_ex on the parent domain) and two connected
 * RC QPs on it. softverbsdv_query_* shows 8 distinct dedicated doorbell
 * pages (none the shared one), each found by the daemon's engine with just
 * that thread's two QPs, and lock-free QPs and CQs; then all threads
 * run at once: 48 batches of 16 RDMA WRITEs of random lengths each,
 * compared by checksum, and a SEND per batch (tests/svt_td.h).
 */
#include "svtest.h"
#include "svt_ep.h"
#include "svt_td.h"

#define NW 8

static struct svt_worker w[NW];

static void check_pages(struct ibv_context *ctx)
{
	struct softverbsdv_device_attr d = {};
	struct softverbsdv_obj_attr o, c;
	uint32_t page[NW];
	int i, j;

	SVT_CHECK(!softverbsdv_query_device(ctx, &d));
	SVT_CHECK(d.td_db_pages == NW && d.ctx_db_pages == NW + 1);
	for (i = 0; i < NW; i++) {
		SVT_CHECK(!softverbsdv_query_qp(w[i].a.qp, &o));
		SVT_CHECK(o.flags == (SOFTVERBSDV_OBJ_DEDICATED_DB |
				      SOFTVERBSDV_OBJ_NO_LOCK));
		SVT_CHECK(!softverbsdv_query_qp(w[i].b.qp, &c));
		SVT_CHECK(c.db_page == o.db_page &&
			  o.db_page != d.shared_db_page);
		SVT_CHECK(o.page_qps == 2); /* the engine: only a and b */
		SVT_CHECK(!softverbsdv_query_cq(w[i].a.cq, &c));
		SVT_CHECK(c.flags & SOFTVERBSDV_OBJ_NO_LOCK);
		page[i] = o.db_page;
		for (j = 0; j < i; j++)
			SVT_CHECK(page[j] != page[i]);
	}
}

int main(void)
{
	struct ibv_td_init_attr ta = {};
	struct ibv_context *ctx;
	struct svt_daemon d;
	struct ibv_pd *pd;
	int i;

	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	for (i = 0; i < NW; i++) {
		struct ibv_parent_domain_init_attr pa = { .pd = pd };

		w[i] = (struct svt_worker){ .id = i, .ctx = ctx, .pd = pd,
					    .seed = 77u * (uint32_t)i + 1 };
		w[i].td = pa.td = ibv_alloc_td(ctx, &ta);
		SVT_CHECK(w[i].td);
		w[i].dom = ibv_alloc_parent_domain(ctx, &pa);
		SVT_CHECK(w[i].dom);
		svt_worker_make(&w[i]);
	}
	check_pages(ctx);
	svt_workers_run(w, NW);
	for (i = 0; i < NW; i++)
		svt_worker_free(&w[i]);
	SVT_CHECK(!ibv_dealloc_pd(pd) && !ibv_close_device(ctx));
	svt_daemon_stop(&d);
	printf("test_td_threads: pass (%d threads x %d checked WRITEs)\n", NW,
	       SVT_TD_ROUNDS * SVT_TD_BATCH);
	return SVT_PASS;
}
