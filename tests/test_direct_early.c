// SPDX-License-Identifier: MIT
/*
 * Issue 17: the grant asked for in the background when an RC QP reaches
 * RTS (lib/providers/softverbs/direct_early.c, docs/direct-path.md "The
 * grant"). What must hold whatever the background thread is doing:
 *   - 200 QP pairs connected and destroyed at once, never used (the ask
 *     queued, under way, or not yet made; more than its queue holds):
 *     nothing breaks, and under ASan nothing leaks;
 *   - a pair connected, left to be granted, then WRITEs: the right bytes;
 *     again after both QPs went RESET and were connected anew;
 *   - a child forked after its parent's asks starts its own thread: its
 *     own pair connects and WRITEs.
 * With "fifo" (a test of its own): the process pinned to one CPU at
 * SCHED_FIFO 1, pairs written right after they connect, while the ask is
 * under way. The background thread inherits both; a first post that spun
 * on a lock the thread held across the daemon's round trip never let it
 * run again (a livelock: SIGALRM ends the test). Needs the right to use
 * SCHED_FIFO (root or RLIMIT_RTPRIO), else 77.
 */
#include <sched.h>
#include <stdbool.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"

#define LEN 65536

struct pair {
	struct svt_ep a, b;
	uint8_t *abuf, *bbuf;
	struct ibv_mr *amr, *bmr;
};

static void pair_connect(struct pair *p)
{
	svt_ep_connect(&p->a, p->b.qp->qp_num);
	svt_ep_connect(&p->b, p->a.qp->qp_num);
}

static void pair_open(struct pair *p)
{
	svt_ep_open(&p->a);
	p->b.ctx = p->a.ctx;
	p->b.pd = p->a.pd;
	p->b.cq = p->a.cq;
	svt_ep_make(&p->b);
	p->abuf = calloc(1, LEN);
	p->bbuf = calloc(1, LEN);
	SVT_CHECK(p->abuf && p->bbuf);
	p->amr = ibv_reg_mr(p->a.pd, p->abuf, LEN, IBV_ACCESS_LOCAL_WRITE);
	p->bmr = ibv_reg_mr(p->a.pd, p->bbuf, LEN,
			    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(p->amr && p->bmr);
	pair_connect(p);
}

static void pair_close(struct pair *p)
{
	SVT_CHECK(!ibv_destroy_qp(p->a.qp) && !ibv_destroy_qp(p->b.qp));
	SVT_CHECK(!ibv_dereg_mr(p->amr) && !ibv_dereg_mr(p->bmr));
	SVT_CHECK(!ibv_destroy_cq(p->a.cq));
	SVT_CHECK(!ibv_dealloc_pd(p->a.pd));
	SVT_CHECK(!ibv_close_device(p->a.ctx));
	free(p->abuf);
	free(p->bbuf);
}

/* A WRITE of a's buffer into b's, checked byte for byte. */
static void pair_write(struct pair *p, uint8_t seed)
{
	struct ibv_sge s = { (uintptr_t)p->abuf, LEN, p->amr->lkey };
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_wc wc;
	size_t i;

	for (i = 0; i < LEN; i++)
		p->abuf[i] = (uint8_t)(i * 13 + seed);
	wr.wr.rdma.remote_addr = (uintptr_t)p->bbuf;
	wr.wr.rdma.rkey = p->bmr->rkey;
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
	wc = svt_poll1(p->a.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(p->abuf, p->bbuf, LEN));
}

static void to_reset(struct svt_ep *e)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };

	SVT_CHECK(!ibv_modify_qp(e->qp, &a, IBV_QP_STATE));
}

/* Pairs connected and dropped at once: the asks never consumed. */
static void churn(struct pair *p)
{
	int i;

	for (i = 0; i < 200; i++) {
		SVT_CHECK(!ibv_destroy_qp(p->a.qp) && !ibv_destroy_qp(p->b.qp));
		svt_ep_make(&p->a);
		svt_ep_make(&p->b);
		pair_connect(p);
	}
}

/* One CPU, SCHED_FIFO 1: false when this process may not. */
static bool go_fifo(void)
{
	struct sched_param sp = { .sched_priority = 1 };
	cpu_set_t one;
	int cpu = sched_getcpu();

	CPU_ZERO(&one);
	CPU_SET(cpu < 0 ? 0 : cpu, &one);
	return !sched_setaffinity(0, sizeof(one), &one) &&
	       !sched_setscheduler(0, SCHED_FIFO, &sp);
}

/* Pairs posted to at once: the first post meets the ask under way. */
static int fifo_run(struct svt_daemon *d)
{
	struct pair p;
	int i;

	if (!go_fifo()) {
		svt_daemon_stop(d);
		printf("SKIP: SCHED_FIFO not allowed here\n");
		return SVT_SKIP;
	}
	alarm(60);
	for (i = 0; i < 20; i++) {
		memset(&p, 0, sizeof(p));
		pair_open(&p);
		pair_write(&p, (uint8_t)i);
		pair_close(&p);
	}
	svt_daemon_stop(d);
	return SVT_PASS;
}

int main(int argc, char **argv)
{
	struct svt_daemon d;
	struct pair p = {};
	int st;
	pid_t c;

	setenv("SOFTVERBS_DIRECT", "1", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	if (argc > 1 && !strcmp(argv[1], "fifo"))
		return fifo_run(&d);
	pair_open(&p);
	churn(&p);
	usleep(20000); /* time for the thread to ask, or not: both fine */
	pair_write(&p, 1);
	to_reset(&p.a);
	to_reset(&p.b);
	pair_connect(&p);
	pair_write(&p, 2);
	c = fork();
	SVT_CHECK(c >= 0);
	if (!c) {
		struct pair q = {};

		pair_open(&q);
		pair_write(&q, 3);
		pair_close(&q);
		_exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) &&
		  WEXITSTATUS(st) == SVT_PASS);
	pair_write(&p, 4);
	pair_close(&p);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
