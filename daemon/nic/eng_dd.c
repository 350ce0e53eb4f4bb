// SPDX-License-Identifier: MIT
/*
 * The engine's side of the data-direct path (svd_dd.h): how much one step
 * of a QP hands to a data-direct region's DMA device.
 *
 * The engine moves at most ENG_CHUNK bytes per step so QPs interleave; at
 * that size a data-direct copy cannot be shared with the device's worker
 * (below DD_SPLIT_MIN one thread is faster), so a 1 MiB transfer would be
 * sixteen engine-sized copies and the second DMA engine would never run.
 * A step whose local memory (the requester's source or destination
 * segment, the responder's READ source) is a data-direct region therefore
 * hands the device a burst of up to svd_dd_burst() bytes, which it splits
 * with its worker and copies with its own method. Only over the
 * synchronous same-host transport: there a packet's payload is a
 * reference to the sender's memory and the receiver copies straight from
 * it, so a burst is one copy; the switch and the wire copy payloads into
 * packets and keep their own segment sizes.
 */
#include "engine.h"
#include "eng_xport.h"
#include "svd_dd.h"

uint64_t eng_dd_seg(struct svd_engine *e, const struct eng_route *r,
		    const struct svd_umem *u, uint64_t seg)
{
	if (!u || !u->dd || seg < ENG_CHUNK || !eng_xport_is_sync(e, r))
		return seg;
	return svd_dd_burst() > seg ? svd_dd_burst() : seg;
}

/* The segment of sgl holding byte off (a requester's message). */
const struct svd_umem *eng_dd_sgl_umem(const struct eng_sgl *sgl,
				       uint64_t off)
{
	unsigned int i;

	for (i = 0; i < sgl->n; i++) {
		if (off < sgl->seg[i].len)
			return sgl->seg[i].umem;
		off -= sgl->seg[i].len;
	}
	return NULL;
}
