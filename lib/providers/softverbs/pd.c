// SPDX-License-Identifier: MIT
/*
 * Protection domains: legacy write ALLOC_PD / DEALLOC_PD, as rdma-core's
 * ibv_cmd_alloc_pd() does. struct ibv_pd's handle is the daemon's handle.
 * Every ibv_pd is a struct svl_pd so that a parent domain can be told apart.
 */
#include <stdlib.h>
#include <string.h>

#include "svl_pd.h"

SVL_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_alloc_pd cmd;
	} req;
	struct ib_uverbs_alloc_pd_resp resp;
	struct svl_pd *p;
	struct ibv_pd *pd;
	int ret;

	p = svl_zalloc(sizeof(*p));
	if (!p)
		return NULL;
	atomic_init(&p->users, 0);
	pd = &p->pd;
	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_ALLOC_PD, sizeof(req),
		      sizeof(resp));
	req.cmd.response = (uintptr_t)&resp;
	ret = svl_write(context, &req, sizeof(req), &resp, sizeof(resp), -1,
			NULL);
	if (ret) {
		free(pd);
		errno = ret;
		return NULL;
	}
	pd->context = context;
	pd->handle = resp.pd_handle;
	return pd;
}

SVL_EXPORT int ibv_dealloc_pd(struct ibv_pd *pd)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_dealloc_pd cmd;
	} req;
	int ret;

	if (to_svl_pd(pd)->protection)
		return svl_dealloc_parent_domain(to_svl_pd(pd));
	if (atomic_load(&to_svl_pd(pd)->users))
		return EBUSY; /* parent domains still name it */
	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_DEALLOC_PD, sizeof(req), 0);
	req.cmd.pd_handle = pd->handle;
	ret = svl_write(pd->context, &req, sizeof(req), NULL, 0, -1, NULL);
	if (ret)
		return ret; /* e.g. EBUSY: MRs/QPs still use it; pd stays */
	free(pd);
	return 0;
}
