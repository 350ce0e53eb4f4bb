// SPDX-License-Identifier: MIT
/*
 * Thread domains and parent domains: TD alloc/dealloc and EBUSY while a
 * parent domain names it (and for the PD under it), custom allocators
 * really called for the QP's, CQ's and SRQ's library state and rings and
 * given back on destroy, IBV_ALLOCATOR_USE_DEFAULT, a CQ created on a plain PD with
 * IBV_CQ_INIT_ATTR_MASK_PD refused, and RC RDMA WRITE + SEND traffic on
 * a QP, CQ and MR created on a TD-bound parent domain.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "svtest.h"
#include "svt_ep.h"

struct counts {
	int alloc, free, live;
	bool use_default;
};

static void *count_alloc(struct ibv_pd *pd, void *pd_context, size_t size,
			 size_t alignment, uint64_t resource_type)
{
	struct counts *c = pd_context;
	void *p;

	(void)pd;
	(void)resource_type;
	c->alloc++;
	if (c->use_default)
		return IBV_ALLOCATOR_USE_DEFAULT;
	if (posix_memalign(&p, alignment, size))
		return NULL;
	memset(p, 0xa5, size); /* the library must not rely on zeroed memory */
	c->live++;
	return p;
}

static void count_free(struct ibv_pd *pd, void *pd_context, void *ptr,
		       uint64_t resource_type)
{
	struct counts *c = pd_context;

	(void)pd;
	(void)resource_type;
	c->free++;
	c->live--;
	free(ptr);
}

static struct ibv_pd *parent(struct ibv_context *ctx, struct ibv_pd *pd,
			     struct ibv_td *td, struct counts *c)
{
	struct ibv_parent_domain_init_attr a = {
		.pd = pd, .td = td, .pd_context = c,
		.comp_mask = IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS |
			     IBV_PARENT_DOMAIN_INIT_ATTR_PD_CONTEXT,
		.alloc = count_alloc, .free = count_free,
	};

	return ibv_alloc_parent_domain(ctx, &a);
}

static struct ibv_cq *cq_on(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct ibv_cq_init_attr_ex a = {
		.cqe = 128, .wc_flags = IBV_WC_STANDARD_FLAGS,
		.comp_mask = IBV_CQ_INIT_ATTR_MASK_PD, .parent_domain = pd,
	};
	struct ibv_cq_ex *cq = ibv_create_cq_ex(ctx, &a);

	return cq ? ibv_cq_ex_to_cq(cq) : NULL;
}

static void test_td_rules(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct ibv_td_init_attr ta = {};
	struct ibv_td *td = ibv_alloc_td(ctx, &ta);
	struct counts c = {};
	struct ibv_pd *p;

	SVT_CHECK(td);
	p = parent(ctx, pd, td, &c);
	SVT_CHECK(p && p->handle == pd->handle && p->context == ctx);
	SVT_CHECK(ibv_dealloc_td(td) == EBUSY);
	SVT_CHECK(ibv_dealloc_pd(pd) == EBUSY);
	errno = 0;
	SVT_CHECK(!cq_on(ctx, pd) && errno == EINVAL); /* not a parent domain */
	SVT_CHECK(!ibv_dealloc_pd(p));
	SVT_CHECK(!ibv_dealloc_td(td));
	ta.comp_mask = 1;
	SVT_CHECK(!ibv_alloc_td(ctx, &ta) && errno == EINVAL);
}

static void test_use_default(struct svt_ep *e)
{
	struct counts c = { .use_default = true };
	struct ibv_pd *p = parent(e->ctx, e->pd, NULL, &c);
	struct ibv_qp_init_attr a = {
		.send_cq = e->cq, .recv_cq = e->cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp *qp;

	SVT_CHECK(p);
	qp = ibv_create_qp(p, &a);
	SVT_CHECK(qp && c.alloc == 2 && c.live == 0); /* state + ring */
	SVT_CHECK(!ibv_destroy_qp(qp));
	SVT_CHECK(c.free == 0);
	SVT_CHECK(!ibv_dealloc_pd(p));
}

/* a (on the parent domain) writes into b's buffer, then sends to it. */
static void traffic(struct svt_ep *a, struct svt_ep *b)
{
	static char src[64] = "written on a parent domain", dst[64];
	struct ibv_mr *smr = ibv_reg_mr(a->pd, src, sizeof(src), 0);
	struct ibv_mr *dmr = ibv_reg_mr(b->pd, dst, sizeof(dst),
					IBV_ACCESS_LOCAL_WRITE |
						IBV_ACCESS_REMOTE_WRITE);
	struct ibv_sge s = { (uintptr_t)src, sizeof(src), 0 };
	struct ibv_recv_wr rw = { .wr_id = 7, .num_sge = 1 }, *rbad;
	struct ibv_sge rs;
	struct ibv_wc wc;

	SVT_CHECK(smr && dmr && smr->pd == a->pd);
	s.lkey = smr->lkey;
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)dst,
			   dmr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(src, dst, sizeof(src)));
	memset(dst, 0, sizeof(dst));
	rs = (struct ibv_sge){ (uintptr_t)dst, sizeof(dst), dmr->lkey };
	rw.sg_list = &rs;
	SVT_CHECK(!ibv_post_recv(b->qp, &rw, &rbad));
	SVT_CHECK(svt_rdma(a, IBV_WR_SEND, &s, 0, 0, 0, 0) == IBV_WC_SUCCESS);
	wc = svt_poll1(b->cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == 7);
	SVT_CHECK(!memcmp(src, dst, sizeof(src)));
	SVT_CHECK(!ibv_dereg_mr(smr) && !ibv_dereg_mr(dmr));
}

int main(void)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 4, .max_sge = 1 } };
	struct ibv_td_init_attr ta = {};
	struct counts c = {};
	struct ibv_srq *srq;
	struct ibv_pd *real;
	struct ibv_td *td;
	struct svt_ep a, b;
	struct svt_daemon d;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&b);
	test_td_rules(b.ctx, b.pd);
	test_use_default(&b);
	a.ctx = b.ctx;
	real = ibv_alloc_pd(a.ctx);
	td = ibv_alloc_td(a.ctx, &ta);
	SVT_CHECK(real && td);
	a.pd = parent(a.ctx, real, td, &c);
	SVT_CHECK(a.pd);
	a.cq = cq_on(a.ctx, a.pd);
	SVT_CHECK(a.cq && c.alloc == 2 && c.live == 2); /* state + ring */
	svt_ep_make(&a);
	SVT_CHECK(c.alloc == 4 && c.live == 4 && a.qp->pd == a.pd);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	traffic(&a, &b);
	srq = ibv_create_srq(a.pd, &sa);
	SVT_CHECK(srq && c.alloc == 6 && c.live == 6);
	SVT_CHECK(!ibv_destroy_srq(srq) && c.free == 2 && c.live == 4);
	SVT_CHECK(ibv_dealloc_pd(a.pd) == EBUSY); /* its allocator's objects */
	SVT_CHECK(!ibv_destroy_qp(a.qp) && !ibv_destroy_cq(a.cq));
	SVT_CHECK(c.free == 6 && c.live == 0);
	SVT_CHECK(!ibv_dealloc_pd(a.pd) && !ibv_dealloc_td(td));
	SVT_CHECK(!ibv_dealloc_pd(real));
	svt_daemon_stop(&d);
	printf("test_td: pass\n");
	return SVT_PASS;
}
