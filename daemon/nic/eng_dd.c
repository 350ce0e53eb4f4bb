// SPDX-License-Identifier: MIT
/*
 * The engine's side of the data-direct path (svd_dd.h): how much one step
 * of a QP hands to a data-direct region's DMA device.
 *
 * The engine moves at most ENG_CHUNK bytes per step so QPs interleave. A
 * step whose local memory (the requester's source or destination
 * segment, the responder's READ source) is a data-direct region hands
 * the device a burst of up to svd_dd_burst() bytes instead, which it
 * splits with its worker and copies with its own method. Only over the
 * synchronous same-host transport: there a packet's payload is a
 * reference to the sender's memory and the receiver copies straight from
 * it, so a burst is one copy; the switch and the wire copy payloads into
 * packets and keep their own segment sizes.
 *
 * Since the engine's own step became 1 MiB (ENG_CHUNK, for VA regions'
 * sake), the default burst equals it: every copy of a transfer with a
 * data-direct region on either side -- source or destination, local or
 * remote -- already reaches the device at 1 MiB, where it is split
 * (test_datadirect counts 16 copies for 16 MiB in both roles). The burst
 * matters only when SOFTVERBS_DD_BURST_KIB raises it (measured at 8 MiB,
 * 8 MiB bursts: no gain beyond the load's noise) or if the engine's step
 * shrinks again (at 64 KiB steps no copy reached the size at which the
 * device splits, and data direct gained nothing).
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
