/* SPDX-License-Identifier: MIT */
/*
 * The data-direct path's copy method for the jobs of a long transfer,
 * chosen by measurement (dd_pick.c): plain stores (memcpy) or streaming
 * stores (dd_copy.c).
 *
 * Neither wins everywhere on the same machine. A transfer of a few MiB
 * that fits the shared cache beside what else runs is copied fastest with
 * memcpy, from cache to cache; streaming stores send every byte to memory
 * and are bound by its write bandwidth (measured at 8 MiB, load 3-5:
 * data direct 1.9-2.2x the default path with memcpy, 1.3-1.9x streaming).
 * When other programs keep the cache busy, memcpy reads every destination
 * line from memory before writing it and streaming stores win. So the
 * device measures: it keeps one method and every DD_PICK_KEEP jobs tries
 * both side by side, alternating job by job (an 8 MiB transfer's 1 MiB
 * steps alternate, so each MiB of the destination settles into one
 * method's steady state), and keeps the one that copied faster. Side by
 * side, a load that changes between milliseconds moves both alike;
 * measured one after the other, the medians of two phases of 24 jobs
 * differed by up to 3x at load 10 with the same method.
 */
#ifndef SVD_DD_PICK_H
#define SVD_DD_PICK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A try: DD_PICK_SETTLE jobs not counted (the caches follow the methods:
 * an 8 MiB transfer is 8 jobs), then DD_PICK_COUNT jobs of each method;
 * one clearly worse after DD_PICK_ABORT of each stops it early. Every
 * DD_PICK_KEEP jobs of the method kept.
 */
#define DD_PICK_SETTLE 8
#define DD_PICK_COUNT 16
#define DD_PICK_ABORT 4
#define DD_PICK_KEEP 192

struct dd_pick {
	atomic_bool stream; /* the method of the next job */
	bool kept_stream;   /* the method kept between tries */
	bool trying;	    /* alternating the two */
	bool fixed;	    /* SOFTVERBS_DD_METHOD chose it */
	uint32_t n;	    /* jobs since the try (or the keeping) began */
	uint32_t nk, no;    /* samples of the kept and the other method */
	uint64_t kept[DD_PICK_COUNT], other[DD_PICK_COUNT]; /* ns per MiB */
	uint64_t tries, switches;
};

void dd_pick_init(struct dd_pick *p);

/* The method for the next job (any thread). */
static inline bool dd_pick_stream(struct dd_pick *p)
{
	return atomic_load_explicit(&p->stream, memory_order_relaxed);
}

/*
 * A job of len bytes copied with streaming stores (stream) or memcpy took
 * ns. Callers serialize (the device's lock).
 */
void dd_pick_note(struct dd_pick *p, bool stream, uint64_t ns, uint64_t len);

#endif
