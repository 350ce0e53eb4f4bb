// SPDX-License-Identifier: MIT
/*
 * Issue 17: SENDs larger than a receive-ring slot on the same-host
 * direct path (docs/direct-path.md, "Large SENDs"): the initiator writes
 * the payload straight into the receive's first SGE. The parent
 * initiates, a forked child receives:
 *   - payload checksums, byte_len, imm_data and posting order of SENDs of
 *     8160 B (the largest eager one), 8161 B, 64 KiB, 64 KiB + 1, 1 MiB
 *     (with immediate) and 8 MiB (the direct path's largest), and of
 *     daemon-path ones between them (8 MiB + 1, and 12000 B into a receive
 *     whose first SGE holds only 100 B); receive buffers are larger than
 *     the messages and nothing past a message is written; the target
 *     polls only once all is posted, so the engine takes the direct
 *     messages ahead of a daemon-path one;
 *   - no daemon hop: with the daemon stopped (SIGSTOP) a 100000 B SEND
 *     completes on both sides when the path is on, on neither when off.
 * "off" as argv[1] runs it all with SOFTVERBS_DIRECT=0.
 */
#include <arpa/inet.h>

#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define MIB (1u << 20)
#define LEN (40u << 20)

static bool on;

struct big {
	uint32_t len, off; /* the message, at off in both buffers */
	uint32_t room; /* the receive's bytes (first SGE 100 B if split) */
	bool imm, split;
};

static const struct big msgs[] = {
	{ 8160, 0, 16384, false, false },
	{ 8161, 16384, 16384, false, false },
	{ 65536, 64 << 10, 65536 + 4096, false, false },
	{ 65537, 192 << 10, 65537 + 4096, false, false },
	{ 12000, 320 << 10, 16384, false, true }, /* daemon path */
	{ MIB, MIB, MIB + 4096, true, false },
	{ 8 * MIB, 3 * MIB, 8 * MIB, false, false },
	{ 8 * MIB + 1, 12 * MIB, 8 * MIB + 4096, false, false }, /* daemon */
	{ 100, 22 * MIB, 4096, true, false },
};
#define NMSGS (sizeof(msgs) / sizeof(msgs[0]))

static uint8_t pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 37 + i * 11 + (i >> 12) + 3);
}

static void post_recv(struct svt_dx *x, uint32_t k, const struct big *m)
{
	uint64_t a = (uintptr_t)x->buf + m->off;
	uint32_t first = m->split ? 100 : m->room;
	struct ibv_sge s[2] = { { a, first, x->mr->lkey },
				{ a + first, m->room - first, x->mr->lkey } };
	struct ibv_recv_wr wr = { .wr_id = k, .sg_list = s,
				  .num_sge = m->split ? 2 : 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(x->ep.qp, &wr, &bad));
}

static void check_msg(struct svt_dx *x, uint32_t k, const struct ibv_wc *wc)
{
	const struct big *m = &msgs[k];
	const uint8_t *b = x->buf + m->off;
	uint32_t i;

	if (wc->status != IBV_WC_SUCCESS || wc->wr_id != k)
		fprintf(stderr, "msg %u: %s, wr_id %llu\n", k,
			ibv_wc_status_str(wc->status),
			(unsigned long long)wc->wr_id);
	SVT_CHECK(wc->status == IBV_WC_SUCCESS && wc->wr_id == k);
	SVT_CHECK(wc->opcode == IBV_WC_RECV && wc->byte_len == m->len);
	SVT_CHECK(wc->src_qp == x->peer.qpn);
	SVT_CHECK(!!(wc->wc_flags & IBV_WC_WITH_IMM) == m->imm);
	SVT_CHECK(!m->imm || wc->imm_data == htonl(0x5150u + k));
	for (i = 0; i < m->len; i++)
		if (b[i] != pat(k, i)) {
			fprintf(stderr, "msg %u byte %u: %02x\n", k, i, b[i]);
			SVT_CHECK(0);
		}
	if (m->room > m->len)
		SVT_CHECK(b[m->len] == 0); /* nothing past the message */
}

static void recv_checksums(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k;
	char c = 1;

	for (k = 0; k < NMSGS; k++)
		post_recv(x, k, &msgs[k]);
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1); /* all posted: the engine drains ahead */
	for (k = 0; k < NMSGS; k++) {
		wc = svt_poll1(x->ep.cq);
		check_msg(x, k, &wc);
	}
	memset(x->buf, 0, LEN);
}

static void send_big(struct svt_dx *x, uint32_t k, const struct big *m)
{
	struct ibv_sge s = { (uintptr_t)x->buf + m->off, m->len, x->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = k, .sg_list = &s, .num_sge = 1,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	wr.opcode = m->imm ? IBV_WR_SEND_WITH_IMM : IBV_WR_SEND;
	wr.imm_data = htonl(0x5150u + k);
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
}

static void send_checksums(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t k, i;
	char c;

	for (k = 0; k < NMSGS; k++)
		for (i = 0; i < msgs[k].len; i++)
			x->buf[msgs[k].off + i] = pat(k, i);
	svt_dx_get(x, &c, 1);
	for (k = 0; k < NMSGS; k++)
		send_big(x, k, &msgs[k]);
	for (k = 0; k < NMSGS; k++) {
		wc = svt_poll1(x->ep.cq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == k &&
			  wc.opcode == IBV_WC_SEND);
	}
	/* The daemon-path ones completed: the engine took the direct
	 * messages before them. Only now may the target poll. */
	svt_dx_put(x, &c, 1);
	printf("%zu SENDs of 8160 B to 8 MiB + 1, direct and daemon path: "
	       "checksums, byte_len, imm_data and order match\n", NMSGS);
}

/* ---- the daemon stopped ---- */

static const struct big stopped_msg = { 100000, 0, 131072, false, false };

static void recv_stopped(struct svt_dx *x)
{
	struct ibv_wc wc;
	uint32_t i;

	post_recv(x, 0, &stopped_msg);
	wc = svt_dx_recv_stopped(x);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == 100000);
	for (i = 0; i < 100000; i++)
		SVT_CHECK(x->buf[i] == pat(0, i));
}

static void send_stopped_msg(struct svt_dx *x)
{
	send_big(x, 0, &stopped_msg);
}

static void target(struct svt_dx *x)
{
	svt_dx_target_begin(x, LEN);
	recv_checksums(x);
	recv_stopped(x);
	svt_dx_target_end(x);
}

int main(int argc, char **argv)
{
	struct svt_daemon d;
	struct svt_dx x = {};
	uint32_t i;

	on = svt_dx_begin(argc, argv, &d, &x, target, LEN);
	send_checksums(&x);
	for (i = 0; i < stopped_msg.len; i++)
		x.buf[i] = pat(0, i);
	svt_dx_send_stopped(&x, d.pid, send_stopped_msg, on, "100000 B SEND");
	svt_dx_end(&x);
	printf("direct large SEND, path %s: PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
