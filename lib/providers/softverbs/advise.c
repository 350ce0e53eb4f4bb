// SPDX-License-Identifier: MIT
/*
 * ibv_advise_mr: UVERBS_METHOD_ADVISE_MR, which the daemon carries out on
 * ODP regions (docs/odp.md). struct ibv_sge has the layout of
 * struct ib_uverbs_sge, so the list goes as it is.
 */
#include <errno.h>

#include "svl.h"
#include "svl_mr.h"
#include "svl_prov.h"

_Static_assert(sizeof(struct ibv_sge) == sizeof(struct ib_uverbs_sge),
	       "ibv_sge is the uverbs SGE");

int svl_advise_mr(struct ibv_pd *pd, enum ibv_advise_mr_advice advice,
		  uint32_t flags, struct ibv_sge *sg_list, uint32_t num_sge)
{
	size_t len = (size_t)num_sge * sizeof(*sg_list);
	struct svl_cmd c;
	int ret;

	/* The attribute length is 16 bits, as in the kernel's ioctl. */
	if (!num_sge || len > UINT16_MAX)
		return EINVAL;
	svl_cmd_init(&c, UVERBS_OBJECT_MR, UVERBS_METHOD_ADVISE_MR);
	svl_attr_idr(&c, UVERBS_ATTR_ADVISE_MR_PD_HANDLE, pd->handle);
	svl_attr_u64(&c, UVERBS_ATTR_ADVISE_MR_ADVICE, advice);
	svl_attr_u64(&c, UVERBS_ATTR_ADVISE_MR_FLAGS, flags);
	svl_attr_in(&c, UVERBS_ATTR_ADVISE_MR_SGE_LIST, sg_list, len);
	ret = svl_exec(pd->context, &c);
	/* The daemon read-faulted the pages; a write fault must happen in
	 * the registrar (mr_odp.c). */
	if (!ret && advice == IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE)
		svl_mr_odp_populate_write(pd->context, sg_list, num_sge);
	return ret;
}
