// SPDX-License-Identifier: MIT
/*
 * Issue 18 item 5: local denial of service.
 *
 * Connection flood: the daemon's RLIMIT_NOFILE is lowered to 48 (prlimit)
 * and 300 connections hit it, a third of them on the rdma_cm socket. It must not spin (under 10%
 * of a core over one second, where a level-triggered listener at EMFILE
 * takes 100%), must keep serving the context that was already open, and
 * must accept again once the flood is gone.
 *
 * Connections per user: with --limit-connections=8, the ninth connection
 * is closed at once, and a freed one can be taken again.
 *
 * Per-user limits: with --limit-contexts=2 --limit-qps=2 --limit-mrs=1,
 * the third context, the third QP and the second MR fail with EAGAIN (the
 * rdma cgroup's errno), and a freed MR gives its charge back.
 */
#include <infiniband/verbs.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "svtest.h"

#define NFLOOD 300

static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	SVT_CHECK(f && fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	SVT_CHECK(p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				     "%*u %lu %lu", &ut, &st) == 2);
	return (long)(ut + st);
}

static int flood_one(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);

	SVT_CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa)); /* EAGAIN: backlog */
	return fd;
}

static struct ibv_context *open_within(struct ibv_device *dev, int ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct ibv_context *c;

	for (int i = 0; i < ms / 20; i++) {
		c = ibv_open_device(dev);
		if (c)
			return c;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_flood(void)
{
	struct rlimit rl;
	struct ibv_device **list;
	struct ibv_context *ctx, *c2;
	struct svt_daemon d;
	char sock[300], cm[300];
	int fds[NFLOOD];
	long t0, used;

	SVT_CHECK(!getrlimit(RLIMIT_NOFILE, &rl));
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < NFLOOD + 100) {
		printf("RLIMIT_NOFILE hard limit too low\n");
		exit(SVT_SKIP);
	}
	rl.rlim_cur = rl.rlim_max;
	SVT_CHECK(!setrlimit(RLIMIT_NOFILE, &rl));
	SVT_CHECK(!svt_daemon_start(&d));
	/* The daemon raised its own limit at start: lower it from outside. */
	SVT_CHECK(!prlimit(d.pid, RLIMIT_NOFILE, &(struct rlimit){ 48,
			   rl.rlim_max }, NULL));
	list = ibv_get_device_list(NULL);
	SVT_CHECK(list && list[0]);
	ctx = ibv_open_device(list[0]);
	SVT_CHECK(ctx);
	snprintf(sock, sizeof(sock), "%s/devices/softverbs0/sock", d.rundir);
	snprintf(cm, sizeof(cm), "%s/cm.sock", d.rundir);
	/* Both doors: the device socket and the rdma_cm socket. */
	for (int i = 0; i < NFLOOD; i++)
		fds[i] = flood_one(i % 3 == 2 && svt_exists(d.rundir, "cm.sock") ?
					   cm : sock);
	usleep(300 * 1000);
	t0 = cpu_ticks(d.pid);
	usleep(1000 * 1000);
	used = (cpu_ticks(d.pid) - t0) * 100 / sysconf(_SC_CLK_TCK);
	printf("flood: daemon used %ld%% of a core\n", used);
	SVT_CHECK(used < 10);
	/* The client that was already in still gets served. */
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd && !ibv_dealloc_pd(pd));
	for (int i = 0; i < NFLOOD; i++)
		close(fds[i]);
	c2 = open_within(list[0], 3000);
	SVT_CHECK(c2);
	SVT_CHECK(!ibv_close_device(c2) && !ibv_close_device(ctx));
	ibv_free_device_list(list);
	svt_daemon_stop(&d);
}

/* Connected and not hung up on within 200 ms? */
static bool conn_kept(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 200) == 0;
}

static void test_conn_limit(void)
{
	static const char *const args[] = { "--limit-connections=8", NULL };
	struct svt_daemon d;
	char sock[300];
	int fds[9];

	SVT_CHECK(!svt_daemon_start_args(&d, args));
	snprintf(sock, sizeof(sock), "%s/devices/softverbs0/sock", d.rundir);
	for (int i = 0; i < 9; i++)
		fds[i] = flood_one(sock);
	for (int i = 0; i < 8; i++)
		SVT_CHECK(conn_kept(fds[i]));
	SVT_CHECK(!conn_kept(fds[8]));
	close(fds[8]);
	close(fds[0]);
	usleep(100 * 1000); /* the daemon sees the close */
	fds[0] = flood_one(sock);
	SVT_CHECK(conn_kept(fds[0]));
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	svt_daemon_stop(&d);
	printf("connections: the ninth refused, a freed one reusable\n");
}

static struct ibv_qp *qp_new(struct ibv_pd *pd, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr a = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};

	return ibv_create_qp(pd, &a);
}

static void test_limits(void)
{
	static const char *const args[] = { "--limit-contexts=2",
		"--limit-qps=2", "--limit-mrs=1", NULL };
	struct ibv_context *c[3];
	struct ibv_qp *qp[3];
	struct ibv_mr *mr[2];
	struct ibv_device **list;
	struct svt_daemon d;
	static char buf[4096];
	struct ibv_pd *pd;
	struct ibv_cq *cq;

	SVT_CHECK(!svt_daemon_start_args(&d, args));
	list = ibv_get_device_list(NULL);
	SVT_CHECK(list && list[0]);
	c[0] = ibv_open_device(list[0]);
	c[1] = ibv_open_device(list[0]);
	SVT_CHECK(c[0] && c[1]);
	c[2] = ibv_open_device(list[0]);
	SVT_CHECK(!c[2] && errno == EAGAIN);
	pd = ibv_alloc_pd(c[0]);
	cq = ibv_create_cq(c[0], 16, NULL, NULL, 0);
	SVT_CHECK(pd && cq);
	qp[0] = qp_new(pd, cq);
	qp[1] = qp_new(pd, cq);
	SVT_CHECK(qp[0] && qp[1]);
	qp[2] = qp_new(pd, cq);
	SVT_CHECK(!qp[2] && errno == EAGAIN);
	mr[0] = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr[0]);
	mr[1] = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(!mr[1] && errno == EAGAIN);
	SVT_CHECK(!ibv_dereg_mr(mr[0]));
	mr[1] = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr[1] && !ibv_dereg_mr(mr[1]));
	SVT_CHECK(!ibv_destroy_qp(qp[0]) && !ibv_destroy_qp(qp[1]));
	SVT_CHECK(!ibv_destroy_cq(cq) && !ibv_dealloc_pd(pd));
	SVT_CHECK(!ibv_close_device(c[1]));
	c[2] = ibv_open_device(list[0]); /* its charge came back */
	SVT_CHECK(c[2]);
	SVT_CHECK(!ibv_close_device(c[2]) && !ibv_close_device(c[0]));
	ibv_free_device_list(list);
	svt_daemon_stop(&d);
	printf("limits: EAGAIN at each limit, charges returned\n");
}

int main(void)
{
	int status;
	pid_t pid;

	/* The library keeps its runtime dir: one daemon per process. */
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid) {
		test_flood();
		exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status);
	test_conn_limit(); /* raw sockets: the library is not used yet */
	test_limits();
	return SVT_PASS;
}
