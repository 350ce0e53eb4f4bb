// SPDX-License-Identifier: MIT
/*
 * Issue 18: key tags and QP numbers are unpredictable *across daemon
 * starts*. The keyed permutation (daemon/verbs/perm.c) draws its keys from
 * getrandom() when softverbsd starts, so two daemons that are asked for
 * exactly the same objects in the same order hand out different numbers:
 * an attacker cannot learn a victim's rkeys or QPNs by running the same
 * program against a daemon of his own (or a restarted one).
 *
 * (tests/unit_ids.c checks the permutation itself: a bijection, its
 * inverse, SipHash's reference vector, one key per domain.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"

#define NMR 8
#define NQP 4

struct numbers {
	uint32_t rkey[NMR], lkey[NMR], qpn[NQP];
};

/* The same objects, in the same order, from a fresh daemon. */
static void numbers_of_one_start(struct numbers *n)
{
	static char buf[NMR][4096];
	struct ibv_qp_init_attr qa = {
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};
	struct ibv_mr *mr[NMR];
	struct ibv_qp *qp[NQP];
	struct svt_daemon d;
	struct ibv_context *ctx = svt_start(&d);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct ibv_cq *cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	int i;

	SVT_CHECK(pd && cq);
	qa.send_cq = qa.recv_cq = cq;
	for (i = 0; i < NMR; i++) {
		mr[i] = ibv_reg_mr(pd, buf[i], sizeof(buf[i]),
				   IBV_ACCESS_LOCAL_WRITE |
					   IBV_ACCESS_REMOTE_WRITE);
		SVT_CHECK(mr[i]);
		n->rkey[i] = mr[i]->rkey;
		n->lkey[i] = mr[i]->lkey;
	}
	for (i = 0; i < NQP; i++) {
		qp[i] = ibv_create_qp(pd, &qa);
		SVT_CHECK(qp[i]);
		n->qpn[i] = qp[i]->qp_num;
	}
	for (i = 0; i < NQP; i++)
		SVT_CHECK(!ibv_destroy_qp(qp[i]));
	for (i = 0; i < NMR; i++)
		SVT_CHECK(!ibv_dereg_mr(mr[i]));
	SVT_CHECK(!ibv_destroy_cq(cq) && !ibv_dealloc_pd(pd));
	SVT_CHECK(!ibv_close_device(ctx));
	svt_daemon_stop(&d);
}

/*
 * Each start in a child of its own: the library keeps the runtime
 * directory it found first, as it keeps /dev/infiniband's.
 */
static void numbers_in_child(struct numbers *n)
{
	int p[2], status;
	pid_t pid;

	SVT_CHECK(!pipe(p));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		numbers_of_one_start(n);
		_exit(write(p[1], n, sizeof(*n)) == sizeof(*n) ? 0 : 1);
	}
	close(p[1]);
	SVT_CHECK(read(p[0], n, sizeof(*n)) == sizeof(*n));
	close(p[0]);
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		  WEXITSTATUS(status) == 0);
}

/* How many positions hold the same number in both runs. */
static int same(const uint32_t *a, const uint32_t *b, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += a[i] == b[i];
	return k;
}

int main(void)
{
	struct numbers a, b;

	numbers_in_child(&a);
	numbers_in_child(&b);
	for (int i = 0; i < NMR; i++)
		printf("mr %d: rkey %08x then %08x\n", i, a.rkey[i], b.rkey[i]);
	for (int i = 0; i < NQP; i++)
		printf("qp %d: qpn %06x then %06x\n", i, a.qpn[i], b.qpn[i]);
	/*
	 * With independent keys each position matches with probability
	 * 2^-24 (QPN) or less (keys): one match is already a 1-in-a-million
	 * event; a repeat of the slot or counter order matches them all.
	 */
	SVT_CHECK(same(a.rkey, b.rkey, NMR) <= 1);
	SVT_CHECK(same(a.lkey, b.lkey, NMR) <= 1);
	SVT_CHECK(same(a.qpn, b.qpn, NQP) <= 1);
	printf("two daemon starts, the same requests: different keys and QPNs\n");
	return SVT_PASS;
}
