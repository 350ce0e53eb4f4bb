/* SPDX-License-Identifier: MIT */
/*
 * Raw Ethernet frame counts of a device, for `softverbs dev list`
 * (nic/eng_raw.c): "raw_tx=N raw_rx=N raw_drop=N".
 */
#ifndef SVD_RAW_H
#define SVD_RAW_H

#include <stddef.h>

#include "svd.h"

void svd_raw_describe(struct svd_device *dev, char *buf, size_t len);

#endif
