/* SPDX-License-Identifier: MIT */
/*
 * Doorbell-page statistics of the engine (eng_db.c), for the NIC ops:
 * how many QPs the engine finds through one page of a context.
 */
#ifndef ENG_DB_H
#define ENG_DB_H

#include <stdint.h>

struct svd_device;
struct svd_ucontext;

uint32_t svd_engine_db_page_qps(struct svd_device *dev, uint32_t index,
				struct svd_ucontext *uctx);

#endif
