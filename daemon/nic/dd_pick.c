// SPDX-License-Identifier: MIT
/*
 * Choosing the data-direct path's copy method by measurement (dd_pick.h).
 *
 * Costs are compared as medians of a phase (a worker preempted in the
 * middle of a chunk makes one job slow, not the method), and a try is
 * compared with the kept phase right before it, so a load that changes
 * over seconds moves both alike. Starting with memcpy, the first try
 * comes after one kept phase.
 */
#include <stdlib.h>
#include <string.h>

#include "dd_pick.h"

/*
 * SOFTVERBS_DD_METHOD=memcpy|stream in the daemon's environment fixes the
 * method, for measuring one against the other; anything else measures.
 */
void dd_pick_init(struct dd_pick *p)
{
	const char *env = getenv("SOFTVERBS_DD_METHOD");

	memset(p, 0, sizeof(*p));
	p->phases = DD_PICK_KEEP - 1; /* try the other early */
	p->fixed = env && (!strcmp(env, "memcpy") || !strcmp(env, "stream"));
	p->kept_stream = p->fixed && !strcmp(env, "stream");
	atomic_init(&p->stream, p->kept_stream);
}

static uint64_t median(const uint64_t *v, uint32_t n)
{
	uint64_t s[DD_PICK_COUNT], x;
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		x = v[i];
		for (j = i; j && s[j - 1] > x; j--)
			s[j] = s[j - 1];
		s[j] = x;
	}
	return n ? s[n / 2] : 0;
}

/* Start a phase in the kept method (trying: false) or the other. */
static void dd_pick_phase(struct dd_pick *p, bool trying)
{
	p->trying = trying;
	p->n = 0;
	atomic_store_explicit(&p->stream, p->kept_stream ^ trying,
			      memory_order_relaxed);
}

/* A try ended after counted jobs: keep the faster method. */
static void dd_pick_judge(struct dd_pick *p, uint32_t counted)
{
	uint64_t c = median(p->cost, counted);

	/* 1/16 better, so that noise between equals does not flap. */
	if (counted == DD_PICK_COUNT && c * 16 < p->kept_cost * 15) {
		p->kept_stream = !p->kept_stream;
		p->kept_cost = c;
		p->switches++;
	}
	p->phases = 0;
	dd_pick_phase(p, false);
}

void dd_pick_note(struct dd_pick *p, uint64_t ns, uint64_t len)
{
	uint32_t counted;

	if (!len || p->fixed)
		return;
	if (p->n >= DD_PICK_SETTLE)
		p->cost[p->n - DD_PICK_SETTLE] = (ns << 20) / len;
	counted = ++p->n > DD_PICK_SETTLE ? p->n - DD_PICK_SETTLE : 0;
	if (p->trying && counted == DD_PICK_ABORT &&
	    median(p->cost, counted) * 4 > p->kept_cost * 5) {
		dd_pick_judge(p, counted); /* a quarter slower: enough */
		return;
	}
	if (counted < DD_PICK_COUNT)
		return;
	if (p->trying) {
		dd_pick_judge(p, counted);
		return;
	}
	p->kept_cost = median(p->cost, counted);
	if (++p->phases >= DD_PICK_KEEP)
		dd_pick_phase(p, true);
	else
		p->n = 0;
}
