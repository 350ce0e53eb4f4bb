// SPDX-License-Identifier: MIT
/*
 * Issue 18, finding 3, for every kind of memory the daemon maps, with a
 * client that does NOT seal its rings (a hostile or foreign library: this
 * program interposes syscall() and fcntl() so that softverbs' own library
 * makes its ring memfds without MFD_ALLOW_SEALING; the daemon then cannot
 * seal them either). Run in the release build (ctest's default build is
 * RelWithDebInfo, -O2), where the SIGBUS guard once compiled away.
 *
 * The daemon is stopped (SIGSTOP) while work is posted and the memory is
 * truncated, then continued, so that its first touch of the memory is a
 * fault:
 *   - a QP ring (SQ and doorbell record): the QP goes to ERROR with
 *     IBV_EVENT_QP_FATAL; RESET and destroy still work;
 *   - a CQ ring: IBV_EVENT_CQ_ERR;
 *   - an SRQ ring: the responder's receive queue is broken, not empty:
 *     the sender's SEND fails (REM_OP_ERR), nothing
 *     is delivered, the QPs can be destroyed;
 *   - a file-backed MR (a MAP_SHARED memfd the daemon maps, never sealed):
 *     an error completion for the remote WRITE;
 *   - memory the daemon makes (doorbell pages, device memory): sealed,
 *     ftruncate fails with EPERM.
 * After each, the daemon is alive and a fresh pair moves data.
 *
 * The rings' cases need the daemon to do the work it was stopped for, so
 * they run with the direct path off (with it on, a first post may ask the
 * stopped daemon for its grant and wait for ever). "direct" runs the
 * file-backed MR's case, the only one without a stop, with it on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "svtest.h"
#include "svt_mem.h"

#define LEN 65536
#define MAX_RINGS 64

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct svt_daemon d;
static int rings[MAX_RINGS], nrings;

/* The library's memfds, made unsealable; a dup of each is kept. */
long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6], ret;
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (nr != SYS_memfd_create || strcmp((const char *)a[0],
					     "softverbs-ring"))
		return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	ret = real(nr, a[0], a[1] & ~(long)MFD_ALLOW_SEALING);
	if (ret >= 0 && nrings < MAX_RINGS)
		rings[nrings++] = fcntl((int)ret, F_DUPFD_CLOEXEC, 0);
	return ret;
}

/* ...and the library's seal "succeeds" (the daemon's own call is real). */
int fcntl(int fd, int cmd, ...)
{
	static int (*real)(int, int, ...);
	unsigned long arg;
	va_list ap;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (!real)
		real = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
	if (cmd == F_ADD_SEALS)
		return 0;
	return real(fd, cmd, arg);
}

static int last_ring(void)
{
	SVT_CHECK(nrings > 0 && rings[nrings - 1] >= 0);
	return rings[nrings - 1];
}

/* Stopped for sure (kill() only queues the signal) before we go on. */
static void daemon_stop(void)
{
	int status;

	SVT_CHECK(!kill(d.pid, SIGSTOP));
	SVT_CHECK(waitpid(d.pid, &status, WUNTRACED) == d.pid &&
		  WIFSTOPPED(status));
}

static void daemon_cont(void)
{
	SVT_CHECK(!kill(d.pid, SIGCONT));
}

/* Shrink to nothing: must work, the memfd is not sealed. */
static void shrink(int fd)
{
	SVT_CHECK(!ftruncate(fd, 0));
}

static uint8_t *va_buf(struct ibv_mr **mr)
{
	uint8_t *p = aligned_alloc(4096, LEN);

	SVT_CHECK(p);
	memset(p, 0x5a, LEN);
	*mr = ibv_reg_mr(pd, p, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(*mr);
	return p;
}

/* The daemon survived and still moves data for a fresh pair. */
static void still_serving(void)
{
	struct ibv_mr *mr;
	uint8_t *buf = va_buf(&mr);
	struct ibv_sge s = svt_sge(buf, 4096, mr->lkey);
	struct svt_ep a, b;

	svt_daemon_alive(&d);
	memset(buf + 8192, 0, 4096);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)buf + 8192,
			   mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_sum(buf, 4096) == svt_sum(buf + 8192, 4096));
}

static void qp_ring(void)
{
	struct ibv_qp_attr reset = { .qp_state = IBV_QPS_RESET };
	struct svt_ep a = { .ctx = ctx, .pd = pd }, b;
	struct ibv_mr *mr;
	uint8_t *buf = va_buf(&mr);

	a.cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	SVT_CHECK(a.cq);
	svt_ep_make(&a);
	int fd = last_ring();

	b = (struct svt_ep){ .ctx = ctx, .pd = pd };
	svt_ep_make(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	daemon_stop();
	svt_post_write(&a, svt_sge(buf, 64, mr->lkey), (uintptr_t)buf + 4096,
		       mr->rkey);
	shrink(fd);
	daemon_cont();
	SVT_CHECK(svt_wait_event(ctx, IBV_EVENT_QP_FATAL, 5000));
	SVT_CHECK(!ibv_modify_qp(a.qp, &reset, IBV_QP_STATE));
	SVT_CHECK(!ibv_destroy_qp(a.qp));
	still_serving();
	printf("QP ring truncated: QP_FATAL, reset and destroy work\n");
}

static void cq_ring(void)
{
	struct ibv_mr *mr;
	uint8_t *buf = va_buf(&mr);
	struct svt_ep a, b;
	struct ibv_cq *cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	int fd = last_ring();

	SVT_CHECK(cq);
	svt_mem_pair(ctx, pd, &a, cq, &b);
	daemon_stop();
	svt_post_write(&a, svt_sge(buf, 64, mr->lkey), (uintptr_t)buf + 4096,
		       mr->rkey);
	shrink(fd);
	daemon_cont();
	SVT_CHECK(svt_wait_event(ctx, IBV_EVENT_CQ_ERR, 5000));
	SVT_CHECK(!ibv_destroy_qp(a.qp));
	still_serving();
	printf("CQ ring truncated: CQ_ERR\n");
}

/* b receives through an SRQ whose ring vanished while a SEND was queued. */
static void srq_ring(void)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 8, .max_sge = 1 } };
	struct ibv_qp_init_attr qa = {
		.cap = { .max_send_wr = 8, .max_send_sge = 1 },
		.qp_type = IBV_QPT_RC,
	};
	struct ibv_mr *mr;
	uint8_t *buf = va_buf(&mr);
	struct ibv_sge s = svt_sge(buf + 8192, 64, mr->lkey);
	struct ibv_recv_wr rw = { .sg_list = &s, .num_sge = 1 }, *bad;
	struct ibv_send_wr sw = { .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *sbad;
	struct svt_ep a = { .ctx = ctx, .pd = pd }, b = a;
	struct ibv_srq *srq = ibv_create_srq(pd, &sa);
	int fd = last_ring();
	struct ibv_wc wc = { .status = IBV_WC_SUCCESS };

	SVT_CHECK(srq);
	svt_ep_make(&a);
	b.cq = ibv_create_cq(ctx, 64, NULL, NULL, 0);
	SVT_CHECK(b.cq);
	qa.send_cq = qa.recv_cq = b.cq;
	qa.srq = srq;
	b.qp = ibv_create_qp(pd, &qa);
	SVT_CHECK(b.qp);
	svt_ep_find_gid(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	SVT_CHECK(!ibv_post_srq_recv(srq, &rw, &bad));
	daemon_stop();
	SVT_CHECK(!ibv_post_send(a.qp, &sw, &sbad));
	shrink(fd);
	daemon_cont();
	/*
	 * The responder cannot read the vanished ring: its receive queue is
	 * broken, not empty (an empty one would RNR-NAK for ever with
	 * rnr_retry 7), so the SEND fails and nothing succeeds.
	 */
	for (int i = 0; i < 500 && ibv_poll_cq(a.cq, 1, &wc) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	SVT_CHECK(wc.status == IBV_WC_REM_OP_ERR);
	SVT_CHECK(!ibv_destroy_qp(a.qp) && !ibv_destroy_qp(b.qp));
	still_serving();
	printf("SRQ ring truncated: the SEND fails (REM_OP_ERR), daemon alive\n");
}

/* An MR in a MAP_SHARED memfd: the daemon maps the file itself. */
static void file_mr(void)
{
	int fd = memfd_create("svt-file-mr", 0);
	struct ibv_mr *mr, *vmr;
	uint8_t *map, *buf = va_buf(&vmr);
	struct ibv_sge s = svt_sge(buf, 4096, vmr->lkey);
	struct svt_ep a, b;

	SVT_CHECK(fd >= 0 && !ftruncate(fd, LEN));
	map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	SVT_CHECK(map != MAP_FAILED);
	mr = ibv_reg_mr(pd, map, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)map,
			   mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(map, buf, 4096));
	shrink(fd);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, (uintptr_t)map,
			   mr->rkey, 0, 0) != IBV_WC_SUCCESS);
	still_serving();
	printf("file-backed MR truncated: error completion\n");
}

/* Every mapping of a memfd named name refuses to shrink. */
static int sealed_maps(const char *name)
{
	char line[512], path[128], want[64];
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, fd;

	SVT_CHECK(f);
	snprintf(want, sizeof(want), "memfd:%s ", name);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = ' ';
		if (!strstr(line, want) ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
			 lo, hi);
		fd = open(path, O_RDWR);
		SVT_CHECK(fd >= 0);
		SVT_CHECK(ftruncate(fd, 0) && errno == EPERM);
		close(fd);
		n++;
	}
	fclose(f);
	return n;
}

static void daemon_memory(void)
{
	struct ibv_alloc_dm_attr da = { .length = 4096 };
	struct ibv_dm *dm = ibv_alloc_dm(ctx, &da);

	SVT_CHECK(dm);
	SVT_CHECK(sealed_maps("softverbs-db") >= 1);
	SVT_CHECK(sealed_maps("softverbs-dm") >= 1);
	SVT_CHECK(!ibv_free_dm(dm));
	printf("doorbell pages and device memory: sealed (EPERM)\n");
}

int main(int argc, char **argv)
{
	bool direct = argc > 1 && !strcmp(argv[1], "direct");

	setenv("SOFTVERBS_DIRECT", direct ? "1" : "0", 1);
	if (geteuid() != 0) {
		/* /proc/self/map_files needs CAP_SYS_ADMIN. */
		printf("needs root to reopen mappings\n");
		return SVT_SKIP;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	if (!direct) {
		qp_ring();
		cq_ring();
		srq_ring();
	}
	file_mr();
	daemon_memory();
	printf("truncation of every mapped kind: daemon alive\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
