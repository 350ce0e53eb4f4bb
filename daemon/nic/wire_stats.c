// SPDX-License-Identifier: MIT
/*
 * Per-port counters, printed by "softverbs dev stats NAME" and written to
 * the sysfs view's hw_counters. Names follow kernel rxe's hw_counters
 * where one exists (sent_pkts, rcvd_pkts, duplicate_request,
 * out_of_seq_request, rcvd_seq_err); the rest say what they count.
 */
#include <stdio.h>

#include "wire_int.h"

static const char *const drop_names[WIRE_DROP_NR] = {
	[WIRE_DROP_SHORT] = "dropped_short",
	[WIRE_DROP_ICRC] = "dropped_icrc",
	[WIRE_DROP_VERSION] = "dropped_version",
	[WIRE_DROP_OPCODE] = "dropped_opcode",
	[WIRE_DROP_LENGTH] = "dropped_length",
	[WIRE_DROP_PKEY] = "dropped_pkey",
	[WIRE_DROP_QPN] = "dropped_qpn",
	[WIRE_DROP_QKEY] = "dropped_qkey",
	[WIRE_DROP_QP_STATE] = "dropped_qp_state",
	[WIRE_DROP_QUEUE] = "dropped_queue_full",
	[WIRE_DROP_NOTRANSPORT] = "dropped_no_transport",
};

const char *wire_drop_name(enum wire_drop d)
{
	return d > 0 && d < WIRE_DROP_NR ? drop_names[d] : "dropped_unknown";
}

void wire_stats_print(const struct wire_counters *c, void *file)
{
	FILE *f = file;
	uint64_t all = 0;

#define P(name, v) \
	fprintf(f, "%s %llu\n", name, (unsigned long long)atomic_load(&(v)))
	P("sent_pkts", c->sent_pkts);
	P("sent_bytes", c->sent_bytes);
	P("rcvd_pkts", c->rcvd_pkts);
	P("rcvd_bytes", c->rcvd_bytes);
	P("send_err", c->send_err);
	P("send_backoff", c->send_backoff);
	P("retransmitted", c->retransmitted);
	P("duplicate_request", c->duplicate);
	P("out_of_seq_request", c->out_of_sequence);
	for (int d = 1; d < WIRE_DROP_NR; d++) {
		P(drop_names[d], c->dropped[d]);
		all += atomic_load(&c->dropped[d]);
	}
	fprintf(f, "dropped %llu\n", (unsigned long long)all);
#undef P
}

void wire_count(struct wire *w, enum wire_event ev)
{
	if (!w)
		return;
	switch (ev) {
	case WIRE_EV_RETRANSMIT:
		atomic_fetch_add(&w->cnt.retransmitted, 1);
		wire_window_loss(&w->win);
		break;
	case WIRE_EV_DUPLICATE:
		atomic_fetch_add(&w->cnt.duplicate, 1);
		break;
	case WIRE_EV_OUT_OF_SEQ:
		atomic_fetch_add(&w->cnt.out_of_sequence, 1);
		wire_window_loss(&w->win);
		break;
	}
}
