// SPDX-License-Identifier: MIT
/*
 * A parent domain's allocator really gives the rings
 * (lib/providers/softverbs/domain_ring.c):
 *  - a posix_memalign allocator is asked for each QP's, CQ's and SRQ's
 *    ring pages (SOFTVERBSDV_RES_TYPE_*_RING, page aligned), the object's
 *    ring is that block (softverbsdv_query_*), the work requests the
 *    library posts and the completions the daemon writes are read back
 *    through the application's own pointer, traffic works, and destroy
 *    hands every block back to free with its type;
 *  - memory that cannot be shared with the daemon (a MAP_SHARED block, an
 *    unaligned one) goes back to free at once, the ring uses the
 *    library's memory (no SOFTVERBSDV_OBJ_RING_FROM_ALLOC) and traffic
 *    still works.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <softverbs/softverbs_dv.h>

#include "svtest.h"
#include "svt_ep.h"

enum kind { ALIGNED, SHARED_MAP, UNALIGNED };

struct rec {
	enum kind kind;
	void *block[8]; /* last block per resource type */
	int allocs[8], frees[8];
	char *arena; /* SHARED_MAP: a bump arena in a MAP_SHARED mapping */
	size_t used;
};

static void *rec_alloc(struct ibv_pd *pd, void *ctx, size_t size,
		       size_t align, uint64_t type)
{
	struct rec *r = ctx;
	void *p = NULL;

	(void)pd;
	SVT_CHECK(type >= 1 && type <= 6);
	if (type >= SOFTVERBSDV_RES_TYPE_QP_RING)
		SVT_CHECK(align == 4096 && size % 4096 == 0);
	if (r->kind == SHARED_MAP && type >= SOFTVERBSDV_RES_TYPE_QP_RING) {
		p = r->arena + r->used;
		r->used += (size + 4095) & ~(size_t)4095;
	} else if (r->kind == UNALIGNED && type >= SOFTVERBSDV_RES_TYPE_QP_RING) {
		char *m = malloc(size + 64);

		p = m ? m + 16 : NULL; /* never page aligned */
	} else if (posix_memalign(&p, align, size)) {
		return NULL;
	}
	r->allocs[type]++;
	r->block[type] = p;
	return p;
}

static void rec_free(struct ibv_pd *pd, void *ctx, void *ptr, uint64_t type)
{
	struct rec *r = ctx;

	(void)pd;
	r->frees[type]++;
	if (r->kind == SHARED_MAP && type >= SOFTVERBSDV_RES_TYPE_QP_RING)
		return;
	if (r->kind == UNALIGNED && type >= SOFTVERBSDV_RES_TYPE_QP_RING)
		ptr = (char *)ptr - 16;
	free(ptr);
}

static struct ibv_pd *parent(struct ibv_pd *pd, struct rec *r)
{
	struct ibv_parent_domain_init_attr a = {
		.pd = pd, .pd_context = r, .alloc = rec_alloc, .free = rec_free,
		.comp_mask = IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS |
			     IBV_PARENT_DOMAIN_INIT_ATTR_PD_CONTEXT,
	};

	return ibv_alloc_parent_domain(pd->context, &a);
}

static struct ibv_cq *cq_on(struct ibv_pd *p)
{
	struct ibv_cq_init_attr_ex a = {
		.cqe = 64, .wc_flags = IBV_WC_STANDARD_FLAGS,
		.comp_mask = IBV_CQ_INIT_ATTR_MASK_PD, .parent_domain = p,
	};
	struct ibv_cq_ex *cq = ibv_create_cq_ex(p->context, &a);

	SVT_CHECK(cq);
	return ibv_cq_ex_to_cq(cq);
}

/* Did the object get the allocator's block as its ring? */
static void check_ring(const struct softverbsdv_obj_attr *o,
		       const struct rec *r, int type)
{
	bool from = o->flags & SOFTVERBSDV_OBJ_RING_FROM_ALLOC;

	SVT_CHECK(r->allocs[type] == 1);
	if (r->kind == ALIGNED) {
		SVT_CHECK(from && o->ring == r->block[type]);
		SVT_CHECK(r->frees[type] == 0);
	} else {
		SVT_CHECK(!from && o->ring != r->block[type]);
		SVT_CHECK(r->frees[type] == 1); /* handed back at once */
	}
}

static void srq_post(struct ibv_srq *srq, struct rec *r)
{
	static char rbuf[64];
	struct ibv_sge s = { (uintptr_t)rbuf, sizeof(rbuf), 0 };
	struct ibv_recv_wr wr = { .wr_id = 0x5eed5eed, .sg_list = &s,
				  .num_sge = 1 },
			   *bad;
	struct ibv_mr *mr = ibv_reg_mr(srq->pd, rbuf, sizeof(rbuf),
				       IBV_ACCESS_LOCAL_WRITE);

	SVT_CHECK(mr);
	s.lkey = mr->lkey;
	SVT_CHECK(!ibv_post_srq_recv(srq, &wr, &bad));
	if (r->kind == ALIGNED) /* the library wrote into our block */
		SVT_CHECK(*(uint64_t *)r->block[SOFTVERBSDV_RES_TYPE_SRQ_RING] ==
			  0x5eed5eed);
	SVT_CHECK(!ibv_dereg_mr(mr));
}

/* RDMA WRITE from the parent-domain QP a to b, seen in our blocks. */
static void traffic(struct svt_ep *a, struct svt_ep *b, struct rec *r)
{
	static char src[256], dst[256];
	struct ibv_mr *smr = ibv_reg_mr(a->pd, src, sizeof(src), 0);
	struct ibv_mr *dmr = ibv_reg_mr(b->pd, dst, sizeof(dst),
					IBV_ACCESS_LOCAL_WRITE |
						IBV_ACCESS_REMOTE_WRITE);
	struct ibv_sge s = { (uintptr_t)src, sizeof(src), 0 };
	int i;

	SVT_CHECK(smr && dmr);
	for (i = 0; i < (int)sizeof(src); i++)
		src[i] = (char)(i * 7 + r->kind);
	s.lkey = smr->lkey;
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)dst, dmr->rkey,
			   0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(src, dst, sizeof(src)));
	if (r->kind == ALIGNED) {
		/* svt_rdma's wr_id is the opcode: in the SQ's first WQE and
		 * in the CQ's first CQE, both in the allocator's blocks */
		SVT_CHECK(*(uint64_t *)r->block[SOFTVERBSDV_RES_TYPE_QP_RING] ==
			  IBV_WR_RDMA_WRITE);
		SVT_CHECK(*(uint64_t *)r->block[SOFTVERBSDV_RES_TYPE_CQ_RING] ==
			  IBV_WR_RDMA_WRITE);
	}
	SVT_CHECK(!ibv_dereg_mr(smr) && !ibv_dereg_mr(dmr));
}

static void run(struct svt_ep *b, enum kind kind)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 8, .max_sge = 1 } };
	struct rec r = { .kind = kind };
	struct softverbsdv_obj_attr o;
	struct svt_ep a = { .ctx = b->ctx };
	struct ibv_srq *srq;
	int t;

	if (kind == SHARED_MAP) {
		r.arena = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		SVT_CHECK(r.arena != MAP_FAILED);
	}
	SVT_CHECK((a.pd = parent(b->pd, &r)));
	a.cq = cq_on(a.pd);
	SVT_CHECK(!softverbsdv_query_cq(a.cq, &o));
	check_ring(&o, &r, SOFTVERBSDV_RES_TYPE_CQ_RING);
	svt_ep_make(&a);
	SVT_CHECK(!softverbsdv_query_qp(a.qp, &o));
	check_ring(&o, &r, SOFTVERBSDV_RES_TYPE_QP_RING);
	SVT_CHECK((srq = ibv_create_srq(a.pd, &sa)));
	SVT_CHECK(!softverbsdv_query_srq(srq, &o));
	check_ring(&o, &r, SOFTVERBSDV_RES_TYPE_SRQ_RING);
	srq_post(srq, &r);
	svt_ep_connect(&a, b->qp->qp_num);
	svt_ep_connect(b, a.qp->qp_num);
	traffic(&a, b, &r);
	SVT_CHECK(!ibv_destroy_srq(srq) && !ibv_destroy_qp(a.qp) &&
		  !ibv_destroy_cq(a.cq) && !ibv_dealloc_pd(a.pd));
	for (t = 1; t <= 6; t++)
		SVT_CHECK(r.allocs[t] == 1 && r.frees[t] == 1);
	/* b's QP is reset for the next round. */
	svt_ep_modify(b, &(struct ibv_qp_attr){ .qp_state = IBV_QPS_RESET },
		      IBV_QP_STATE);
	if (r.arena)
		munmap(r.arena, 1 << 20);
}

int main(void)
{
	struct svt_daemon d;
	struct svt_ep b;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&b);
	run(&b, ALIGNED);
	run(&b, SHARED_MAP);
	run(&b, UNALIGNED);
	run(&b, ALIGNED); /* blocks given back earlier are fine for reuse */
	svt_daemon_stop(&d);
	printf("test_td_alloc: pass\n");
	return SVT_PASS;
}
