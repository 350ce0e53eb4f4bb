/* SPDX-License-Identifier: MIT */
/*
 * Two processes joined by an RC connection, for the direct-path tests
 * (docs/direct-path.md): the parent initiates, a forked child is the
 * target. Each side has its own context, PD, CQ, QP and a registered
 * buffer; they swap QP numbers, rkeys and addresses over pipes. Include
 * after svtest.h and svt_ep.h.
 */
#ifndef SVT_DIRECT_H
#define SVT_DIRECT_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>

#define SVT_DX_ACC                                                             \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |                    \
	 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)

struct svt_dx_info {
	uint32_t qpn, rkey;
	uint64_t addr;
};

struct svt_dx {
	struct svt_ep ep;
	struct ibv_mr *mr;
	uint8_t *buf;
	size_t len;
	int rd, wr; /* pipe ends towards the other side */
	struct svt_dx_info peer;
	pid_t child; /* in the parent: the target */
};

static inline void svt_dx_put(struct svt_dx *x, const void *p, size_t n)
{
	SVT_CHECK(write(x->wr, p, n) == (ssize_t)n);
}

/* A read that ends the side when the other one is gone. */
static inline void svt_dx_get(struct svt_dx *x, void *p, size_t n)
{
	ssize_t r = read(x->rd, p, n);

	if (r == 0)
		exit(SVT_FAIL); /* the other side died: it said why */
	SVT_CHECK(r == (ssize_t)n);
}

/* Fork the target: run(x) in the child, which then exits with 0. */
static inline void svt_dx_fork(struct svt_dx *x, void (*run)(struct svt_dx *))
{
	int a[2], b[2];

	SVT_CHECK(!pipe(a) && !pipe(b));
	x->child = fork();
	SVT_CHECK(x->child >= 0);
	if (!x->child) {
		close(a[1]);
		close(b[0]);
		x->rd = a[0];
		x->wr = b[1];
		run(x);
		exit(SVT_PASS);
	}
	close(a[0]);
	close(b[1]);
	x->rd = b[0];
	x->wr = a[1];
}

/* Open this side: context, PD, CQ, QP and a zeroed registered buffer. */
static inline void svt_dx_open(struct svt_dx *x, size_t len)
{
	svt_ep_open(&x->ep);
	x->len = len;
	x->buf = aligned_alloc(4096, len);
	SVT_CHECK(x->buf);
	memset(x->buf, 0, len);
	x->mr = ibv_reg_mr(x->ep.pd, x->buf, len, SVT_DX_ACC);
	SVT_CHECK(x->mr);
}

/* Free this side (an MR already deregistered is NULL). */
static inline void svt_dx_close(struct svt_dx *x)
{
	SVT_CHECK(!ibv_destroy_qp(x->ep.qp));
	if (x->mr)
		SVT_CHECK(!ibv_dereg_mr(x->mr));
	SVT_CHECK(!ibv_destroy_cq(x->ep.cq));
	SVT_CHECK(!ibv_dealloc_pd(x->ep.pd));
	SVT_CHECK(!ibv_close_device(x->ep.ctx));
	free(x->buf);
}

/* Swap numbers with the other side and connect to it. */
static inline void svt_dx_link(struct svt_dx *x)
{
	struct svt_dx_info me = { x->ep.qp->qp_num, x->mr->rkey,
				  (uintptr_t)x->buf };
	char c = 1;

	svt_dx_put(x, &me, sizeof(me));
	svt_dx_get(x, &x->peer, sizeof(x->peer));
	svt_ep_connect(&x->ep, x->peer.qpn);
	/* Both connected before anyone posts. */
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1);
}

/* Post one RDMA work request on x's QP without waiting. */
static inline void svt_dx_post_id(struct svt_dx *x, enum ibv_wr_opcode op,
				  uint64_t wr_id, uint64_t loff, uint64_t roff,
				  uint32_t len, bool signaled)
{
	struct ibv_sge s = { (uintptr_t)x->buf + loff, len, x->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = wr_id, .sg_list = &s, .num_sge = 1,
				  .opcode = op }, *bad;

	wr.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
	wr.wr.rdma.remote_addr = x->peer.addr + roff;
	wr.wr.rdma.rkey = x->peer.rkey;
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
}

/* The same, its wr_id the remote offset. */
static inline void svt_dx_post(struct svt_dx *x, enum ibv_wr_opcode op,
			       uint64_t loff, uint64_t roff, uint32_t len,
			       bool signaled)
{
	svt_dx_post_id(x, op, roff, loff, roff, len, signaled);
}

static inline double svt_dx_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* A completion within ms milliseconds (by the clock: sleeps stretch)? */
static inline int svt_dx_poll_ms(struct ibv_cq *cq, struct ibv_wc *wc, int ms)
{
	struct timespec ts = { 0, 100000 };
	double end = svt_dx_now_ms() + ms;
	int n;

	do {
		n = ibv_poll_cq(cq, 1, wc);
		SVT_CHECK(n >= 0);
		if (n)
			return 1;
		nanosleep(&ts, NULL);
	} while (svt_dx_now_ms() < end);
	return 0;
}

/* The child's exit status (0 if it passed). */
static inline int svt_dx_wait(struct svt_dx *x)
{
	int st = 0;

	SVT_CHECK(waitpid(x->child, &st, 0) == x->child);
	return WIFEXITED(st) ? WEXITSTATUS(st) : SVT_FAIL;
}

/* Is thread tid of pid stopped ('T')? */
static inline bool svt_dx_task_stopped(pid_t pid, const char *tid)
{
	char path[128], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return true; /* the thread is gone */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] == 'T';
}

static inline bool svt_dx_all_stopped(pid_t pid)
{
	char path[64];
	struct dirent *e;
	bool all = true;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	SVT_CHECK(dir);
	while (all && (e = readdir(dir)))
		if (e->d_name[0] != '.')
			all = svt_dx_task_stopped(pid, e->d_name);
	closedir(dir);
	return all;
}

/* SIGSTOP takes effect asynchronously: wait until every thread stopped. */
static inline void svt_dx_stop_daemon(pid_t pid)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	SVT_CHECK(!kill(pid, SIGSTOP));
	for (i = 0; i < 5000 && !svt_dx_all_stopped(pid); i++)
		nanosleep(&ts, NULL);
	SVT_CHECK(svt_dx_all_stopped(pid));
}

/*
 * "The daemon stopped", target side: the receive is posted; tell the
 * initiator, which stops the daemon and posts; a completion within
 * 500 ms (a direct one) or else once the daemon runs again. The
 * initiator learns which.
 */
static inline struct ibv_wc svt_dx_recv_stopped(struct svt_dx *x)
{
	struct ibv_wc wc;
	char c = 1;
	int got;

	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1); /* the daemon is stopped, the work posted */
	got = svt_dx_poll_ms(x->ep.cq, &wc, 500);
	c = (char)got;
	svt_dx_put(x, &c, 1);
	if (!got)
		wc = svt_poll1(x->ep.cq);
	return wc;
}

/*
 * Initiator side: post() with the daemon stopped. Checks that the work
 * request and the target's receive completed while it was stopped when
 * the path is on, and neither when off; what names it in the output.
 */
static inline void svt_dx_send_stopped(struct svt_dx *x, pid_t daemon,
				       void (*post)(struct svt_dx *),
				       bool on, const char *what)
{
	struct ibv_wc wc;
	int got;
	char c;

	svt_dx_get(x, &c, 1);
	svt_dx_stop_daemon(daemon);
	post(x);
	got = svt_dx_poll_ms(x->ep.cq, &wc, 500);
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1);
	SVT_CHECK(!kill(daemon, SIGCONT));
	if (!got)
		wc = svt_poll1(x->ep.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
	printf("daemon stopped: %s %s, receive %s\n", what,
	       got ? "completed" : "waited", c ? "completed" : "waited");
	SVT_CHECK(got == on && c == on);
}

/*
 * A two-process direct-path test's start: the path on, or off with "off"
 * as argv[1] (returned), a private daemon, the target forked to run
 * target(), this side opened with len bytes and connected.
 */
static inline bool svt_dx_begin(int argc, char **argv, struct svt_daemon *d,
				struct svt_dx *x,
				void (*target)(struct svt_dx *), size_t len)
{
	bool on = !(argc > 1 && !strcmp(argv[1], "off"));

	setenv("SOFTVERBS_DIRECT", on ? "1" : "0", 1);
	SVT_CHECK(!svt_daemon_start(d));
	svt_dx_fork(x, target);
	svt_dx_open(x, len);
	svt_dx_link(x);
	return on;
}

/* Its end: release the target, which must pass; close this side. */
static inline void svt_dx_end(struct svt_dx *x)
{
	char c = 1;

	svt_dx_put(x, &c, 1);
	SVT_CHECK(svt_dx_wait(x) == SVT_PASS);
	svt_dx_close(x);
}

/* The target's side of svt_dx_begin / svt_dx_end. */
static inline void svt_dx_target_begin(struct svt_dx *x, size_t len)
{
	svt_dx_open(x, len);
	svt_dx_link(x);
}

static inline void svt_dx_target_end(struct svt_dx *x)
{
	char c;

	svt_dx_get(x, &c, 1);
	svt_dx_close(x);
}

/* The initiator's next completion; a failed one is printed. */
static inline struct ibv_wc svt_dx_one(struct svt_dx *x)
{
	struct ibv_wc wc = svt_poll1(x->ep.cq);

	if (wc.status != IBV_WC_SUCCESS)
		fprintf(stderr, "wc: wr_id %llu status %s\n",
			(unsigned long long)wc.wr_id,
			ibv_wc_status_str(wc.status));
	return wc;
}

/*
 * Target side of "deregistered mid-stream": once the initiator's stream
 * runs, deregister, fill the buffer, tell it, and after it saw its error
 * check that no stale access changed a byte.
 */
static inline void svt_dx_dereg_midstream(struct svt_dx *x, size_t len)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	size_t i;
	char c;

	svt_dx_get(x, &c, 1); /* the stream runs */
	nanosleep(&ts, NULL);
	SVT_CHECK(!ibv_dereg_mr(x->mr));
	x->mr = NULL;
	memset(x->buf, 0xee, len);
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1); /* the initiator saw its error */
	nanosleep(&ts, NULL);
	for (i = 0; i < len; i++)
		SVT_CHECK(x->buf[i] == 0xee);
	svt_dx_put(x, &c, 1);
}

/* Initiator side of svt_dx_dereg_midstream, after its stream failed
 * with status: the daemon path's answer, then the target checks. */
static inline void svt_dx_dereg_seen(struct svt_dx *x, enum ibv_wc_status status)
{
	char c = 1;

	SVT_CHECK(status == IBV_WC_REM_ACCESS_ERR);
	svt_dx_get(x, &c, 1); /* deregistered */
	svt_dx_put(x, &c, 1);
	svt_dx_get(x, &c, 1); /* the target checked its buffer */
}

/* Initiator side of svt_dx_dereg_midstream: stream 1 MiB WRITEs until
 * one fails (REM_ACCESS_ERR after the target's dereg). */
static inline void svt_dx_stream_until_dereg(struct svt_dx *x)
{
	unsigned long ok = 0;
	struct ibv_wc wc;
	char c = 1;

	memset(x->buf, 0xab, 2 * (1 << 20));
	svt_dx_put(x, &c, 1);
	for (;;) {
		svt_dx_post(x, IBV_WR_RDMA_WRITE, 0, (ok % 4) * (1 << 20), (1 << 20), true);
		wc = svt_poll1(x->ep.cq);
		if (wc.status != IBV_WC_SUCCESS)
			break;
		ok++;
	}
	printf("dereg: %lu WRITEs of 1 MiB, then %s\n", ok,
	       ibv_wc_status_str(wc.status));
	svt_dx_dereg_seen(x, wc.status);
}

#endif
