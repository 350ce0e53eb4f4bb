// SPDX-License-Identifier: MIT
/*
 * One RC QP posted to from four threads at once: the QP's ring lock is
 * biased to the first thread that posts (lib/providers/softverbs/
 * bias_lock.h), the others borrow it and, after a few borrows, it turns
 * into a plain lock. Nothing may be lost or doubled on the way: each
 * thread WRITEs its own 512 slots of the target (a VA MR: small WRITEs
 * become records for the target's helper on the direct path) and a SEND
 * now and then, every work request signaled; the shared CQ must give
 * exactly one successful completion per work request, and each slot must
 * end at the last value its thread wrote there. Run on both paths
 * (tests/qp.cmake: direct on and off).
 */
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svtest.h"
#include "svt_ep.h"

#define THREADS 4
#define PER_THREAD 20000U
#define SLOTS 512U /* per thread */
#define SEND_EVERY 97U
#define SENDS_PER_THREAD (PER_THREAD / SEND_EVERY + 1)

static struct svt_ep a, b;
static struct ibv_mr *amr, *bmr;
static uint64_t *src; /* [THREADS][PER_THREAD % SLOTS ...] values sent */
static uint64_t *dst; /* the target: [THREADS][SLOTS] */
static uint8_t *rbuf;
static pthread_mutex_t poll_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long wc_count[THREADS];
static _Atomic unsigned long done_total, posted_total;

/* Take one completion (any thread's), count it for the thread it names. */
static void reap_one(void)
{
	struct ibv_wc wc;
	int n;

	pthread_mutex_lock(&poll_lock);
	n = ibv_poll_cq(a.cq, 1, &wc);
	SVT_CHECK(n >= 0);
	if (n) {
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
		SVT_CHECK(wc.wr_id >> 32 < THREADS);
		wc_count[wc.wr_id >> 32]++;
		done_total++;
	}
	pthread_mutex_unlock(&poll_lock);
}

static void post_write(unsigned int t, unsigned int i)
{
	unsigned int slot = t * SLOTS + i % SLOTS;
	uint64_t *s = &src[(size_t)t * PER_THREAD + i];
	struct ibv_sge sg = { (uintptr_t)s, 8, amr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = (uint64_t)t << 32 | i, .sg_list = &sg, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	*s = (uint64_t)t << 32 | i;
	wr.wr.rdma.remote_addr = (uintptr_t)&dst[slot];
	wr.wr.rdma.rkey = bmr->rkey;
	SVT_CHECK(!ibv_post_send(a.qp, &wr, &bad));
}

static void post_send(unsigned int t, unsigned int i)
{
	struct ibv_sge sg = { (uintptr_t)&src[(size_t)t * PER_THREAD + i], 8,
			      amr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = (uint64_t)t << 32 | i, .sg_list = &sg, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;

	SVT_CHECK(!ibv_post_send(a.qp, &wr, &bad));
}

static void *poster(void *arg)
{
	unsigned int t = (unsigned int)(uintptr_t)arg, i;

	for (i = 0; i < PER_THREAD; i++) {
		/* At most 48 + 2 per thread in flight: the SQ holds 64. */
		while (posted_total - done_total > 48)
			reap_one();
		posted_total += 1 + (i % SEND_EVERY == 0);
		post_write(t, i);
		if (i % SEND_EVERY == 0)
			post_send(t, i);
	}
	return NULL;
}

/* Receive i into b's RQ (64 deep: posted as the SENDs use them). */
static void post_recv(unsigned long i)
{
	struct ibv_sge sg = { (uintptr_t)rbuf + (i % 64) * 8, 8, bmr->lkey };
	struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sg, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(b.qp, &wr, &bad));
}

int main(void)
{
	struct svt_daemon d;
	pthread_t th[THREADS];
	unsigned long want = 0, recvd = 0, i, t;
	struct ibv_wc wc;

	svt_start(&d);
	svt_ep_open(&a);
	b.ctx = a.ctx;
	b.pd = a.pd;
	svt_ep_make(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	src = calloc(THREADS * PER_THREAD, 8);
	/* The target's slots, then its receive buffers: one MR. */
	dst = calloc(THREADS * SLOTS + 64, 8);
	SVT_CHECK(src && dst);
	rbuf = (uint8_t *)(dst + THREADS * SLOTS);
	amr = ibv_reg_mr(a.pd, src, THREADS * PER_THREAD * 8,
			 IBV_ACCESS_LOCAL_WRITE);
	bmr = ibv_reg_mr(b.pd, dst, (THREADS * SLOTS + 64) * 8,
			 IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(amr && bmr);
	/* b's receives: 48 now, one more for each SEND that took one. */
	for (i = 0; i < 48; i++)
		post_recv(i);
	for (t = 0; t < THREADS; t++)
		SVT_CHECK(!pthread_create(&th[t], NULL, poster, (void *)t));
	while (recvd < THREADS * SENDS_PER_THREAD) {
		int n = ibv_poll_cq(b.cq, 1, &wc);

		SVT_CHECK(n >= 0);
		if (!n)
			continue;
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.opcode == IBV_WC_RECV && wc.byte_len == 8);
		recvd++;
		if (i < THREADS * SENDS_PER_THREAD)
			post_recv(i++);
	}
	for (t = 0; t < THREADS; t++)
		SVT_CHECK(!pthread_join(th[t], NULL));
	for (t = 0; t < THREADS; t++)
		want += PER_THREAD + SENDS_PER_THREAD;
	while (done_total < want)
		reap_one();
	SVT_CHECK(!ibv_poll_cq(a.cq, 1, &wc)); /* nothing doubled */
	for (t = 0; t < THREADS; t++) {
		SVT_CHECK(wc_count[t] == PER_THREAD + SENDS_PER_THREAD);
		for (i = 0; i < SLOTS; i++) {
			unsigned long last =
				(PER_THREAD - 1 - i) / SLOTS * SLOTS + i;

			if (dst[t * SLOTS + i] != (t << 32 | last)) {
				fprintf(stderr, "thread %lu slot %lu: %#lx\n",
					t, i, (unsigned long)dst[t * SLOTS + i]);
				SVT_CHECK(0);
			}
		}
	}
	printf("%d threads on one QP: %lu work requests, %lu receives: ok\n",
	       THREADS, want, recvd);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
