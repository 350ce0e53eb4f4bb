// SPDX-License-Identifier: MIT
/*
 * Building the bundle a command runs in. ufile.c fills one from recvmsg();
 * the unit tests and the fuzzer, which have no socket, build the same one
 * with svd_bundle_init_local(), so every path runs the exact set-up the
 * daemon does.
 */
#include <string.h>
#include <unistd.h>

#include "svd.h"

void svd_bundle_init(struct svd_bundle *b, struct svd_ufile *uf,
		     uint8_t *out, uint32_t out_cap)
{
	memset(b, 0, sizeof(*b));
	b->pidfd = -1;
	b->ufile = uf;
	b->uctx = uf->uctx;
	b->dev = uf->dev;
	b->out = out;
	b->out_cap = out_cap;
}

void svd_bundle_add_fd(struct svd_bundle *b, int fd)
{
	if (b->nfds < SV_MSG_MAX_FDS)
		b->fds[b->nfds++] = fd;
	else
		close(fd);
}

void svd_bundle_init_local(struct svd_bundle *b, struct svd_ufile *uf,
			   uint8_t *out, uint32_t out_cap, const int *fds,
			   int nfds)
{
	int i;

	svd_bundle_init(b, uf, out, out_cap);
	b->pid = getpid();
	b->uid = getuid();
	b->gid = getgid();
	svd_bundle_add_fd(b, -1); /* slot 0: no reply socket */
	for (i = 0; i < nfds; i++)
		svd_bundle_add_fd(b, fds[i]);
}

static void close_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

void svd_bundle_close_fds(struct svd_bundle *b)
{
	close_fds(b->out_fds, b->out_nfds);
	close_fds(b->fds, b->nfds);
	b->out_nfds = b->nfds = 0;
	if (b->pidfd >= 0)
		close(b->pidfd);
	b->pidfd = -1;
	if (b->share) /* the ring mapping looked up last (umem_share.c) */
		svd_umem_share_put(b->share);
	b->share = NULL;
	b->share_fd1 = 0;
}

/*
 * Hand fd (the caller's to give, or < 0 when making it failed) back in the
 * FD-out attribute id. The reply carries and closes it. Without that
 * attribute the client did not ask: fd is closed and it is not an error.
 */
int svd_attr_fd_out(struct svd_bundle *b, uint16_t id, int fd)
{
	struct svd_attr *a = svd_attr_get(b, id);
	int slot;

	if (!a || fd < 0) {
		if (fd >= 0)
			close(fd);
		return a ? -EMFILE : 0;
	}
	slot = svd_bundle_add_out_fd(b, fd);
	if (slot < 0) {
		close(fd);
		return slot;
	}
	a->data = (uint64_t)slot;
	a->out_valid = true;
	return 0;
}
