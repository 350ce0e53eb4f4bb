// SPDX-License-Identifier: MIT
/*
 * Issue 17: SENDs from a QP whose send CQ has a completion channel
 * (docs/direct-path.md, "SEND"). Two QPs of one process, a -> b; a's
 * send CQ has a channel:
 *   - while that CQ is not armed, an 8 B SEND is direct: with the daemon
 *     stopped it completes on both sides (path on), on neither (off);
 *     payload checked;
 *   - armed, a SEND's completion still wakes a thread asleep in
 *     ibv_get_cq_event on that channel (the daemon path raises it), and
 *     the completion is there to poll after the event;
 *   - many SENDs in a row with the CQ armed now and then arrive in order;
 *   - the same for signaled RDMA WRITEs;
 *   - armed, a SEND or WRITE takes the daemon path (with the daemon
 *     stopped it waits; its engine raises the event when it runs again);
 *   - armed while a direct 4 MiB WRITE is being copied (after it found
 *     the CQ unarmed): a thread that then finds the CQ empty and sleeps
 *     is woken (the library asks the daemon for the event at the
 *     completion, SV_METHOD_DIRECT_CQ_NOTIFY), 20 times.
 * "off" as argv[1] runs it all with SOFTVERBS_DIRECT=0.
 */
#include <poll.h>
#include <stdlib.h>
#include <pthread.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

struct cpair {
	struct svt_ep a, b;
	struct ibv_comp_channel *ch;
	struct ibv_mr *mr;
	uint8_t buf[12288]; /* SEND sources, receives, WRITE targets */
};

static void cpair_open(struct cpair *p)
{
	svt_ep_open(&p->b);
	p->a = p->b;
	p->ch = ibv_create_comp_channel(p->a.ctx);
	SVT_CHECK(p->ch);
	p->a.cq = ibv_create_cq(p->a.ctx, 256, NULL, p->ch, 0);
	SVT_CHECK(p->a.cq);
	svt_ep_make(&p->a);
	p->mr = ibv_reg_mr(p->a.pd, p->buf, sizeof(p->buf),
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(p->mr);
	svt_ep_connect(&p->a, p->b.qp->qp_num);
	svt_ep_connect(&p->b, p->a.qp->qp_num);
}

static void cpair_close(struct cpair *p)
{
	SVT_CHECK(!ibv_destroy_qp(p->a.qp) && !ibv_destroy_qp(p->b.qp));
	SVT_CHECK(!ibv_dereg_mr(p->mr));
	SVT_CHECK(!ibv_destroy_cq(p->a.cq) && !ibv_destroy_cq(p->b.cq));
	SVT_CHECK(!ibv_destroy_comp_channel(p->ch));
	SVT_CHECK(!ibv_dealloc_pd(p->a.pd) && !ibv_close_device(p->a.ctx));
}

/* b's receive k into buf[4096 + 64 k]; a's SEND k of 8 B from buf[8 k]. */
static void post_pair(struct cpair *p, uint32_t k)
{
	struct ibv_sge rs = { (uintptr_t)p->buf + 4096 + 64 * (k % 64), 64,
			      p->mr->lkey };
	struct ibv_sge ss = { (uintptr_t)p->buf + 8 * (k % 64), 8,
			      p->mr->lkey };
	struct ibv_recv_wr rwr = { .wr_id = k, .sg_list = &rs, .num_sge = 1 },
			   *rbad;
	struct ibv_send_wr wr = { .wr_id = k, .sg_list = &ss, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	memset(p->buf + 8 * (k % 64), (int)(k * 7 + 1), 8);
	SVT_CHECK(!ibv_post_recv(p->b.qp, &rwr, &rbad));
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
}

static void check_recv(struct cpair *p, const struct ibv_wc *wc, uint32_t k)
{
	const uint8_t *r = p->buf + 4096 + 64 * (k % 64);
	int i;

	SVT_CHECK(wc->status == IBV_WC_SUCCESS && wc->wr_id == k &&
		  wc->opcode == IBV_WC_RECV && wc->byte_len == 8);
	for (i = 0; i < 8; i++)
		SVT_CHECK(r[i] == (uint8_t)(k * 7 + 1));
}

/* a's signaled 8 B WRITE k from buf[8 k] to buf[8192 + 8 k]. */
static void post_write(struct cpair *p, uint32_t k)
{
	struct ibv_sge ss = { (uintptr_t)p->buf + 8 * (k % 64), 8,
			      p->mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = k, .sg_list = &ss, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { (uintptr_t)p->buf + 8192 + 8 * (k % 64),
			     p->mr->rkey } }, *bad;

	memset(p->buf + 8 * (k % 64), (int)(k * 5 + 3), 8);
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
}

static void check_written(struct cpair *p, const struct ibv_wc *wc,
			  uint32_t k)
{
	const uint8_t *t = p->buf + 8192 + 8 * (k % 64);
	int i;

	SVT_CHECK(wc->status == IBV_WC_SUCCESS && wc->wr_id == k &&
		  wc->opcode == IBV_WC_RDMA_WRITE);
	for (i = 0; i < 8; i++)
		SVT_CHECK(t[i] == (uint8_t)(k * 5 + 3));
}

static void check_sent(const struct ibv_wc *wc, uint32_t k)
{
	SVT_CHECK(wc->status == IBV_WC_SUCCESS && wc->wr_id == k &&
		  wc->opcode == IBV_WC_SEND);
}

/* Not armed, the daemon stopped: direct (on) or waiting (off). */
static void unarmed_direct(struct cpair *p, pid_t daemon, bool on)
{
	struct ibv_wc ws, wr;
	int got_s, got_r;

	post_pair(p, 1); /* first traffic: the grant and the ring */
	wr = svt_poll1(p->a.cq);
	check_sent(&wr, 1);
	wr = svt_poll1(p->b.cq);
	check_recv(p, &wr, 1);
	svt_dx_stop_daemon(daemon);
	post_pair(p, 2);
	got_s = svt_dx_poll_ms(p->a.cq, &ws, 500);
	got_r = svt_dx_poll_ms(p->b.cq, &wr, 500);
	SVT_CHECK(!kill(daemon, SIGCONT));
	printf("send CQ with a channel, not armed, daemon stopped: SEND %s, "
	       "receive %s\n", got_s ? "completed" : "waited",
	       got_r ? "completed" : "waited");
	SVT_CHECK(got_s == on && got_r == on);
	if (!got_s)
		ws = svt_poll1(p->a.cq);
	if (!got_r)
		wr = svt_poll1(p->b.cq);
	check_sent(&ws, 2);
	check_recv(p, &wr, 2);
}

/* A WRITE on the same CQ, not armed, the daemon stopped. */
static void unarmed_write_direct(struct cpair *p, pid_t daemon, bool on)
{
	struct ibv_wc wc;
	int got;

	post_write(p, 0); /* first WRITE: the target's memory handle */
	wc = svt_poll1(p->a.cq);
	check_written(p, &wc, 0);
	svt_dx_stop_daemon(daemon);
	post_write(p, 1);
	got = svt_dx_poll_ms(p->a.cq, &wc, 500);
	SVT_CHECK(!kill(daemon, SIGCONT));
	printf("send CQ with a channel, not armed, daemon stopped: WRITE %s\n",
	       got ? "completed" : "waited");
	SVT_CHECK(got == on);
	if (!got)
		wc = svt_poll1(p->a.cq);
	check_written(p, &wc, 1);
}

struct sleeper {
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
	volatile int woken;
};

static void *sleep_on_channel(void *arg)
{
	struct sleeper *s = arg;
	void *ctx;

	SVT_CHECK(!ibv_get_cq_event(s->ch, &s->cq, &ctx));
	ibv_ack_cq_events(s->cq, 1);
	s->woken = 1;
	return NULL;
}

/* a's work request k: a SEND (and b's receive) or a WRITE. */
static void post_one(struct cpair *p, uint32_t k, bool write)
{
	if (write)
		post_write(p, k);
	else
		post_pair(p, k);
}

/* Its completion wc on a's CQ, checked; a SEND's receive polled too. */
static void check_one(struct cpair *p, const struct ibv_wc *wc, uint32_t k,
		      bool write)
{
	struct ibv_wc rw;

	if (write) {
		check_written(p, wc, k);
		return;
	}
	check_sent(wc, k);
	rw = svt_poll1(p->b.cq);
	check_recv(p, &rw, k);
}

/* Armed: the completion of a SEND or WRITE raises the event. */
static void armed_wakes(struct cpair *p, uint32_t k, bool write)
{
	struct sleeper s = { p->ch, NULL, 0 };
	struct ibv_wc wc;
	pthread_t t;
	int i;

	SVT_CHECK(!ibv_req_notify_cq(p->a.cq, 0));
	SVT_CHECK(!pthread_create(&t, NULL, sleep_on_channel, &s));
	usleep(10000);
	post_one(p, k, write);
	for (i = 0; i < 10000 && !s.woken; i++)
		usleep(1000);
	if (!s.woken)
		printf("%s %u: the sleeper on the send CQ was NOT woken\n",
		       write ? "WRITE" : "SEND", k);
	SVT_CHECK(s.woken && s.cq == p->a.cq);
	SVT_CHECK(!pthread_join(t, NULL));
	SVT_CHECK(ibv_poll_cq(p->a.cq, 1, &wc) == 1);
	check_one(p, &wc, k, write);
}

struct poster {
	struct cpair *p;
	uint32_t k;
	bool write;
};

static void *post_thread(void *arg)
{
	struct poster *t = arg;

	post_one(t->p, t->k, t->write);
	return NULL;
}

/*
 * Armed, the daemon stopped: the work request (posted in a thread) takes
 * the daemon path, and waits; the event comes when the daemon runs.
 * Either way the arm's event comes when the daemon runs again.
 */
static void armed_direct(struct cpair *p, pid_t daemon, bool on, bool write,
			 uint32_t k)
{
	struct poster t = { p, k, write };
	struct pollfd pfd = { .fd = p->ch->fd, .events = POLLIN };
	struct ibv_cq *ecq;
	struct ibv_wc wc;
	pthread_t th;
	void *ectx;
	int got;

	SVT_CHECK(!ibv_req_notify_cq(p->a.cq, 0));
	svt_dx_stop_daemon(daemon);
	SVT_CHECK(!pthread_create(&th, NULL, post_thread, &t));
	got = svt_dx_poll_ms(p->a.cq, &wc, 500);
	SVT_CHECK(!kill(daemon, SIGCONT));
	SVT_CHECK(!pthread_join(th, NULL));
	printf("send CQ armed, daemon stopped: %s %s\n",
	       write ? "WRITE" : "SEND", got ? "completed" : "waited");
	SVT_CHECK(!got);
	if (!got)
		wc = svt_poll1(p->a.cq);
	check_one(p, &wc, k, write);
	SVT_CHECK(poll(&pfd, 1, 5000) == 1);
	SVT_CHECK(!ibv_get_cq_event(p->ch, &ecq, &ectx) && ecq == p->a.cq);
	ibv_ack_cq_events(ecq, 1);
}

struct big {
	struct cpair *p;
	struct ibv_mr *mr;
	uint8_t *buf; /* 8 MiB: the source, then the target */
	volatile int posting;
	uint32_t k;
};

#define BIG (4U << 20)

static void *big_write(void *arg)
{
	struct big *b = arg;
	struct ibv_sge sg = { (uintptr_t)b->buf, BIG, b->mr->lkey };
	struct ibv_send_wr wr = {
		.wr_id = b->k, .sg_list = &sg, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { (uintptr_t)b->buf + BIG, b->mr->rkey } }, *bad;

	b->posting = 1;
	SVT_CHECK(!ibv_post_send(b->p->a.qp, &wr, &bad));
	return NULL;
}

/*
 * One trial: a thread posts a 4 MiB WRITE; 100 us later (inside its copy)
 * we arm and poll. Empty: we sleep on the channel, and the event must
 * come (then the completion is there). 1 if it was such a trial, 0 if
 * the completion was there already (it proves nothing about the event).
 */
static int arm_mid_write(struct big *b)
{
	struct pollfd pfd = { .fd = b->p->ch->fd, .events = POLLIN };
	struct ibv_cq *ecq;
	struct ibv_wc wc;
	pthread_t th;
	void *ectx;
	int n;

	memset(b->buf, (int)b->k, BIG);
	b->posting = 0;
	SVT_CHECK(!pthread_create(&th, NULL, big_write, b));
	while (!b->posting)
		;
	usleep(100);
	SVT_CHECK(!ibv_req_notify_cq(b->p->a.cq, 0));
	n = ibv_poll_cq(b->p->a.cq, 1, &wc);
	SVT_CHECK(n >= 0);
	if (!n) {
		if (poll(&pfd, 1, 5000) != 1)
			printf("4 MiB WRITE %u: armed mid-copy, NOT woken\n", b->k);
		SVT_CHECK(pfd.revents & POLLIN);
		SVT_CHECK(!ibv_get_cq_event(b->p->ch, &ecq, &ectx));
		ibv_ack_cq_events(ecq, 1);
		wc = svt_poll1(b->p->a.cq);
	}
	SVT_CHECK(!pthread_join(th, NULL));
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == b->k);
	SVT_CHECK(b->buf[BIG] == (uint8_t)b->k &&
		  b->buf[2 * BIG - 1] == (uint8_t)b->k);
	if (n) { /* a later arm's event may still come: take it now */
		if (poll(&pfd, 1, 0) == 1) {
			SVT_CHECK(!ibv_get_cq_event(b->p->ch, &ecq, &ectx));
			ibv_ack_cq_events(ecq, 1);
		}
	}
	return !n;
}

static void arm_mid_writes(struct cpair *p)
{
	struct big b = { .p = p };
	int slept = 0, tries = 0;

	b.buf = malloc(2 * BIG);
	SVT_CHECK(b.buf);
	b.mr = ibv_reg_mr(p->a.pd, b.buf, 2 * BIG,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(b.mr);
	for (b.k = 1; slept < 20 && tries < 200; b.k++, tries++)
		slept += arm_mid_write(&b);
	printf("armed mid-copy of a 4 MiB WRITE: %d of %d trials slept, "
	       "each woken\n", slept, tries);
	SVT_CHECK(slept >= 1);
	SVT_CHECK(!ibv_dereg_mr(b.mr));
	free(b.buf);
}

int main(int argc, char **argv)
{
	bool on = !(argc > 1 && !strcmp(argv[1], "off"));
	struct svt_daemon d;
	struct cpair p;
	struct ibv_wc wc;
	uint32_t k;

	setenv("SOFTVERBS_DIRECT", on ? "1" : "0", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	cpair_open(&p);
	unarmed_direct(&p, d.pid, on);
	armed_wakes(&p, 3, false);
	/* A stream, armed every 8th SEND (each time woken): in order. */
	for (k = 4; k < 100; k++) {
		if (k % 8 == 0) {
			armed_wakes(&p, k, false);
			continue;
		}
		post_pair(&p, k);
		wc = svt_poll1(p.a.cq);
		check_sent(&wc, k);
		wc = svt_poll1(p.b.cq);
		check_recv(&p, &wc, k);
	}
	printf("96 SENDs, every 8th with the send CQ armed: woken, in order\n");
	unarmed_write_direct(&p, d.pid, on);
	for (k = 2; k < 50; k++) {
		if (k % 4 == 0) {
			armed_wakes(&p, k, true);
			continue;
		}
		post_write(&p, k);
		wc = svt_poll1(p.a.cq);
		check_written(&p, &wc, k);
	}
	printf("48 WRITEs, every 4th with the send CQ armed: woken, in order\n");
	armed_direct(&p, d.pid, on, false, 60);
	armed_direct(&p, d.pid, on, true, 61);
	arm_mid_writes(&p);
	cpair_close(&p);
	printf("SENDs with a channel on the send CQ, path %s: PASS\n",
	       on ? "on" : "off");
	return SVT_PASS;
}
