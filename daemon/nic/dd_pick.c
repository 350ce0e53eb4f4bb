// SPDX-License-Identifier: MIT
/*
 * Choosing the data-direct path's copy method by measurement (dd_pick.h).
 *
 * Costs are compared as medians (a worker preempted in the middle of a
 * chunk makes one job slow, not the method). Starting with memcpy, the
 * first try comes after DD_PICK_SETTLE jobs.
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
	p->n = DD_PICK_KEEP - DD_PICK_SETTLE; /* try early */
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

/* Back to the method kept (the other one if it won). */
static void dd_pick_keep(struct dd_pick *p, bool other_won)
{
	if (other_won) {
		p->kept_stream = !p->kept_stream;
		p->switches++;
	}
	p->trying = false;
	p->n = 0;
	atomic_store_explicit(&p->stream, p->kept_stream, memory_order_relaxed);
}

/* After a try's job: decided (true) or not yet. */
static bool dd_pick_judge(struct dd_pick *p)
{
	uint64_t k = median(p->kept, p->nk), o = median(p->other, p->no);

	if (p->no >= DD_PICK_ABORT && p->nk >= DD_PICK_ABORT && o * 4 > k * 5) {
		dd_pick_keep(p, false); /* a quarter slower: enough */
		return true;
	}
	if (p->nk < DD_PICK_COUNT || p->no < DD_PICK_COUNT) {
		/* Jobs came in an odd pattern: give up after a while. */
		if (p->n < DD_PICK_SETTLE + 4 * DD_PICK_COUNT)
			return false;
		dd_pick_keep(p, false);
		return true;
	}
	/* 1/16 better, so that noise between equals does not flap. */
	dd_pick_keep(p, o * 16 < k * 15);
	return true;
}

static void dd_pick_try(struct dd_pick *p, bool stream, uint64_t cost)
{
	if (p->n > DD_PICK_SETTLE) {
		if (stream == p->kept_stream && p->nk < DD_PICK_COUNT)
			p->kept[p->nk++] = cost;
		else if (stream != p->kept_stream && p->no < DD_PICK_COUNT)
			p->other[p->no++] = cost;
	}
	if (dd_pick_judge(p))
		return;
	/* Alternate job by job: the steps of a transfer take turns. */
	atomic_store_explicit(&p->stream, p->kept_stream ^ ((p->n + 1) & 1),
			      memory_order_relaxed);
}

void dd_pick_note(struct dd_pick *p, bool stream, uint64_t ns, uint64_t len)
{
	if (!len || p->fixed)
		return;
	p->n++;
	if (p->trying) {
		dd_pick_try(p, stream, (ns << 20) / len);
		return;
	}
	if (p->n < DD_PICK_KEEP)
		return;
	p->trying = true;
	p->tries++;
	p->n = 0;
	p->nk = p->no = 0;
	atomic_store_explicit(&p->stream, !p->kept_stream,
			      memory_order_relaxed);
}
