// SPDX-License-Identifier: MIT
/*
 * Issue 17: SEND_WITH_INV on the same-host direct path
 * (docs/direct-path.md, "SEND_WITH_INV"). The parent initiates, a forked
 * child is the target, which owns a type 2 memory window bound to its
 * buffer:
 *   - a SEND, a SEND_WITH_INV naming the window's rkey and a SEND, 8 B
 *     each, posted back to back: the target's completions come in that
 *     order with their checksums, the middle one with IBV_WC_WITH_INV and
 *     invalidated_rkey; the window was invalidated before its completion
 *     could be polled: the target binds it again at once (a bound type 2
 *     window cannot be bound);
 *   - a WRITE through the window's new rkey lands; a 100000 B
 *     SEND_WITH_INV (written straight into the receive's buffer on the
 *     direct path) invalidates it, checksum and flags as above;
 *   - errors, as on the daemon path: a SEND_WITH_INV naming a window's
 *     old rkey (invalidated since, bound again under a new one) fails with
 *     REM_INV_REQ_ERR at the initiator and LOC_QP_OP_ERR at the target,
 *     whose window stays bound under its new rkey (checked by a WRITE
 *     through it on a new connection, which lands), and its buffer is not
 *     taken for the failed SEND's receive completion.
 * "off" as argv[1] runs it all with SOFTVERBS_DIRECT=0.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (1 << 20)
#define RBUF (512 << 10) /* receive buffers, RSLOT each */
#define RSLOT (128 << 10)
#define BIG 100000
#define WIN (256 << 10) /* the window: [WIN, WIN + 4096) of the buffer */

static uint8_t pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 31 + i * 7 + 3);
}

/* What a message of the sequence is: its opcode, length and rkey. */
struct imsg {
	enum ibv_wr_opcode op;
	uint32_t len;
};

static const struct imsg msgs[] = {
	{ IBV_WR_SEND, 8 },
	{ IBV_WR_SEND_WITH_INV, 8 },
	{ IBV_WR_SEND, 8 },
	{ IBV_WR_SEND_WITH_INV, BIG },
};
#define NMSGS 4

/* The QP (in ERROR) through RESET and connected again: both sides. */
static void dx_again(struct svt_dx *x)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	char c = 1;

	SVT_CHECK(!ibv_modify_qp(x->ep.qp, &a, IBV_QP_STATE));
	svt_ep_connect(&x->ep, x->peer.qpn);
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1);
}

/* ---- the target ---- */

struct win {
	struct ibv_mw *mw;
	struct ibv_mr *mr; /* [WIN, +4096), with MW_BIND */
	uint32_t rkey;
};

/* Bind (again) the window over [WIN, +4096): 0 or the bind's status. */
static int bind_win(struct svt_dx *x, struct win *w)
{
	uint32_t rkey = ibv_inc_rkey(w->rkey);
	struct ibv_send_wr b = { .wr_id = 900, .opcode = IBV_WR_BIND_MW,
				 .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	struct ibv_wc wc;

	b.bind_mw.mw = w->mw;
	b.bind_mw.rkey = rkey;
	b.bind_mw.bind_info = (struct ibv_mw_bind_info){
		.mr = w->mr, .addr = (uintptr_t)x->buf + WIN, .length = 4096,
		.mw_access_flags = IBV_ACCESS_REMOTE_WRITE,
	};
	SVT_CHECK(!ibv_post_send(x->ep.qp, &b, &bad));
	wc = svt_poll1(x->ep.cq);
	SVT_CHECK(wc.wr_id == 900);
	if (wc.status == IBV_WC_SUCCESS)
		w->rkey = rkey;
	return wc.status;
}

static void post_recv(struct svt_dx *x, uint32_t k)
{
	struct ibv_sge s = { (uintptr_t)x->buf + RBUF + (k % 4) * RSLOT, RSLOT,
			     x->mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = k, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(x->ep.qp, &wr, &bad));
}

/* b holds len bytes of pattern seq (the first wrong one is named). */
static void check_bytes(const uint8_t *b, uint32_t seq, uint32_t len)
{
	uint32_t i = 0;

	while (i < len && b[i] == pat(seq, i))
		i++;
	if (i < len)
		fprintf(stderr, "msg %u byte %u: %02x, not %02x\n", seq, i, b[i],
			pat(seq, i));
	SVT_CHECK(i == len);
}

/* Message k's completion; a SEND_WITH_INV's names the window's rkey. */
static void check_msg(struct svt_dx *x, uint32_t k, uint32_t rkey)
{
	struct ibv_wc wc = svt_poll1(x->ep.cq);

	if (wc.status != IBV_WC_SUCCESS || wc.wr_id != k)
		fprintf(stderr, "msg %u: status %s wr_id %llu\n", k,
			ibv_wc_status_str(wc.status),
			(unsigned long long)wc.wr_id);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == k);
	SVT_CHECK(wc.opcode == IBV_WC_RECV && wc.byte_len == msgs[k].len);
	if (msgs[k].op == IBV_WR_SEND_WITH_INV)
		SVT_CHECK((wc.wc_flags & IBV_WC_WITH_INV) &&
			  wc.invalidated_rkey == rkey);
	else
		SVT_CHECK(!(wc.wc_flags & (IBV_WC_WITH_INV | IBV_WC_WITH_IMM)));
	check_bytes(x->buf + RBUF + (k % 4) * RSLOT, k, msgs[k].len);
}

/* The window was invalidated when its completion showed: it binds. */
static void rebind(struct svt_dx *x, struct win *w)
{
	uint32_t old = w->rkey;

	SVT_CHECK(bind_win(x, w) == IBV_WC_SUCCESS);
	SVT_CHECK(w->rkey != old);
}

static void target_good(struct svt_dx *x, struct win *w)
{
	char c = 1;
	uint32_t k;

	for (k = 0; k < NMSGS; k++)
		post_recv(x, k);
	svt_dx_put(x, &w->rkey, sizeof(w->rkey));
	for (k = 0; k < 3; k++)
		check_msg(x, k, w->rkey);
	rebind(x, w);
	svt_dx_put(x, &w->rkey, sizeof(w->rkey)); /* the WRITE, then k=3 */
	svt_dx_get(x, &c, 1);
	check_bytes(x->buf + WIN, 77, 4096);
	check_msg(x, 3, w->rkey);
	rebind(x, w);
	svt_dx_put(x, &w->rkey, sizeof(w->rkey));
}

/* A SEND_WITH_INV of a stale rkey: the target's receive fails. */
static void target_bad(struct svt_dx *x)
{
	struct ibv_wc wc;

	post_recv(x, 10);
	wc = svt_poll1(x->ep.cq);
	printf("target: SEND_WITH_INV of a stale rkey: %s\n",
	       ibv_wc_status_str(wc.status));
	SVT_CHECK(wc.wr_id == 10 && wc.status == IBV_WC_LOC_QP_OP_ERR);
}

static void target(struct svt_dx *x)
{
	struct win w = {};
	char c;

	svt_dx_target_begin(x, LEN);
	w.mw = ibv_alloc_mw(x->ep.pd, IBV_MW_TYPE_2);
	SVT_CHECK(w.mw);
	w.rkey = w.mw->rkey;
	w.mr = ibv_reg_mr(x->ep.pd, x->buf + WIN, 4096,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				  IBV_ACCESS_MW_BIND);
	SVT_CHECK(w.mr);
	SVT_CHECK(bind_win(x, &w) == IBV_WC_SUCCESS);
	target_good(x, &w);
	target_bad(x);
	/* Still bound under its last rkey: the initiator WRITEs through it
	 * once both QPs are connected again. */
	dx_again(x);
	svt_dx_get(x, &c, 1); /* it WROTE */
	check_bytes(x->buf + WIN, 78, 4096);
	SVT_CHECK(!ibv_dealloc_mw(w.mw));
	SVT_CHECK(!ibv_dereg_mr(w.mr));
	svt_dx_target_end(x);
}

/* ---- the initiator ---- */

static void post(struct svt_dx *x, uint32_t k, uint32_t rkey, uint32_t off)
{
	struct ibv_sge s = { (uintptr_t)x->buf + off, msgs[k].len,
			     x->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = k, .sg_list = &s, .num_sge = 1,
				  .opcode = msgs[k].op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	uint32_t i;

	for (i = 0; i < msgs[k].len; i++)
		x->buf[off + i] = pat(k, i);
	wr.invalidate_rkey = rkey;
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
}

/* A WRITE of 4096 bytes of pattern seq through the window's rkey. */
static void write_win(struct svt_dx *x, uint32_t rkey, uint32_t seq)
{
	struct ibv_sge s = { (uintptr_t)x->buf + WIN, 4096, x->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 500, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_RDMA_WRITE,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;
	uint32_t i;

	for (i = 0; i < 4096; i++)
		x->buf[WIN + i] = pat(seq, i);
	wr.wr.rdma.remote_addr = x->peer.addr + WIN;
	wr.wr.rdma.rkey = rkey;
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
	wr.wr_id = svt_poll1(x->ep.cq).status;
	SVT_CHECK(wr.wr_id == IBV_WC_SUCCESS);
}

static void expect_sent(struct svt_dx *x, uint32_t k)
{
	struct ibv_wc wc = svt_poll1(x->ep.cq);

	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.wr_id == k &&
		  wc.opcode == IBV_WC_SEND);
}

/* Returns the window's rkey invalidated last (stale now). */
static uint32_t send_good(struct svt_dx *x)
{
	uint32_t rkey, stale, k;
	char c = 1;

	svt_dx_get(x, &rkey, sizeof(rkey));
	for (k = 0; k < 3; k++)
		post(x, k, rkey, k * 64);
	for (k = 0; k < 3; k++)
		expect_sent(x, k);
	printf("SEND, SEND_WITH_INV, SEND of 8 B: completed in order\n");
	svt_dx_get(x, &rkey, sizeof(rkey)); /* bound again */
	write_win(x, rkey, 77);
	svt_dx_put(x, &c, 1);
	post(x, 3, rkey, 0);
	expect_sent(x, 3);
	printf("%u B SEND_WITH_INV after a WRITE through the window: "
	       "completed\n", BIG);
	stale = rkey;
	svt_dx_get(x, &rkey, sizeof(rkey)); /* bound again */
	SVT_CHECK(rkey != stale);
	x->peer.rkey = rkey; /* the window's live rkey, for the end */
	return stale;
}

static void send_bad(struct svt_dx *x, uint32_t stale)
{
	struct ibv_wc wc;

	post(x, 1, stale, 0);
	wc = svt_poll1(x->ep.cq);
	printf("initiator: SEND_WITH_INV of a stale rkey: %s\n",
	       ibv_wc_status_str(wc.status));
	SVT_CHECK(wc.wr_id == 1 && wc.status == IBV_WC_REM_INV_REQ_ERR);
}

/* After the error, the window still takes a WRITE under its live rkey. */
static void write_after(struct svt_dx *x)
{
	char c = 1;

	dx_again(x);
	write_win(x, x->peer.rkey, 78);
	svt_dx_put(x, &c, 1);
	printf("the window kept its live rkey: a WRITE through it landed\n");
}

int main(int argc, char **argv)
{
	struct svt_daemon d;
	struct svt_dx x = {};
	bool on;

	on = svt_dx_begin(argc, argv, &d, &x, target, LEN);
	send_bad(&x, send_good(&x));
	write_after(&x);
	svt_dx_end(&x);
	printf("direct SEND_WITH_INV, path %s: PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
