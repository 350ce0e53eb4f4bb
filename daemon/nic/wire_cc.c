// SPDX-License-Identifier: MIT
/*
 * Congestion: when a peer does not drain, the sender backs off. A RoCEv2
 * sender learns of it from loss: the transport retransmits (a timeout) or
 * receives a sequence-error NAK, and reports it with wire_count(). The
 * wire then halves its sending rate (at most once per WIRE_CUT_NS, about
 * a round trip, so one burst of loss counts once) and raises it by an
 * eighth every WIRE_RAISE_NS without loss, up to unlimited: additive-ish
 * increase, multiplicative decrease, as DCQCN does with ECN marks. The
 * rate is enforced by a token bucket in wire_send(); at full rate the
 * bucket is bypassed. Local back-pressure (the socket's buffer is full)
 * is handled in wire_send() by waiting for the socket.
 */
#include <time.h>

#include "wire_int.h"

#define WIRE_RATE_MAX (12500ULL * 1000 * 1000) /* 100 Gb/s: no limit */
#define WIRE_RATE_MIN (8ULL * 1000 * 1000)
#define WIRE_BURST (64U * 1024)
#define WIRE_CUT_NS (10ULL * 1000 * 1000)
#define WIRE_RAISE_NS (1ULL * 1000 * 1000)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void wire_window_init(struct wire_window *win)
{
	atomic_store(&win->rate, WIRE_RATE_MAX);
	win->tokens = WIRE_BURST;
	win->stamp_ns = now_ns();
}

void wire_window_loss(struct wire_window *win)
{
	uint64_t t = now_ns(), rate = atomic_load(&win->rate);

	if (t - atomic_load(&win->last_cut_ns) < WIRE_CUT_NS)
		return;
	atomic_store(&win->last_cut_ns, t);
	atomic_store(&win->last_raise_ns, t);
	rate = rate > WIRE_RATE_MAX / 2 ? 1000ULL * 1000 * 1000 : rate / 2;
	atomic_store(&win->rate, rate < WIRE_RATE_MIN ? WIRE_RATE_MIN : rate);
}

/* Without loss for a while, speed up again. */
static uint64_t window_raise(struct wire_window *win, uint64_t t)
{
	uint64_t rate = atomic_load(&win->rate);

	if (rate < WIRE_RATE_MAX &&
	    t - atomic_load(&win->last_raise_ns) >= WIRE_RAISE_NS) {
		atomic_store(&win->last_raise_ns, t);
		rate += rate / 8;
		rate = rate > WIRE_RATE_MAX ? WIRE_RATE_MAX : rate;
		atomic_store(&win->rate, rate);
	}
	return rate;
}

/* Called by the device's one sending thread before each packet. */
void wire_window_wait(struct wire *w, struct wire_window *win, size_t len)
{
	uint64_t t = now_ns(), rate = window_raise(win, t);

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
