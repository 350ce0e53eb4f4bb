// SPDX-License-Identifier: MIT
/*
 * Issue 17: RDMA WRITE_WITH_IMM on the same-host direct path
 * (docs/direct-path.md, "WRITE_WITH_IMM"). The parent initiates, a
 * forked child is the target:
 *   - payload checksums, imm_data, opcode and byte_len of WRITE_WITH_IMMs
 *     of 8 B, 4 KiB, 100000 B (over the mm-handle size), 1 MiB, inline and
 *     zero length, interleaved with unsignaled plain WRITEs, a SEND, and a
 *     zero-length one with an SGE (daemon path, so the engine drains the
 *     direct messages before it: the target polls only once all is
 *     posted): the completions arrive in posting order, and when each one
 *     is polled every WRITE posted before it has landed; a receive taken
 *     by a WRITE_WITH_IMM is not written;
 *   - no daemon hop: with the daemon stopped (SIGSTOP) a WRITE_WITH_IMM
 *     completes on both sides when the path is on, on neither when off;
 *   - RNR: one posted before its receive writes nothing until the receive
 *     comes, then lands (data and completion);
 *   - a receiver asleep in ibv_get_cq_event on a solicited-only arm is
 *     woken by a solicited WRITE_WITH_IMM, not by an unsolicited one.
 * "off" as argv[1] runs it all with SOFTVERBS_DIRECT=0.
 */
#include <arpa/inet.h>
#include <pthread.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (4 << 20)
#define RBUF (3 << 20) /* receive buffers: RSLOT bytes per message */
#define RSLOT 256
#define SRC (2 << 20) /* the initiator's sources of the 1 MiB one */

static bool on;

static uint8_t pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 29 + i * 13 + 5);
}

enum kind { WIMM, WRITE, SEND, WIMM_INLINE, WIMM_SGE0 };

struct wmsg {
	enum kind kind;
	uint32_t len, off; /* bytes, at off in both buffers */
};

static const struct wmsg msgs[] = {
	{ WIMM, 8, 0 },
	{ WRITE, 4096, 64 << 10 },
	{ WIMM, 4096, 128 << 10 },
	{ WIMM, 0, 0 },
	{ WRITE, 70000, 256 << 10 },
	{ WIMM, 100000, 512 << 10 },
	{ SEND, 64, 800 << 10 }, /* off: its source only */
	{ WIMM_SGE0, 0, 0 }, /* an SGE of 0 bytes: the daemon's */
	{ WIMM, 1 << 20, 1 << 20 },
	{ WRITE, 8, 640 << 10 },
	{ WIMM_INLINE, 32, 700 << 10 },
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))

static bool takes_recv(const struct wmsg *m)
{
	return m->kind != WRITE;
}

/* ---- the target ---- */

/* Receive k: one SGE of RSLOT bytes, or none (a WRITE_WITH_IMM needs
 * no buffer). */
static void post_recv(struct svt_dx *x, uint32_t k, bool sge)
{
	struct ibv_sge s = { (uintptr_t)x->buf + RBUF + k * RSLOT, RSLOT,
			     x->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = k, .sg_list = &s,
				  .num_sge = sge ? 1 : 0 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(x->ep.qp, &wr, &bad));
}

static void check_bytes(const uint8_t *b, uint32_t seq, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (b[i] != pat(seq, i)) {
			fprintf(stderr, "msg %u byte %u: %02x\n", seq, i, b[i]);
			SVT_CHECK(0);
		}
}

/* Every WRITE up to message k has landed (RC order). */
static void check_landed(struct svt_dx *x, uint32_t k)
{
	uint32_t j;

	for (j = 0; j <= k; j++)
		if (msgs[j].kind != SEND && msgs[j].len)
			check_bytes(x->buf + msgs[j].off, j, msgs[j].len);
}

static void check_wc(struct svt_dx *x, uint32_t k, const struct ibv_wc *wc)
{
	const struct wmsg *m = &msgs[k];
	const uint8_t *rb = x->buf + RBUF + k * RSLOT;

	if (wc->status != IBV_WC_SUCCESS || wc->wr_id != k)
		fprintf(stderr, "msg %u: status %s wr_id %llu\n", k,
			ibv_wc_status_str(wc->status),
			(unsigned long long)wc->wr_id);
	SVT_CHECK(wc->status == IBV_WC_SUCCESS && wc->wr_id == k);
	SVT_CHECK(wc->byte_len == m->len && wc->src_qp == x->peer.qpn);
	SVT_CHECK((wc->wc_flags & IBV_WC_WITH_IMM) &&
		  wc->imm_data == htonl(0xabc00u + k));
	if (m->kind == SEND) {
		SVT_CHECK(wc->opcode == IBV_WC_RECV);
		check_bytes(rb, k, m->len);
	} else {
		SVT_CHECK(wc->opcode == IBV_WC_RECV_RDMA_WITH_IMM);
		SVT_CHECK(rb[0] == 0); /* the receive's buffer untouched */
	}
}

static void recv_checksums(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k;
	char c = 1;

	for (k = 0; k < NMSGS; k++)
		if (takes_recv(&msgs[k]))
			post_recv(x, k, k % 2 == 0);
	svt_dx_put(x, &c, 1);
	/* Not polling until all is posted: the daemon-path one in the
	 * middle makes the engine drain the direct messages before it. */
	svt_dx_get(x, &c, 1);
	for (k = 0; k < NMSGS; k++) {
		if (!takes_recv(&msgs[k]))
			continue;
		wc = svt_poll1(x->ep.cq);
		check_wc(x, k, &wc);
		check_landed(x, k);
	}
	memset(x->buf, 0, LEN);
}

/* ---- the initiator ---- */

static void post(struct svt_dx *x, uint32_t k, bool signaled)
{
	const struct wmsg *m = &msgs[k];
	uint32_t loff = m->len == (1u << 20) ? SRC : m->off;
	struct ibv_sge s = { (uintptr_t)x->buf + loff, m->len, x->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = k, .sg_list = &s, .num_sge = 1 },
			   *bad;

	wr.opcode = m->kind == WRITE ? IBV_WR_RDMA_WRITE :
		    m->kind == SEND  ? IBV_WR_SEND_WITH_IMM :
				       IBV_WR_RDMA_WRITE_WITH_IMM;
	if (!m->len && m->kind != WIMM_SGE0)
		wr.num_sge = 0;
	wr.send_flags = (signaled ? IBV_SEND_SIGNALED : 0) |
			(m->kind == WIMM_INLINE ? IBV_SEND_INLINE : 0);
	wr.imm_data = htonl(0xabc00u + k);
	wr.wr.rdma.remote_addr = x->peer.addr + m->off;
	wr.wr.rdma.rkey = x->peer.rkey;
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
}

static void fill(struct svt_dx *x)
{
	uint32_t k, i, loff;

	for (k = 0; k < NMSGS; k++) {
		loff = msgs[k].len == (1u << 20) ? SRC : msgs[k].off;
		for (i = 0; i < msgs[k].len; i++)
			x->buf[loff + i] = pat(k, i);
	}
}

static void send_checksums(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k;
	char c;

	fill(x);
	svt_dx_get(x, &c, 1);
	/* Plain WRITEs unsignaled: nothing waits for them but RC order. */
	for (k = 0; k < NMSGS; k++)
		post(x, k, takes_recv(&msgs[k]));
	for (k = 0; k < NMSGS; k++) {
		if (!takes_recv(&msgs[k]))
			continue;
		wc = svt_poll1(x->ep.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == k);
		SVT_CHECK(wc.opcode == (msgs[k].kind == SEND ?
						IBV_WC_SEND :
						IBV_WC_RDMA_WRITE));
	}
	/* The daemon-path one completed: the engine took the direct
	 * messages before it. Only now may the target poll. */
	svt_dx_put(x, &c, 1);
	printf("%zu WRITE_WITH_IMMs, WRITEs and a SEND: checksums, imm_data "
	       "and order match\n", NMSGS);
}

/* ---- the daemon stopped: only the direct path completes ---- */

static void recv_stopped(struct svt_dx *x)
{
	struct ibv_wc wc;

	post_recv(x, 0, false);
	wc = svt_dx_recv_stopped(x);
	check_wc(x, 0, &wc);
	check_bytes(x->buf, 0, 8);
	memset(x->buf, 0, LEN);
}

static void post_first(struct svt_dx *x)
{
	post(x, 0, true);
}

/* ---- RNR: nothing is written before the receive is posted ---- */

static void recv_late(struct svt_dx *x)
{
	struct ibv_wc wc;
	char c;

	svt_dx_get(x, &c, 1); /* the WRITE_WITH_IMM is posted */
	usleep(50000);
	SVT_CHECK(!svt_dx_poll_ms(x->ep.cq, &wc, 10));
	SVT_CHECK(x->buf[128 << 10] == 0); /* not written without it */
	post_recv(x, 2, true);
	wc = svt_poll1(x->ep.cq);
	check_wc(x, 2, &wc);
	check_bytes(x->buf + (128 << 10), 2, 4096);
}

static void send_early(struct svt_dx *x)
{
	char c = 1;

	post(x, 2, true);
	svt_dx_put(x, &c, 1);
	SVT_CHECK(svt_poll1(x->ep.cq).status == IBV_WC_SUCCESS);
	printf("WRITE_WITH_IMM before its receive: written when it was "
	       "posted\n");
}

static void target(struct svt_dx *x)
{
	svt_dx_target_begin(x, LEN);
	recv_checksums(x);
	recv_stopped(x);
	recv_late(x);
	svt_dx_target_end(x);
}

/* ---- in one process: a solicited event wakes a sleeping receiver ---- */

struct sleeper {
	struct ibv_comp_channel *ch;
	volatile int woken;
};

static void *sleep_on_channel(void *arg)
{
	struct sleeper *s = arg;
	struct ibv_cq *cq;
	void *ctx;

	SVT_CHECK(!ibv_get_cq_event(s->ch, &cq, &ctx));
	ibv_ack_cq_events(cq, 1);
	s->woken = 1;
	return NULL;
}

struct wpair {
	struct svt_ep a, b;
	struct ibv_mr *mr;
	uint8_t buf[8192];
};

static void wpair_post(struct wpair *p, uint32_t flags)
{
	struct ibv_sge s = { (uintptr_t)p->buf, 8, p->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 1, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE_WITH_IMM,
				  .send_flags = IBV_SEND_SIGNALED | flags },
			   *bad;
	struct ibv_recv_wr rwr = { .wr_id = 2 }, *rbad;

	wr.wr.rdma.remote_addr = (uintptr_t)p->buf + 4096;
	wr.wr.rdma.rkey = p->mr->rkey;
	SVT_CHECK(!ibv_post_recv(p->b.qp, &rwr, &rbad));
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
	SVT_CHECK(svt_poll1(p->a.cq).status == IBV_WC_SUCCESS);
}

static void solicited_wakes(void)
{
	struct wpair p = {};
	struct sleeper s = { NULL, 0 };
	pthread_t t;
	int i;

	svt_ep_open(&p.a);
	p.b = p.a;
	s.ch = ibv_create_comp_channel(p.a.ctx);
	SVT_CHECK(s.ch);
	p.b.cq = ibv_create_cq(p.a.ctx, 64, NULL, s.ch, 0);
	svt_ep_make(&p.b);
	p.mr = ibv_reg_mr(p.a.pd, p.buf, sizeof(p.buf),
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	SVT_CHECK(p.mr);
	svt_ep_connect(&p.a, p.b.qp->qp_num);
	svt_ep_connect(&p.b, p.a.qp->qp_num);
	wpair_post(&p, 0); /* first traffic: the grant and the ring */
	SVT_CHECK(svt_poll1(p.b.cq).opcode == IBV_WC_RECV_RDMA_WITH_IMM);
	SVT_CHECK(!ibv_req_notify_cq(p.b.cq, 1));
	SVT_CHECK(!pthread_create(&t, NULL, sleep_on_channel, &s));
	usleep(20000);
	wpair_post(&p, 0); /* unsolicited: must not wake it */
	usleep(50000);
	SVT_CHECK(!s.woken);
	wpair_post(&p, IBV_SEND_SOLICITED);
	for (i = 0; i < 5000 && !s.woken; i++)
		usleep(1000);
	printf("receiver asleep on a solicited-only arm: %s\n",
	       s.woken ? "woken by the solicited WRITE_WITH_IMM" : "NOT woken");
	SVT_CHECK(s.woken);
	SVT_CHECK(!pthread_join(t, NULL));
	for (i = 0; i < 2; i++)
		SVT_CHECK(svt_poll1(p.b.cq).status == IBV_WC_SUCCESS);
	SVT_CHECK(!ibv_destroy_qp(p.a.qp) && !ibv_destroy_qp(p.b.qp));
	SVT_CHECK(!ibv_dereg_mr(p.mr));
	SVT_CHECK(!ibv_destroy_cq(p.a.cq) && !ibv_destroy_cq(p.b.cq));
	SVT_CHECK(!ibv_destroy_comp_channel(s.ch));
	SVT_CHECK(!ibv_dealloc_pd(p.a.pd) && !ibv_close_device(p.a.ctx));
}

int main(int argc, char **argv)
{
	struct svt_daemon d;
	struct svt_dx x = {};

	on = svt_dx_begin(argc, argv, &d, &x, target, LEN);
	send_checksums(&x);
	svt_dx_send_stopped(&x, d.pid, post_first, on, "WRITE_WITH_IMM");
	send_early(&x);
	svt_dx_end(&x);
	solicited_wakes();
	printf("direct WRITE_WITH_IMM, path %s: PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
