// SPDX-License-Identifier: MIT
/*
 * The async event FD: every context gets one, it is pollable, reads on an
 * empty one fail with EAGAIN when non-blocking, and each context has its
 * own (events never leak between contexts).
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "svtest.h"

static struct ibv_context *open_first(void)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	int n;

	list = ibv_get_device_list(&n);
	SVT_CHECK(list && n >= 1);
	ctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	SVT_CHECK(ctx);
	return ctx;
}

int main(void)
{
	struct ibv_context *a, *b;
	struct ibv_async_event ev;
	struct pollfd pfd;
	struct svt_daemon d;
	int fl;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	a = open_first();
	b = open_first();
	SVT_CHECK(a->async_fd >= 0 && b->async_fd >= 0);
	SVT_CHECK(a->async_fd != b->async_fd);

	fl = fcntl(a->async_fd, F_GETFL);
	SVT_CHECK(fcntl(a->async_fd, F_SETFL, fl | O_NONBLOCK) == 0);
	errno = 0;
	SVT_CHECK(ibv_get_async_event(a, &ev) == -1 && errno == EAGAIN);

	pfd.fd = a->async_fd;
	pfd.events = POLLIN;
	SVT_CHECK(poll(&pfd, 1, 50) == 0);

	SVT_CHECK(ibv_close_device(b) == 0);
	SVT_CHECK(ibv_close_device(a) == 0);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
