// SPDX-License-Identifier: MIT
/*
 * On-demand paging (docs/odp.md): an IBV_ACCESS_ON_DEMAND MR over 64 GiB of
 * address space that is never touched except for a sparse set of pages,
 * as the remote and the local side of RDMA WRITE/READ; an implicit MR
 * (NULL, SIZE_MAX) used across many separate mallocs; UC SEND/RECV and
 * WRITE on sparse ODP pages; a page unmapped
 * inside an ODP MR gives an error completion (remote and local) and the
 * daemon keeps serving; ibv_advise_mr in each mode (it faults the pages
 * in: mincore sees them; PREFETCH_WRITE for writing: pagemap sees them
 * exclusive) and its errnos.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_pagemap.h"

#define BIG SVT_BIG
#define NPAGES SVT_NSPARSE
#define PG 4096ULL

#define ODP_RW                                                         \
	(IBV_ACCESS_ON_DEMAND | IBV_ACCESS_LOCAL_WRITE |                \
	 IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |             \
	 IBV_ACCESS_REMOTE_ATOMIC)

static struct ibv_sge sge(void *addr, uint32_t len, uint32_t lkey)
{
	struct ibv_sge s = { (uintptr_t)addr, len, lkey };

	return s;
}

/* a writes then reads every sparse page of b's 64 GiB ODP region. */
static void test_sparse(struct svt_ep *a, struct svt_ep *b)
{
	uint8_t *big = svt_reserve_sparse(), *lbig = svt_reserve_sparse();
	uint8_t *buf = malloc(PG);
	struct ibv_mr *rmr, *lmr, *bmr;
	struct ibv_sge s;
	int i;

	SVT_CHECK(buf);
	rmr = ibv_reg_mr(b->pd, big, BIG, ODP_RW);
	lmr = ibv_reg_mr(a->pd, lbig, BIG, ODP_RW);
	bmr = ibv_reg_mr(a->pd, buf, PG, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(rmr && lmr && bmr);
	for (i = 0; i < NPAGES; i++) {
		uint8_t *r = big + svt_sparse_off(i), *l = lbig + svt_sparse_off(i);

		memset(buf, 0x40 + i, PG);
		s = sge(buf, PG, bmr->lkey);
		SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)r,
				   rmr->rkey, 0, 0) == IBV_WC_SUCCESS);
		SVT_CHECK(r[0] == 0x40 + i && r[PG - 1] == 0x40 + i);
		/* The local side in a sparse ODP region too. */
		s = sge(l, PG, lmr->lkey);
		SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_READ, &s, (uintptr_t)r,
				   rmr->rkey, 0, 0) == IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(l, r, PG));
	}
	SVT_CHECK(!ibv_dereg_mr(rmr) && !ibv_dereg_mr(lmr) &&
		  !ibv_dereg_mr(bmr));
	munmap(big, BIG);
	munmap(lbig, BIG);
	free(buf);
}

#define NMALLOC 64

/* One implicit MR per side; every malloc reachable by its own address. */
static void test_implicit(struct svt_ep *a, struct svt_ep *b)
{
	struct ibv_mr *lmr = ibv_reg_mr(a->pd, NULL, SIZE_MAX, ODP_RW);
	struct ibv_mr *rmr = ibv_reg_mr(b->pd, NULL, SIZE_MAX, ODP_RW);
	uint64_t *src[NMALLOC], *dst[NMALLOC];
	struct ibv_sge s;
	int i;

	SVT_CHECK(lmr && rmr);
	/* Not ODP, or an IOVA: refused as mlx5 does. */
	SVT_CHECK(!ibv_reg_mr(a->pd, NULL, SIZE_MAX, IBV_ACCESS_LOCAL_WRITE) &&
		  errno == EINVAL);
	for (i = 0; i < NMALLOC; i++) {
		size_t n = 8 + (size_t)i * 1000;

		src[i] = malloc(n);
		dst[i] = calloc(1, n);
		SVT_CHECK(src[i] && dst[i]);
		memset(src[i], i + 1, n);
		s = sge(src[i], (uint32_t)n, lmr->lkey);
		SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s,
				   (uintptr_t)dst[i], rmr->rkey, 0,
				   0) == IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(src[i], dst[i], n));
		s = sge(src[i], 8, lmr->lkey);
		SVT_CHECK(svt_rdma(a, IBV_WR_ATOMIC_FETCH_AND_ADD, &s,
				   (uintptr_t)dst[i], rmr->rkey, 0,
				   1) == IBV_WC_SUCCESS);
		SVT_CHECK(dst[i][0] == src[i][0] + 1);
	}
	for (i = 0; i < NMALLOC; i++) {
		free(src[i]);
		free(dst[i]);
	}
	SVT_CHECK(!ibv_dereg_mr(lmr) && !ibv_dereg_mr(rmr));
}

/* After an error completion: back to RESET, drain, reconnect. */
static void reconnect(struct svt_ep *a, struct svt_ep *b)
{
	struct ibv_qp_attr r = { .qp_state = IBV_QPS_RESET };
	struct ibv_wc wc;

	SVT_CHECK(!ibv_modify_qp(a->qp, &r, IBV_QP_STATE));
	SVT_CHECK(!ibv_modify_qp(b->qp, &r, IBV_QP_STATE));
	while (ibv_poll_cq(a->cq, 1, &wc) > 0 || ibv_poll_cq(b->cq, 1, &wc) > 0)
		;
	svt_ep_connect(a, b->qp->qp_num);
	svt_ep_connect(b, a->qp->qp_num);
}

/* A hole punched in an ODP region: the access fails, nothing else. */
static void test_unmapped(struct svt_ep *a, struct svt_ep *b)
{
	uint8_t *rbuf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *lbuf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ibv_mr *rmr, *lmr;
	enum ibv_wc_status st;
	struct ibv_sge s;

	SVT_CHECK(rbuf != MAP_FAILED && lbuf != MAP_FAILED);
	rmr = ibv_reg_mr(b->pd, rbuf, 4 * PG, ODP_RW);
	lmr = ibv_reg_mr(a->pd, lbuf, 4 * PG, ODP_RW);
	SVT_CHECK(rmr && lmr);
	SVT_CHECK(!munmap(rbuf + PG, PG) && !munmap(lbuf + PG, PG));
	s = sge(lbuf, 64, lmr->lkey);
	st = svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)rbuf + PG,
		      rmr->rkey, 0, 0);
	fprintf(stderr, "remote hole: %s\n", ibv_wc_status_str(st));
	SVT_CHECK(st == IBV_WC_REM_ACCESS_ERR);
	reconnect(a, b);
	s = sge(lbuf + PG, 64, lmr->lkey);
	st = svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)rbuf, rmr->rkey, 0,
		      0);
	fprintf(stderr, "local hole: %s\n", ibv_wc_status_str(st));
	SVT_CHECK(st == IBV_WC_LOC_PROT_ERR);
	reconnect(a, b);
	/* The rest of both regions still works. */
	memset(lbuf + 2 * PG, 0x5a, PG);
	s = sge(lbuf + 2 * PG, PG, lmr->lkey);
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)rbuf + 3 * PG,
			   rmr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(rbuf[3 * PG] == 0x5a && rbuf[4 * PG - 1] == 0x5a);
	SVT_CHECK(!ibv_dereg_mr(rmr) && !ibv_dereg_mr(lmr));
}

static int advise(struct ibv_pd *pd, int advice, uint32_t flags, void *addr,
		  uint32_t len, uint32_t lkey)
{
	struct ibv_sge s = { (uintptr_t)addr, len, lkey };

	return ibv_advise_mr(pd, (enum ibv_advise_mr_advice)advice, flags, &s,
			     1);
}

static int resident_pages(void *p, size_t n)
{
	unsigned char v[16];
	int i, r = 0;

	SVT_CHECK(n <= 16 && !mincore(p, n * PG, v));
	for (i = 0; i < (int)n; i++)
		r += v[i] & 1;
	return r;
}

#define FLUSH IBV_ADVISE_MR_FLAG_FLUSH
#define PF IBV_ADVISE_MR_ADVICE_PREFETCH
#define PFW IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE
#define PFNF IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT

/* Each advice, sync and async: untouched pages become resident. */
static void test_advise_modes(struct ibv_pd *pd)
{
	static const int advice[] = { PF, PFW, PFNF };
	int i, f;

	for (i = 0; i < 3; i++) {
		for (f = 0; f < 2; f++) {
			uint32_t flags = f ? FLUSH : 0;
			uint8_t *p = svt_map_private(8 * PG);
			struct ibv_mr *mr;

			mr = ibv_reg_mr(pd, p, 8 * PG, ODP_RW);
			SVT_CHECK(mr && resident_pages(p, 8) == 0);
			SVT_CHECK(!advise(pd, advice[i], flags, p + 1, 6 * PG,
					  mr->lkey));
			/* NO_FAULT only checks; the others fault 7 pages. */
			SVT_CHECK(resident_pages(p, 8) ==
				  (advice[i] == PFNF ? 0 : 7));
			/* ...and PREFETCH_WRITE for writing (mr_odp.c). */
			SVT_CHECK(svt_written_pages(p, 8) ==
				  (advice[i] == PFW ? 7 : 0));
			SVT_CHECK(!ibv_dereg_mr(mr));
			munmap(p, 8 * PG);
		}
	}
}

/* The kernel's (mlx5's) errnos, and a hole: EFAULT sync, 0 async. */
static void test_advise_errors(struct ibv_pd *pd, struct ibv_pd *other)
{
	uint8_t *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ibv_mr *mr, *plain, *ro;
	struct ibv_sge none[1];

	SVT_CHECK(p != MAP_FAILED);
	mr = ibv_reg_mr(pd, p, 4 * PG, ODP_RW);
	plain = ibv_reg_mr(pd, p, 4 * PG, IBV_ACCESS_LOCAL_WRITE);
	ro = ibv_reg_mr(pd, p, 4 * PG, IBV_ACCESS_ON_DEMAND);
	SVT_CHECK(mr && plain && ro);
	SVT_CHECK(advise(pd, 7, FLUSH, p, PG, mr->lkey) == EOPNOTSUPP);
	SVT_CHECK(advise(pd, PF, 2, p, PG, mr->lkey) == EINVAL);
	SVT_CHECK(ibv_advise_mr(pd, PF, FLUSH, none, 0) == EINVAL);
	SVT_CHECK(advise(pd, PF, FLUSH, p, PG, plain->lkey) == EOPNOTSUPP);
	SVT_CHECK(advise(pd, PF, FLUSH, p, PG, mr->lkey ^ 0x80) == ENOENT);
	SVT_CHECK(advise(other, PF, FLUSH, p, PG, mr->lkey) == ENOENT);
	SVT_CHECK(advise(pd, PFW, FLUSH, p, PG, ro->lkey) == ENOENT);
	SVT_CHECK(advise(pd, PF, FLUSH, p, 5 * PG, mr->lkey) == EFAULT);
	SVT_CHECK(advise(pd, PF, 0, p, 5 * PG, mr->lkey) == EFAULT);
	SVT_CHECK(!munmap(p + 2 * PG, PG));
	SVT_CHECK(advise(pd, PF, FLUSH, p, 4 * PG, mr->lkey) == EFAULT);
	SVT_CHECK(advise(pd, PF, 0, p, 4 * PG, mr->lkey) == 0);
	SVT_CHECK(advise(pd, PFNF, FLUSH, p, 4 * PG, mr->lkey) == 0);
	SVT_CHECK(!ibv_dereg_mr(mr) && !ibv_dereg_mr(plain) &&
		  !ibv_dereg_mr(ro));
	munmap(p, 4 * PG);
}

static struct ibv_qp *uc_qp(struct svt_ep *e)
{
	struct ibv_qp_init_attr a = {
		.send_cq = e->cq, .recv_cq = e->cq, .qp_type = IBV_QPT_UC,
		.cap = { .max_send_wr = 8, .max_recv_wr = 8,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp *qp = ibv_create_qp(e->pd, &a);

	SVT_CHECK(qp);
	return qp;
}

static void uc_connect(struct svt_ep *e, struct ibv_qp *qp, uint32_t dqpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE,
	};

	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					 IBV_QP_PORT | IBV_QP_ACCESS_FLAGS));
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_4096;
	a.dest_qp_num = dqpn;
	a.ah_attr.dlid = e->lid;
	a.ah_attr.is_global = e->gid_index >= 0;
	a.ah_attr.grh.dgid = e->gid;
	a.ah_attr.grh.sgid_index = (uint8_t)e->gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
					 IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
					 IBV_QP_RQ_PSN));
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN));
}

/* UC over fresh ODP pages on both sides: SEND/RECV and RDMA WRITE. */
static void test_uc(struct svt_ep *a, struct svt_ep *b)
{
	uint8_t *src = svt_reserve_sparse(), *dst = svt_reserve_sparse();
	struct ibv_qp *qa = uc_qp(a), *qb = uc_qp(b);
	struct ibv_mr *smr = ibv_reg_mr(a->pd, src, BIG, ODP_RW);
	struct ibv_mr *dmr = ibv_reg_mr(b->pd, dst, BIG, ODP_RW);
	uint8_t *s = src + svt_sparse_off(3), *d = dst + svt_sparse_off(5);
	struct ibv_sge ss = sge(s, PG, smr->lkey), rs = sge(d, PG, dmr->lkey);
	struct ibv_recv_wr rwr = { .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_send_wr wr = { .sg_list = &ss, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	SVT_CHECK(smr && dmr);
	uc_connect(a, qa, qb->qp_num);
	uc_connect(b, qb, qa->qp_num);
	memset(s, 0x77, PG);
	SVT_CHECK(!ibv_post_recv(qb, &rwr, &rbad));
	SVT_CHECK(!ibv_post_send(qa, &wr, &bad));
	SVT_CHECK(svt_poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(svt_poll1(b->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(s, d, PG));
	memset(s, 0x33, PG);
	wr.opcode = IBV_WR_RDMA_WRITE;
	wr.wr.rdma.remote_addr = (uintptr_t)(dst + svt_sparse_off(1));
	wr.wr.rdma.rkey = dmr->rkey;
	SVT_CHECK(!ibv_post_send(qa, &wr, &bad));
	SVT_CHECK(svt_poll1(a->cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(s, dst + svt_sparse_off(1), PG));
	SVT_CHECK(!ibv_destroy_qp(qa) && !ibv_destroy_qp(qb));
	SVT_CHECK(!ibv_dereg_mr(smr) && !ibv_dereg_mr(dmr));
	munmap(src, BIG);
	munmap(dst, BIG);
}

/* What std_device.c reports; the traffic below and rdma-core's test_odp
 * exercise each bit. */
static void test_caps(struct ibv_context *ctx)
{
	uint32_t all = IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV |
		       IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ |
		       IBV_ODP_SUPPORT_ATOMIC | IBV_ODP_SUPPORT_SRQ_RECV;
	struct ibv_device_attr_ex dx;

	SVT_CHECK(!ibv_query_device_ex(ctx, NULL, &dx));
	SVT_CHECK(dx.odp_caps.general_caps ==
		  (IBV_ODP_SUPPORT | IBV_ODP_SUPPORT_IMPLICIT));
	SVT_CHECK(dx.odp_caps.per_transport_caps.rc_odp_caps == all);
	SVT_CHECK(dx.xrc_odp_caps ==
		  (IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_SRQ_RECV));
	SVT_CHECK(dx.odp_caps.per_transport_caps.ud_odp_caps ==
		  IBV_ODP_SUPPORT_SEND);
	SVT_CHECK(dx.odp_caps.per_transport_caps.uc_odp_caps ==
		  (IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV |
		   IBV_ODP_SUPPORT_WRITE));
}

int main(void)
{
	struct svt_ep a, b;
	struct svt_daemon d;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&a);
	svt_ep_open(&b);
	test_caps(a.ctx);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	test_sparse(&a, &b);
	test_implicit(&a, &b);
	test_uc(&a, &b);
	test_unmapped(&a, &b);
	test_advise_modes(a.pd);
	test_advise_errors(a.pd, b.pd);
	SVT_CHECK(waitpid(d.pid, NULL, WNOHANG) == 0); /* daemon alive */
	svt_daemon_stop(&d);
	puts("test_odp: ok");
	return SVT_PASS;
}
