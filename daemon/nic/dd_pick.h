/* SPDX-License-Identifier: MIT */
/*
 * The data-direct path's copy method for the jobs of a long transfer,
 * chosen by measurement (dd_pick.c): plain stores (memcpy) or streaming
 * stores (dd_copy.c).
 *
 * Neither wins everywhere on the same machine. A transfer of a few MiB
 * that fits the shared cache beside what else runs is copied fastest by
 * two CPUs with memcpy, from cache to cache; streaming stores send every
 * byte to memory and are bound by its write bandwidth (measured at 8 MiB,
 * load 5: data direct 1.8-2.2x the default path with memcpy, 1.2-1.6x
 * streaming). When other programs keep the cache busy, memcpy reads every
 * destination line from memory before writing it and streaming stores win
 * (at load 10-15: 2-2.5x streaming). So the device measures: it keeps the
 * method that copied faster and every few hundred jobs tries the other.
 */
#ifndef SVD_DD_PICK_H
#define SVD_DD_PICK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A phase is DD_PICK_SETTLE jobs not counted (after a change of method
 * the caches follow it: an 8 MiB transfer is 8 jobs) and DD_PICK_COUNT
 * counted ones. After DD_PICK_KEEP phases in the method kept, one phase
 * tries the other; a try DD_PICK_ABORT counted jobs in that is clearly
 * worse stops early.
 */
#define DD_PICK_SETTLE 8
#define DD_PICK_COUNT 16
#define DD_PICK_KEEP 8
#define DD_PICK_ABORT 4

struct dd_pick {
	atomic_bool stream; /* the method of the next job */
	bool kept_stream;   /* the method kept between tries */
	bool trying;	    /* this phase tries the other method */
	uint32_t n;	    /* jobs of this phase so far */
	uint32_t phases;    /* phases kept since the last try */
	uint64_t kept_cost; /* median ns per MiB of the last kept phase */
	uint64_t cost[DD_PICK_COUNT];
	uint64_t switches; /* times the method changed after a try */
	bool fixed;	   /* SOFTVERBS_DD_METHOD chose it */
};

void dd_pick_init(struct dd_pick *p);

/* The method for the next job (any thread). */
static inline bool dd_pick_stream(struct dd_pick *p)
{
	return atomic_load_explicit(&p->stream, memory_order_relaxed);
}

/*
 * A job of len bytes copied with the method dd_pick_stream() gave took
 * ns. Callers serialize (the device's lock).
 */
void dd_pick_note(struct dd_pick *p, uint64_t ns, uint64_t len);

#endif
