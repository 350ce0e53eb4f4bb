// SPDX-License-Identifier: MIT
/*
 * The link to softverbsd's connection manager: $RUNDIR/cm.sock. One
 * SOCK_SEQPACKET connection per process plays the role of the open
 * /dev/infiniband/rdma_cm file: the daemon ties every cm_id to it and
 * reclaims them all when it closes. A forked child must not share the
 * parent's (the daemon would see one owner), so it opens its own.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "cma_priv.h"

static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;
static int link_fd = -1;
static pid_t link_pid;

static int link_open(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)];
	int fd, ret;

	ret = sv_rundir_path(dir, sizeof(dir));
	if (ret)
		return ret;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir,
		     SV_CM_SOCK) >= (int)sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		/* No daemon: as if the rdma_cm device node were missing. */
		close(fd);
		return -ENODEV;
	}
	return fd;
}

/* Caller holds link_lock. */
static int link_get(void)
{
	if (link_fd >= 0 && link_pid == getpid())
		return link_fd;
	/* After fork the inherited fd belongs to the parent's session. */
	link_fd = link_open();
	link_pid = getpid();
	return link_fd;
}

static int link_send(int fd, const struct sv_cm_cmd *cmd, int pass_fd)
{
	struct iovec iov = { .iov_base = (void *)cmd, .iov_len = sizeof(*cmd) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (pass_fd >= 0) {
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	while (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int link_recv(int fd, struct sv_cm_reply *rep)
{
	ssize_t n;

	do
		n = recv(fd, rep, sizeof(*rep), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != sizeof(*rep))
		return -EPROTO;
	return 0;
}

/*
 * One request, one reply. Returns the daemon's status (0 or -errno);
 * a broken link is -ENODEV, as a vanished device would be.
 */
int cma_call_fd(struct sv_cm_cmd *cmd, struct sv_cm_reply *rep, int pass_fd)
{
	struct sv_cm_reply scratch;
	int fd, ret;

	if (!rep)
		rep = &scratch;
	memset(rep, 0, sizeof(*rep));
	pthread_mutex_lock(&link_lock);
	fd = link_get();
	ret = fd < 0 ? fd : link_send(fd, cmd, pass_fd);
	if (!ret)
		ret = link_recv(fd, rep);
	pthread_mutex_unlock(&link_lock);
	if (ret)
		return ret == -EPIPE || ret == -ECONNRESET ? -ENODEV : ret;
	return rep->status;
}

int cma_call(struct sv_cm_cmd *cmd, struct sv_cm_reply *rep)
{
	return cma_call_fd(cmd, rep, -1);
}

/* librdmacm's convention: -1 with errno set. */
int cma_errno(int status)
{
	if (!status)
		return 0;
	errno = status < 0 ? -status : status;
	return -1;
}
