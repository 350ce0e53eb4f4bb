// SPDX-License-Identifier: MIT
/*
 * Sharing a context between processes: ibv_import_device() adopts a command
 * FD another process passed over (SCM_RIGHTS) or a dup() of one; objects are
 * then imported by handle. Import only checks that the handle exists and
 * builds a library object: unimport frees that object, the daemon's object
 * lives on until someone destroys it or the last copy of the FD closes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "svl_pd.h"
#include "svl_mr.h"

/* The device whose socket the command FD is connected to. */
static struct svl_device *device_of_fd(int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct svl_device *found = NULL;
	struct ibv_device **list;
	int i;

	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len) ||
	    sa.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path)) {
		errno = EINVAL;
		return NULL;
	}
	list = ibv_get_device_list(NULL);
	for (i = 0; list && list[i] && !found; i++)
		if (!strncmp(to_svl_dev(list[i])->sock_path, sa.sun_path,
			     sizeof(sa.sun_path)))
			found = to_svl_dev(list[i]);
	/* Devices outlive the list (see ibv_free_device_list). */
	ibv_free_device_list(list);
	if (!found)
		errno = ENODEV;
	return found;
}

SVL_EXPORT struct ibv_context *ibv_import_device(int cmd_fd)
{
	struct svl_device *dev = device_of_fd(cmd_fd);

	if (!dev)
		return NULL;
	/* On success the context owns cmd_fd; on failure the caller keeps it.
	 */
	return svl_context_create(dev, cmd_fd, true);
}

SVL_EXPORT struct ibv_pd *ibv_import_pd(struct ibv_context *context,
					uint32_t pd_handle)
{
	struct sv_pd_query_resp resp;
	struct ibv_pd *pd;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_PD_QUERY);
	svl_attr_idr(&c, SV_ATTR_PD_QUERY_HANDLE, pd_handle);
	svl_attr_out(&c, SV_ATTR_PD_QUERY_RESP, &resp, sizeof(resp));
	ret = svl_exec(context, &c);
	if (ret)
		return svl_fail(ret);
	/* Sized as every library PD, which dealloc and parent domains read. */
	pd = svl_zalloc(sizeof(struct svl_pd));
	if (!pd)
		return NULL;
	pd->context = context;
	pd->handle = pd_handle;
	return pd;
}

SVL_EXPORT void ibv_unimport_pd(struct ibv_pd *pd)
{
	free(pd);
}

SVL_EXPORT struct ibv_mr *ibv_import_mr(struct ibv_pd *pd, uint32_t mr_handle)
{
	uint32_t lkey = 0, rkey = 0;
	uint64_t length = 0, iova = 0;
	struct svl_mr *mr;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_MR, UVERBS_METHOD_QUERY_MR);
	svl_attr_idr(&c, UVERBS_ATTR_QUERY_MR_HANDLE, mr_handle);
	svl_attr_out(&c, UVERBS_ATTR_QUERY_MR_RESP_LKEY, &lkey, sizeof(lkey));
	svl_attr_out(&c, UVERBS_ATTR_QUERY_MR_RESP_RKEY, &rkey, sizeof(rkey));
	svl_attr_out(&c, UVERBS_ATTR_QUERY_MR_RESP_LENGTH, &length,
		     sizeof(length));
	svl_attr_out(&c, UVERBS_ATTR_QUERY_MR_RESP_IOVA, &iova, sizeof(iova));
	ret = svl_exec(pd->context, &c);
	if (ret)
		return svl_fail(ret);
	mr = svl_zalloc(sizeof(*mr));
	if (!mr)
		return NULL;
	mr->type = SVL_MR_IMPORTED;
	mr->ibmr.context = pd->context;
	mr->ibmr.pd = pd;
	mr->ibmr.handle = mr_handle;
	mr->ibmr.lkey = lkey;
	mr->ibmr.rkey = rkey;
	mr->ibmr.length = length;
	mr->ibmr.addr = (void *)(uintptr_t)iova;
	return &mr->ibmr;
}

SVL_EXPORT void ibv_unimport_mr(struct ibv_mr *mr)
{
	free(to_svl_mr(mr));
}
