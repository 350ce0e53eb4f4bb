// SPDX-License-Identifier: MIT
/*
 * verbs_bench: softverbs' own verbs figures, measured the way perftest
 * measures them so the two can be compared.
 *
 *   verbs_bench send_lat   [-s 8]   RC SEND ping-pong, median RTT/2 (us)
 *   verbs_bench write_lat  [-s 8]   RDMA WRITE ping-pong polled in memory,
 *				     median RTT/2 (us), as ib_write_lat
 *   verbs_bench write_bw   -s SIZE  RDMA WRITE stream, MiB/s
 *   verbs_bench read_bw    -s SIZE  RDMA READ stream, MiB/s
 *   verbs_bench write_rate [-s 8]   RDMA WRITE stream, million messages/s
 *
 * Options: -d DEV, -g GID_INDEX (default: the ::ffff:127.0.0.1 entry),
 * -n ITERS, -c CPU0,CPU1 (pin the initiator to CPU0 and the target to CPU1,
 * as perftest's client and server), -m va|shm (buffer: private
 * memory, or a memfd mapping), -t TX_DEPTH, -I INLINE (bytes of inline data
 * to ask for; WRs that fit are sent inline; default 0, as perftest does on
 * a device it does not recognise), -l LIST (streams post lists of LIST WRs
 * per ibv_post_send, as perftest's --post_list; default 1).
 *
 * Fairness with perftest: two processes, each with its own context, PD, CQs
 * and RC QP, pinned to one core each; buffers are ordinary private memory
 * by default (perftest's malloc); the path MTU is the port's active MTU;
 * bandwidth tests keep TX_DEPTH (128, perftest's default) WRs in flight and
 * ask for a completion every TX_DEPTH/4 WRs. Setup and warm-up are outside
 * the timed region. The program links the project's libibverbs and runs
 * under "softverbs run" like any other verbs application.
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct cfg {
	const char *test;
	const char *dev;
	const char *mem;
	int gid_index;
	size_t size;
	long iters;
	int cpus[2];
	int depth;
	/*
	 * Inline bytes to ask for (-I). perftest's latency tests ask for 236
	 * (SEND) or 220 (WRITE) on devices it knows, but turn inline off on
	 * one it does not, like softverbs: so the default is 0 here too.
	 */
	uint32_t inline_size;
	int list; /* -l: WRs per ibv_post_send in streams */
};

#define LIST_MAX 64

/* What one side tells the other to connect and address it. */
struct wire {
	union ibv_gid gid;
	uint64_t addr;
	uint32_t qpn, psn, rkey;
};

struct side {
	const struct cfg *cfg;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *scq, *rcq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	char *buf; /* source area, then the target area at buf + half */
	size_t half, len;
	int fd;
	int gid_index;
	enum ibv_mtu mtu;
	int rd_atom;
	uint32_t inline_max; /* WRs up to this size are sent inline */
	struct wire peer;
	long outstanding; /* signaled sends not yet completed */
	struct ibv_send_wr wr[LIST_MAX]; /* post_list's WRs (wr_init) */
	struct ibv_sge sge[LIST_MAX];
	enum ibv_wr_opcode wr_op;
	unsigned int wr_flags; /* IBV_SEND_INLINE if it fits */
	int wr_ready;
	uint64_t *bursts; /* ns per WR of each burst (stream) */
	size_t nburst, maxburst;
};

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */
/* ---------------------------------------------------------------------- */

static struct ibv_context *open_dev(const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;
	int i;

	if (!list) {
		perror("verbs_bench: ibv_get_device_list");
		return NULL;
	}
	for (i = 0; list[i] && !ctx; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!ctx)
		fprintf(stderr, "verbs_bench: no device %s\n",
			name ? name : "(any)");
	return ctx;
}

/* The GID table entry for ::ffff:127.0.0.1, as perftest's "-x" picks. */
static int find_loopback_gid(struct ibv_context *ctx, int len)
{
	static const uint8_t want[16] = { [10] = 0xff, [11] = 0xff, [12] = 127,
					  [15] = 1 };
	union ibv_gid gid;
	int i;

	for (i = 0; i < len; i++)
		if (!ibv_query_gid(ctx, 1, i, &gid) &&
		    !memcmp(gid.raw, want, sizeof(want)))
			return i;
	return 0;
}

static int query_caps(struct side *s)
{
	struct ibv_device_attr dattr;
	struct ibv_port_attr pattr;

	if (ibv_query_device(s->ctx, &dattr) ||
	    ibv_query_port(s->ctx, 1, &pattr)) {
		perror("verbs_bench: query device/port");
		return -1;
	}
	s->mtu = pattr.active_mtu;
	/* As many READs in flight as the device and TX depth allow (the QP
	 * attribute is 8 bits). */
	s->rd_atom = dattr.max_qp_rd_atom < s->cfg->depth ?
			     dattr.max_qp_rd_atom :
			     s->cfg->depth;
	if (s->rd_atom > 255)
		s->rd_atom = 255;
	s->gid_index = s->cfg->gid_index >= 0 ?
			       s->cfg->gid_index :
			       find_loopback_gid(s->ctx, pattr.gid_tbl_len);
	return 0;
}

static int create_qp(struct side *s)
{
	int depth = s->cfg->depth;
	struct ibv_qp_init_attr a = {
		.cap = { .max_send_wr = (uint32_t)depth,
			 .max_recv_wr = (uint32_t)depth,
			 .max_send_sge = 1, .max_recv_sge = 1,
			 .max_inline_data = s->cfg->inline_size },
		.qp_type = IBV_QPT_RC,
	};

	s->scq = ibv_create_cq(s->ctx, depth, NULL, NULL, 0);
	s->rcq = ibv_create_cq(s->ctx, depth, NULL, NULL, 0);
	if (!s->scq || !s->rcq)
		return -1;
	a.send_cq = s->scq;
	a.recv_cq = s->rcq;
	s->qp = ibv_create_qp(s->pd, &a);
	if (!s->qp && a.cap.max_inline_data) { /* a device without inline */
		a.cap.max_inline_data = 0;
		s->qp = ibv_create_qp(s->pd, &a);
	}
	/* A device may grant more than asked; like perftest, use the ask. */
	s->inline_max = s->qp && a.cap.max_inline_data < s->cfg->inline_size ?
				a.cap.max_inline_data :
				s->cfg->inline_size;
	return s->qp ? 0 : -1;
}

static int open_side(struct side *s)
{
	int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		  IBV_ACCESS_REMOTE_READ;

	s->ctx = open_dev(s->cfg->dev);
	if (!s->ctx || query_caps(s))
		return -1;
	s->half = (s->cfg->size + 4095) & ~(size_t)4095;
	s->len = 2 * s->half;
	s->buf = bench_alloc(s->len, s->cfg->mem);
	s->pd = ibv_alloc_pd(s->ctx);
	if (!s->buf || !s->pd)
		return -1;
	/*
	 * Written once, as perftest and UCX fill theirs: a page never written
	 * is the shared zero page, always in the cache, and reading it made
	 * the daemon path's 1 MiB WRITE look 1.5x faster than ib_write_bw's.
	 */
	memset(s->buf, 0x5a, s->len);
	s->mr = ibv_reg_mr(s->pd, s->buf, s->len, acc);
	if (!s->mr || create_qp(s)) {
		perror("verbs_bench: reg_mr/create_qp");
		return -1;
	}
	return 0;
}

static int to_init(struct side *s)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ,
	};

	return ibv_modify_qp(s->qp, &a,
			     IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				     IBV_QP_ACCESS_FLAGS);
}

static int to_rtr(struct side *s)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = s->mtu,
		.dest_qp_num = s->peer.qpn,
		.rq_psn = s->peer.psn,
		.max_dest_rd_atomic = (uint8_t)s->rd_atom,
		.min_rnr_timer = 12,
		.ah_attr = { .is_global = 1, .port_num = 1,
			     .grh = { .dgid = s->peer.gid, .hop_limit = 1,
				      .sgid_index = (uint8_t)s->gid_index } },
	};

	return ibv_modify_qp(s->qp, &a,
			     IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
				     IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
				     IBV_QP_MAX_DEST_RD_ATOMIC |
				     IBV_QP_MIN_RNR_TIMER);
}

static int to_rts(struct side *s, uint32_t psn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTS,
		.timeout = 14,
		.retry_cnt = 7,
		.rnr_retry = 7,
		.sq_psn = psn,
		.max_rd_atomic = (uint8_t)s->rd_atom,
	};

	return ibv_modify_qp(s->qp, &a,
			     IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				     IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
				     IBV_QP_MAX_QP_RD_ATOMIC);
}

static int connect_side(struct side *s, int side)
{
	struct wire me = {
		.addr = (uintptr_t)s->buf + s->half,
		.qpn = s->qp->qp_num,
		.psn = 0x1000u + (uint32_t)side * 0x100u,
		.rkey = s->mr->rkey,
	};

	if (ibv_query_gid(s->ctx, 1, s->gid_index, &me.gid) || to_init(s) ||
	    bench_xchg(s->fd, &me, &s->peer, sizeof(me)) || to_rtr(s) ||
	    to_rts(s, me.psn)) {
		perror("verbs_bench: connect");
		return -1;
	}
	return 0;
}

static void close_side(struct side *s)
{
	if (s->qp)
		ibv_destroy_qp(s->qp);
	if (s->scq)
		ibv_destroy_cq(s->scq);
	if (s->rcq)
		ibv_destroy_cq(s->rcq);
	if (s->mr)
		ibv_dereg_mr(s->mr);
	if (s->pd)
		ibv_dealloc_pd(s->pd);
	if (s->ctx)
		ibv_close_device(s->ctx);
	bench_free(s->buf, s->len);
}

/* ---------------------------------------------------------------------- */
/* Posting and polling                                                     */
/* ---------------------------------------------------------------------- */

static int wc_ok(const struct ibv_wc *wc)
{
	if (wc->status == IBV_WC_SUCCESS)
		return 1;
	fprintf(stderr, "verbs_bench: completion %s (wr_id %llu)\n",
		ibv_wc_status_str(wc->status),
		(unsigned long long)wc->wr_id);
	return 0;
}

/* Wait for one completion on cq. 0 or -1. */
static int poll_one(struct ibv_cq *cq)
{
	struct ibv_wc wc;
	int n;

	do
		n = ibv_poll_cq(cq, 1, &wc);
	while (n == 0);
	if (n < 0) {
		fprintf(stderr, "verbs_bench: ibv_poll_cq failed\n");
		return -1;
	}
	return wc_ok(&wc) ? 0 : -1;
}

/* Reap send completions; block only while at least `keep` are pending. */
static int reap_sends(struct side *s, long keep)
{
	struct ibv_wc wc[16];
	int i, n;

	do {
		n = ibv_poll_cq(s->scq, 16, wc);
		if (n < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (!wc_ok(&wc[i]))
				return -1;
		s->outstanding -= n;
	} while (s->outstanding > keep);
	return 0;
}

static int post_recv(struct side *s)
{
	struct ibv_sge sge = { (uintptr_t)s->buf + s->half,
			       (uint32_t)s->cfg->size, s->mr->lkey };
	struct ibv_recv_wr wr = { .sg_list = &sge, .num_sge = 1 }, *bad;

	return ibv_post_recv(s->qp, &wr, &bad);
}

/*
 * The WRs a stream posts, built once per side as perftest and UCX build
 * theirs: a post changes only wr_id and the flags. With -l N each post is
 * a list of N WRs; when N messages fit in the areas, WR j of a list moves
 * the bytes at offset j * SIZE (a stream into a buffer, as perftest
 * cycles its addresses), else all move the same bytes.
 */
static void wr_init(struct side *s, enum ibv_wr_opcode op)
{
	uint32_t j, n = (uint32_t)s->cfg->list;
	size_t step = n * s->cfg->size <= s->half ? s->cfg->size : 0;

	memset(s->wr, 0, sizeof(s->wr));
	for (j = 0; j < n; j++) {
		struct ibv_send_wr *wr = &s->wr[j];

		s->sge[j] = (struct ibv_sge){ (uintptr_t)s->buf + j * step,
					      (uint32_t)s->cfg->size,
					      s->mr->lkey };
		if (op == IBV_WR_RDMA_READ)
			s->sge[j].addr += s->half; /* into our target area */
		wr->sg_list = &s->sge[j];
		wr->num_sge = 1;
		wr->opcode = op;
		wr->wr.rdma.remote_addr = s->peer.addr + j * step;
		wr->wr.rdma.rkey = s->peer.rkey;
		wr->next = j + 1 < n ? &s->wr[j + 1] : NULL;
	}
	s->wr_op = op;
	s->wr_flags = op != IBV_WR_RDMA_READ &&
			      s->cfg->size <= s->inline_max ?
			      IBV_SEND_INLINE :
			      0;
	s->wr_ready = 1;
}

/*
 * Post n (up to the -l list length; 1 for the ping-pongs) WRs of the
 * test's opcode as one list, the last signaled if asked; the caller
 * reaps signaled ones.
 */
static int post_list(struct side *s, enum ibv_wr_opcode op, long i, int n,
		     int signaled)
{
	struct ibv_send_wr *bad, *last = &s->wr[n - 1];
	int j, ret;

	if (!s->wr_ready || s->wr_op != op)
		wr_init(s, op);
	for (j = 0; j < n; j++) {
		s->wr[j].wr_id = (uint64_t)(i + j);
		s->wr[j].send_flags = s->wr_flags;
	}
	if (signaled)
		last->send_flags |= IBV_SEND_SIGNALED;
	if (n < s->cfg->list) /* a shorter list: the stream's last */
		last->next = NULL;
	ret = ibv_post_send(s->qp, s->wr, &bad);
	if (n < s->cfg->list)
		last->next = last + 1;
	if (ret)
		fprintf(stderr, "verbs_bench: ibv_post_send: %s\n",
			strerror(ret));
	else if (signaled)
		s->outstanding++;
	return ret;
}

static int post_op(struct side *s, enum ibv_wr_opcode op, long i,
		   int signaled)
{
	return post_list(s, op, i, 1, signaled);
}

/* Both processes reach this point before either goes on. */
static int barrier(struct side *s)
{
	return bench_signal(s->fd) || bench_wait(s->fd) ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static long warmup_of(long iters)
{
	return iters / 10 < 1000 ? iters / 10 : 1000;
}

/* One SEND; then wait for the peer's. Sends are signaled every 16th. */
static int send_round(struct side *s, long i, int first)
{
	if (!first && (poll_one(s->rcq) || post_recv(s)))
		return -1;
	if (post_op(s, IBV_WR_SEND, i, i % 16 == 15) || reap_sends(s, 4))
		return -1;
	if (first && (poll_one(s->rcq) || post_recv(s)))
		return -1;
	return 0;
}

/* Pre-posted receives keep the SEND ping-pong from ever hitting RNR. */
static int send_lat_prepare(struct side *s)
{
	int i;

	for (i = 0; i < s->cfg->depth / 2; i++)
		if (post_recv(s))
			return -1;
	return 0;
}

/*
 * Where a WRITE ping-pong's sequence number travels: the last 8 bytes of
 * the message, in our source area (target 0) or in our target area, where
 * the peer's WRITE lands (target 1). Polling the last bytes assumes the
 * payload lands in order, as ib_write_lat does.
 */
static volatile uint64_t *write_slot(struct side *s, int target)
{
	char *base = s->buf + (target ? s->half : 0);

	return (volatile uint64_t *)(base + ((s->cfg->size - 8) & ~7ul));
}

static int write_round(struct side *s, long i, int first)
{
	volatile uint64_t *in = write_slot(s, 1);
	uint64_t want = (uint64_t)i + 1;

	if (!first)
		while (*in != want)
			;
	*write_slot(s, 0) = want;
	if (post_op(s, IBV_WR_RDMA_WRITE, i, i % 16 == 15) ||
	    reap_sends(s, 4))
		return -1;
	if (first)
		while (*in != want)
			;
	return 0;
}

/* The median half round trip is the figure; the tail goes to stderr. */
static void report_lat(const struct side *s, uint64_t *rtt, size_t n)
{
	double sum = 0, med = bench_median_ns(rtt, n, 2.0);
	size_t i;

	for (i = 0; i < n; i++)
		sum += (double)rtt[i];
	fprintf(stderr, "verbs_bench: %zu rounds, half RTT median %.2f us, "
			"mean %.2f us; inline up to %u B\n",
		n, med / 1000.0, sum / 2.0 / (double)n / 1000.0,
		s->inline_max);
	bench_result(med / 1000.0, "us");
}

typedef int (*round_fn)(struct side *s, long i, int first);

/* Side 1 starts each round and times it; side 0 echoes. */
static int pingpong(struct side *s, int side, round_fn round)
{
	long i, warm = warmup_of(s->cfg->iters), n = s->cfg->iters + warm;
	uint64_t *rtt = calloc((size_t)n, sizeof(*rtt));

	if (!rtt || barrier(s))
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns();

		if (round(s, i, side == 1))
			return -1;
		rtt[i] = bench_now_ns() - t0;
	}
	if (side == 1)
		report_lat(s, rtt + warm, (size_t)s->cfg->iters);
	free(rtt);
	return reap_sends(s, 0) || barrier(s) ? -1 : 0;
}

static void burst_note(struct side *s, uint64_t *t, long every);

/*
 * Keep fewer than depth WRs in flight: at most depth/every - 1 signaled
 * ones pending plus the unsignaled run after the last. The last WR is
 * signaled so that the stream ends when its data has moved.
 */
static int stream(struct side *s, enum ibv_wr_opcode op, long n)
{
	long every = s->cfg->depth / 4, keep = s->cfg->depth / every - 1;
	long i, left = every; /* no division per WR: it showed in profiles */
	uint64_t t = bench_now_ns();

	long since = 0;
	int k;

	/* Lists overshoot a burst by up to list - 1 WRs: one burst less. */
	if (s->cfg->list > 1 && keep > 0)
		keep--;
	/* A list is signaled when it reaches the next multiple of every. */
	for (i = 0; i < n; i += k) {
		k = n - i < s->cfg->list ? (int)(n - i) : s->cfg->list;
		left -= k;
		since += k;
		if (post_list(s, op, i, k, left <= 0 || i + k == n))
			return -1;
		if (left <= 0) {
			burst_note(s, &t, since);
			left += every;
			since = 0;
		}
		if (reap_sends(s, keep))
			return -1;
	}
	return reap_sends(s, 0);
}

/*
 * The median time per WR of the stream's bursts (a signaled WR ends
 * one): on a loaded machine most bursts run without being preempted, so
 * this is the library's cost per WR, which the wall-clock rate is not.
 */
static void burst_note(struct side *s, uint64_t *t, long every)
{
	uint64_t now = bench_now_ns();

	if (s->bursts && s->nburst < s->maxburst)
		s->bursts[s->nburst++] = (now - *t) / (uint64_t)every;
	*t = now;
}

/* This process' CPU time in ns. */
static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bandwidth(struct side *s, int side, enum ibv_wr_opcode op)
{
	long n = s->cfg->iters;
	uint64_t t0, t1, c0;
	double v;

	if (barrier(s))
		return -1;
	if (side == 1) {
		if (stream(s, op, warmup_of(n)))
			return -1;
		s->maxburst = (size_t)n / 4 + 1;
		s->bursts = calloc(s->maxburst, sizeof(*s->bursts));
		c0 = cpu_now_ns();
		t0 = bench_now_ns();
		if (stream(s, op, n))
			return -1;
		t1 = bench_now_ns();
		/* What a loaded machine distorts less: CPU time per WR and the
		 * median burst. */
		fprintf(stderr, "verbs_bench: initiator CPU %.1f ns per WR, "
				"wall %.1f ns per WR, median burst %.1f ns "
				"per WR\n",
			(double)(cpu_now_ns() - c0) / (double)n,
			(double)(t1 - t0) / (double)n,
			bench_median_ns(s->bursts, s->nburst, 1.0));
		free(s->bursts);
		s->bursts = NULL;
		v = bench_mib_s((double)s->cfg->size * (double)n, t1 - t0);
		if (!strcmp(s->cfg->test, "write_rate"))
			bench_result((double)n / ((double)(t1 - t0) / 1e3),
				     "Mmsg/s");
		else
			bench_result(v, "MiB/s");
	}
	/* The target's MR must outlive the initiator's last access. */
	return barrier(s);
}

static int run_test(struct side *s, int side)
{
	const char *t = s->cfg->test;

	if (!strcmp(t, "send_lat")) {
		if (send_lat_prepare(s) || barrier(s))
			return -1;
		return pingpong(s, side, send_round);
	}
	if (!strcmp(t, "write_lat"))
		return pingpong(s, side, write_round);
	if (!strcmp(t, "write_bw") || !strcmp(t, "write_rate"))
		return bandwidth(s, side, IBV_WR_RDMA_WRITE);
	if (!strcmp(t, "read_bw"))
		return bandwidth(s, side, IBV_WR_RDMA_READ);
	fprintf(stderr, "verbs_bench: unknown test %s\n", t);
	return -1;
}

static int side_main(int side, int fd, void *arg)
{
	struct side s = { .cfg = arg, .fd = fd };
	int ret = -1;

	if (!open_side(&s) && !connect_side(&s, side))
		ret = run_test(&s, side);
	close_side(&s);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Command line                                                            */
/* ---------------------------------------------------------------------- */

static int usage(void)
{
	fputs("usage: verbs_bench send_lat|write_lat|write_bw|read_bw|"
	      "write_rate\n"
	      "       [-s SIZE] [-n ITERS] [-d DEV] [-g GID_INDEX]\n"
	      "       [-c CPU0,CPU1] [-m va|shm] [-t TX_DEPTH] "
	      "[-I INLINE] [-l LIST]\n",
	      stderr);
	return 2;
}

/* Streams move about 512 MiB by default; ping-pongs 20,000 rounds. */
static long default_iters(const struct cfg *c)
{
	long n;

	if (strstr(c->test, "_lat"))
		return 20000;
	n = (long)((512ul << 20) / c->size);
	return n < 16 ? 16 : n > 200000 ? 200000 : n;
}

static int parse_opt(struct cfg *c, int opt, const char *arg)
{
	switch (opt) {
	case 's':
		return bench_parse_size(arg, &c->size) || c->size < 8 ? -1 : 0;
	case 'n':
		return (c->iters = atol(arg)) > 0 ? 0 : -1;
	case 'd':
		c->dev = arg;
		return 0;
	case 'g':
		return (c->gid_index = atoi(arg)) >= 0 ? 0 : -1;
	case 'c':
		return bench_parse_cpus(arg, c->cpus);
	case 'm':
		c->mem = arg;
		return strcmp(arg, "va") && strcmp(arg, "shm") ? -1 : 0;
	case 't':
		return (c->depth = atoi(arg)) >= 4 ? 0 : -1;
	case 'I':
		c->inline_size = (uint32_t)atoi(arg);
		return 0;
	case 'l':
		c->list = atoi(arg);
		return c->list >= 1 && c->list <= LIST_MAX ? 0 : -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct cfg c = { .size = 8, .gid_index = -1, .depth = 128,
			 .mem = "va", .cpus = { -1, -1 }, .list = 1 };
	int opt, pin[2];

	if (argc < 2)
		return usage();
	c.test = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "s:n:d:g:c:m:t:I:l:")) != -1)
		if (parse_opt(&c, opt, optarg))
			return usage();
	if (optind != argc)
		return usage();
	if (!c.iters)
		c.iters = default_iters(&c);
	bench_watchdog(120);
	/* Side 1 (the parent) initiates the streams: it gets CPU0, so the
	 * initiator runs where perftest's and UCX's clients run (a VM's two
	 * vCPUs can differ in speed by 2x for minutes). */
	pin[0] = c.cpus[1];
	pin[1] = c.cpus[0];
	return bench_two_procs(pin, side_main, &c) ? 1 : 0;
}
