// SPDX-License-Identifier: MIT
/*
 * bench_dma_paths: RDMA WRITE and READ bandwidth over softverbs' DMA paths,
 * as ratios measured in one run (docs/dma-paths.md):
 *
 *   VA MR           ibv_reg_mr over private memory: the daemon reaches it
 *                   through the registrar's /proc/PID/mem;
 *   dma-buf MR      ibv_reg_dmabuf_mr over a memfd the daemon maps: plain
 *                   copies on the engine thread (the default DMA path);
 *   data-direct MR  the same, registered with softverbsdv_reg_dmabuf_mr(...,
 *                   SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT): copied by
 *                   the device's data-direct DMA engine.
 *
 * Kinds of transfer: both buffers (local SGE and remote target) VA, both
 * dma-buf, both data-direct, and a data-direct region only as the source
 * (WRITE: the local SGE; READ: the remote region) or only as the
 * destination, the other buffer a plain dma-buf region. Sizes 64 KiB, 1 MiB
 * and 8 MiB; the bandwidth ratios are "VA / dma-buf" (dma-buf is the
 * reference) and "dma-buf / data-direct" for each data-direct kind
 * (data-direct is the reference: below 1 means data direct is faster).
 *
 *   bench_dma_paths [-d DEV] [-r ROUNDS] [-m MIB_PER_FIGURE] [-t DEPTH]
 *                   [-o write|read] [-s KIB] [-k KINDS] [-l LIST] [-D]
 *
 * -l: at most LIST work requests per ibv_post_send() (default 4, the
 * refill after each signaled completion; 1 posts them one by one).
 *
 * -k measures only some kinds, e.g. "-k 1,2" (dma-buf and data-direct;
 * 0 VA .. 4 dd destination): for profiling the daemon on one path.
 * Ratios against a kind left out print as "-".
 *
 * Paths: the library's same-host direct path (issue 17) would move VA and
 * dma-buf transfers itself, without the daemon (data-direct regions always
 * go to the daemon), so the comparison would be the library's memcpy
 * against the daemon's device. The tool therefore turns it off
 * (SOFTVERBS_DIRECT=0) unless -D keeps it, prints the path of every kind,
 * and checks with the daemon's data-direct counters ("softverbs dev list")
 * that the data-direct kinds, and only they, were copied by the device.
 *
 * Within a round the kinds of one size and op take turns in 8 slices (who
 * goes first rotates). Bandwidths are medians over rounds; ratios are
 * medians over all slices of the ratio within the slice, where the kinds
 * ran back to back, with their quartiles and the share of slices data
 * direct won: a load that comes and goes on a shared machine moves both
 * sides of a pair, not the ratio. One process, two RC QPs on the device;
 * completions are waited for on a completion channel (no busy polling: on
 * 2 CPUs a spinning client would take the CPU the data-direct worker
 * needs). Needs a running daemon with the data-direct device on (the
 * default): run it under "softverbs run". Last line: RESULT = the smallest
 * data-direct speedup (1 / the median paired dma-buf / data-direct ratio)
 * of any data-direct kind at 1 MiB and above.
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <libgen.h>
#include <limits.h>
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
#define NMEMS 3	 /* kinds of memory */
#define NKINDS 5 /* kinds of transfer */
#define MAX_ROUNDS 63
#define SLICES 8 /* kinds alternate this often within a round */
#define ACCESS BENCH_RC_ACCESS

enum mem { M_VA, M_DMABUF, M_DD };
/* Kinds of transfer: the memory of the source and of the destination. */
enum kind { K_VA, K_DMABUF, K_DD, K_DD_SRC, K_DD_DST };
static const struct {
	const char *name;
	enum mem src, dst;
} kinds[NKINDS] = {
    {"VA", M_VA, M_VA},
    {"dma-buf", M_DMABUF, M_DMABUF},
    {"data-direct", M_DD, M_DD},
    {"dd source", M_DD, M_DMABUF},
    {"dd destination", M_DMABUF, M_DD},
};
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
	struct region reg[NMEMS][2]; /* [memory][local, remote] */
	int depth;
	size_t bytes;	  /* per figure and round */
	int only_op;	  /* -1: both; 0 WRITE, 1 READ */
	size_t only_size; /* 0: all */
	unsigned int kinds; /* -k: bit per kind measured (profiling) */
	long list;	    /* -l: most WRs per ibv_post_send */
	bool direct;	  /* -D: the library's direct path stays on */
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
		region_va(b, &b->reg[M_VA][side]);
		region_dmabuf(b, &b->reg[M_DMABUF][side],
			      0x100000000ULL * (uint64_t)(1 + side), 0);
		region_dmabuf(b, &b->reg[M_DD][side],
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

/* The local SGE's and the remote target's regions of kind k and op. */
static void kind_regions(const struct bench *b, enum kind k, bool write,
			 const struct region **l, const struct region **r)
{
	/* WRITE: local source, remote destination; READ: the reverse. */
	*l = &b->reg[write ? kinds[k].src : kinds[k].dst][0];
	*r = &b->reg[write ? kinds[k].dst : kinds[k].src][1];
}

/*
 * Post WRs first .. first + n - 1 (wr_ids first + 1 ..) as one list: one
 * doorbell per refill. Posted one by one, the first doorbell woke the
 * engine, which on a loaded 2-CPU machine took the client's own CPU (it
 * is real-time) before the client posted the next: the engine found one
 * WQE per wake-up and slept after each (measured: one engine sleep per
 * 1 MiB request, a 16 us gap before each, at any depth), so every path
 * measured the client's scheduling more than its DMA.
 */
static void post_list(struct bench *b, const struct ibv_send_wr *tmpl,
		      long first, long n, long msgs)
{
	static struct ibv_send_wr wr[256];
	struct ibv_send_wr *bad;
	long sig = b->depth / 4 ? b->depth / 4 : 1, i, id;

	for (i = 0; i < n; i++) {
		id = first + i + 1;
		wr[i] = *tmpl;
		wr[i].wr_id = (uint64_t)id;
		wr[i].send_flags = id % sig && id < msgs ? 0 : IBV_SEND_SIGNALED;
		wr[i].next = i + 1 < n ? &wr[i + 1] : NULL;
	}
	if (ibv_post_send(b->qp, wr, &bad))
		die("ibv_post_send");
}

/* msgs transfers of size bytes, depth at a time, refilled in lists. */
static void transfers(struct bench *b, enum kind k, bool write, size_t size,
		      long msgs)
{
	const struct region *l, *r;
	long posted = 0, done = 0, n;
	struct ibv_sge sge;
	struct ibv_send_wr wr = {.sg_list = &sge, .num_sge = 1};

	kind_regions(b, k, write, &l, &r);
	sge = (struct ibv_sge){l->addr, (uint32_t)size, l->mr->lkey};
	wr.opcode = write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
	wr.wr.rdma.remote_addr = r->addr;
	wr.wr.rdma.rkey = r->mr->rkey;
	while (done < msgs) {
		while (posted < msgs && posted - done < b->depth) {
			n = b->depth - (posted - done);
			if (n > msgs - posted)
				n = msgs - posted;
			if (n > b->list)
				n = b->list;
			post_list(b, &wr, posted, n, msgs);
			posted += n;
		}
		done = reap(b);
	}
}

/*
 * One figure: bytes in transfers of size (at least 4); returns elapsed ns.
 * As perftest, only every depth/4-th work request asks for a completion
 * (its wr_id counts the messages done), so the client wakes rarely and
 * leaves the CPUs to the daemon. An untimed MiB first (as perftest's
 * warm-up): the kind that runs after another starts with its buffers out
 * of the caches and, for data direct, the device's worker asleep; without
 * it the order of the kinds in a slice moved their ratios by 0.1-0.2.
 */
static uint64_t run(struct bench *b, enum kind k, bool write, size_t size,
		    size_t bytes)
{
	long msgs = (long)(bytes / size);
	uint64_t t0;

	transfers(b, k, write, size, size >= (1 << 20) ? 1 : (1 << 20) / size);
	t0 = bench_now_ns();
	transfers(b, k, write, size, msgs < 4 ? 4 : msgs);
	return bench_now_ns() - t0;
}

/* ---- which path served each kind: the daemon's data-direct counters ---- */

struct dd_stats {
	unsigned long long copies, bytes, splits, worker_bytes, stalls,
	    stall_us, long_jobs, long_streamed;
};

static unsigned long long field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The softverbs CLI beside this program, else the one on PATH. */
static void cli_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	snprintf(buf, len, "softverbs");
	if (n > 0) {
		exe[n] = 0;
		snprintf(buf, len, "%s/softverbs", dirname(exe));
		if (access(buf, X_OK))
			snprintf(buf, len, "softverbs");
	}
}

/* The device's counters from "softverbs dev list"; false if unreadable. */
static bool dd_read(const struct bench *b, struct dd_stats *st)
{
	const char *name = ibv_get_device_name(b->ctx->device);
	char cli[PATH_MAX + 64], line[1024];
	bool found = false;
	FILE *f;

	cli_path(cli, sizeof(cli) - 32);
	strcat(cli, " dev list 2>/dev/null");
	f = popen(cli, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, name, strlen(name)) &&
			line[strlen(name)] == ' ' && strstr(line, "dd_copies=");
	pclose(f);
	if (found)
		*st = (struct dd_stats){field(line, " dd_copies="),
					field(line, " dd_bytes="),
					field(line, " dd_splits="),
					field(line, " dd_worker_bytes="),
					field(line, " dd_stalls="),
					field(line, " dd_stall_us="),
					field(line, " dd_long="),
					field(line, " dd_long_streamed=")};
	return found;
}

static const char *kind_path(const struct bench *b, enum kind k)
{
	if (kinds[k].src == M_DD || kinds[k].dst == M_DD)
		return "daemon, data-direct device";
	if (b->direct)
		return k == K_VA ? "library direct path (process_vm_*v)"
				 : "library direct path (memcpy)";
	return k == K_VA ? "daemon engine (/proc/PID/mem)"
			 : "daemon engine (default DMA path)";
}

/*
 * Before measuring: a few 1 MiB WRITEs and READs of each kind, and the
 * data-direct copies the daemon counted meanwhile. A data-direct kind the
 * device did not serve, or another kind it did, ends the run: the table
 * would not measure what it says.
 */
static void check_paths(struct bench *b)
{
	struct dd_stats s0, s1;
	bool ok = true, dd;
	int k;

	printf("paths (SOFTVERBS_DIRECT=%s):\n", b->direct ? "on" : "0");
	for (k = 0; k < NKINDS; k++) {
		if (!dd_read(b, &s0)) {
			printf("  (no \"softverbs dev list\": paths not "
			       "checked)\n");
			return;
		}
		run(b, (enum kind)k, true, 1 << 20, 4 << 20);
		run(b, (enum kind)k, false, 1 << 20, 4 << 20);
		dd_read(b, &s1);
		dd = kinds[k].src == M_DD || kinds[k].dst == M_DD;
		printf("  %-15s %-38s data-direct copies %llu (%llu MiB)\n",
		       kinds[k].name, kind_path(b, (enum kind)k),
		       s1.copies - s0.copies, (s1.bytes - s0.bytes) >> 20);
		ok &= dd == (s1.bytes - s0.bytes >= 8ULL << 20);
	}
	if (!ok) {
		fprintf(stderr, "a kind did not take the path it names\n");
		exit(1);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_dma_paths [-d DEV] [-r ROUNDS] "
			"[-m MIB_PER_FIGURE] [-t DEPTH] [-o write|read] "
			"[-s KIB] [-k KINDS] [-l LIST] [-D]\n");
	exit(2);
}

/* "1,2" -> bits 1 and 2; 0 (a usage error) if any is not a kind. */
static unsigned int kind_list(const char *arg)
{
	unsigned int bits = 0;
	char *end;
	long k;

	do {
		k = strtol(arg, &end, 10);
		if (end == arg || k < 0 || k >= NKINDS)
			return 0;
		bits |= 1U << k;
		arg = end + (*end == ',');
	} while (*end);
	return bits;
}

static void parse(int argc, char **argv, struct bench *b, const char **dev,
		  int *rounds)
{
	int c;

	while ((c = getopt(argc, argv, "d:r:m:t:o:s:k:l:D")) != -1) {
		if (c == 'd')
			*dev = optarg;
		else if (c == 'r')
			*rounds = atoi(optarg);
		else if (c == 'm')
			b->bytes = (size_t)atol(optarg) << 20;
		else if (c == 't')
			b->depth = atoi(optarg);
		else if (c == 'o')
			b->only_op = strcmp(optarg, "write") ? 1 : 0;
		else if (c == 's')
			b->only_size = (size_t)atol(optarg) << 10;
		else if (c == 'D')
			b->direct = true;
		else if (c == 'l')
			b->list = atol(optarg);
		else if (c == 'k')
			b->kinds = kind_list(optarg);
		else
			usage();
	}
	if (*rounds < 1 || *rounds > MAX_ROUNDS || b->depth < 1 ||
	    b->depth > 256 || b->bytes < MAX_SIZE || !b->kinds ||
	    b->list < 1)
		usage();
}

static bool selected(const struct bench *b, int op, int s)
{
	return (b->only_op < 0 || b->only_op == op) &&
	       (!b->only_size || b->only_size == sizes[s]);
}

/* MiB/s of figure [op][size][kind]: the median over rounds. */
static double mibs[2][NSIZES][NKINDS];

/*
 * Paired ratios, one per slice: the kinds of a slice run back to back, so
 * a change of load on the shared machine hits them alike. [op][size]
 * [kind][slice], as bandwidth ratios against dma-buf: VA / dma-buf
 * (dma-buf time / VA time), and dma-buf / data-direct (data-direct time /
 * dma-buf time: below 1 when data direct is faster).
 */
#define MAX_SLICES (MAX_ROUNDS * SLICES)
static double ratio[2][NSIZES][NKINDS][MAX_SLICES];
/* The fastest slice of each kind: what the machine gives with no load. */
static uint64_t best[2][NSIZES][NKINDS];

static void keep_ratios(int op, int s, int slice, const uint64_t t[NKINDS])
{
	int k;

	/* A kind left out (-k) has t 0: its ratios are 0 or inf, shown "-". */
	ratio[op][s][K_VA][slice] = (double)t[K_DMABUF] / (double)t[K_VA];
	for (k = K_DD; k < NKINDS; k++)
		ratio[op][s][k][slice] = (double)t[k] / (double)t[K_DMABUF];
}

/*
 * One round of one op and size: the kinds take turns in SLICES slices.
 * slice0: the index of this round's first slice in the ratio arrays.
 */
static void measure_one(struct bench *b, int op, int s, int slice0,
			double mib_s[NKINDS])
{
	uint64_t ns[NKINDS] = {0}, t[NKINDS];
	size_t per = b->bytes / SLICES, msgs = per / sizes[s];
	int i, j, k;

	/*
	 * Rotate who goes first, and every other slice run the kinds in
	 * reverse, so that no kind always follows the same one (the first
	 * data-direct kind after the others would always wake the worker).
	 */
	for (i = 0; i < SLICES; i++) {
		for (j = 0; j < NKINDS; j++) {
			k = (i / 2 + (i % 2 ? NKINDS - j : j)) % NKINDS;
			t[k] = 0;
			if (!(b->kinds & 1U << k))
				continue;
			t[k] = run(b, k, !op, sizes[s], per);
			ns[k] += t[k];
			if (!best[op][s][k] || t[k] < best[op][s][k])
				best[op][s][k] = t[k];
		}
		keep_ratios(op, s, slice0 + i, t);
	}
	for (k = 0; k < NKINDS; k++)
		mib_s[k] = !ns[k] ? 0 :
		    bench_mib_s((double)SLICES * (double)(msgs < 4 ? 4 : msgs) *
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
				if (selected(b, op, s))
					measure_one(b, op, s, r * SLICES,
						    v[op][s][r]);
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
	struct spread sp = {0};
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

static void report_head(int rounds, const struct bench *b)
{
	int k;

	printf("\nbench_dma_paths: %d rounds x %d slices, %zu MiB per figure, "
	       "depth %d, lists of %ld\n\n| op | size |",
	       rounds, SLICES, b->bytes >> 20, b->depth, b->list);
	for (k = 0; k < NKINDS; k++)
		printf(" %s MiB/s |", kinds[k].name);
	printf(" VA / dma-buf |");
	for (k = K_DD; k < NKINDS; k++)
		printf(" dma-buf / %s [q1, q3] won |", kinds[k].name);
	printf("\n|---|---|");
	for (k = 0; k < NKINDS + 1 + NKINDS - K_DD; k++)
		printf("---:|");
	printf("\n");
}

/* Both kinds of the ratio were measured (-k). */
static bool ratio_shown(struct spread sp)
{
	return sp.med > 0 && sp.med < 1e9;
}

/* One row; returns the smallest data-direct speedup in it. */
static double report_row(int op, int s, int n)
{
	double worst = 1e9;
	struct spread sp;
	int k;

	printf("| %s | %s |", op ? "READ" : "WRITE", size_name[s]);
	for (k = 0; k < NKINDS; k++)
		printf(" %.0f |", mibs[op][s][k]);
	sp = spread_of(ratio[op][s][K_VA], n);
	if (ratio_shown(sp))
		printf(" %.2f |", sp.med);
	else
		printf(" - |");
	for (k = K_DD; k < NKINDS; k++) {
		sp = spread_of(ratio[op][s][k], n);
		if (!ratio_shown(sp)) {
			printf(" - |");
			continue;
		}
		printf(" **%.2f** [%.2f, %.2f] %.0f%% |", sp.med, sp.q1, sp.q3,
		       100 * sp.below1);
		if (1 / sp.med < worst)
			worst = 1 / sp.med;
	}
	printf("\n");
	return worst;
}

/* The table; returns the smallest data-direct speedup at >= 1 MiB. */
static double report(int rounds, const struct bench *b)
{
	int op, s, n = rounds * SLICES;
	double worst = 1e9, w;

	report_head(rounds, b);
	for (op = 0; op < 2; op++)
		for (s = 0; s < NSIZES; s++) {
			if (!selected(b, op, s))
				continue;
			w = report_row(op, s, n);
			if (sizes[s] >= (1 << 20) && w < worst)
				worst = w;
		}
	printf("\nMiB/s: median over rounds. Ratios of bandwidth, each the "
	       "median over slices of the ratio within the slice (the kinds "
	       "of a slice run back to back), with quartiles and the share "
	       "of slices data direct won: VA / dma-buf (dma-buf is the "
	       "reference), dma-buf / data-direct (data-direct is the "
	       "reference; < 1: data direct faster). dd source: only the "
	       "source is a data-direct region (WRITE: local, READ: remote), "
	       "the destination a dma-buf one; dd destination: the reverse.\n");
	return worst;
}

/* What the device did over the whole run (all kinds, all sizes). */
static void report_dd(const struct bench *b, const struct dd_stats *s0)
{
	struct dd_stats s1;

	if (!dd_read(b, &s1))
		return;
	printf("data-direct device over the run: %llu copies, %llu MiB, "
	       "%llu shared with its worker (which moved %.0f%% of the "
	       "bytes), %llu waited for a late worker (%llu us in all)\n",
	       s1.copies - s0->copies, (s1.bytes - s0->bytes) >> 20,
	       s1.splits - s0->splits,
	       s1.bytes > s0->bytes
		   ? 100.0 * (double)(s1.worker_bytes - s0->worker_bytes) /
			 (double)(s1.bytes - s0->bytes)
		   : 0.0,
	       s1.stalls - s0->stalls, s1.stall_us - s0->stall_us);
	printf("long transfers' copies: %llu, %llu with streaming stores, "
	       "the rest memcpy (the device's measured choice)\n",
	       s1.long_jobs - s0->long_jobs,
	       s1.long_streamed - s0->long_streamed);
}

int main(int argc, char **argv)
{
	struct bench b = {.depth = 16,
			  .bytes = 256U << 20,
			  .only_op = -1,
			  .kinds = (1U << NKINDS) - 1,
			  .list = 4};
	struct dd_stats s0 = {0};
	const char *dev = NULL;
	int rounds = 5;
	double worst;

	parse(argc, argv, &b, &dev, &rounds);
	/* Before the first post: the library reads it once. */
	if (!b.direct)
		setenv("SOFTVERBS_DIRECT", "0", 1);
	else if (getenv("SOFTVERBS_DIRECT"))
		b.direct = getenv("SOFTVERBS_DIRECT")[0] != '0';
	bench_watchdog(1800);
	setup(&b, dev);
	check_paths(&b);
	dd_read(&b, &s0);
	measure(&b, rounds);
	worst = report(rounds, &b);
	report_dd(&b, &s0);
	bench_result(worst, "x_data_direct_speedup_min_ge_1MiB");
	return 0;
}
