/* SPDX-License-Identifier: MIT */
/*
 * LID routing between the daemon's InfiniBand devices (nic/eng_switch.c),
 * for `softverbs dev list`: on an IB device " lid_fwd=N lid_rcvd=N
 * lid_noroute=N lid_full=N" (packets forwarded to another port, received
 * from one, sent to a LID nobody holds, lost to a full destination); on a
 * RoCE device "".
 */
#ifndef SVD_SWITCH_H
#define SVD_SWITCH_H

#include <stddef.h>

#include "svd.h"

void svd_switch_describe(struct svd_device *dev, char *buf, size_t len);

#endif
