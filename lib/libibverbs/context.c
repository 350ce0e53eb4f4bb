// SPDX-License-Identifier: MIT
/*
 * Contexts: ibv_open_device() connects to the device socket; the connected
 * socket is context->cmd_fd and stands for the ucontext in the daemon for
 * as long as any copy of it is open (dup, fork, SCM_RIGHTS).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "svl.h"
#include "svl_ops.h"

/* Both methods number their outputs alike, so one request serves both. */
_Static_assert((int)UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS ==
			       (int)UVERBS_ATTR_QUERY_CONTEXT_NUM_COMP_VECTORS &&
		       (int)UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT ==
			       (int)UVERBS_ATTR_QUERY_CONTEXT_CORE_SUPPORT,
	       "GET_CONTEXT and QUERY_CONTEXT attribute ids");

static int connect_dev(struct svl_device *dev)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tmo = { .tv_sec = svl_cmd_timeout_ms() / 1000,
			       .tv_usec = svl_cmd_timeout_ms() % 1000 * 1000 };
	int fd;

	if (strlen(dev->sock_path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, dev->sock_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A hung daemon's full backlog would block connect() forever. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(fd);
		/* A stale runtime dir: the device is gone. */
		errno = (err == ECONNREFUSED || err == ENOENT) ? ENODEV :
			err == EAGAIN ? ETIMEDOUT : err;
		return -1;
	}
	return fd;
}

/* GET_CONTEXT on a fresh ufile, QUERY_CONTEXT on an imported one. */
static int ctx_handshake(struct svl_context *ctx, bool import)
{
	struct ibv_context *ic = &ctx->vctx.context;
	uint32_t ncomp = 0;
	uint64_t core = 0;
	struct svl_cmd c;
	int ret;

	/* An imported context exists already: query it instead. */
	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE,
		     import ? UVERBS_METHOD_QUERY_CONTEXT :
			      UVERBS_METHOD_GET_CONTEXT);
	svl_attr_out(&c, UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS, &ncomp,
		     sizeof(ncomp));
	svl_attr_out(&c, UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT, &core,
		     sizeof(core));
	svl_attr_out(&c, UVERBS_ATTR_UHW_OUT, &ctx->uresp,
		     sizeof(ctx->uresp))->flags = 0;
	ret = svl_exec(ic, &c);
	if (ret)
		return ret;
	if (ctx->uresp.abi_version != SV_ABI_VERSION)
		return EPROTONOSUPPORT;
	ic->num_comp_vectors = (int)ncomp;
	return 0;
}

static int ctx_alloc_async_fd(struct svl_context *ctx)
{
	struct ib_uverbs_attr *a;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_ASYNC_EVENT,
		     UVERBS_METHOD_ASYNC_EVENT_ALLOC);
	a = svl_attr_fd_new(&c, UVERBS_ATTR_ASYNC_EVENT_ALLOC_FD_HANDLE);
	ret = svl_exec(&ctx->vctx.context, &c);
	if (ret)
		return ret;
	ctx->vctx.context.async_fd = (int)a->data_s64;
	return 0;
}

static void ctx_free(struct svl_context *ctx)
{
	struct ibv_context *ic = &ctx->vctx.context;

	svl_fate_unwatch(ctx);
	svl_direct_early_ctx_gone(ic); /* QPs left alive: asked no more */
	svl_dworker_ctx_close(); /* the last one stops the copy worker */
	svl_ctx_channel_close(ctx);
	svl_domains_fini(ctx);
	if (ic->async_fd >= 0)
		close(ic->async_fd);
	if (ic->cmd_fd >= 0)
		close(ic->cmd_fd);
	pthread_mutex_destroy(&ctx->cmd_lock);
	pthread_mutex_destroy(&ctx->lim_lock);
	pthread_mutex_destroy(&ic->mutex);
	free(ctx);
}

struct ibv_context *svl_context_create(struct svl_device *dev, int cmd_fd,
				       bool import)
{
	struct svl_context *ctx = calloc(1, sizeof(*ctx));
	struct ibv_context *ic;
	int ret;

	if (!ctx)
		return svl_fail(ENOMEM);
	svl_barriers_register(); /* before any thread of ours starts */
	ic = &ctx->vctx.context;
	ctx->dev = dev;
	ctx->imported = import;
	ctx->owner_pid = import ? 0 : getpid();
	ctx->reply_fd = ctx->reply_peer = -1;
	pthread_mutex_init(&ctx->cmd_lock, NULL);
	pthread_mutex_init(&ctx->lim_lock, NULL);
	pthread_mutex_init(&ic->mutex, NULL);
	svl_dworker_ctx_open(); /* ctx_free closes it */
	ic->device = &dev->ibdev;
	ic->cmd_fd = cmd_fd;
	ic->async_fd = -1;
	ic->abi_compat = __VERBS_ABI_IS_EXTENDED;
	ctx->vctx.sz = sizeof(ctx->vctx);
	svl_set_ops(ctx, &svl_softverbs_ops);
	ret = svl_ctx_channel_init(ctx);
	if (!ret)
		ret = ctx_handshake(ctx, import);
	if (!ret && !import)
		ret = ctx_alloc_async_fd(ctx);
	if (ret) {
		ic->cmd_fd = import ? -1 : cmd_fd; /* import: caller keeps it */
		ctx_free(ctx);
		errno = ret;
		return NULL;
	}
	svl_fate_watch(ctx);
	return ic;
}

SVL_EXPORT struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	struct svl_device *dev = to_svl_dev(device);
	int fd;

	if (dev->abi_version != IB_USER_VERBS_ABI_VERSION)
		return svl_fail(EPROTONOSUPPORT);
	fd = connect_dev(dev);
	if (fd < 0)
		return NULL;
	return svl_context_create(dev, fd, false);
}

SVL_EXPORT int ibv_close_device(struct ibv_context *context)
{
	ctx_free(to_svl_ctx(context));
	return 0;
}
