// SPDX-License-Identifier: MIT
/*
 * Issue 18: a connected QP takes packets only from its peer, and every
 * refusal is counted where an operator can see it (`softverbs dev show`).
 * On the RoCE device softverbs0 and on an InfiniBand device ib0:
 *  - a foreign QP of the same user aimed at b (connected to a) with the
 *    right PSN (b expects 0, the attacker starts at 0): its WRITE with the
 *    right rkey, and one with a wrong rkey, end in RETRY_EXC_ERR; b's
 *    memory is untouched, b stays in RTS, and a's first WRITE at PSN 0
 *    still lands (b's expected PSN did not move). The responder counts
 *    them: foreign_drops goes from 0 to at least 2;
 *  - the right QP at the wrong address: b2 is connected to a2's QP number
 *    but its path names another source (RoCE: another GID of the port;
 *    IB: another LID). a2's WRITE is refused before the responder and
 *    counted in refused=; b2 is untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"
#include "svt_cli.h"
#include "svt_ep.h"

#define LEN 8192

struct side {
	struct svt_ep e;
	struct ibv_mr *mr;
	uint8_t *buf;
};

static void side_make(struct side *s, const struct svt_ep *base)
{
	s->e = *base;
	s->e.cq = NULL;
	svt_ep_make(&s->e);
	s->buf = aligned_alloc(4096, LEN);
	SVT_CHECK(s->buf);
	memset(s->buf, 0x5a, LEN);
	s->mr = ibv_reg_mr(s->e.pd, s->buf, LEN,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ);
	SVT_CHECK(s->mr);
}

static enum ibv_qp_state qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_init_attr ia;
	struct ibv_qp_attr a;

	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE, &ia));
	return a.qp_state;
}

static enum ibv_wc_status write_to(struct side *from, const struct side *to,
				   uint32_t rkey, uint8_t fill)
{
	struct ibv_sge s = { (uintptr_t)from->buf, LEN, from->mr->lkey };

	memset(from->buf, fill, LEN);
	return svt_rdma(&from->e, IBV_WR_RDMA_WRITE, &s, (uintptr_t)to->buf,
			rkey, 0, 0);
}

static void untouched(const struct side *s)
{
	for (int i = 0; i < LEN; i++)
		SVT_CHECK(s->buf[i] == 0x5a);
	SVT_CHECK(qp_state(s->e.qp) == IBV_QPS_RTS);
}

/* A fresh foreign QP aimed at b, PSN 0 (what b expects). */
static void attack(const struct svt_ep *base, const struct side *b,
		   uint32_t rkey)
{
	struct side c;

	side_make(&c, base);
	svt_ep_connect(&c.e, b->e.qp->qp_num);
	SVT_CHECK(write_to(&c, b, rkey, 0xee) == IBV_WC_RETRY_EXC_ERR);
	untouched(b);
}

static void foreign_qp(const char *dev, const struct svt_ep *base)
{
	struct side a, b;

	side_make(&a, base);
	side_make(&b, base);
	svt_ep_connect(&a.e, b.e.qp->qp_num);
	svt_ep_connect(&b.e, a.e.qp->qp_num);
	SVT_CHECK(svt_dev_counter(dev, "foreign_drops") == 0);
	attack(base, &b, b.mr->rkey);
	attack(base, &b, b.mr->rkey ^ 0x100); /* a wrong key, right PSN */
	SVT_CHECK(svt_dev_counter(dev, "foreign_drops") >= 2);
	SVT_CHECK(svt_dev_counter(dev, "refused") == 0);
	/* a's first packet has PSN 0: b still expects it. */
	SVT_CHECK(write_to(&a, &b, b.mr->rkey, 0x11) == IBV_WC_SUCCESS);
	SVT_CHECK(b.buf[0] == 0x11 && b.buf[LEN - 1] == 0x11);
}

/* Another source address of this port than base's (RoCE: a GID index). */
static int other_gid(const struct svt_ep *base)
{
	union ibv_gid g;

	for (int i = 0; i < 16; i++) {
		if (ibv_query_gid(base->ctx, 1, i, &g))
			break;
		if (i != base->gid_index && (g.global.interface_id ||
					     g.global.subnet_prefix) &&
		    memcmp(&g, &base->gid, sizeof(g)))
			return i;
	}
	fprintf(stderr, "FAIL: the port has a single GID\n");
	exit(SVT_FAIL);
}

static void wrong_path(const char *dev, const struct svt_ep *base)
{
	struct side a2, b2;
	unsigned long before = svt_dev_counter(dev, "refused");

	side_make(&a2, base);
	side_make(&b2, base);
	/* a2 sends from another source than b2's path names. */
	if (base->gid_index >= 0)
		a2.e.gid_index = other_gid(base);
	else
		b2.e.lid = (uint16_t)(base->lid + 1);
	svt_ep_connect(&a2.e, b2.e.qp->qp_num);
	svt_ep_connect(&b2.e, a2.e.qp->qp_num);
	SVT_CHECK(write_to(&a2, &b2, b2.mr->rkey, 0xee) ==
		  IBV_WC_RETRY_EXC_ERR);
	untouched(&b2);
	SVT_CHECK(svt_dev_counter(dev, "refused") > before);
}

static void run(const char *dev)
{
	struct svt_ep base;

	base.ctx = svt_open_dev(dev);
	base.pd = ibv_alloc_pd(base.ctx);
	SVT_CHECK(base.pd);
	base.cq = NULL;
	svt_ep_make(&base);
	foreign_qp(dev, &base);
	wrong_path(dev, &base);
	printf("%s: foreign QP and foreign address refused and counted\n",
	       dev);
}

int main(void)
{
	struct svt_daemon d;
	char cmd[600];

	svt_daemon_start(&d);
	run("softverbs0");
	snprintf(cmd, sizeof(cmd), "%s/softverbs dev add ib0 type ib",
		 SVT_BINDIR);
	SVT_CHECK(!system(cmd));
	run("ib0");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
