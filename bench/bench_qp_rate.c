// SPDX-License-Identifier: MIT
/*
 * The control path's rate (issue 17): RC QPs created and connected per
 * second, the way perftest and UCX set up a connection: ibv_create_qp,
 * then ibv_modify_qp to INIT, RTR and RTS, for both QPs of a pair that
 * are connected to each other. Destroy is timed apart and is not part of
 * the figure.
 *
 * On a loaded 2-core machine the absolute figure moves with the load, so
 * the same run also measures, interleaved with the QP rounds:
 *  - "rtt": ibv_query_port, the most trivial command the daemon answers
 *    (one full command round trip: marshalling, the socket, dispatch);
 *  - "sock": a SOCK_SEQPACKET ping-pong between two threads of this
 *    process, the kernel's floor for any request/reply IPC here.
 * "create+connect = K rtt" says how many trivial commands one QP costs
 * (four verbs per QP: K near 4 means the QP work itself is cheap).
 *
 * The library may post a modify without waiting for the daemon's reply
 * (when the daemon cannot refuse it): the figure must still count the
 * daemon's work. So each round ends with an ibv_query_qp of its last QP,
 * timed with RTS: the daemon answers it only after it has run every
 * command sent before it, and the reply says the last QP is in RTS.
 *
 * Prints per-phase microseconds on stderr, the floor (10,000
 * QPs/s on 2 cores) with PASS or FAIL and the load average it was taken
 * at, and "RESULT <QPs/s> qp/s".
 * Run under softverbs run.
 *
 * Usage: bench_qp_rate [pairs [pairs_per_round]] (default 1000 100)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_rc.h"

enum { PH_CREATE, PH_INIT, PH_RTR, PH_RTS, PH_DESTROY, PH_RTT, PH_SOCK,
       PH_N };

static const char *const ph_name[PH_N] = {
	"create", "INIT", "RTR", "RTS", "destroy", "rtt", "sock",
};

struct qp_bench {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	union ibv_gid gid;
	int gidx;
	uint64_t ns[PH_N];	/* time spent in each phase */
	uint64_t ops[PH_N];	/* operations timed in it */
	struct ibv_qp **qp;
};

static void add_time(struct qp_bench *b, int ph, uint64_t t0, uint64_t n)
{
	b->ns[ph] += bench_now_ns() - t0;
	b->ops[ph] += n;
}

/* Every command sent so far has run: qp's RTS is the daemon's. */
static void connected(struct ibv_qp *qp)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;

	if (ibv_query_qp(qp, &a, IBV_QP_STATE, &init) ||
	    a.qp_state != IBV_QPS_RTS)
		bench_die("ibv_query_qp: the QP is not in RTS");
}

static void modify_all(struct qp_bench *b, int n, int ph)
{
	struct ibv_qp_attr a = {};
	uint64_t t0 = bench_now_ns();
	int i;

	for (i = 0; i < 2 * n; i++) {
		struct ibv_qp *peer = b->qp[i ^ 1];

		memset(&a, 0, sizeof(a));
		if (ph == PH_INIT) {
			a.qp_state = IBV_QPS_INIT;
			a.port_num = 1;
			a.qp_access_flags = BENCH_RC_ACCESS;
			bench_rc_modify(b->qp[i], &a, BENCH_RC_INIT_MASK,
					"INIT");
		} else if (ph == PH_RTR) {
			bench_rc_rtr_attr(&a, peer->qp_num, b->gidx, &b->gid);
			bench_rc_modify(b->qp[i], &a, BENCH_RC_RTR_MASK, "RTR");
		} else {
			bench_rc_rts_attr(&a);
			bench_rc_modify(b->qp[i], &a, BENCH_RC_RTS_MASK, "RTS");
		}
	}
	if (ph == PH_RTS)
		connected(b->qp[2 * n - 1]);
	add_time(b, ph, t0, 2 * (uint64_t)n);
}

/*
 * One round: n pairs created, then each step for all QPs, as an
 * application setting up many connections does.
 */
static void qp_round(struct qp_bench *b, int n)
{
	uint64_t t0 = bench_now_ns();
	int i;

	for (i = 0; i < 2 * n; i++)
		b->qp[i] = bench_rc_qp(b->pd, b->cq, 16);
	add_time(b, PH_CREATE, t0, 2 * (uint64_t)n);
	modify_all(b, n, PH_INIT);
	modify_all(b, n, PH_RTR);
	modify_all(b, n, PH_RTS);
	t0 = bench_now_ns();
	for (i = 0; i < 2 * n; i++)
		if (ibv_destroy_qp(b->qp[i]))
			bench_die("ibv_destroy_qp");
	add_time(b, PH_DESTROY, t0, 2 * (uint64_t)n);
}

/* As many trivial daemon commands as the round's QPs took verbs. */
static void rtt_round(struct qp_bench *b, int n)
{
	struct ibv_port_attr pa;
	uint64_t t0 = bench_now_ns();
	int i;

	for (i = 0; i < 8 * n; i++)
		if (ibv_query_port(b->ctx, 1, &pa))
			bench_die("ibv_query_port");
	add_time(b, PH_RTT, t0, 8 * (uint64_t)n);
}

static void *echo_thread(void *arg)
{
	int fd = *(int *)arg;
	char c[64];

	while (recv(fd, c, sizeof(c), 0) > 0)
		if (send(fd, c, 64, 0) != 64)
			break;
	return NULL;
}

/* The same number of round trips over a bare SOCK_SEQPACKET pair. */
static void sock_round(struct qp_bench *b, int n, int fd)
{
	char c[64] = "";
	uint64_t t0 = bench_now_ns();
	int i;

	for (i = 0; i < 8 * n; i++)
		if (send(fd, c, sizeof(c), 0) != sizeof(c) ||
		    recv(fd, c, sizeof(c), 0) <= 0)
			bench_die("socket ping-pong");
	add_time(b, PH_SOCK, t0, 8 * (uint64_t)n);
}

static double us_per(const struct qp_bench *b, int ph)
{
	return b->ops[ph] ? (double)b->ns[ph] / 1e3 / (double)b->ops[ph] : 0;
}

/* Issue 17: at least this many RC QPs created and connected a second. */
#define QP_RATE_FLOOR 10000.0

/* The 1-minute load average, which the figure depends on here. */
static double load1(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double l = -1;

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void report(const struct qp_bench *b, double load_before)
{
	uint64_t cc = b->ns[PH_CREATE] + b->ns[PH_INIT] + b->ns[PH_RTR] +
		      b->ns[PH_RTS];
	double qps = 1e9 * (double)b->ops[PH_CREATE] / (double)cc;
	double per_qp = 1e6 / qps;
	int ph;

	fprintf(stderr, "%llu QPs, us per QP:",
		(unsigned long long)b->ops[PH_CREATE]);
	for (ph = 0; ph < PH_N; ph++)
		fprintf(stderr, " %s %.1f", ph_name[ph], us_per(b, ph));
	fprintf(stderr, "\ncreate+connect %.0f QP/s (%.1f us) = %.2f rtt "
		"(query_port %.1f us) = %.2f sock (ping-pong %.1f us); "
		"destroy %.0f QP/s\n", qps, per_qp,
		per_qp / us_per(b, PH_RTT), us_per(b, PH_RTT),
		per_qp / us_per(b, PH_SOCK), us_per(b, PH_SOCK),
		1e6 / us_per(b, PH_DESTROY));
	fprintf(stderr, "floor (issue 17): create+connect >= %.0f QP/s on 2 "
		"cores: %s (%.0f QP/s = %.2fx the floor; load %.1f -> %.1f)\n",
		QP_RATE_FLOOR, qps >= QP_RATE_FLOOR ? "PASS" : "FAIL", qps,
		qps / QP_RATE_FLOOR, load_before, load1());
	bench_result(qps, "qp/s");
}

int main(int argc, char **argv)
{
	int total = argc > 1 ? atoi(argv[1]) : 1000;
	int chunk = argc > 2 ? atoi(argv[2]) : 100;
	double load_before = load1();
	struct qp_bench b = {};
	pthread_t echo;
	int sv[2], done;

	if (total <= 0 || chunk <= 0)
		bench_die("usage: bench_qp_rate [pairs [pairs_per_round]]");
	if (chunk > total)
		chunk = total;
	bench_watchdog(300);
	b.ctx = bench_open(NULL);
	b.pd = ibv_alloc_pd(b.ctx);
	b.cq = ibv_create_cq(b.ctx, 256, NULL, NULL, 0);
	b.qp = calloc(2 * (size_t)chunk, sizeof(*b.qp));
	if (!b.pd || !b.cq || !b.qp ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) ||
	    pthread_create(&echo, NULL, echo_thread, &sv[1]))
		bench_die("setup");
	b.gidx = bench_find_gid(b.ctx, &b.gid);
	for (done = 0; done < total; done += chunk) {
		int n = total - done < chunk ? total - done : chunk;

		qp_round(&b, n);
		rtt_round(&b, n);
		sock_round(&b, n, sv[0]);
	}
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(echo, NULL);
	report(&b, load_before);
	free(b.qp);
	ibv_destroy_cq(b.cq);
	ibv_dealloc_pd(b.pd);
	ibv_close_device(b.ctx);
	return 0;
}
