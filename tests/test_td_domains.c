// SPDX-License-Identifier: MIT
/*
 * Resource domains and doorbell pages (docs/resource-domains.md), seen
 * through softverbsdv_query_device() / softverbsdv_query_qp() and the
 * daemon's page count, on a device limited to 8 doorbell pages
 * (SOFTVERBS_MAX_DB_PAGES):
 *  - sharing, as the library and the daemon see it (page_qps: the QPs
 *    the engine finds through a page): plain QPs ring the context's
 *    shared page; QPs of one resource domain index share a page of
 *    their own, two indices get two pages; each TD gets its own page, which its QPs and SRQs ring; TD and
 *    resource-domain objects take no lock, a CQ on a TD's parent domain
 *    neither, plain ones do;
 *  - exhaustion: with the device's pages used up, ibv_alloc_td fails with
 *    ENOMEM and a new resource domain index shares the context's page
 *    (counted in rd_fallbacks, and then for as long as it has QPs); a
 *    page freed by a TD goes to the next index; RDMA WRITEs work on every
 *    kind of page; closing a context gives its pages back.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <softverbs/softverbs_dv.h>

#include "svtest.h"
#include "svt_ep.h"

#define NPAGES 8

static struct softverbsdv_device_attr query(struct ibv_context *ctx)
{
	struct softverbsdv_device_attr a = {};

	SVT_CHECK(!softverbsdv_query_device(ctx, &a));
	return a;
}

static struct softverbsdv_obj_attr qattr(struct ibv_qp *qp)
{
	struct softverbsdv_obj_attr o;

	SVT_CHECK(!softverbsdv_query_qp(qp, &o));
	return o;
}

/* An RC QP on pd, with a resource domain index unless rd < 0. */
static struct ibv_qp *qp_make(struct ibv_pd *pd, struct ibv_cq *cq, int rd)
{
	struct ibv_qp_init_attr_ex a = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.comp_mask = IBV_QP_INIT_ATTR_PD, .pd = pd,
	};
	struct softverbsdv_qp_init_attr sv = {
		.comp_mask = SOFTVERBSDV_QP_INIT_ATTR_RES_DOMAIN,
		.resource_domain = (uint32_t)rd,
	};

	return softverbsdv_create_qp(pd->context, &a, rd < 0 ? NULL : &sv);
}

static struct ibv_pd *parent_on(struct ibv_pd *pd, struct ibv_td *td)
{
	struct ibv_parent_domain_init_attr a = { .pd = pd, .td = td };

	return ibv_alloc_parent_domain(pd->context, &a);
}

/* Connect a to b (both ways) and RDMA WRITE 4 KiB each way. */
static void write_both(struct ibv_qp *qa, struct ibv_qp *qb, struct ibv_cq *ca,
		       struct ibv_cq *cb)
{
	static char buf[2][4096];
	struct svt_ep e[2] = { { .ctx = qa->context, .pd = qa->pd, .cq = ca,
				 .qp = qa },
			       { .ctx = qb->context, .pd = qb->pd, .cq = cb,
				 .qp = qb } };
	struct ibv_mr *mr[2];
	int i, j;

	for (i = 0; i < 2; i++) {
		svt_ep_find_gid(&e[i]);
		mr[i] = ibv_reg_mr(e[i].pd, buf[i], sizeof(buf[i]),
				   IBV_ACCESS_LOCAL_WRITE |
					   IBV_ACCESS_REMOTE_WRITE);
		SVT_CHECK(mr[i]);
	}
	svt_ep_connect(&e[0], qb->qp_num);
	svt_ep_connect(&e[1], qa->qp_num);
	for (i = 0; i < 2; i++) {
		struct ibv_sge s = { (uintptr_t)buf[i], 2048, mr[i]->lkey };

		for (j = 0; j < 2048; j++)
			buf[i][j] = (char)(rand() & 0xff);
		SVT_CHECK(svt_rdma(&e[i], IBV_WR_RDMA_WRITE, &s,
				   (uintptr_t)buf[!i] + 2048, mr[!i]->rkey, 0,
				   0) == IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(buf[i], buf[!i] + 2048, 2048));
	}
	SVT_CHECK(!ibv_dereg_mr(mr[0]) && !ibv_dereg_mr(mr[1]));
}

static void check_plain(struct ibv_context *ctx, struct ibv_qp *q0,
			struct ibv_qp *q1)
{
	struct softverbsdv_obj_attr a = qattr(q0), b = qattr(q1);

	SVT_CHECK(a.db_page == b.db_page &&
		  a.db_page == query(ctx).shared_db_page);
	SVT_CHECK(!a.flags && !b.flags); /* shared, locked, own memory */
}

/* Two QPs of index 3 share a page, index 5 has another one. */
static void check_rd(struct ibv_context *ctx, struct ibv_qp **rq)
{
	struct softverbsdv_obj_attr a = qattr(rq[0]), b = qattr(rq[1]),
				    c = qattr(rq[2]);
	struct softverbsdv_device_attr d = query(ctx);
	unsigned int want = SOFTVERBSDV_OBJ_DEDICATED_DB |
			    SOFTVERBSDV_OBJ_NO_LOCK |
			    SOFTVERBSDV_OBJ_RES_DOMAIN;

	SVT_CHECK(a.flags == want && b.flags == want && c.flags == want);
	SVT_CHECK(a.resource_domain == 3 && c.resource_domain == 5);
	SVT_CHECK(a.db_page == b.db_page && a.db_page != c.db_page);
	SVT_CHECK(a.db_page != d.shared_db_page &&
		  c.db_page != d.shared_db_page);
	SVT_CHECK(d.rd_db_pages == 2 && d.rd_fallbacks == 0);
	SVT_CHECK(d.ctx_db_pages == 3 && d.db_pages_used == 3);
}

static void check_cq_lock(struct ibv_context *ctx, struct ibv_pd *parent,
			  struct ibv_cq *plain)
{
	struct ibv_cq_init_attr_ex ca = {
		.cqe = 16, .comp_mask = IBV_CQ_INIT_ATTR_MASK_PD,
		.wc_flags = IBV_WC_STANDARD_FLAGS, .parent_domain = parent,
	};
	struct ibv_cq_ex *cq = ibv_create_cq_ex(ctx, &ca);
	struct softverbsdv_obj_attr o;

	SVT_CHECK(cq);
	SVT_CHECK(!softverbsdv_query_cq(ibv_cq_ex_to_cq(cq), &o));
	SVT_CHECK(o.flags == SOFTVERBSDV_OBJ_NO_LOCK);
	SVT_CHECK(!softverbsdv_query_cq(plain, &o) && !o.flags);
	SVT_CHECK(!ibv_destroy_cq(ibv_cq_ex_to_cq(cq)));
}

/* Each TD its page; its QP and SRQ ring it; nobody else does. */
static void check_td(struct ibv_context *ctx, struct ibv_pd *pd,
		     struct ibv_cq *cq, struct ibv_qp **rq)
{
	struct ibv_td_init_attr ta = {};
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 4, .max_sge = 1 } };
	struct ibv_td *td[2] = { ibv_alloc_td(ctx, &ta),
				 ibv_alloc_td(ctx, &ta) };
	struct ibv_pd *p[2];
	struct ibv_qp *q[2];
	struct softverbsdv_obj_attr a[2], s;
	struct ibv_srq *srq;
	int i;

	SVT_CHECK(td[0] && td[1]);
	for (i = 0; i < 2; i++) {
		p[i] = parent_on(pd, td[i]);
		SVT_CHECK(p[i] && (q[i] = qp_make(p[i], cq, -1)));
		a[i] = qattr(q[i]);
		SVT_CHECK(a[i].flags == (SOFTVERBSDV_OBJ_DEDICATED_DB |
					 SOFTVERBSDV_OBJ_NO_LOCK));
		SVT_CHECK(a[i].db_page != query(ctx).shared_db_page &&
			  a[i].db_page != qattr(rq[0]).db_page &&
			  a[i].db_page != qattr(rq[2]).db_page);
	}
	SVT_CHECK(a[0].db_page != a[1].db_page);
	srq = ibv_create_srq(p[0], &sa);
	SVT_CHECK(srq && !softverbsdv_query_srq(srq, &s));
	SVT_CHECK(s.db_page == a[0].db_page &&
		  (s.flags & SOFTVERBSDV_OBJ_NO_LOCK));
	SVT_CHECK(query(ctx).td_db_pages == 2 && query(ctx).ctx_db_pages == 5);
	check_cq_lock(ctx, p[0], cq);
	write_both(q[0], q[1], cq, cq); /* two TDs, two pages */
	SVT_CHECK(qattr(q[0]).page_qps == 1 && qattr(q[1]).page_qps == 1);
	SVT_CHECK(!ibv_destroy_srq(srq));
	for (i = 0; i < 2; i++) {
		SVT_CHECK(!ibv_destroy_qp(q[i]) && !ibv_dealloc_pd(p[i]));
		SVT_CHECK(!ibv_dealloc_td(td[i]));
	}
}

static void test_sharing(struct ibv_context *ctx)
{
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_cq *cq = ibv_create_cq(ctx, 256, NULL, NULL, 0);
	struct ibv_qp *q0, *q1, *rq[3];
	struct softverbsdv_device_attr d = { .comp_mask = 1 };
	int i;

	SVT_CHECK(softverbsdv_query_device(ctx, &d) == EINVAL);
	d = query(ctx);
	SVT_CHECK(d.max_resource_domains == NPAGES && d.max_db_pages == NPAGES);
	SVT_CHECK(pd && cq && (q0 = qp_make(pd, cq, -1)) &&
		  (q1 = qp_make(pd, cq, -1)));
	check_plain(ctx, q0, q1);
	SVT_CHECK(!qp_make(pd, cq, NPAGES) && errno == EINVAL);
	SVT_CHECK((rq[0] = qp_make(pd, cq, 3)) && (rq[1] = qp_make(pd, cq, 3)));
	SVT_CHECK((rq[2] = qp_make(pd, cq, 5)));
	check_rd(ctx, rq);
	write_both(rq[0], rq[2], cq, cq); /* two resource domains */
	write_both(q0, rq[1], cq, cq); /* the shared page and domain 3's */
	/* The engine's view: index 3's page finds its 2 QPs, index 5's its
	 * one, the shared page q0 (q1 was never modified: never bound). */
	SVT_CHECK(qattr(rq[0]).page_qps == 2 && qattr(rq[2]).page_qps == 1);
	SVT_CHECK(qattr(q0).page_qps == 1);
	check_td(ctx, pd, cq, rq);
	for (i = 0; i < 3; i++)
		SVT_CHECK(!ibv_destroy_qp(rq[i]));
	d = query(ctx);
	/* Dedicated pages stay with the context for its next domains. */
	SVT_CHECK(!d.td_db_pages && !d.rd_db_pages && d.free_db_pages == 4);
	SVT_CHECK(d.ctx_db_pages == 5 && d.db_pages_used == 5);
	SVT_CHECK(!ibv_destroy_qp(q0) && !ibv_destroy_qp(q1));
	SVT_CHECK(!ibv_destroy_cq(cq) && !ibv_dealloc_pd(pd));
}

static void wait_used(struct ibv_context *ctx, uint32_t n)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 300 && query(ctx).db_pages_used != n; i++)
		nanosleep(&ts, NULL);
	SVT_CHECK(query(ctx).db_pages_used == n);
}

/* ctx holds 5 pages; a second context takes the last 3. */
static void test_exhaustion(struct ibv_context *ctx)
{
	struct ibv_context *c2 = svt_open_dev("softverbs0");
	struct ibv_pd *pd = ibv_alloc_pd(c2);
	struct ibv_cq *cq = ibv_create_cq(c2, 256, NULL, NULL, 0);
	struct ibv_td_init_attr ta = {};
	struct ibv_td *td[2], *again;
	struct ibv_qp *plain, *r0a, *r0b, *r1, *r0c;
	struct softverbsdv_device_attr d;

	SVT_CHECK(pd && cq && (plain = qp_make(pd, cq, -1)));
	SVT_CHECK((td[0] = ibv_alloc_td(c2, &ta)) &&
		  (td[1] = ibv_alloc_td(c2, &ta)));
	SVT_CHECK(query(c2).db_pages_used == NPAGES);
	errno = 0;
	SVT_CHECK(!ibv_alloc_td(c2, &ta) && errno == ENOMEM);
	SVT_CHECK((r0a = qp_make(pd, cq, 0)) && (r0b = qp_make(pd, cq, 0)));
	d = query(c2);
	SVT_CHECK(qattr(r0a).db_page == d.shared_db_page &&
		  qattr(r0b).db_page == d.shared_db_page);
	SVT_CHECK(qattr(r0a).flags == (SOFTVERBSDV_OBJ_NO_LOCK |
				       SOFTVERBSDV_OBJ_RES_DOMAIN));
	SVT_CHECK(d.rd_fallbacks == 2 && d.rd_db_pages == 0);
	SVT_CHECK(!ibv_dealloc_td(td[1])); /* one page free in c2 again */
	SVT_CHECK((r1 = qp_make(pd, cq, 1)) && (r0c = qp_make(pd, cq, 0)));
	SVT_CHECK(qattr(r1).flags & SOFTVERBSDV_OBJ_DEDICATED_DB);
	/* Index 0 keeps its one page (the shared one) while it has QPs. */
	SVT_CHECK(qattr(r0c).db_page == d.shared_db_page);
	write_both(r0a, r1, cq, cq);
	/* ctx reuses its own free pages although the device is full. */
	SVT_CHECK((again = ibv_alloc_td(ctx, &ta)) && !ibv_dealloc_td(again));
	SVT_CHECK(!ibv_destroy_qp(r0a) && !ibv_destroy_qp(r0b) &&
		  !ibv_destroy_qp(r0c) && !ibv_destroy_qp(r1) &&
		  !ibv_destroy_qp(plain));
	SVT_CHECK(!ibv_dealloc_td(td[0]) && !ibv_destroy_cq(cq) &&
		  !ibv_dealloc_pd(pd));
	SVT_CHECK(!ibv_close_device(c2));
	wait_used(ctx, 5); /* the daemon tears c2 down on its own time */
}

int main(void)
{
	struct ibv_context *ctx;
	struct svt_daemon d;

	setenv("SOFTVERBS_MAX_DB_PAGES", "8", 1);
	ctx = svt_start(&d);
	test_sharing(ctx);
	test_exhaustion(ctx);
	SVT_CHECK(!ibv_close_device(ctx));
	svt_daemon_stop(&d);
	printf("test_td_domains: pass\n");
	return SVT_PASS;
}
