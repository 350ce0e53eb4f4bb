// SPDX-License-Identifier: MIT
/*
 * Memory regions and windows.
 *
 * A region in a shared file mapping is registered with that file, which
 * the daemon maps (mr_file.c): it outlives this process. Other VA regions
 * stay in this process: the daemon reaches them through /proc/PID/mem,
 * which the kernel permits under the ptrace access rules. Under Yama's
 * ptrace_scope=1 only an ancestor may do that unless the process names a
 * tracer, so before the first registration (and again
 * after a fork) the library names the daemon (its pid from SO_PEERCRED on
 * the command FD) with prctl(PR_SET_PTRACER). This replaces any tracer the
 * application named itself. Where access is still refused (scope 2 or 3,
 * another uid, a non-dumpable process) ibv_reg_mr fails with EPERM/EACCES.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svl.h"
#include "svl_mr.h"
#include "svl_prov.h"

static pthread_mutex_t ptracer_lock = PTHREAD_MUTEX_INITIALIZER;

static void allow_daemon_access(struct ibv_context *ctx)
{
	static pid_t done_for, done_in;
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	pid_t daemon_pid;

	if (getsockopt(ctx->cmd_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return;
	daemon_pid = cred.pid;
	pthread_mutex_lock(&ptracer_lock);
	if (done_for != daemon_pid || done_in != getpid()) {
		/* EINVAL without Yama: nothing to do then. */
		prctl(PR_SET_PTRACER, (unsigned long)daemon_pid, 0, 0, 0);
		done_for = daemon_pid;
		done_in = getpid();
	}
	pthread_mutex_unlock(&ptracer_lock);
}

static struct svl_mr *mr_new(struct ibv_pd *pd, enum svl_mr_type type)
{
	struct svl_mr *mr = calloc(1, sizeof(*mr));

	if (!mr)
		return svl_fail(ENOMEM);
	mr->type = type;
	mr->ibmr.context = pd->context;
	mr->ibmr.pd = pd;
	return mr;
}

/* Access bits under which the region's memory is written to. */
#define MR_WRITE_ACCESS                                                   \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |                \
	 IBV_ACCESS_REMOTE_ATOMIC)

/*
 * The file to hand the daemon for [addr, addr+len), or -1 (a VA region).
 * Not for on-demand paging: an ODP region follows the process's page
 * tables as the kernel's does (an munmap or the registrar's exit takes
 * the pages away, a new mapping at the address is what the NIC sees), so
 * it stays a VA region even over a shared mapping (docs/odp.md).
 */
static int mr_file(void *addr, size_t length, unsigned int access,
		   uint64_t *off)
{
	if (access & IBV_ACCESS_ON_DEMAND)
		return -1;
	return svl_mr_backing_file(addr, length, access & MR_WRITE_ACCESS,
				   off);
}

SVL_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
					   size_t length, uint64_t iova,
					   unsigned int access)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_reg_mr cmd;
		struct sv_reg_mr_req drv;
	} req;
	struct ib_uverbs_reg_mr_resp resp;
	struct svl_mr *mr;
	uint64_t off = 0;
	int ret, fd;

	mr = mr_new(pd, SVL_MR_VA);
	if (!mr)
		return NULL;
	allow_daemon_access(pd->context);
	memset(&req, 0, sizeof(req));
	/* A shared file mapping: hand the daemon the file (issue 11). */
	fd = mr_file(addr, length, access, &off);
	svl_write_hdr(&req, IB_USER_VERBS_CMD_REG_MR,
		      fd < 0 ? offsetof(typeof(req), drv) : sizeof(req),
		      sizeof(resp));
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.start = (uintptr_t)addr;
	req.cmd.length = length;
	req.cmd.hca_va = iova;
	req.cmd.pd_handle = pd->handle;
	req.cmd.access_flags = access;
	req.drv.file_offset = off;
	req.drv.flags = fd < 0 ? 0 : SV_REG_MR_FILE;
	ret = svl_write(pd->context, &req,
			fd < 0 ? offsetof(typeof(req), drv) : sizeof(req),
			&resp, sizeof(resp), fd, NULL);
	if (fd >= 0)
		close(fd);
	if (ret) {
		free(mr);
		errno = ret;
		return NULL;
	}
	mr->access = access;
	mr->ibmr.addr = addr;
	mr->ibmr.length = length;
	mr->ibmr.handle = resp.mr_handle;
	mr->ibmr.lkey = resp.lkey;
	mr->ibmr.rkey = resp.rkey;
	mr->iova = iova;
	if (access & IBV_ACCESS_ON_DEMAND)
		svl_mr_odp_add(mr, iova);
	else if (fd < 0)
		svl_mr_keys_add(mr); /* small payloads captured at post */
	return &mr->ibmr;
}

SVL_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr,
				     size_t length, int access)
{
	return ibv_reg_mr_iova2(pd, addr, length, (uintptr_t)addr,
				(unsigned int)access);
}

SVL_EXPORT struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr,
					  size_t length, uint64_t iova,
					  int access)
{
	return ibv_reg_mr_iova2(pd, addr, length, iova, (unsigned int)access);
}

/* REG_DMABUF_MR; sv_access carries softverbs' own bits (dv.c), or 0. */
struct ibv_mr *svl_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
				 size_t length, uint64_t iova, int fd,
				 int access, uint32_t sv_access)
{
	uint32_t lkey = 0, rkey = 0, acc = (uint32_t)access;
	uint64_t len = length;
	struct ib_uverbs_attr *h;
	struct svl_mr *mr;
	struct svl_cmd c;
	int ret;

	mr = mr_new(pd, SVL_MR_DMABUF);
	if (!mr)
		return NULL;
	svl_cmd_init(&c, UVERBS_OBJECT_MR, UVERBS_METHOD_REG_DMABUF_MR);
	h = svl_attr_idr_new(&c, UVERBS_ATTR_REG_DMABUF_MR_HANDLE);
	svl_attr_idr(&c, UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE, pd->handle);
	svl_attr_u64(&c, UVERBS_ATTR_REG_DMABUF_MR_OFFSET, offset);
	svl_attr_u64(&c, UVERBS_ATTR_REG_DMABUF_MR_LENGTH, len);
	svl_attr_u64(&c, UVERBS_ATTR_REG_DMABUF_MR_IOVA, iova);
	svl_attr_fd(&c, UVERBS_ATTR_REG_DMABUF_MR_FD, fd);
	svl_attr_in(&c, UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, &acc,
		    sizeof(acc));
	if (sv_access)
		svl_attr_in(&c, SV_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, &sv_access,
			    sizeof(sv_access));
	svl_attr_out(&c, UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY, &lkey,
		     sizeof(lkey));
	svl_attr_out(&c, UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY, &rkey,
		     sizeof(rkey));
	ret = svl_exec(pd->context, &c);
	if (ret) {
		free(mr);
		errno = ret;
		return NULL;
	}
	mr->ibmr.addr = (void *)(uintptr_t)offset; /* as rdma-core does */
	mr->ibmr.length = length;
	mr->ibmr.handle = (uint32_t)h->data;
	mr->ibmr.lkey = lkey;
	mr->ibmr.rkey = rkey;
	return &mr->ibmr;
}

SVL_EXPORT struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
					    size_t length, uint64_t iova,
					    int fd, int access)
{
	return svl_reg_dmabuf_mr(pd, offset, length, iova, fd, access, 0);
}

/*
 * A new translation is looked up as a registration is: in a shared file
 * mapping the daemon gets the file (fd, else -1) and maps it.
 */
static int rereg_file(struct ibv_mr *mr, int flags, void *addr,
		      size_t length, int access, uint64_t *off)
{
	unsigned int acc = (flags & IBV_REREG_MR_CHANGE_ACCESS) ?
				   (unsigned int)access :
				   to_svl_mr(mr)->access;

	if (!(flags & IBV_REREG_MR_CHANGE_TRANSLATION))
		return -1;
	allow_daemon_access(mr->context);
	return mr_file(addr, length, acc, off);
}

static int rereg_cmd(struct ibv_mr *mr, int flags, struct ibv_pd *pd,
		     void *addr, size_t length, int access)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_rereg_mr cmd;
		struct sv_reg_mr_req drv;
	} req;
	struct ib_uverbs_rereg_mr_resp resp;
	uint64_t off = 0;
	size_t len;
	int ret, fd;

	memset(&req, 0, sizeof(req));
	fd = rereg_file(mr, flags, addr, length, access, &off);
	len = fd < 0 ? offsetof(typeof(req), drv) : sizeof(req);
	req.drv.file_offset = off;
	req.drv.flags = fd < 0 ? 0 : SV_REG_MR_FILE;
	svl_write_hdr(&req, IB_USER_VERBS_CMD_REREG_MR, len, sizeof(resp));
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.mr_handle = mr->handle;
	req.cmd.flags = (uint32_t)flags;
	req.cmd.start = (uintptr_t)addr;
	req.cmd.length = length;
	req.cmd.hca_va = (uintptr_t)addr;
	req.cmd.pd_handle = (flags & IBV_REREG_MR_CHANGE_PD) ? pd->handle : 0;
	req.cmd.access_flags = (uint32_t)access;
	ret = svl_write(mr->context, &req, len, &resp, sizeof(resp), fd, NULL);
	if (fd >= 0)
		close(fd);
	if (ret)
		return ret;
	mr->lkey = resp.lkey;
	mr->rkey = resp.rkey;
	return 0;
}

/* An ODP region back in the lkey registry, under its current keys. */
static void mr_odp_refile(struct svl_mr *mr)
{
	if (mr->access & IBV_ACCESS_ON_DEMAND)
		svl_mr_odp_add(mr, mr->iova);
}

/* Returns 0 or an enum ibv_rereg_mr_err_code; on error the MR is as before. */
SVL_EXPORT int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd,
			    void *addr, size_t length, int access)
{
	int ret;

	if (to_svl_mr(mr)->type != SVL_MR_VA ||
	    (flags & ~IBV_REREG_MR_FLAGS_SUPPORTED) ||
	    ((flags & IBV_REREG_MR_CHANGE_TRANSLATION) && (!length || !addr)) ||
	    (access && !(flags & IBV_REREG_MR_CHANGE_ACCESS)) ||
	    ((flags & IBV_REREG_MR_CHANGE_PD) && !pd)) {
		errno = EINVAL;
		return IBV_REREG_MR_ERR_INPUT;
	}
	/* Its keys or memory may change: out of the lkey registry (filed
	 * under the old lkey), and no more captures (mr_keys.c). */
	svl_mr_keys_del(to_svl_mr(mr));
	svl_mr_odp_del(to_svl_mr(mr));
	ret = rereg_cmd(mr, flags, pd, addr, length, access);
	if (ret) {
		mr_odp_refile(to_svl_mr(mr));
		errno = ret;
		return IBV_REREG_MR_ERR_CMD;
	}
	if (flags & IBV_REREG_MR_CHANGE_ACCESS)
		to_svl_mr(mr)->access = (unsigned int)access;
	if (flags & IBV_REREG_MR_CHANGE_PD)
		mr->pd = pd;
	if (flags & IBV_REREG_MR_CHANGE_TRANSLATION) {
		mr->addr = addr;
		mr->length = length;
		to_svl_mr(mr)->iova = (uintptr_t)addr; /* as rereg_cmd says */
	}
	mr_odp_refile(to_svl_mr(mr));
	return 0;
}

SVL_EXPORT int ibv_dereg_mr(struct ibv_mr *mr)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_dereg_mr cmd;
	} req;
	int ret;

	bool captured = svl_mr_keys_del(to_svl_mr(mr));

	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_DEREG_MR, sizeof(req), 0);
	req.cmd.mr_handle = mr->handle;
	ret = svl_write(mr->context, &req, sizeof(req), NULL, 0, -1, NULL);
	if (ret && captured)
		svl_mr_keys_add(to_svl_mr(mr));
	if (ret)
		return ret; /* EBUSY: memory windows are bound to it */
	svl_mr_odp_del(to_svl_mr(mr));
	free(to_svl_mr(mr));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Memory windows (context ops)                                            */
/* ---------------------------------------------------------------------- */

struct ibv_mw *svl_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type type)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_alloc_mw cmd;
	} req;
	struct ib_uverbs_alloc_mw_resp resp;
	struct ibv_mw *mw;
	int ret;

	mw = svl_zalloc(sizeof(*mw));
	if (!mw)
		return NULL;
	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_ALLOC_MW, sizeof(req),
		      sizeof(resp));
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.pd_handle = pd->handle;
	req.cmd.mw_type = (uint8_t)type;
	/* A type the byte cannot hold must not alias a valid one. */
	if ((unsigned int)type > 0xff)
		req.cmd.mw_type = 0;
	ret = svl_write(pd->context, &req, sizeof(req), &resp, sizeof(resp), -1,
			NULL);
	if (ret) {
		free(mw);
		errno = ret;
		return NULL;
	}
	mw->context = pd->context;
	mw->pd = pd;
	mw->rkey = resp.rkey;
	mw->handle = resp.mw_handle;
	mw->type = type;
	return mw;
}

int svl_dealloc_mw(struct ibv_mw *mw)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_dealloc_mw cmd;
	} req;
	int ret;

	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_DEALLOC_MW, sizeof(req), 0);
	req.cmd.mw_handle = mw->handle;
	ret = svl_write(mw->context, &req, sizeof(req), NULL, 0, -1, NULL);
	if (ret)
		return ret;
	free(mw);
	return 0;
}

/*
 * ibv_bind_mw (type 1): like rxe, post a BIND_MW work request with the
 * next rkey tag; the engine binds it in order with the QP's other work.
 * The new rkey is visible to the caller at once, as rdma-core does.
 */
int svl_bind_mw(struct ibv_qp *qp, struct ibv_mw *mw, struct ibv_mw_bind *bind)
{
	struct ibv_send_wr wr, *bad;
	uint32_t rkey;
	int ret;

	if (mw->type != IBV_MW_TYPE_1 || !bind->bind_info.mr ||
	    bind->bind_info.mr->pd != mw->pd || qp->pd != mw->pd)
		return EINVAL;
	memset(&wr, 0, sizeof(wr));
	rkey = ibv_inc_rkey(mw->rkey);
	wr.wr_id = bind->wr_id;
	wr.opcode = IBV_WR_BIND_MW;
	wr.send_flags = bind->send_flags;
	wr.bind_mw.mw = mw;
	wr.bind_mw.rkey = rkey;
	wr.bind_mw.bind_info = bind->bind_info;
	ret = qp->context->ops.post_send(qp, &wr, &bad);
	if (ret)
		return ret;
	mw->rkey = rkey;
	return 0;
}
