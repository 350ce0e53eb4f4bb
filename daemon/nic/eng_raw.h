/* SPDX-License-Identifier: MIT */
/*
 * Raw packet QPs (eng_raw.c): each send WQE is one Ethernet frame, looped
 * back by the device's embedded switch to the raw QPs whose flow rules
 * (verbs/svd_flow.h) match it.
 */
#ifndef SVD_ENG_RAW_H
#define SVD_ENG_RAW_H

#include "engine.h"

/*
 * One step of a raw QP's send queue (the requester calls it instead of its
 * own steps): sends the head WQE's frame; true if it did work.
 */
bool eng_raw_run(struct svd_engine *e, struct eng_qp *eq);

#endif
