// SPDX-License-Identifier: MIT
/*
 * rsockets: a server thread accepts and echoes; the client sends 1 MiB of
 * a pattern (more than the receive window, so credits must come back) and
 * reads it back intact; rpoll reports readability on a non-blocking
 * socket; riomap + riowrite land data in the server's mapped buffer;
 * closing gives the peer end-of-file (SOCK_DGRAM: test_cm_rsocket_dgram).
 */
#include <fcntl.h>
#include <pthread.h>
#include <rdma/rsocket.h>
#include <sys/mman.h>

#include "cm_test.h"

#define LEN (1 << 20)
#define MAPLEN 65536

static uint16_t port;
static int ready_pipe[2];
static uint8_t iomap_buf[MAPLEN];

static void echo(int s)
{
	static uint8_t buf[65536];
	ssize_t n, done = 0;

	while (done < LEN) {
		n = rrecv(s, buf, sizeof(buf), 0);
		SVT_CHECK(n > 0);
		SVT_CHECK(rsend(s, buf, n, 0) == n);
		done += n;
	}
}

/* Map a buffer, tell the client, wait for its byte, check the buffer. */
static void iomap_side(int s)
{
	off_t off = riomap(s, iomap_buf, MAPLEN, PROT_WRITE, 0, 0);
	char c;
	int i;

	SVT_CHECK(off == 0);
	SVT_CHECK(rsend(s, "m", 1, 0) == 1);
	SVT_CHECK(rrecv(s, &c, 1, 0) == 1 && c == 'w');
	for (i = 0; i < MAPLEN; i++)
		SVT_CHECK(iomap_buf[i] == (uint8_t)(i * 7));
	SVT_CHECK(riounmap(s, iomap_buf, MAPLEN) == 0);
}

static void *server(void *arg)
{
	struct sockaddr_in sin = cmt_addr(0);
	socklen_t len = sizeof(sin);
	int l = rsocket(AF_INET, SOCK_STREAM, 0), s;
	char c;

	SVT_CHECK(l >= 0);
	SVT_CHECK(rbind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	SVT_CHECK(rlisten(l, 4) == 0);
	SVT_CHECK(rgetsockname(l, (struct sockaddr *)&sin, &len) == 0);
	port = ntohs(sin.sin_port);
	SVT_CHECK(write(ready_pipe[1], "r", 1) == 1);
	s = raccept(l, NULL, NULL);
	SVT_CHECK(s >= 0);
	echo(s);
	iomap_side(s);
	/* The client closes: we read end-of-file. */
	SVT_CHECK(rrecv(s, &c, 1, 0) == 0);
	SVT_CHECK(rclose(s) == 0 && rclose(l) == 0);
	return arg;
}

static void client_echo(int s)
{
	static uint8_t out[LEN], in[LEN];
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	size_t sent = 0, got = 0;
	ssize_t n;
	int i;

	for (i = 0; i < LEN; i++)
		out[i] = (uint8_t)(i * 13 + (i >> 8));
	SVT_CHECK(rfcntl(s, F_SETFL, O_NONBLOCK) == 0);
	while (got < LEN) {
		if (sent < LEN) {
			n = rsend(s, out + sent, LEN - sent, 0);
			SVT_CHECK(n > 0 || (n < 0 && errno == EAGAIN));
			sent += n > 0 ? n : 0;
		}
		n = rrecv(s, in + got, LEN - got, 0);
		if (n < 0) {
			SVT_CHECK(errno == EAGAIN);
			SVT_CHECK(rpoll(&pfd, 1, 10000) >= 0);
			continue;
		}
		SVT_CHECK(n > 0);
		got += n;
	}
	SVT_CHECK(!memcmp(out, in, LEN));
	SVT_CHECK(rfcntl(s, F_SETFL, 0) == 0);
}

static void client_iowrite(int s)
{
	static uint8_t src[MAPLEN];
	char c;
	int i;

	for (i = 0; i < MAPLEN; i++)
		src[i] = (uint8_t)(i * 7);
	SVT_CHECK(rrecv(s, &c, 1, 0) == 1 && c == 'm');
	SVT_CHECK(riowrite(s, src, MAPLEN, 0, 0) == MAPLEN);
	SVT_CHECK(rsend(s, "w", 1, 0) == 1);
}

int main(void)
{
	struct svt_daemon d;
	struct sockaddr_in sin;
	pthread_t t;
	char c;
	int s;

	svt_daemon_start(&d);
	SVT_CHECK(pipe(ready_pipe) == 0);
	SVT_CHECK(pthread_create(&t, NULL, server, NULL) == 0);
	SVT_CHECK(read(ready_pipe[0], &c, 1) == 1);
	sin = cmt_addr(port);
	s = rsocket(AF_INET, SOCK_STREAM, 0);
	SVT_CHECK(s >= 0);
	SVT_CHECK(rconnect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	client_echo(s);
	client_iowrite(s);
	SVT_CHECK(rclose(s) == 0);
	SVT_CHECK(pthread_join(t, NULL) == 0);
	svt_daemon_stop(&d);
	printf("PASS\n");
	return SVT_PASS;
}
