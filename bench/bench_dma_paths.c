// SPDX-License-Identifier: MIT
/*
 * bench_dma_paths: RDMA WRITE and READ bandwidth over softverbs' three DMA
 * paths, as ratios measured in one run (docs/dma-paths.md):
 *
 *   VA MR           ibv_reg_mr over private memory: the daemon reaches it
 *                   with process_vm_readv/writev;
 *   dma-buf MR      ibv_reg_dmabuf_mr over a memfd the daemon maps: plain
 *                   copies on the engine thread;
 *   data-direct MR  the same, registered with softverbsdv_reg_dmabuf_mr(...,
 *                   SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT): the copy is
 *                   shared with the device's data-direct DMA worker.
 *
 * Both buffers of a transfer (local SGE and remote target) are of the kind
 * measured. Sizes 64 KiB, 1 MiB and 8 MiB; the ratios are "VA / dma-buf"
 * (dma-buf is the reference) and "dma-buf / data-direct" (data-direct is
 * the reference: below 1 means data direct is faster).
 *
 *   bench_dma_paths [-d DEV] [-r ROUNDS] [-m MIB_PER_FIGURE] [-t DEPTH]
 *
 * Within a round the three kinds of one size and op take turns in 8
 * slices, and each figure is the median over rounds, so the kinds see the
 * same load on a shared machine. One process, two RC QPs on the
 * device; completions are waited for on a completion channel (no busy
 * polling: on 2 CPUs a spinning client would take the CPU the data-direct
 * worker needs). Needs a running daemon with the data-direct device on
 * (the default): run it under "softverbs run". Last line: RESULT = the
 * smallest data-direct speedup (dma-buf time / data-direct time) at 1 MiB
 * and above.
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

#define MAX_SIZE (8U << 20)
#define NSIZES 3
#define NKINDS 3
#define MAX_ROUNDS 31
#define SLICES 8 /* kinds alternate this often within a round */
#define ACCESS                                              \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
	 IBV_ACCESS_REMOTE_READ)

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
	perror(what);
	exit(1);
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

static int find_gid(struct ibv_context *ctx, union ibv_gid *gid)
{
	int i;

	for (i = 0; i < 16; i++)
		if (!ibv_query_gid(ctx, 1, i, gid) && gid->raw[10] == 0xff &&
		    gid->raw[11] == 0xff)
			return i;
	fprintf(stderr, "no IPv4 RoCE GID on port 1\n");
	exit(1);
}

static void qp_to_rts(struct ibv_qp *qp, uint32_t dqpn, int gidx,
		      const union ibv_gid *gid)
{
	struct ibv_qp_attr a = {
	    .qp_state = IBV_QPS_INIT, .port_num = 1, .qp_access_flags = ACCESS};

	if (ibv_modify_qp(qp, &a,
			  IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			      IBV_QP_ACCESS_FLAGS))
		die("INIT");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_4096;
	a.dest_qp_num = dqpn;
	a.max_dest_rd_atomic = 16;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = *gid;
	a.ah_attr.grh.sgid_index = (uint8_t)gidx;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(qp, &a,
			  IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			      IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			      IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		die("RTR");
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 16;
	if (ibv_modify_qp(qp, &a,
			  IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			      IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			      IBV_QP_MAX_QP_RD_ATOMIC))
		die("RTS");
}

static struct ibv_qp *make_qp(struct bench *b, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr a = {
	    .send_cq = cq,
	    .recv_cq = cq,
	    .qp_type = IBV_QPT_RC,
	    .cap = {.max_send_wr = (uint32_t)b->depth,
		    .max_recv_wr = 1,
		    .max_send_sge = 1,
		    .max_recv_sge = 1},
	};
	struct ibv_qp *qp = ibv_create_qp(b->pd, &a);

	if (!qp)
		die("ibv_create_qp");
	return qp;
}

static void setup(struct bench *b, const char *dev)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	union ibv_gid gid;
	int i, gidx;

	for (i = 0; list && list[i]; i++)
		if (!dev || !strcmp(ibv_get_device_name(list[i]), dev))
			break;
	if (!list || !list[i])
		die("no such device");
	b->ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!b->ctx)
		die("ibv_open_device");
	b->pd = ibv_alloc_pd(b->ctx);
	b->ch = ibv_create_comp_channel(b->ctx);
	if (!b->pd || !b->ch)
		die("pd/channel");
	b->cq = ibv_create_cq(b->ctx, b->depth * 2, NULL, b->ch, 0);
	b->cq_b = ibv_create_cq(b->ctx, 2, NULL, NULL, 0);
	if (!b->cq || !b->cq_b)
		die("ibv_create_cq");
	b->qp = make_qp(b, b->cq);
	b->qp_b = make_qp(b, b->cq_b);
	gidx = find_gid(b->ctx, &gid);
	qp_to_rts(b->qp, b->qp_b->qp_num, gidx, &gid);
	qp_to_rts(b->qp_b, b->qp->qp_num, gidx, &gid);
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
 * One round of one op and size: the kinds take turns in SLICES slices, so
 * a change of load on the shared machine hits all three alike.
 */
static void measure_one(struct bench *b, bool write, size_t size,
			double mib_s[NKINDS])
{
	uint64_t ns[NKINDS] = { 0 };
	size_t per = b->bytes / SLICES, msgs = per / size;
	int i, j, k;

	/* Rotate who goes first, so no kind always follows the same one. */
	for (i = 0; i < SLICES; i++)
		for (j = 0; j < NKINDS; j++) {
			k = (i + j) % NKINDS;
			ns[k] += run(b, k, write, size, per);
		}
	for (k = 0; k < NKINDS; k++)
		mib_s[k] = bench_mib_s((double)SLICES *
					       (double)(msgs < 4 ? 4 : msgs) *
					       (double)size,
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
				measure_one(b, !op, sizes[s], v[op][s][r]);
	for (op = 0; op < 2; op++)
		for (s = 0; s < NSIZES; s++)
			for (k = 0; k < NKINDS; k++) {
				for (r = 0; r < rounds; r++)
					col[r] = v[op][s][r][k];
				mibs[op][s][k] =
				    bench_median(col, (size_t)rounds);
			}
}

/* The table; returns the smallest data-direct speedup at >= 1 MiB. */
static double report(int rounds, const struct bench *b)
{
	double worst = 1e9;
	int op, s;

	printf("bench_dma_paths: %d rounds, %zu MiB per figure, depth %d; "
	       "MiB/s, median over rounds\n\n",
	       rounds, b->bytes >> 20, b->depth);
	printf("| op | size | %s | %s | %s / %s | %s | %s / %s |\n",
	       kind_name[0], kind_name[1], kind_name[0], kind_name[1],
	       kind_name[2], kind_name[1], kind_name[2]);
	printf("|---|---|---:|---:|---:|---:|---:|\n");
	for (op = 0; op < 2; op++)
		for (s = 0; s < NSIZES; s++) {
			const double *m = mibs[op][s];

			printf(
			    "| %s | %s | %.0f | %.0f | %.2f | %.0f | %.2f |\n",
			    op ? "READ" : "WRITE", size_name[s], m[K_VA],
			    m[K_DMABUF], m[K_VA] / m[K_DMABUF], m[K_DD],
			    m[K_DMABUF] / m[K_DD]);
			if (sizes[s] >= (1 << 20) &&
			    m[K_DD] / m[K_DMABUF] < worst)
				worst = m[K_DD] / m[K_DMABUF];
		}
	printf("\nratios: VA / dma-buf (dma-buf is the reference), dma-buf / "
	       "data-direct (data-direct is the reference; < 1: data direct "
	       "faster)\n");
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
