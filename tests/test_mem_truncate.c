// SPDX-License-Identifier: MIT
/*
 * A client truncates memory the daemon has mapped (issue 18, finding 3):
 * a dma-buf MR's memfd, a CQ ring, a QP ring. Before the SIGBUS guard
 * worked at -O2 each of these killed the daemon for every client. Now:
 *   - the request that meets the hole completes with the error of the
 *     side that owns the page (remote access error for a remote target,
 *     local protection error for the requester's own SGE, remote
 *     operation error for a receive buffer), and the MR is revoked;
 *   - a CQ whose ring is gone reports IBV_EVENT_CQ_ERR;
 *   - a QP whose ring is gone goes to ERROR with IBV_EVENT_QP_FATAL, and
 *     can still be reset (the daemon zeroes its indices, guarded);
 *   - the daemon is alive afterwards and a fresh pair moves data.
 * Rings are sealed against shrinking (F_SEAL_SHRINK) once the library
 * seals them; then ftruncate itself fails, which the test accepts.
 * Run it in the release build: that is where the guard used to vanish.
 */
#include <sys/mman.h>

#include "svtest.h"
#include "svt_mem.h"

#define MR_LEN (1 << 20)
#define MAX_MAPS 4096

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct svt_daemon d;

/*
 * The library keeps no fd for its rings, only the mapping. Snapshot the
 * ring mappings (by start address) before and after creating an object;
 * the new one is reopened through /proc/self/map_files (root only).
 */
static void ring_maps(unsigned long *set)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;
	int n = 0;

	SVT_CHECK(f);
	memset(set, 0, MAX_MAPS * sizeof(*set));
	while (fgets(line, sizeof(line), f) && n < MAX_MAPS - 1)
		if (strstr(line, "memfd:softverbs-ring") &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			set[n++] = lo;
	fclose(f);
}

static bool in_set(const unsigned long *set, unsigned long v)
{
	int i;

	for (i = 0; set[i]; i++)
		if (set[i] == v)
			return true;
	return false;
}

/* Open the ring mapping that appeared between two snapshots (or -1). */
static int new_ring_fd(const unsigned long *before, const unsigned long *after)
{
	char path[128], line[512];
	unsigned long lo = 0, hi = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	int i, fd = -1;

	SVT_CHECK(f);
	for (i = 0; after[i] && fd < 0; i++) {
		if (in_set(before, after[i]))
			continue;
		rewind(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
			    lo == after[i])
				break;
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
			 lo, hi);
		fd = open(path, O_RDWR);
	}
	fclose(f);
	return fd;
}

/* Shrink a ring memfd; false when it is sealed against that. */
static bool shrink(int fd)
{
	if (!ftruncate(fd, 0))
		return true;
	SVT_CHECK(errno == EPERM);
	return false;
}

static void *va_buf(struct ibv_mr **mr)
{
	void *p = aligned_alloc(4096, MR_LEN);

	SVT_CHECK(p);
	memset(p, 0x5a, MR_LEN);
	*mr = ibv_reg_mr(pd, p, MR_LEN, SVT_ACCESS_ALL);
	SVT_CHECK(*mr);
	return p;
}

/* A 1 MiB dma-buf MR at IOVA TIOVA whose memfd is then truncated. */
#define TIOVA 0x100000ULL

static struct ibv_mr *truncated_mr(int *fd)
{
	struct ibv_mr *mr;

	*fd = memfd_create("svt-mr", 0);
	SVT_CHECK(*fd >= 0 && !ftruncate(*fd, MR_LEN));
	mr = ibv_reg_dmabuf_mr(pd, 0, MR_LEN, TIOVA, *fd, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	SVT_CHECK(!ftruncate(*fd, 0));
	return mr;
}

/*
 * The request whose copy meets the hole is charged to the side that owns
 * the vanished page (IB's rules, as for an rkey/lkey violation): the
 * remote target of a WRITE/READ/atomic gives the requester a remote
 * access error; its own SGE a local protection error; a receive buffer
 * a local protection error at the responder and a remote operation error
 * at the requester. After the fault the region is revoked: growing the
 * file back does not revive it.
 */
static void fault_one(int kind, uint8_t *buf, struct ibv_mr *vmr)
{
	static const enum ibv_wc_status want[] = {
		IBV_WC_REM_ACCESS_ERR, IBV_WC_LOC_PROT_ERR,
		IBV_WC_REM_ACCESS_ERR, IBV_WC_LOC_PROT_ERR };
	struct ibv_sge s = svt_sge(buf, 4096, vmr->lkey);
	struct ibv_mr *mr;
	struct svt_ep a, b;
	enum ibv_wc_status st;
	int fd;

	mr = truncated_mr(&fd);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	if (kind == 0) /* remote WRITE target: the VA -> mapped copy */
		st = svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, TIOVA, mr->rkey, 0, 0);
	else if (kind == 1) /* local source of a WRITE */
		st = svt_rdma(&a, IBV_WR_RDMA_WRITE,
			      &(struct ibv_sge){ TIOVA, 4096, mr->lkey },
			      (uintptr_t)buf + 8192, vmr->rkey, 0, 0);
	else if (kind == 2) /* atomic target */
		st = svt_rdma(&a, IBV_WR_ATOMIC_FETCH_AND_ADD,
			      &(struct ibv_sge){ (uintptr_t)buf, 8, vmr->lkey },
			      TIOVA, mr->rkey, 0, 1);
	else /* local destination of a READ */
		st = svt_rdma(&a, IBV_WR_RDMA_READ,
			      &(struct ibv_sge){ TIOVA, 4096, mr->lkey },
			      (uintptr_t)buf, vmr->rkey, 0, 0);
	fprintf(stderr, "hole %d: %s\n", kind, ibv_wc_status_str(st));
	SVT_CHECK(st == want[kind]);
	svt_daemon_alive(&d);
	SVT_CHECK(!ftruncate(fd, MR_LEN)); /* revoked for good */
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, TIOVA, mr->rkey, 0, 0) ==
		  IBV_WC_REM_ACCESS_ERR);
	SVT_CHECK(!ibv_dereg_mr(mr));
	close(fd);
}

/* A SEND whose receive buffer vanished: the responder's own error. */
static void fault_recv(uint8_t *buf, struct ibv_mr *vmr)
{
	struct ibv_sge rs = svt_sge((void *)TIOVA, 4096, 0);
	struct ibv_recv_wr rwr = { .sg_list = &rs, .num_sge = 1 }, *rbad;
	struct ibv_send_wr wr = { .sg_list = &rs, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_sge ss = svt_sge(buf, 4096, vmr->lkey);
	struct ibv_mr *mr;
	struct svt_ep a, b;
	int fd;

	mr = truncated_mr(&fd);
	rs.lkey = mr->lkey;
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(!ibv_post_recv(b.qp, &rwr, &rbad));
	wr.sg_list = &ss;
	SVT_CHECK(!ibv_post_send(a.qp, &wr, &bad));
	SVT_CHECK(svt_poll1(a.cq).status == IBV_WC_REM_OP_ERR);
	SVT_CHECK(svt_poll1(b.cq).status == IBV_WC_LOC_PROT_ERR);
	SVT_CHECK(!ibv_dereg_mr(mr));
	close(fd);
}

/* Every way of reaching a dma-buf MR after its memfd was truncated. */
static void test_dmabuf_mr(void)
{
	struct ibv_mr *vmr;
	uint8_t *buf = va_buf(&vmr);
	int k;

	for (k = 0; k < 4; k++)
		fault_one(k, buf, vmr);
	fault_recv(buf, vmr);
	printf("dma-buf MR truncated: each faulting request charged to the "
	       "side that owns the page, revoked after, daemon alive\n");
}

/* The CQ ring vanishes: its next completion is a CQ error. */
static void test_cq_ring(void)
{
	static unsigned long before[MAX_MAPS], after[MAX_MAPS];
	struct ibv_mr *vmr;
	struct svt_ep a, b;
	struct ibv_cq *cq;
	uint8_t *buf;
	int fd;

	buf = va_buf(&vmr);
	ring_maps(before);
	cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	SVT_CHECK(cq);
	ring_maps(after);
	fd = new_ring_fd(before, after);
	if (fd < 0) {
		printf("CQ ring: cannot reopen it (needs root), not tested\n");
		return;
	}
	svt_mem_pair(ctx, pd, &a, cq, &b);
	if (!shrink(fd)) {
		printf("CQ ring sealed: shrinking refused\n");
		return;
	}
	svt_post_write(&a, svt_sge(buf, 64, vmr->lkey), (uintptr_t)buf + 4096,
		       vmr->rkey);
	SVT_CHECK(svt_wait_event(ctx, IBV_EVENT_CQ_ERR, 5000));
	svt_daemon_alive(&d);
	/* Gone before the daemon stops: the library would flush into it. */
	SVT_CHECK(!ibv_destroy_qp(a.qp) && !ibv_destroy_cq(cq));
	printf("CQ ring truncated: IBV_EVENT_CQ_ERR, daemon alive\n");
}

/* The QP ring vanishes: the QP goes to ERROR, and RESET still works. */
static void test_qp_ring(void)
{
	static unsigned long before[MAX_MAPS], after[MAX_MAPS];
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_RESET };
	struct svt_ep a = { .ctx = ctx, .pd = pd }, b;
	int fd;

	a.cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	SVT_CHECK(a.cq);
	ring_maps(before);
	svt_ep_make(&a);
	ring_maps(after);
	fd = new_ring_fd(before, after);
	if (fd < 0) {
		printf("QP ring: cannot reopen it (needs root), not tested\n");
		return;
	}
	b = (struct svt_ep){ .ctx = ctx, .pd = pd };
	svt_ep_make(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	if (!shrink(fd)) {
		printf("QP ring sealed: shrinking refused\n");
		return;
	}
	SVT_CHECK(svt_wait_event(ctx, IBV_EVENT_QP_FATAL, 5000));
	SVT_CHECK(!ibv_modify_qp(a.qp, &attr, IBV_QP_STATE));
	svt_daemon_alive(&d);
	SVT_CHECK(!ibv_destroy_qp(a.qp));
	printf("QP ring truncated: IBV_EVENT_QP_FATAL, reset ok, daemon alive\n");
}

/* After all that, a fresh pair still moves data. */
static void test_still_serving(void)
{
	struct ibv_mr *vmr;
	uint8_t *buf = va_buf(&vmr);
	struct ibv_sge s = svt_sge(buf, 4096, vmr->lkey);
	struct svt_ep a, b;

	memset(buf + 8192, 0, 4096);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)buf + 8192,
			   vmr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_sum(buf, 4096) == svt_sum(buf + 8192, 4096));
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	test_dmabuf_mr();
	test_cq_ring();
	test_qp_ring();
	test_still_serving();
	svt_daemon_alive(&d);
	printf("mem truncate: ok\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
