// SPDX-License-Identifier: MIT
/*
 * Issue 18, finding 6: blame lands on the failing side when the
 * requester *dies* in the middle of a transfer (its memory then fails for
 * good; test_dp_isolation covers a requester that unmaps its memory).
 *
 * The responder R (this process) owns a 1 GiB buffer and an RC QP. A
 * requester Q (a child, its own context) connects to R and
 *   - RDMA WRITEs 1 GiB from its memory into R's: once the first piece
 *     has landed in R's buffer, Q is killed (SIGKILL);
 *   - RDMA READs 1 GiB of R's memory into its own: once the first piece
 *     has landed in Q's buffer, Q is killed.
 * Each time, R's side is untouched: R's QP stays in RTS, R's context gets
 * no async event (no QP_FATAL), R's CQ no completion, and the last page
 * of R's buffer is unchanged (the transfer was cut short, not finished).
 * Then a fresh pair in R's context still moves data.
 */
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "svtest.h"
#include "svt_ep.h"

#define BIG (1ULL << 30)
#define PAGE 4096

struct offer {
	uint32_t qpn, rkey;
	uint64_t addr;
};

static uint8_t *big_alloc(void)
{
	void *p = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	SVT_CHECK(p != MAP_FAILED);
	return p;
}

static struct ibv_mr *big_mr(struct ibv_pd *pd, uint8_t *buf)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, BIG,
				       IBV_ACCESS_LOCAL_WRITE |
					       IBV_ACCESS_REMOTE_WRITE |
					       IBV_ACCESS_REMOTE_READ);

	SVT_CHECK(mr);
	return mr;
}

static void put(int fd, const void *p, size_t n)
{
	SVT_CHECK(write(fd, p, n) == (ssize_t)n);
}

static void get(int fd, void *p, size_t n)
{
	SVT_CHECK(read(fd, p, n) == (ssize_t)n);
}

/* Q: one 1 GiB op at R's buffer; reports its QPN, then "posted". */
static void requester(int to_r, int from_r, enum ibv_wr_opcode op)
{
	struct svt_ep q = { 0 };
	uint8_t *buf = big_alloc();
	struct offer o, mine;
	struct ibv_mr *mr;
	struct ibv_sge s;
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1, .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	svt_ep_open(&q);
	mr = big_mr(q.pd, buf);
	memset(buf, 0xab, PAGE);
	memset(buf + BIG - PAGE, 0xab, PAGE);
	mine.qpn = q.qp->qp_num;
	put(to_r, &mine, sizeof(mine));
	get(from_r, &o, sizeof(o));
	svt_ep_connect(&q, o.qpn);
	s = (struct ibv_sge){ (uintptr_t)buf, 0x40000000U, mr->lkey };
	wr.wr.rdma.remote_addr = o.addr;
	wr.wr.rdma.rkey = o.rkey;
	SVT_CHECK(!ibv_post_send(q.qp, &wr, &bad));
	/* A READ has begun when R's bytes reach this buffer (written by
	 * another thread or process: an atomic load, which the compiler may
	 * not hoist out of the loop as -O3 did with a plain one). */
	while (op == IBV_WR_RDMA_READ &&
	       __atomic_load_n(&buf[0], __ATOMIC_ACQUIRE) != 0xcd)
		;
	put(to_r, "p", 1);
	pause(); /* until killed */
}

/* R's side has not changed: RTS, no event, no completion. */
static void responder_untouched(struct svt_ep *r, const uint8_t *rbuf,
				uint8_t last)
{
	struct pollfd pfd = { .fd = r->ctx->async_fd, .events = POLLIN };
	struct ibv_qp_init_attr ia;
	struct ibv_qp_attr a;
	struct ibv_wc wc;

	SVT_CHECK(!ibv_query_qp(r->qp, &a, IBV_QP_STATE, &ia));
	if (a.qp_state != IBV_QPS_RTS)
		fprintf(stderr, "responder QP in state %d\n", a.qp_state);
	SVT_CHECK(a.qp_state == IBV_QPS_RTS);
	SVT_CHECK(poll(&pfd, 1, 0) == 0); /* no QP_FATAL, no event at all */
	SVT_CHECK(ibv_poll_cq(r->cq, 1, &wc) == 0);
	SVT_CHECK(rbuf[BIG - 1] == last); /* cut short, not finished */
}

/* One round: Q starts op against R and dies in the middle of it. */
static void round_of(struct svt_ep *r, uint8_t *rbuf, struct ibv_mr *rmr,
		     enum ibv_wr_opcode op)
{
	int to_r[2], from_r[2], status;
	struct offer o = { 0, rmr->rkey, (uintptr_t)rbuf }, q;
	struct timespec ms = { 0, 1000 * 1000 };
	uint8_t last = rbuf[BIG - 1];
	char c;
	pid_t pid;
	int i;

	svt_ep_make(r); /* a fresh QP of R, on R's CQ */
	o.qpn = r->qp->qp_num;
	SVT_CHECK(!pipe(to_r) && !pipe(from_r));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid)
		requester(to_r[1], from_r[0], op);
	get(to_r[0], &q, sizeof(q));
	svt_ep_connect(r, q.qpn);
	put(from_r[1], &o, sizeof(o));
	get(to_r[0], &c, 1);
	/* A WRITE has begun when Q's bytes reach R's buffer. */
	for (i = 0; op == IBV_WR_RDMA_WRITE &&
		    __atomic_load_n(&rbuf[0], __ATOMIC_ACQUIRE) != 0xab;
	     i++) {
		SVT_CHECK(i < 10000);
		nanosleep(&ms, NULL);
	}
	SVT_CHECK(!kill(pid, SIGKILL));
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	close(to_r[0]);
	close(to_r[1]);
	close(from_r[0]);
	close(from_r[1]);
	for (i = 0; i < 300; i++) /* the daemon reclaims Q meanwhile */
		nanosleep(&ms, NULL);
	responder_untouched(r, rbuf, last);
	SVT_CHECK(!ibv_destroy_qp(r->qp));
	printf("requester killed during a 1 GiB %s: responder untouched\n",
	       op == IBV_WR_RDMA_WRITE ? "WRITE" : "READ");
}

/* Two fresh QPs of R's context, connected: a WRITE still lands. */
static void still_served(struct svt_ep *r, uint8_t *rbuf, struct ibv_mr *rmr)
{
	struct svt_ep a = *r, b = *r;
	struct ibv_sge s = { (uintptr_t)rbuf + PAGE, 64, rmr->lkey };

	a.cq = b.cq = NULL;
	svt_ep_make(&a);
	svt_ep_make(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	memset(rbuf + PAGE, 0x77, 64);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s,
			   (uintptr_t)rbuf + 2 * PAGE, rmr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(rbuf[2 * PAGE] == 0x77 && rbuf[2 * PAGE + 63] == 0x77);
}

int main(void)
{
	struct svt_daemon d;
	struct svt_ep r = { 0 };
	struct ibv_mr *rmr;
	uint8_t *rbuf;

	svt_daemon_start(&d);
	svt_ep_open(&r);
	SVT_CHECK(!ibv_destroy_qp(r.qp)); /* each round makes its own */
	rbuf = big_alloc();
	rmr = big_mr(r.pd, rbuf);
	round_of(&r, rbuf, rmr, IBV_WR_RDMA_WRITE);
	memset(rbuf, 0xcd, PAGE);
	memset(rbuf + BIG - PAGE, 0xcd, PAGE);
	round_of(&r, rbuf, rmr, IBV_WR_RDMA_READ);
	still_served(&r, rbuf, rmr);
	svt_daemon_stop(&d);
	printf("blame on the requester's side: PASS\n");
	return SVT_PASS;
}
