// SPDX-License-Identifier: MIT
/*
 * Per-port counters, printed by "softverbs dev stats NAME" and written to
 * the sysfs view's hw_counters. Names follow kernel rxe's hw_counters
 * where one exists (sent_pkts, rcvd_pkts, duplicate_request,
 * out_of_seq_request, rcvd_seq_err); the rest say what they count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <softverbs/rundir.h>

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
	P("np_ecn_marked_roce_packets", c->ecn_marked);
	P("np_queue_marked", c->queue_marked);
	P("np_cnp_sent", c->cnp_sent);
	P("rp_cnp_handled", c->cnp_handled);
	P("rate_cuts", c->rate_cuts);
	for (int d = 1; d < WIRE_DROP_NR; d++) {
		P(drop_names[d], c->dropped[d]);
		all += atomic_load(&c->dropped[d]);
	}
	fprintf(f, "dropped %llu\n", (unsigned long long)all);
#undef P
}

void wire_count(struct wire *w, enum wire_event ev)
{
	bool cut = false;

	if (!w)
		return;
	switch (ev) {
	case WIRE_EV_RETRANSMIT:
		atomic_fetch_add(&w->cnt.retransmitted, 1);
		cut = wire_window_loss(&w->win);
		break;
	case WIRE_EV_DUPLICATE:
		atomic_fetch_add(&w->cnt.duplicate, 1);
		break;
	case WIRE_EV_OUT_OF_SEQ:
		atomic_fetch_add(&w->cnt.out_of_sequence, 1);
		cut = wire_window_loss(&w->win);
		break;
	case WIRE_EV_CNP:
		atomic_fetch_add(&w->cnt.cnp_handled, 1);
		cut = wire_window_cnp(&w->win);
		break;
	}
	if (cut)
		atomic_fetch_add(&w->cnt.rate_cuts, 1);
}

/* One counter file, replaced whole so a reader never sees half of it. */
static void put_counter(const char *dir, const char *name, uint64_t v)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%llu\n", (unsigned long long)v);
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

/*
 * The sysfs view's ports/1/hw_counters/ (what rxe shows under
 * /sys/class/infiniband/DEV/ports/1/hw_counters), refreshed by the main
 * loop about once a second.
 */
void wire_stats_files(struct wire *w, const char *rundir, const char *name)
{
	char dir[400], *buf = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/" SV_DEVICES_DIR "/%s/ports/1/hw_counters",
		 rundir, name);
	mkdir(dir, 0755);
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	wire_stats_print(&w->cnt, f);
	fclose(f);
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		put_counter(dir, l, strtoull(sp + 1, NULL, 10));
	}
	free(buf);
}
