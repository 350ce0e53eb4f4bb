/* SPDX-License-Identifier: MIT */
/*
 * Device memory (std_dm.c): memory the device owns, softverbs' counterpart
 * of mlx5's on-chip MEMIC. A DM is a sealed memfd of the daemon, mapped by
 * the client; a DM MR maps a range of it into the daemon like a dma-buf MR.
 */
#ifndef SVD_DM_H
#define SVD_DM_H

#include "svd_objs.h"

struct svd_dm;

/* An MR on dm went away (std_mr.c): the DM may be freed again. */
void svd_dm_mr_gone(struct svd_dm *dm);

#endif
