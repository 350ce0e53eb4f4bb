/* SPDX-License-Identifier: MIT */
/* Memory regions in the library (lib/mr.c, lib/import.c). */
#ifndef SVL_MR_H
#define SVL_MR_H

#include "svl.h"

/* Like rdma-core's verbs_mr: rereg is only for plain (VA) regions. */
enum svl_mr_type {
	SVL_MR_VA,
	SVL_MR_DMABUF,
	SVL_MR_IMPORTED,
	SVL_MR_DM, /* on device memory (dm.c) */
};

struct svl_mr {
	struct ibv_mr ibmr; /* must be first: the application sees this */
	enum svl_mr_type type;
};

static inline struct svl_mr *to_svl_mr(struct ibv_mr *mr)
{
	return (struct svl_mr *)mr;
}

#endif
