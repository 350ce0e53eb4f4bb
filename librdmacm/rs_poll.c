// SPDX-License-Identifier: MIT
/*
 * rpoll and rselect over a mix of rsockets and ordinary fds. An rsocket's
 * readiness comes from its own state (received data, credits, a pending
 * connection); the wait itself is a poll() on the real fds plus each
 * rsocket's completion channel and rdma_cm channel, so nothing spins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include <rdma/rsocket.h>

#include "rs.h"

static struct rsock *rs_lookup(int fd)
{
	int saved = errno;
	struct rsock *rs = rs_get(fd);

	errno = saved;
	return rs;
}

static short rs_revents(struct rsock *rs, short events)
{
	struct pollfd pfd = { .fd = rs->ch->fd, .events = POLLIN };
	short rev = 0;

	if (rs->type == SOCK_DGRAM)
		return rs_ds_revents(rs, events);
	if (rs->state == RS_LISTENING) /* a request waits on the channel */
		return poll(&pfd, 1, 0) > 0 ? (events & POLLIN) : 0;
	if (rs->state != RS_CONNECTED && rs->state != RS_DISCONNECTED)
		return 0;
	rs_progress(rs);
	if (rs_readable(rs))
		rev |= events & (POLLIN | POLLRDNORM);
	if (rs_writable(rs))
		rev |= events & (POLLOUT | POLLWRNORM);
	if (rs->state == RS_DISCONNECTED || rs->eof)
		rev |= POLLHUP;
	if (rs->err)
		rev |= POLLERR;
	return rev;
}

/* One pass: fill revents, count the ready entries. */
static int rs_scan(struct pollfd *fds, nfds_t nfds)
{
	struct pollfd *real;
	struct rsock *rs;
	nfds_t i;
	int ready = 0;

	for (i = 0; i < nfds; i++) {
		real = &fds[i];
		rs = rs_lookup(real->fd);
		if (rs) {
			real->revents = rs_revents(rs, real->events);
		} else {
			real->revents = 0;
			if (real->fd >= 0 && poll(real, 1, 0) < 0)
				return -1;
		}
		ready += real->revents != 0;
	}
	return ready;
}

/* The fds to sleep on: each real fd, and two per connected rsocket. */
static nfds_t rs_wait_set(struct pollfd *fds, nfds_t nfds,
			  struct pollfd *set)
{
	struct rsock *rs;
	nfds_t i, n = 0;

	for (i = 0; i < nfds; i++) {
		rs = rs_lookup(fds[i].fd);
		if (!rs) {
			set[n++] = fds[i];
			continue;
		}
		if (rs->type == SOCK_DGRAM) {
			n += rs_ds_wait_fds(rs, set + n);
			continue;
		}
		set[n++] = (struct pollfd){ .fd = rs->ch->fd, .events = POLLIN };
		if (rs->cq && !ibv_req_notify_cq(rs->cq, 0))
			set[n++] = (struct pollfd){ .fd = rs->cc->fd,
						    .events = POLLIN };
	}
	return n;
}

static void rs_ack_wakeups(struct pollfd *fds, nfds_t nfds)
{
	struct ibv_cq *cq;
	struct rsock *rs;
	void *ctx;
	nfds_t i;

	for (i = 0; i < nfds; i++) {
		rs = rs_lookup(fds[i].fd);
		if (rs && rs->type == SOCK_DGRAM)
			rs_ds_ack_wakeups(rs);
		else if (rs && rs->cc && !ibv_get_cq_event(rs->cc, &cq, &ctx))
			ibv_ack_cq_events(cq, 1);
	}
}

static int rs_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - start->tv_sec) * 1000 +
		     (now.tv_nsec - start->tv_nsec) / 1000000);
}

int rpoll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct pollfd *set = calloc(nfds * RS_WAIT_FDS + 1, sizeof(*set));
	struct timespec start;
	int ready, left;

	if (!set) {
		errno = ENOMEM;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ready = rs_scan(fds, nfds);
		if (ready || !timeout)
			break;
		left = timeout < 0 ? -1 : timeout - rs_elapsed_ms(&start);
		if (timeout > 0 && left <= 0)
			break;
		/* Armed CQs re-checked once more: no lost wake-up. */
		nfds_t n = rs_wait_set(fds, nfds, set);

		ready = rs_scan(fds, nfds);
		if (ready)
			break;
		if (poll(set, n, left) < 0 && errno != EINTR) {
			ready = -1;
			break;
		}
		rs_ack_wakeups(fds, nfds);
	}
	free(set);
	return ready;
}

static int rs_fds_from_sets(int nfds, fd_set *r, fd_set *w, fd_set *e,
			    struct pollfd *fds)
{
	int fd, n = 0;

	for (fd = 0; fd < nfds; fd++) {
		short ev = (r && FD_ISSET(fd, r) ? POLLIN : 0) |
			   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
			   (e && FD_ISSET(fd, e) ? POLLPRI : 0);

		if (ev)
			fds[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	return n;
}

static int rs_sets_from_fds(struct pollfd *fds, int n, fd_set *r,
			    fd_set *w, fd_set *e)
{
	int i, count = 0;

	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (e)
		FD_ZERO(e);
	for (i = 0; i < n; i++) {
		if (r && fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			FD_SET(fds[i].fd, r);
			count++;
		}
		if (w && fds[i].revents & (POLLOUT | POLLERR)) {
			FD_SET(fds[i].fd, w);
			count++;
		}
		if (e && fds[i].revents & POLLPRI) {
			FD_SET(fds[i].fd, e);
			count++;
		}
	}
	return count;
}

int rselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
	    struct timeval *timeout)
{
	struct pollfd *fds;
	int n, ret, ms;

	if (nfds < 0 || nfds > FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	fds = calloc(nfds + 1, sizeof(*fds));
	if (!fds) {
		errno = ENOMEM;
		return -1;
	}
	ms = timeout ? (int)(timeout->tv_sec * 1000 + timeout->tv_usec / 1000) :
		       -1;
	n = rs_fds_from_sets(nfds, readfds, writefds, exceptfds, fds);
	ret = rpoll(fds, n, ms);
	if (ret >= 0)
		ret = rs_sets_from_fds(fds, n, readfds, writefds, exceptfds);
	free(fds);
	return ret;
}
