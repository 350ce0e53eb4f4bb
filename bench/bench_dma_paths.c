// SPDX-License-Identifier: MIT
/*
 * bench_dma_paths: RDMA WRITE and READ bandwidth over softverbs' three DMA
 * paths, as ratios measured in one run (docs/dma-paths.md):
 *
 *   VA MR           ibv_reg_mr over private memory: the daemon reaches it
 *                   through the registrar's /proc/PID/mem;
 *   dma-buf MR      ibv_reg_dmabuf_mr over a memfd the daemon maps: plain
 *                   copies on the engine thread;
 *   data-direct MR  the same, registered with softverbsdv_reg_dmabuf_mr(...,
 *                   SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT): the copy is
 *                   shared with the device's data-direct DMA worker.
 *
 * Both buffers of a transfer (local SGE and remote target) are of the kind
 * measured. Sizes 64 KiB, 1 MiB and 8 MiB; the bandwidth ratios are "VA /
 * dma-buf" (dma-buf is the reference) and "dma-buf / data-direct"
 * (data-direct is the reference: below 1 means data direct is faster).
 *
 *   bench_dma_paths [-d DEV] [-r ROUNDS] [-m MIB_PER_FIGURE] [-t DEPTH]
 *
 * Within a round the three kinds of one size and op take turns in 8
 * slices (who goes first rotates). Bandwidths are medians over rounds;
 * ratios are medians over all slices of the ratio within the slice,
 * where the kinds ran back to back, with their quartiles and the share of
 * slices data direct won: a load that comes and goes on a shared machine
 * moves both sides of a pair, not the ratio. One process, two RC QPs on the
 * device; completions are waited for on a completion channel (no busy
 * polling: on 2 CPUs a spinning client would take the CPU the data-direct
 * worker needs). Needs a running daemon with the data-direct device on
 * (the default): run it under "softverbs run". Last line: RESULT = the
 * smallest data-direct speedup (1 / the median paired dma-buf /
 * data-direct ratio) at 1 MiB and above.
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <softverbs/softverbs_dv.h>

#include "bench.h"
#include "bench_rc.h"

#define MAX_SIZE (8U << 20)
#define NSIZES 3
#define NKINDS 3
#define MAX_ROUNDS 63
#define SLICES 8 /* kinds alternate this often within a round */
#define ACCESS BENCH_RC_ACCESS

enum kind { K_VA, K_DMABUF, K_DD };
static const char *const kind_name[NKINDS] = {"VA", "dma-buf", "data-direct"};
static const size_t sizes[NSIZES] = {64 << 10, 1 << 20, 8 << 20};
static const char *const size_name[NSIZES] = {"64 KiB", "1 MiB", "8 MiB"};

struct region {
	uint8_t *map;
	struct ibv_mr *mr;
	uint64_t addr; /* what work requests name: VA or IOVA */
};

struct bench {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq, *cq_b;
	struct ibv_qp *qp, *qp_b;
	struct region reg[NKINDS][2]; /* [kind][local, remote] */
	int depth;
	size_t bytes; /* per figure and round */
};

static void die(const char *what)
{
	bench_die(what);
}

static void region_va(struct bench *b, struct region *r)
{
	r->map = mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->map == MAP_FAILED)
		die("mmap");
	memset(r->map, 1, MAX_SIZE);
	r->addr = (uintptr_t)r->map;
	r->mr = ibv_reg_mr(b->pd, r->map, MAX_SIZE, ACCESS);
	if (!r->mr)
		die("ibv_reg_mr");
}

static void region_dmabuf(struct bench *b, struct region *r, uint64_t iova,
			  int sv_access)
{
	int fd = memfd_create("bench-dma-paths", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, MAX_SIZE))
		die("memfd");
	r->map =
	    mmap(NULL, MAX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->map == MAP_FAILED)
		die("mmap memfd");
	memset(r->map, 1, MAX_SIZE);
	r->addr = iova;
	r->mr = softverbsdv_reg_dmabuf_mr(b->pd, 0, MAX_SIZE, iova, fd, ACCESS,
					  sv_access);
	if (!r->mr)
		die(sv_access ? "data-direct dma-buf MR (is the data-direct "
				"device on?)"
			      : "ibv_reg_dmabuf_mr");
	close(fd); /* the mapping and the MR keep the memory */
}

static void regions(struct bench *b)
{
	int side;

	for (side = 0; side < 2; side++) {
		region_va(b, &b->reg[K_VA][side]);
		region_dmabuf(b, &b->reg[K_DMABUF][side],
			      0x100000000ULL * (uint64_t)(1 + side), 0);
		region_dmabuf(b, &b->reg[K_DD][side],
			      0x100000000ULL * (uint64_t)(3 + side),
			      SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT);
	}
}

static void setup(struct bench *b, const char *dev)
{
	b->ctx = bench_open(dev);
	b->pd = ibv_alloc_pd(b->ctx);
	b->ch = ibv_create_comp_channel(b->ctx);
	if (!b->pd || !b->ch)
		die("pd/channel");
	b->cq = ibv_create_cq(b->ctx, b->depth * 2, NULL, b->ch, 0);
	b->cq_b = ibv_create_cq(b->ctx, 2, NULL, NULL, 0);
	if (!b->cq || !b->cq_b)
		die("ibv_create_cq");
	b->qp = bench_rc_qp(b->pd, b->cq, b->depth);
	b->qp_b = bench_rc_qp(b->pd, b->cq_b, b->depth);
	bench_rc_pair(b->ctx, b->qp, b->qp_b);
	regions(b);
}

/* Poll: the wr_id of the newest completion (messages done), or -1. */
static long poll_done(struct bench *b)
{
	struct ibv_wc wc[16];
	long last = -1;
	int n, i;

	n = ibv_poll_cq(b->cq, 16, wc);
	if (n < 0)
		die("ibv_poll_cq");
	for (i = 0; i < n; i++) {
		if (wc[i].status != IBV_WC_SUCCESS) {
			fprintf(stderr, "completion: %s\n",
				ibv_wc_status_str(wc[i].status));
			exit(1);
		}
		last = (long)wc[i].wr_id;
	}
	return last;
}

/* Messages done, sleeping on the channel until a completion comes. */
static long reap(struct bench *b)
{
	struct ibv_cq *ecq;
	void *ectx;
	long done;

	for (;;) {
		done = poll_done(b);
		if (done >= 0)
			return done;
		if (ibv_req_notify_cq(b->cq, 0))
			die("ibv_req_notify_cq");
		done = poll_done(b); /* one came in before the arm? */
		if (done >= 0)
			return done;
		if (ibv_get_cq_event(b->ch, &ecq, &ectx))
			die("ibv_get_cq_event");
		ibv_ack_cq_events(ecq, 1);
	}
}

/*
 * One figure: msgs transfers of size bytes; returns elapsed ns. As
 * perftest, only every depth/4-th work request asks for a completion (its
 * wr_id counts the messages done), so the client wakes rarely and leaves
 * the CPUs to the daemon.
 */
static uint64_t run(struct bench *b, enum kind k, bool write, size_t size,
		    size_t bytes)
{
	const struct region *l = &b->reg[k][0], *r = &b->reg[k][1];
	long msgs = (long)(bytes / size), posted = 0, done = 0;
	struct ibv_sge sge = {l->addr, (uint32_t)size, l->mr->lkey};
	struct ibv_send_wr wr = {.sg_list = &sge, .num_sge = 1}, *bad;
	long sig = b->depth / 4 ? b->depth / 4 : 1;
	uint64_t t0;

	if (msgs < 4)
		msgs = 4;
	wr.opcode = write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
	wr.wr.rdma.remote_addr = r->addr;
	wr.wr.rdma.rkey = r->mr->rkey;
	t0 = bench_now_ns();
	while (done < msgs) {
		while (posted < msgs && posted - done < b->depth) {
			posted++;
			wr.wr_id = (uint64_t)posted;
			wr.send_flags = posted % sig && posted < msgs
					    ? 0
					    : IBV_SEND_SIGNALED;
			if (ibv_post_send(b->qp, &wr, &bad))
				die("ibv_post_send");
		}
		done = reap(b);
	}
	return bench_now_ns() - t0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_dma_paths [-d DEV] [-r ROUNDS] "
			"[-m MIB_PER_FIGURE] [-t DEPTH]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct bench *b, const char **dev,
		  int *rounds)
{
	int c;

	while ((c = getopt(argc, argv, "d:r:m:t:")) != -1) {
		if (c == 'd')
			*dev = optarg;
		else if (c == 'r')
			*rounds = atoi(optarg);
		else if (c == 'm')
			b->bytes = (size_t)atol(optarg) << 20;
		else if (c == 't')
			b->depth = atoi(optarg);
		else
			usage();
	}
	if (*rounds < 1 || *rounds > MAX_ROUNDS || b->depth < 1 ||
	    b->depth > 256 || b->bytes < MAX_SIZE)
		usage();
}

/* MiB/s of figure [op][size][kind]: the median over rounds. */
static double mibs[2][NSIZES][NKINDS];

/*
 * Paired ratios, one per slice: the three kinds of a slice run back to
 * back, so a change of load on the shared machine hits the pair alike.
 * [op][size][slice], as bandwidth ratios: VA / dma-buf (dma-buf time /
 * VA time), and dma-buf / data-direct (data-direct time / dma-buf time:
 * below 1 when data direct is faster).
 */
#define MAX_SLICES (MAX_ROUNDS * SLICES)
static double va_ratio[2][NSIZES][MAX_SLICES], dd_ratio[2][NSIZES][MAX_SLICES];
/* The fastest slice of each kind: what the machine gives with no load. */
static uint64_t best[2][NSIZES][NKINDS];

/*
 * One round of one op and size: the kinds take turns in SLICES slices.
 * slice0: the index of this round's first slice in the ratio arrays.
 */
static void measure_one(struct bench *b, int op, int s, int slice0,
			double mib_s[NKINDS])
{
	uint64_t ns[NKINDS] = { 0 }, t[NKINDS];
	size_t per = b->bytes / SLICES, msgs = per / sizes[s];
	int i, j, k;

	/* Rotate who goes first, so no kind always follows the same one. */
	for (i = 0; i < SLICES; i++) {
		for (j = 0; j < NKINDS; j++) {
			k = (i + j) % NKINDS;
			t[k] = run(b, k, !op, sizes[s], per);
			ns[k] += t[k];
			if (!best[op][s][k] || t[k] < best[op][s][k])
				best[op][s][k] = t[k];
		}
		va_ratio[op][s][slice0 + i] = (double)t[K_DMABUF] / (double)t[K_VA];
		dd_ratio[op][s][slice0 + i] = (double)t[K_DD] / (double)t[K_DMABUF];
	}
	for (k = 0; k < NKINDS; k++)
		mib_s[k] = bench_mib_s((double)SLICES *
					       (double)(msgs < 4 ? 4 : msgs) *
					       (double)sizes[s],
				       ns[k]);
}

static void measure(struct bench *b, int rounds)
{
	static double v[2][NSIZES][MAX_ROUNDS][NKINDS];
	double col[MAX_ROUNDS];
	int r, op, s, k;

	for (r = 0; r < rounds; r++)
		for (op = 0; op < 2; op++)
			for (s = 0; s < NSIZES; s++)
				measure_one(b, op, s, r * SLICES, v[op][s][r]);
	for (op = 0; op < 2; op++)
		for (s = 0; s < NSIZES; s++)
			for (k = 0; k < NKINDS; k++) {
				for (r = 0; r < rounds; r++)
					col[r] = v[op][s][r][k];
				mibs[op][s][k] =
				    bench_median(col, (size_t)rounds);
			}
}

/* Median, quartiles and the share of values below 1 of v[0..n-1]. */
struct spread {
	double q1, med, q3, below1;
};

static struct spread spread_of(const double *v, int n)
{
	static double w[MAX_SLICES];
	struct spread sp = { 0 };
	int i;

	memcpy(w, v, (size_t)n * sizeof(*w));
	sp.med = bench_median(w, (size_t)n); /* sorts w */
	sp.q1 = w[n / 4];
	sp.q3 = w[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
	for (i = 0; i < n; i++)
		sp.below1 += w[i] < 1.0;
	sp.below1 /= n;
	return sp;
}

/* The table; returns the smallest data-direct speedup at >= 1 MiB. */
static double report(int rounds, const struct bench *b)
{
	int op, s, n = rounds * SLICES;
	double worst = 1e9;

	printf("bench_dma_paths: %d rounds x %d slices, %zu MiB per figure, "
	       "depth %d\n\n", rounds, SLICES, b->bytes >> 20, b->depth);
	printf("| op | size | %s MiB/s | %s MiB/s | %s MiB/s | %s / %s | "
	       "%s / %s [q1, q3] | slices data direct won | best slices |\n",
	       kind_name[0], kind_name[1], kind_name[2], kind_name[0],
	       kind_name[1], kind_name[1], kind_name[2]);
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (op = 0; op < 2; op++)
		for (s = 0; s < NSIZES; s++) {
			const double *m = mibs[op][s];
			struct spread va = spread_of(va_ratio[op][s], n);
			struct spread dd = spread_of(dd_ratio[op][s], n);

			printf("| %s | %s | %.0f | %.0f | %.0f | %.2f | "
			       "%.2f [%.2f, %.2f] | %.0f%% | %.2f |\n",
			       op ? "READ" : "WRITE", size_name[s], m[K_VA],
			       m[K_DMABUF], m[K_DD], va.med, dd.med, dd.q1,
			       dd.q3, 100 * dd.below1,
			       (double)best[op][s][K_DD] /
				       (double)best[op][s][K_DMABUF]);
			if (sizes[s] >= (1 << 20) && 1 / dd.med < worst)
				worst = 1 / dd.med;
		}
	printf("\nMiB/s: median over rounds. Ratios of bandwidth, each the "
	       "median over slices of the ratio within the slice (the kinds "
	       "of a slice run back to back): VA / dma-buf (dma-buf is the "
	       "reference), dma-buf / data-direct (data-direct is the "
	       "reference; < 1: data direct faster). Best slices: dma-buf / "
	       "data-direct of the fastest slice of each (what an idle "
	       "machine gives).\n");
	return worst;
}

int main(int argc, char **argv)
{
	struct bench b = {.depth = 16, .bytes = 256U << 20};
	const char *dev = NULL;
	int rounds = 5;

	parse(argc, argv, &b, &dev, &rounds);
	bench_watchdog(600);
	setup(&b, dev);
	measure(&b, rounds);
	bench_result(report(rounds, &b), "x_data_direct_speedup_min_ge_1MiB");
	return 0;
}
