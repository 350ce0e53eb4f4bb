// SPDX-License-Identifier: MIT
/*
 * The RC requester's congestion window, in PSNs, on a transport that can
 * lose packets (the wire, the lossy test transport): how far the next
 * PSN may run ahead of the oldest unacknowledged one.
 *
 * Without it a requester kept every WQE of its window in flight: an
 * ib_send_bw of 64 KiB messages put 4,000 packets ahead of the ACKs into
 * kernel Soft-RoCE in a slow guest, which dropped them, NAKed, and then
 * worked for half a second through the packets queued behind the loss,
 * while go-back-N and the QP's 67 ms timer sent the window again, seven
 * times, until RETRY_EXC_ERR. rxe bounds itself the same way (128
 * unacknowledged PSNs); a peer that drains fast lets the window grow.
 *
 * The rule is TCP Reno's, per QP: start at 128; grow by what is
 * acknowledged (doubling per round trip) up to the threshold, then by
 * about one PSN per window acknowledged, at most 256; a sequence NAK
 * halves it (once per window: a burst of loss is one event); a timeout
 * sets it to the minimum and the threshold to half. The same-host transport loses
 * nothing and is not windowed.
 */
#include "engine.h"

#define CWND_MIN 16U
#define CWND_INIT 128U
/*
 * At most 256: the window is also the queue a slow receiver holds, and
 * what it holds must drain well within the QP's timeout. With 2048, rxe in
 * a TCG guest (about 125 us a packet) sat on 2,000 packets; after one
 * loss it took 0.6 s to reach the resent ones, past seven 67 ms timeouts.
 */
#define CWND_MAX 256U

void eng_cwnd_init(struct eng_qp *eq)
{
	eq->cwnd = CWND_INIT;
	eq->ssthresh = CWND_MAX;
	eq->cwnd_acc = 0;
	eq->recover = eq->psn;
}

/* No new packet now: the window is full on a route that can lose. */
bool eng_cwnd_full(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_packet p;
	int32_t out = eng_psn_cmp(eq->psn, eq->una);

	/* Nothing outstanding: one packet goes, even a READ of more. */
	if (out <= 0 || (uint32_t)out < eq->cwnd)
		return false;
	eng_req_route(eq->qp, &p);
	return eng_xport_may_lose(e, &p.route);
}

/* n more PSNs acknowledged. */
void eng_cwnd_acked(struct eng_qp *eq, uint32_t n)
{
	if (eq->cwnd < eq->ssthresh) {
		eq->cwnd += n;
	} else {
		eq->cwnd_acc += n;
		if (eq->cwnd_acc >= eq->cwnd) {
			eq->cwnd_acc -= eq->cwnd;
			eq->cwnd++;
		}
	}
	if (eq->cwnd > CWND_MAX)
		eq->cwnd = CWND_MAX;
}

static uint32_t half(uint32_t w)
{
	return w / 2 > CWND_MIN ? w / 2 : CWND_MIN;
}

/* A sequence NAK: halve, unless this loss is of a window already cut. */
void eng_cwnd_loss(struct eng_qp *eq)
{
	if (eng_psn_cmp(eq->una, eq->recover) < 0)
		return;
	eq->ssthresh = half(eq->cwnd);
	eq->cwnd = eq->ssthresh;
	eq->cwnd_acc = 0;
	eq->recover = eq->psn;
}

/* No answer within the QP's timeout: start again from the minimum. */
void eng_cwnd_timeout(struct eng_qp *eq)
{
	eq->ssthresh = half(eq->cwnd);
	eq->cwnd = CWND_MIN;
	eq->cwnd_acc = 0;
	eq->recover = eq->psn;
}
