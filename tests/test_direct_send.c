// SPDX-License-Identifier: MIT
/*
 * Issue 17: SEND on the same-host direct path (docs/direct-path.md,
 * "SEND"). The parent initiates, a forked child receives:
 *   - payload checksums and completion fields for SEND, SEND_WITH_IMM,
 *     inline, two SGEs on each side, zero length, a SEND too large for
 *     the eager ring (written into its receive) and one whose receive's
 *     first SGE is too small for that (daemon path) between direct ones;
 *   - order: 64 SENDs alternating direct (8 B) and daemon path (6000 B,
 *     held by the engine until the receiver drained the direct one
 *     before it), every 8th unsignaled, arrive in posting order;
 *   - no daemon hop: with the daemon stopped (SIGSTOP) an 8 B SEND
 *     completes on both sides when the path is on, on neither when off;
 *   - RNR: a SEND with no receive posted waits (rnr_retry 7) and lands
 *     once the receive comes; with rnr_retry 0 it fails with
 *     RNR_RETRY_EXC_ERR, as on the daemon path;
 *   - a receiver sleeping in ibv_get_cq_event is woken by a direct SEND
 *     (also when it armed its CQ before its receive ring existed),
 *     and a solicited-only arm by a solicited one.
 * "off" as argv[1] runs it all with SOFTVERBS_DIRECT=0.
 */
#include <arpa/inet.h>
#include <pthread.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (1 << 20)
#define SLOT 16384 /* receive buffer per message */
#define NORDER 64

static bool on;

static uint8_t pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 31 + i * 7 + 1);
}

struct msg {
	enum ibv_wr_opcode op;
	uint32_t len;
	bool inl, two_sge;
};

static const struct msg msgs[] = {
	{ IBV_WR_SEND, 8, false, false },
	{ IBV_WR_SEND_WITH_IMM, 64, false, false },
	{ IBV_WR_SEND, 32, true, false },
	{ IBV_WR_SEND, 3000, false, true },
	{ IBV_WR_SEND, 0, false, false },
	{ IBV_WR_SEND, 4000, false, false },
	{ IBV_WR_SEND, 12000, false, false }, /* > eager: placed */
	/* > eager, its receive's first SGE too small: daemon path */
	{ IBV_WR_SEND, 12000, false, true },
	{ IBV_WR_SEND, 8, false, false },
	{ IBV_WR_SEND_WITH_IMM, 0, false, false },
	{ IBV_WR_SEND, 1, false, true },
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))

/* A receive of SLOT bytes at slot k, in two SGEs if two. */
static void post_recv(struct svt_dx *x, uint32_t k, bool two)
{
	uint64_t a = (uintptr_t)x->buf + (uint64_t)k * SLOT;
	struct ibv_sge s[2] = { { a, two ? 100 : SLOT, x->mr->lkey },
				{ a + 100, SLOT - 100, x->mr->lkey } };
	struct ibv_recv_wr wr = { .wr_id = k, .sg_list = s,
				  .num_sge = two ? 2 : 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(x->ep.qp, &wr, &bad));
}

static struct ibv_wc recv1(struct svt_dx *x)
{
	struct ibv_wc wc = svt_poll1(x->ep.cq);

	if (wc.status != IBV_WC_SUCCESS || wc.opcode != IBV_WC_RECV)
		fprintf(stderr, "recv: status %s opcode %d\n",
			ibv_wc_status_str(wc.status), wc.opcode);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_RECV);
	return wc;
}

static void check_msg(struct svt_dx *x, uint32_t k, const struct ibv_wc *wc)
{
	const struct msg *m = &msgs[k];
	const uint8_t *b = x->buf + (uint64_t)k * SLOT;
	uint32_t i;

	SVT_CHECK(wc->wr_id == k && wc->byte_len == m->len);
	SVT_CHECK(wc->src_qp == x->peer.qpn && wc->qp_num == x->ep.qp->qp_num);
	if (m->op == IBV_WR_SEND_WITH_IMM)
		SVT_CHECK((wc->wc_flags & IBV_WC_WITH_IMM) &&
			  wc->imm_data == htonl(0x1234u + k));
	else
		SVT_CHECK(!(wc->wc_flags & IBV_WC_WITH_IMM));
	for (i = 0; i < m->len; i++)
		if (b[i] != pat(k, i)) {
			fprintf(stderr, "msg %u byte %u: %02x\n", k, i, b[i]);
			SVT_CHECK(0);
		}
	SVT_CHECK(b[m->len] == 0); /* nothing past the message */
}

static void recv_checksums(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k;
	char c = 1;

	for (k = 0; k < NMSGS; k++)
		post_recv(x, k, msgs[k].two_sge);
	svt_dx_put(x, &c, 1);
	for (k = 0; k < NMSGS; k++) {
		wc = recv1(x);
		check_msg(x, k, &wc);
	}
	memset(x->buf, 0, LEN);
}

/* The k-th message from the initiator's buffer at k * SLOT. */
static void send_msg(struct svt_dx *x, uint32_t k, const struct msg *m,
		     uint64_t wr_id, bool signaled)
{
	uint64_t a = (uintptr_t)x->buf + (uint64_t)k * SLOT;
	struct ibv_sge s[2] = { { a, m->two_sge ? m->len / 3 : m->len,
				  x->mr->lkey },
				{ a + m->len / 3, m->len - m->len / 3,
				  x->mr->lkey } };
	struct ibv_send_wr wr = { .wr_id = wr_id, .sg_list = s,
				  .num_sge = m->two_sge ? 2 : 1,
				  .opcode = m->op },
			   *bad;

	if (!m->len)
		wr.num_sge = 0;
	wr.send_flags = (signaled ? IBV_SEND_SIGNALED : 0) |
			(m->inl ? IBV_SEND_INLINE : 0);
	wr.imm_data = htonl(0x1234u + k);
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
}

static void send_checksums(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k, i;
	char c;

	for (k = 0; k < NMSGS; k++)
		for (i = 0; i < msgs[k].len; i++)
			x->buf[(uint64_t)k * SLOT + i] = pat(k, i);
	svt_dx_get(x, &c, 1);
	for (k = 0; k < NMSGS; k++)
		send_msg(x, k, &msgs[k], k, true);
	for (k = 0; k < NMSGS; k++) {
		wc = svt_poll1(x->ep.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.opcode == IBV_WC_SEND && wc.wr_id == k);
	}
	printf("%zu SENDs (imm, inline, 2 SGEs, 0 B, daemon-sized): "
	       "checksums match\n", NMSGS);
}

/* ---- order ---- */

static struct msg order_msg(uint32_t k)
{
	return (struct msg){ IBV_WR_SEND, k & 1 ? 6000 : 8, false, false };
}

static void recv_order(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k, seq;
	char c = 1;

	for (k = 0; k < NORDER; k++)
		post_recv(x, k, false);
	svt_dx_put(x, &c, 1);
	for (k = 0; k < NORDER; k++) {
		wc = recv1(x);
		memcpy(&seq, x->buf + wc.wr_id * SLOT, 4);
		SVT_CHECK(wc.wr_id == k && seq == k &&
			  wc.byte_len == order_msg(k).len);
	}
	memset(x->buf, 0, LEN);
}

static void send_order(struct svt_dx *x)
{
	struct msg m;
	uint32_t k;
	char c;

	for (k = 0; k < NORDER; k++)
		memcpy(x->buf + (uint64_t)k * SLOT, &k, 4);
	svt_dx_get(x, &c, 1);
	/* Signaled ones are polled at once, so the next one may go direct;
	 * after an unsignaled one the daemon keeps the QP a while. */
	for (k = 0; k < NORDER; k++) {
		m = order_msg(k);
		send_msg(x, k, &m, k, k % 8 != 7);
		if (k % 8 != 7)
			SVT_CHECK(svt_poll1(x->ep.cq).status ==
				  IBV_WC_SUCCESS);
	}
	printf("%d SENDs, direct and daemon path interleaved: in order\n",
	       NORDER);
}

/* ---- the daemon stopped ---- */

static void recv_stopped(struct svt_dx *x)
{
	struct ibv_wc wc;

	post_recv(x, 0, false);
	wc = svt_dx_recv_stopped(x);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 8);
}

static void send_8(struct svt_dx *x)
{
	struct msg m = { IBV_WR_SEND, 8, false, false };

	send_msg(x, 0, &m, 0, true);
}

/* ---- RNR: a receive posted late ---- */

static void recv_late(struct svt_dx *x)
{
	struct ibv_wc wc;
	char c;

	svt_dx_get(x, &c, 1); /* the SEND is posted */
	usleep(50000);
	SVT_CHECK(!svt_dx_poll_ms(x->ep.cq, &wc, 10));
	post_recv(x, 0, false);
	wc = recv1(x);
	SVT_CHECK(wc.byte_len == 8 && x->buf[0] == pat(0, 0));
}

static void send_early(struct svt_dx *x)
{
	struct msg m = { IBV_WR_SEND, 8, false, false };
	char c = 1;

	x->buf[0] = pat(0, 0);
	send_msg(x, 0, &m, 0, true);
	svt_dx_put(x, &c, 1);
	SVT_CHECK(svt_poll1(x->ep.cq).status == IBV_WC_SUCCESS);
	printf("SEND before its receive: landed when it was posted\n");
}

static void target(struct svt_dx *x)
{
	char c;

	svt_dx_open(x, LEN);
	svt_dx_link(x);
	recv_checksums(x);
	recv_order(x);
	recv_stopped(x);
	recv_late(x);
	svt_dx_get(x, &c, 1);
	svt_dx_close(x);
}

/* ---- in one process: RNR exhausted, completion channels ---- */

struct pair {
	struct svt_ep a, b;
	struct ibv_comp_channel *ch;
	struct ibv_mr *mr;
	uint8_t buf[8192];
};

static void pair_connect(struct svt_ep *e, uint32_t dqpn, uint8_t rnr)
{
	svt_ep_connect_rnr(e, dqpn, IBV_MTU_4096, 14, 7, e->lid, rnr);
}

/* a sends to b; b's CQ has a completion channel. */
static void pair_open(struct pair *p, uint8_t rnr)
{
	svt_ep_open(&p->a);
	p->b = p->a;
	p->ch = ibv_create_comp_channel(p->a.ctx);
	SVT_CHECK(p->ch);
	p->b.cq = ibv_create_cq(p->a.ctx, 64, NULL, p->ch, 0);
	svt_ep_make(&p->b);
	p->mr = ibv_reg_mr(p->a.pd, p->buf, sizeof(p->buf),
			   IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(p->mr);
	pair_connect(&p->a, p->b.qp->qp_num, rnr);
	pair_connect(&p->b, p->a.qp->qp_num, rnr);
}

static void pair_close(struct pair *p)
{
	SVT_CHECK(!ibv_destroy_qp(p->a.qp) && !ibv_destroy_qp(p->b.qp));
	SVT_CHECK(!ibv_dereg_mr(p->mr));
	SVT_CHECK(!ibv_destroy_cq(p->a.cq) && !ibv_destroy_cq(p->b.cq));
	SVT_CHECK(!ibv_destroy_comp_channel(p->ch));
	SVT_CHECK(!ibv_dealloc_pd(p->a.pd) && !ibv_close_device(p->a.ctx));
}

static void pair_send(struct pair *p, uint32_t flags)
{
	struct ibv_sge s = { (uintptr_t)p->buf, 8, p->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED | flags },
			   *bad;

	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
}

static void pair_recv(struct pair *p)
{
	struct ibv_sge s = { (uintptr_t)p->buf + 4096, 64, p->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 2, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(p->b.qp, &wr, &bad));
}

static void rnr_exhausted(void)
{
	struct pair p = {};
	struct ibv_wc wc;

	pair_open(&p, 0);
	/* A receive posted and taken first: b has a receive ring. */
	pair_recv(&p);
	pair_send(&p, 0);
	SVT_CHECK(svt_poll1(p.a.cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(svt_poll1(p.b.cq).status == IBV_WC_SUCCESS);
	pair_send(&p, 0);
	wc = svt_poll1(p.a.cq);
	printf("SEND with no receive, rnr_retry 0: %s\n",
	       ibv_wc_status_str(wc.status));
	SVT_CHECK(wc.status == IBV_WC_RNR_RETRY_EXC_ERR);
	pair_close(&p);
}

struct sleeper {
	struct pair *p;
	int solicited;
	volatile int woken;
};

static void *sleep_on_channel(void *arg)
{
	struct sleeper *s = arg;
	struct ibv_cq *cq;
	void *ctx;

	SVT_CHECK(!ibv_get_cq_event(s->p->ch, &cq, &ctx));
	ibv_ack_cq_events(cq, 1);
	s->woken = 1;
	return NULL;
}

/* Sleeping until s.woken, at most 5 s: was it woken? */
static bool wait_woken(struct sleeper *s)
{
	int i;

	for (i = 0; i < 5000 && !s->woken; i++)
		usleep(1000);
	return s->woken;
}

/* b's thread sleeps in ibv_get_cq_event; a's SEND must wake it. */
static void woken(struct pair *p, int solicited)
{
	struct sleeper s = { p, solicited, 0 };
	struct ibv_wc wc;
	pthread_t t;
	int i;

	pair_recv(p);
	SVT_CHECK(!ibv_req_notify_cq(p->b.cq, solicited));
	SVT_CHECK(!pthread_create(&t, NULL, sleep_on_channel, &s));
	usleep(20000);
	if (solicited) { /* an unsolicited one must not wake it */
		pair_recv(p);
		pair_send(p, 0);
		SVT_CHECK(svt_poll1(p->a.cq).status == IBV_WC_SUCCESS);
		usleep(50000);
		SVT_CHECK(!s.woken);
	}
	pair_send(p, solicited ? IBV_SEND_SOLICITED : 0);
	SVT_CHECK(svt_poll1(p->a.cq).status == IBV_WC_SUCCESS);
	printf("receiver asleep on its channel (%s arm): %s\n",
	       solicited ? "solicited" : "next",
	       wait_woken(&s) ? "woken" : "NOT woken");
	SVT_CHECK(s.woken);
	SVT_CHECK(!pthread_join(t, NULL));
	for (i = 0; i < 1 + solicited; i++) {
		wc = svt_poll1(p->b.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 8);
	}
}

/*
 * b arms its CQ before its first receive (perftest -e does): the ring
 * that receive creates must carry the arm, or the first direct SEND
 * would not wake b.
 */
static void armed_before_ring(void)
{
	struct pair p = {};
	struct sleeper s = { &p, 0, 0 };
	pthread_t t;

	pair_open(&p, 7);
	SVT_CHECK(!ibv_req_notify_cq(p.b.cq, 0));
	SVT_CHECK(!pthread_create(&t, NULL, sleep_on_channel, &s));
	usleep(20000);
	pair_recv(&p);
	pair_send(&p, 0);
	SVT_CHECK(svt_poll1(p.a.cq).status == IBV_WC_SUCCESS);
	printf("CQ armed before the receive ring existed: %s\n",
	       wait_woken(&s) ? "woken" : "NOT woken");
	SVT_CHECK(s.woken);
	SVT_CHECK(!pthread_join(t, NULL));
	SVT_CHECK(svt_poll1(p.b.cq).status == IBV_WC_SUCCESS);
	pair_close(&p);
}

static void channels(void)
{
	struct pair p = {};
	struct ibv_wc wc;

	pair_open(&p, 7);
	/* First traffic, so the path is granted and the ring exists. */
	pair_recv(&p);
	pair_send(&p, 0);
	SVT_CHECK(svt_poll1(p.a.cq).status == IBV_WC_SUCCESS);
	wc = svt_poll1(p.b.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	woken(&p, 0);
	woken(&p, 1);
	pair_close(&p);
}

int main(int argc, char **argv)
{
	struct svt_daemon d;
	struct svt_dx x = {};

	on = svt_dx_begin(argc, argv, &d, &x, target, LEN);
	send_checksums(&x);
	send_order(&x);
	svt_dx_send_stopped(&x, d.pid, send_8, on, "SEND");
	send_early(&x);
	svt_dx_end(&x);
	rnr_exhausted();
	channels();
	armed_before_ring();
	printf("direct SEND, path %s: PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
