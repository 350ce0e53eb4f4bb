// SPDX-License-Identifier: MIT
/*
 * Fate sharing: a client always learns that its daemon died.
 *
 * The kernel disassociates a ucontext when its device goes away: every
 * process gets IBV_EVENT_DEVICE_FATAL, outstanding work is flushed and
 * later verbs fail. The daemon is our device, so the library does the same
 * when the daemon's end of a command FD hangs up:
 *
 *   - one watcher thread per process waits (epoll, EPOLLRDHUP) on the
 *     command FD of every open context; a hang-up marks the context dead;
 *   - a dead context's QPs are flushed: the library writes one
 *     IBV_WC_WR_FLUSH_ERR CQE per posted-but-unconsumed WQE into the CQ
 *     rings itself (the daemon, their only other producer, is gone);
 *   - ibv_get_async_event() reports IBV_EVENT_DEVICE_FATAL once (async.c),
 *     posts fail with EIO (post.c), commands fail with EIO (transport.c).
 *
 * A hung daemon does not hang up; commands have a deadline instead
 * (svl_cmd_timeout_ms) and fail with ETIMEDOUT, leaving the context usable
 * should the daemon resume.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "svl.h"

#define CMD_TIMEOUT_DEFAULT_MS 10000

static struct {
	pthread_mutex_t lock;
	int epfd;
	pid_t pid; /* the process whose thread serves epfd */
	struct svl_context **ctxs;
	unsigned int n, cap;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1 };

int svl_cmd_timeout_ms(void)
{
	static int ms;
	const char *s;

	if (!ms) {
		s = getenv("SOFTVERBS_CMD_TIMEOUT_MS");
		ms = s && atoi(s) > 0 ? atoi(s) : CMD_TIMEOUT_DEFAULT_MS;
	}
	return ms;
}

/* Flush every QP of ctx; the first caller wins, the rest return. */
void svl_fate_dead(struct svl_context *ctx)
{
	unsigned int i;

	if (atomic_exchange(&ctx->dead, 1) || !ctx->fate_watched)
		return;
	pthread_mutex_lock(&ctx->fate_lock);
	for (i = 0; i < ctx->fate_nqps; i++)
		svl_qp_flush(ctx->fate_qps[i]);
	pthread_mutex_unlock(&ctx->fate_lock);
}

static int find_ctx(uint64_t id)
{
	unsigned int i;

	for (i = 0; i < W.n; i++)
		if (W.ctxs[i]->fate_id == id)
			return (int)i;
	return -1;
}

static void on_hangup(uint64_t id)
{
	int i;

	pthread_mutex_lock(&W.lock);
	i = find_ctx(id);
	if (i >= 0) {
		struct svl_context *ctx = W.ctxs[i];

		/* Level-triggered: stop watching what we have acted on. */
		epoll_ctl(W.epfd, EPOLL_CTL_DEL, ctx->vctx.context.cmd_fd,
			  NULL);
		svl_fate_dead(ctx);
	}
	pthread_mutex_unlock(&W.lock);
}

static void *watcher(void *arg)
{
	int epfd = (int)(intptr_t)arg;
	struct epoll_event evs[16];
	int i, n;

	for (;;) {
		n = epoll_wait(epfd, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			return NULL;
		for (i = 0; i < n; i++)
			on_hangup(evs[i].data.u64);
	}
}

static int watch_fd(struct svl_context *ctx)
{
	struct epoll_event ev = { .events = EPOLLRDHUP,
				  .data.u64 = ctx->fate_id };

	return epoll_ctl(W.epfd, EPOLL_CTL_ADD, ctx->vctx.context.cmd_fd, &ev);
}

/*
 * Start the thread in this process (W.lock held). After fork() the epoll
 * instance is shared with the parent, so a child makes its own and re-adds
 * the contexts it inherited.
 */
static int watcher_start(void)
{
	pthread_attr_t a;
	pthread_t t;
	unsigned int i;
	int fd, ret;

	if (W.epfd >= 0 && W.pid == getpid())
		return 0;
	if (W.epfd >= 0)
		close(W.epfd);
	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return errno;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&t, &a, watcher, (void *)(intptr_t)fd);
	pthread_attr_destroy(&a);
	if (ret) {
		close(fd);
		W.epfd = -1;
		return ret;
	}
	W.epfd = fd;
	W.pid = getpid();
	for (i = 0; i < W.n; i++)
		watch_fd(W.ctxs[i]);
	return 0;
}

/* Called once a context works. Errors leave it unwatched, not broken. */
void svl_fate_watch(struct svl_context *ctx)
{
	static uint64_t next_id;
	struct svl_context **c;

	pthread_mutex_init(&ctx->fate_lock, NULL);
	ctx->fate_watched = true;
	pthread_mutex_lock(&W.lock);
	ctx->fate_id = ++next_id;
	if (W.n == W.cap) {
		c = realloc(W.ctxs, (W.cap * 2 + 4) * sizeof(*c));
		if (!c)
			goto out;
		W.ctxs = c;
		W.cap = W.cap * 2 + 4;
	}
	W.ctxs[W.n++] = ctx;
	if (!watcher_start() && W.pid == getpid())
		watch_fd(ctx);
out:
	pthread_mutex_unlock(&W.lock);
}

/* A forked child re-arms its own watcher on its next command. */
void svl_fate_check_fork(void)
{
	pthread_mutex_lock(&W.lock);
	if (W.n && W.pid != getpid())
		watcher_start();
	pthread_mutex_unlock(&W.lock);
}

void svl_fate_unwatch(struct svl_context *ctx)
{
	int i;

	if (!ctx->fate_watched)
		return;
	pthread_mutex_lock(&W.lock);
	i = find_ctx(ctx->fate_id);
	if (i >= 0) {
		if (W.pid == getpid())
			epoll_ctl(W.epfd, EPOLL_CTL_DEL,
				  ctx->vctx.context.cmd_fd, NULL);
		W.ctxs[i] = W.ctxs[--W.n];
	}
	pthread_mutex_unlock(&W.lock);
	free(ctx->fate_qps);
	pthread_mutex_destroy(&ctx->fate_lock);
	ctx->fate_watched = false;
}

void svl_fate_qp_add(struct ibv_qp *qp)
{
	struct svl_context *ctx = to_svl_ctx(qp->context);
	struct ibv_qp **q;

	if (!ctx->fate_watched)
		return;
	pthread_mutex_lock(&ctx->fate_lock);
	if (ctx->fate_nqps == ctx->fate_cap) {
		q = realloc(ctx->fate_qps, (ctx->fate_cap * 2 + 8) * sizeof(*q));
		if (!q)
			goto out; /* this QP just will not be flushed */
		ctx->fate_qps = q;
		ctx->fate_cap = ctx->fate_cap * 2 + 8;
	}
	ctx->fate_qps[ctx->fate_nqps++] = qp;
out:
	pthread_mutex_unlock(&ctx->fate_lock);
}

void svl_fate_qp_del(struct ibv_qp *qp)
{
	struct svl_context *ctx = to_svl_ctx(qp->context);
	unsigned int i;

	if (!ctx->fate_watched)
		return;
	pthread_mutex_lock(&ctx->fate_lock);
	for (i = 0; i < ctx->fate_nqps; i++) {
		if (ctx->fate_qps[i] == qp) {
			ctx->fate_qps[i] = ctx->fate_qps[--ctx->fate_nqps];
			break;
		}
	}
	pthread_mutex_unlock(&ctx->fate_lock);
}
