// SPDX-License-Identifier: MIT
/*
 * rsockets: part of librdmacm's ABI (RDMACM_1.0), so every call exists and
 * resolves at load time, but the socket layer over RC QPs is not built yet.
 * Each call fails with ENOSYS, which rstream/riostream report; the README
 * status lists rsockets as not supported.
 */
#include <errno.h>
#include <rdma/rsocket.h>

#define RS_UNSUPPORTED(type, call)  \
	do {                        \
		errno = ENOSYS;     \
		return (type)-1;    \
	} while (0)

int rsocket(int domain, int type, int protocol)
{
	RS_UNSUPPORTED(int, rsocket);
}

int rbind(int socket, const struct sockaddr *addr, socklen_t addrlen)
{
	RS_UNSUPPORTED(int, rbind);
}

int rlisten(int socket, int backlog)
{
	RS_UNSUPPORTED(int, rlisten);
}

int raccept(int socket, struct sockaddr *addr, socklen_t *addrlen)
{
	RS_UNSUPPORTED(int, raccept);
}

int rconnect(int socket, const struct sockaddr *addr, socklen_t addrlen)
{
	RS_UNSUPPORTED(int, rconnect);
}

int rshutdown(int socket, int how)
{
	RS_UNSUPPORTED(int, rshutdown);
}

int rclose(int socket)
{
	RS_UNSUPPORTED(int, rclose);
}

ssize_t rrecv(int socket, void *buf, size_t len, int flags)
{
	RS_UNSUPPORTED(ssize_t, rrecv);
}

ssize_t rrecvfrom(int socket, void *buf, size_t len, int flags,
		  struct sockaddr *src_addr, socklen_t *addrlen)
{
	RS_UNSUPPORTED(ssize_t, rrecvfrom);
}

ssize_t rrecvmsg(int socket, struct msghdr *msg, int flags)
{
	RS_UNSUPPORTED(ssize_t, rrecvmsg);
}

ssize_t rsend(int socket, const void *buf, size_t len, int flags)
{
	RS_UNSUPPORTED(ssize_t, rsend);
}

ssize_t rsendto(int socket, const void *buf, size_t len, int flags,
		const struct sockaddr *dest_addr, socklen_t addrlen)
{
	RS_UNSUPPORTED(ssize_t, rsendto);
}

ssize_t rsendmsg(int socket, const struct msghdr *msg, int flags)
{
	RS_UNSUPPORTED(ssize_t, rsendmsg);
}

ssize_t rread(int socket, void *buf, size_t count)
{
	RS_UNSUPPORTED(ssize_t, rread);
}

ssize_t rreadv(int socket, const struct iovec *iov, int iovcnt)
{
	RS_UNSUPPORTED(ssize_t, rreadv);
}

ssize_t rwrite(int socket, const void *buf, size_t count)
{
	RS_UNSUPPORTED(ssize_t, rwrite);
}

ssize_t rwritev(int socket, const struct iovec *iov, int iovcnt)
{
	RS_UNSUPPORTED(ssize_t, rwritev);
}

int rpoll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	RS_UNSUPPORTED(int, rpoll);
}

int rselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
	    struct timeval *timeout)
{
	RS_UNSUPPORTED(int, rselect);
}

int rgetpeername(int socket, struct sockaddr *addr, socklen_t *addrlen)
{
	RS_UNSUPPORTED(int, rgetpeername);
}

int rgetsockname(int socket, struct sockaddr *addr, socklen_t *addrlen)
{
	RS_UNSUPPORTED(int, rgetsockname);
}

int rsetsockopt(int socket, int level, int optname, const void *optval,
		socklen_t optlen)
{
	RS_UNSUPPORTED(int, rsetsockopt);
}

int rgetsockopt(int socket, int level, int optname, void *optval,
		socklen_t *optlen)
{
	RS_UNSUPPORTED(int, rgetsockopt);
}

int rfcntl(int socket, int cmd, ...)
{
	RS_UNSUPPORTED(int, rfcntl);
}

off_t riomap(int socket, void *buf, size_t len, int prot, int flags,
	     off_t offset)
{
	RS_UNSUPPORTED(off_t, riomap);
}

int riounmap(int socket, void *buf, size_t len)
{
	RS_UNSUPPORTED(int, riounmap);
}

size_t riowrite(int socket, const void *buf, size_t count, off_t offset,
		int flags)
{
	RS_UNSUPPORTED(size_t, riowrite);
}
