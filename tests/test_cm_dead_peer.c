// SPDX-License-Identifier: MIT
/*
 * A process that dies with connected cm_ids: the daemon destroys its ids
 * (as the kernel does when the rdma_cm file closes) and the peer hears
 * DISCONNECTED. Both directions: a dead client, then a dead server. Also
 * a client that dies with its REQ unanswered: the server's pending request
 * is withdrawn (REJECTED on the passive id).
 *
 * The peers are fresh processes (this program run again with a role), as
 * librdmacm, like rdma-core's, does not carry its devices across fork().
 */
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "cm_test.h"

/* The client process: connect to port, report, then wait to be killed. */
static void client(uint16_t port, int ready_fd, bool wait_established)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_conn_param p = { .retry_count = 7, .rnr_retry_count = 7 };
	struct rdma_cm_id *id;

	SVT_CHECK(ch);
	id = cmt_resolve(ch, RDMA_PS_TCP, port, NULL);
	cmt_qp(id, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(id, &p) == 0);
	if (wait_established)
		cmt_expect_ack(ch, RDMA_CM_EVENT_ESTABLISHED);
	SVT_CHECK(write(ready_fd, "r", 1) == 1);
	pause(); /* killed here, ids and QP still alive */
	_exit(0);
}

/* Run this program again as "ROLE FD [PORT]", FD a pipe back to us. */
static pid_t spawn(const char *role, int fd, uint16_t port)
{
	char fd_s[16], port_s[16];
	pid_t pid = fork();

	SVT_CHECK(pid >= 0);
	if (pid)
		return pid;
	snprintf(fd_s, sizeof(fd_s), "%d", fd);
	snprintf(port_s, sizeof(port_s), "%u", port);
	execl("/proc/self/exe", "test_cm_dead_peer", role, fd_s, port_s,
	      (char *)NULL);
	_exit(127);
}

struct peer {
	pid_t pid;
	int ready_fd; /* the peer writes one byte when it got where we want */
};

static struct peer spawn_client(uint16_t port, bool wait_established)
{
	struct peer p;
	int fds[2];

	SVT_CHECK(pipe(fds) == 0);
	p.pid = spawn(wait_established ? "client-est" : "client", fds[1],
		      port);
	close(fds[1]);
	p.ready_fd = fds[0];
	return p;
}

/* Kill the peer once it says it is ready. */
static void kill_when_ready(struct peer *p)
{
	int status;
	char c;

	SVT_CHECK(read(p->ready_fd, &c, 1) == 1);
	close(p->ready_fd);
	kill(p->pid, SIGKILL);
	SVT_CHECK(waitpid(p->pid, &status, 0) == p->pid);
}

static struct rdma_cm_id *take_request(struct rdma_event_channel *ch)
{
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;

	ev = cmt_expect(ch, RDMA_CM_EVENT_CONNECT_REQUEST);
	id = ev->id;
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	return id;
}

static void accept_request(struct rdma_cm_id *id)
{
	struct rdma_conn_param p = { .rnr_retry_count = 7 };

	cmt_qp(id, IBV_QPT_RC);
	SVT_CHECK(rdma_accept(id, &p) == 0);
}

static void dead_client(struct rdma_event_channel *ch, uint16_t port)
{
	struct peer peer = spawn_client(port, true);
	struct rdma_cm_id *id;

	id = take_request(ch);
	accept_request(id);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ESTABLISHED);
	kill_when_ready(&peer);
	cmt_expect_ack(ch, RDMA_CM_EVENT_DISCONNECTED);
	rdma_destroy_qp(id);
	SVT_CHECK(rdma_destroy_id(id) == 0);
}

static void dead_request(struct rdma_event_channel *ch, uint16_t port)
{
	struct rdma_cm_event *ev;
	struct peer peer = spawn_client(port, false);
	struct rdma_cm_id *id;

	id = take_request(ch);
	kill_when_ready(&peer); /* before we answered its REQ */
	ev = cmt_expect(ch, RDMA_CM_EVENT_REJECTED);
	SVT_CHECK(ev->id == id && ev->status == 4); /* IBTA: timeout */
	SVT_CHECK(rdma_ack_cm_event(ev) == 0);
	SVT_CHECK(rdma_destroy_id(id) == 0);
}

/* The server process for the reverse case: accept one, then hang. */
static void server(int port_fd)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_cm_id *listen, *id;
	uint16_t port;

	SVT_CHECK(ch);
	port = cmt_listen(ch, &listen, RDMA_PS_TCP, 4);
	SVT_CHECK(write(port_fd, &port, sizeof(port)) == sizeof(port));
	id = take_request(ch);
	accept_request(id);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ESTABLISHED);
	SVT_CHECK(write(port_fd, "r", 1) == 1);
	pause();
	_exit(0);
}

static void dead_server(void)
{
	struct rdma_event_channel *ch;
	struct rdma_conn_param p = { .retry_count = 7, .rnr_retry_count = 7 };
	struct rdma_cm_id *id;
	struct peer peer;
	uint16_t port;
	int fds[2];

	SVT_CHECK(pipe(fds) == 0);
	peer.pid = spawn("server", fds[1], 0);
	close(fds[1]);
	peer.ready_fd = fds[0];
	SVT_CHECK(read(fds[0], &port, sizeof(port)) == sizeof(port));
	ch = rdma_create_event_channel();
	SVT_CHECK(ch);
	id = cmt_resolve(ch, RDMA_PS_TCP, port, NULL);
	cmt_qp(id, IBV_QPT_RC);
	SVT_CHECK(rdma_connect(id, &p) == 0);
	cmt_expect_ack(ch, RDMA_CM_EVENT_ESTABLISHED);
	kill_when_ready(&peer);
	cmt_expect_ack(ch, RDMA_CM_EVENT_DISCONNECTED);
	rdma_destroy_qp(id);
	SVT_CHECK(rdma_destroy_id(id) == 0);
	rdma_destroy_event_channel(ch);
}

int main(int argc, char **argv)
{
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen;
	struct svt_daemon d;
	uint16_t port;

	if (argc == 4 && !strncmp(argv[1], "client", 6))
		client(atoi(argv[3]), atoi(argv[2]), !strcmp(argv[1],
							     "client-est"));
	if (argc == 4 && !strcmp(argv[1], "server"))
		server(atoi(argv[2]));
	svt_daemon_start(&d);
	dead_server();
	ch = rdma_create_event_channel();
	SVT_CHECK(ch);
	port = cmt_listen(ch, &listen, RDMA_PS_TCP, 4);
	dead_client(ch, port);
	dead_request(ch, port);
	SVT_CHECK(rdma_destroy_id(listen) == 0);
	rdma_destroy_event_channel(ch);
	svt_daemon_stop(&d);
	printf("PASS\n");
	return SVT_PASS;
}
