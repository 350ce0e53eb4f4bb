// SPDX-License-Identifier: MIT
/*
 * Datagram rsockets (SOCK_DGRAM over UD, SIDR to learn a peer's QP):
 * - an echo server thread bound to 127.0.0.1 returns each datagram to
 *   where rrecvfrom() says it came from; an unbound client's rsendto()
 *   binds it, resolves the server and gets 200 datagrams of varying sizes
 *   back intact, each from the server's address;
 * - rconnect() sets a default peer for rsend/rrecv, rgetpeername names it;
 * - rsendmsg/rrecvmsg carry a datagram in pieces;
 * - rpoll() wakes for a datagram and a non-blocking rrecv says EAGAIN;
 * - errors as UDP has them: a datagram larger than the path MTU is
 *   EMSGSIZE, rsend without a peer EDESTADDRREQ, rlisten EOPNOTSUPP;
 *   an address nobody bound is ECONNREFUSED (its SIDR is refused);
 * - SOCK_SEQPACKET is not an rsocket type.
 */
#include <fcntl.h>
#include <pthread.h>
#include <rdma/rsocket.h>
#include <sys/uio.h>

#include "cm_test.h"

#define ROUNDS 200
#define STOP 0xee

static struct sockaddr_in srv_addr;
static int ready_pipe[2];

static void *server(void *arg)
{
	struct sockaddr_in from;
	socklen_t flen, alen = sizeof(srv_addr);
	uint8_t buf[4096];
	int s = rsocket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	SVT_CHECK(s >= 0);
	srv_addr = cmt_addr(0);
	SVT_CHECK(rbind(s, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) ==
		  0);
	SVT_CHECK(rgetsockname(s, (struct sockaddr *)&srv_addr, &alen) == 0);
	SVT_CHECK(srv_addr.sin_port != 0);
	SVT_CHECK(write(ready_pipe[1], "r", 1) == 1);
	for (;;) {
		flen = sizeof(from);
		n = rrecvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			      &flen);
		SVT_CHECK(n >= 0 && flen == sizeof(from));
		SVT_CHECK(from.sin_family == AF_INET && from.sin_port != 0);
		SVT_CHECK(rsendto(s, buf, n, 0, (struct sockaddr *)&from,
				  flen) == n);
		if (n == 1 && buf[0] == STOP)
			break;
	}
	SVT_CHECK(rclose(s) == 0);
	return NULL;
}

/* The next datagram within the deadline (rpoll, then a non-blocking read). */
static ssize_t recv_one(int s, void *buf, size_t len, struct sockaddr_in *from)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	socklen_t flen = sizeof(*from);

	SVT_CHECK(rpoll(&pfd, 1, CMT_TIMEOUT_MS) == 1);
	SVT_CHECK(pfd.revents & POLLIN);
	return rrecvfrom(s, buf, len, MSG_DONTWAIT, (struct sockaddr *)from,
			 &flen);
}

static void fill(uint8_t *p, size_t len, int round)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + round);
}

static void echo_rounds(int s)
{
	static uint8_t out[2048], in[4096];
	struct sockaddr_in from;
	size_t len;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		len = 16 + (size_t)(r * 97) % (sizeof(out) - 16);
		fill(out, len, r);
		SVT_CHECK(rsendto(s, out, len, 0, (struct sockaddr *)&srv_addr,
				  sizeof(srv_addr)) == (ssize_t)len);
		SVT_CHECK(recv_one(s, in, sizeof(in), &from) == (ssize_t)len);
		SVT_CHECK(!memcmp(in, out, len));
		SVT_CHECK(from.sin_port == srv_addr.sin_port &&
			  from.sin_addr.s_addr == srv_addr.sin_addr.s_addr);
	}
}

static void connected(int s)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	char a[3] = "abc", b[3] = "xyz", got[16];
	struct iovec out[2] = { { a, 3 }, { b, 3 } };
	struct iovec in[2] = { { got, 2 }, { got + 2, 8 } };
	struct msghdr msg = { .msg_iov = out, .msg_iovlen = 2 };
	struct pollfd pfd = { .fd = s, .events = POLLIN };

	SVT_CHECK(rconnect(s, (struct sockaddr *)&srv_addr,
			   sizeof(srv_addr)) == 0);
	SVT_CHECK(rgetpeername(s, (struct sockaddr *)&peer, &plen) == 0);
	SVT_CHECK(peer.sin_port == srv_addr.sin_port);
	SVT_CHECK(rsend(s, "hello", 5, 0) == 5);
	SVT_CHECK(recv_one(s, got, sizeof(got), &peer) == 5);
	SVT_CHECK(!memcmp(got, "hello", 5));
	/* Two pieces out, one datagram back, read into two pieces. */
	SVT_CHECK(rsendmsg(s, &msg, 0) == 6);
	SVT_CHECK(rpoll(&pfd, 1, CMT_TIMEOUT_MS) == 1);
	msg.msg_iov = in;
	SVT_CHECK(rrecvmsg(s, &msg, 0) == 6);
	SVT_CHECK(!memcmp(got, "abcxyz", 6));
}

static void errors(int s)
{
	static uint8_t big[8192];
	struct sockaddr_in nobody = cmt_addr(1);
	char c;

	SVT_CHECK(rrecv(s, &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN);
	SVT_CHECK(rsendto(s, big, sizeof(big), 0,
			  (struct sockaddr *)&srv_addr,
			  sizeof(srv_addr)) == -1 && errno == EMSGSIZE);
	SVT_CHECK(rlisten(s, 1) == -1 && errno == EOPNOTSUPP);
	SVT_CHECK(rsendto(s, "x", 1, 0, (struct sockaddr *)&nobody,
			  sizeof(nobody)) == -1 && errno == ECONNREFUSED);
}

int main(void)
{
	struct svt_daemon d;
	struct sockaddr_in from;
	pthread_t t;
	uint8_t stop = STOP, c;
	int s, u;

	svt_daemon_start(&d);
	SVT_CHECK(rsocket(AF_INET, SOCK_SEQPACKET, 0) == -1 &&
		  errno == ENOTSUP);
	u = rsocket(AF_INET, SOCK_DGRAM, 0);
	SVT_CHECK(u >= 0);
	SVT_CHECK(rsend(u, "x", 1, 0) == -1 && errno == EDESTADDRREQ);
	SVT_CHECK(rclose(u) == 0);
	SVT_CHECK(pipe(ready_pipe) == 0);
	SVT_CHECK(pthread_create(&t, NULL, server, NULL) == 0);
	SVT_CHECK(read(ready_pipe[0], &c, 1) == 1);
	s = rsocket(AF_INET, SOCK_DGRAM, 0);
	SVT_CHECK(s >= 0);
	echo_rounds(s);
	errors(s);
	connected(s);
	SVT_CHECK(rsend(s, &stop, 1, 0) == 1);
	SVT_CHECK(recv_one(s, &c, 1, &from) == 1 && c == STOP);
	SVT_CHECK(pthread_join(t, NULL) == 0);
	SVT_CHECK(rclose(s) == 0);
	svt_daemon_stop(&d);
	printf("PASS: %d datagrams echoed, connected, iov, errors\n", ROUNDS);
	return SVT_PASS;
}
