// SPDX-License-Identifier: MIT
/*
 * Congestion: when the network or a peer does not drain, the sender backs
 * off. The device has one sending rate (its engine thread sends for all
 * its QPs), enforced by a token bucket in front of every packet, and two
 * signals that cut it, both reported with wire_count():
 *
 * - ECN, as DCQCN does. Packets leave ECN-capable (ECT(0)); a router (or
 *   the test knob, wire_set_ce()) marks CE instead of dropping; the
 *   receiver answers a CE-marked packet with a CNP to the sending QP
 *   (wire_xport.c, at most one per QP per WIRE_CNP_GAP_NS). A CNP cuts
 *   the rate by alpha/2, alpha being DCQCN's running estimate of how
 *   congested the path is (raised by every CNP, decayed without them).
 * - Loss: a retransmission or a sequence NAK halves the rate, at most once
 *   per WIRE_CUT_NS (one burst of loss counts once).
 *
 * A cut starts from what was really sent over the last few milliseconds
 * when that is less than the limit (it always is while unlimited): a limit
 * far above the real rate would take many cuts to mean anything.
 *
 * Every WIRE_RAISE_NS without a cut the rate recovers: halfway back to the
 * rate before the last cut (DCQCN's fast recovery), and once there, by an
 * eighth at a time, up to unlimited. At full rate the bucket is bypassed
 * (one clock read per packet). Local back-pressure (a full socket buffer)
 * is handled where packets are sent, by waiting for the socket.
 */
#include <time.h>

#include "wire_int.h"

#define WIRE_RATE_MAX (12500ULL * 1000 * 1000) /* 100 Gb/s: no limit */
#define WIRE_RATE_LINE (1250ULL * 1000 * 1000) /* nothing measured: 10 Gb/s */
#define WIRE_RATE_MIN (8ULL * 1000 * 1000)
#define WIRE_BURST (64U * 1024)
#define WIRE_CUT_NS (10ULL * 1000 * 1000)
/* CNPs closer than this count once: about a round trip here. */
#define WIRE_CNP_CUT_NS (1ULL * 1000 * 1000)
#define WIRE_RAISE_NS (2ULL * 1000 * 1000)
#define WIRE_METER_NS (4ULL * 1000 * 1000) /* the sent-rate meter's period */
#define ALPHA_ONE 1024U
#define ALPHA_G 16U /* DCQCN's g = 1/16 */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void wire_window_init(struct wire_window *win)
{
	atomic_store(&win->rate, WIRE_RATE_MAX);
	win->target = WIRE_RATE_MAX;
	win->alpha = ALPHA_ONE;
	win->tokens = WIRE_BURST;
	win->stamp_ns = now_ns();
}

/* Cut the rate by num/ALPHA_ONE, unless one came less than gap ago. */
static bool window_cut(struct wire_window *win, uint64_t num, uint64_t gap)
{
	uint64_t t = now_ns(), rate = atomic_load(&win->rate);

	if (t - atomic_load(&win->last_cut_ns) < gap)
		return false;
	if (win->sent_rate && win->sent_rate < rate)
		rate = win->sent_rate;
	if (rate >= WIRE_RATE_MAX)
		rate = WIRE_RATE_LINE;
	win->target = rate;
	rate -= rate * num / ALPHA_ONE;
	atomic_store(&win->rate, rate < WIRE_RATE_MIN ? WIRE_RATE_MIN : rate);
	atomic_store(&win->last_cut_ns, t);
	atomic_store(&win->last_raise_ns, t);
	return true;
}

bool wire_window_loss(struct wire_window *win)
{
	return window_cut(win, ALPHA_ONE / 2, WIRE_CUT_NS);
}

bool wire_window_cnp(struct wire_window *win)
{
	win->alpha += (ALPHA_ONE - win->alpha) / ALPHA_G;
	return window_cut(win, win->alpha / 2, WIRE_CNP_CUT_NS);
}

/* Without a cut for a while: recover, and congestion is believed less. */
static uint64_t window_raise(struct wire_window *win, uint64_t t)
{
	uint64_t rate = atomic_load(&win->rate);

	if (rate >= WIRE_RATE_MAX ||
	    t - atomic_load(&win->last_raise_ns) < WIRE_RAISE_NS)
		return rate;
	atomic_store(&win->last_raise_ns, t);
	win->alpha -= win->alpha / ALPHA_G;
	if (rate + rate / 16 < win->target)
		rate = (rate + win->target) / 2; /* fast recovery */
	else
		rate += rate / 8;
	rate = rate > WIRE_RATE_MAX ? WIRE_RATE_MAX : rate;
	atomic_store(&win->rate, rate);
	return rate;
}

/* The sending rate over the last WIRE_METER_NS (bytes per second). */
static void window_meter(struct wire_window *win, uint64_t t, size_t len)
{
	uint64_t dt = t - win->meter_ns;

	win->meter_bytes += len;
	if (dt < WIRE_METER_NS)
		return;
	win->sent_rate = win->meter_bytes * 1000000000ULL / dt;
	win->meter_bytes = 0;
	win->meter_ns = t;
}

/* Called by the device's one sending thread before each packet. */
void wire_window_wait(struct wire *w, struct wire_window *win, size_t len)
{
	uint64_t t = now_ns(), rate = window_raise(win, t);

	window_meter(win, t, len);
	if (rate >= WIRE_RATE_MAX)
		return;
	win->tokens += (t - win->stamp_ns) * rate / 1000000000ULL;
	win->stamp_ns = t;
	if (win->tokens > WIRE_BURST)
		win->tokens = WIRE_BURST;
	if (win->tokens < len) {
		uint64_t ns = (len - win->tokens) * 1000000000ULL / rate;
		struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
				       .tv_nsec = (long)(ns % 1000000000ULL) };

		atomic_fetch_add(&w->cnt.send_backoff, 1);
		nanosleep(&ts, NULL);
		win->tokens = len;
		win->stamp_ns = now_ns();
	}
	win->tokens -= len;
}

void wire_set_ce(struct wire *w, double pct)
{
	w->ce_ppm = pct <= 0 ? 0 : pct >= 100 ? 1000000 : (uint32_t)(pct * 1e4);
	w->ce_rand = now_ns();
}

uint8_t wire_ce_mark(struct wire *w)
{
	if (!w->ce_ppm)
		return 0;
	w->ce_rand = w->ce_rand * 6364136223846793005ULL + 1442695040888963407ULL;
	return (w->ce_rand >> 33) % 1000000 < w->ce_ppm ? 3 : 0;
}
