// SPDX-License-Identifier: MIT
/*
 * Large payloads staged at post time (SV_WQE_STAGED, stage.c): on the
 * daemon path ibv_post_send copies a SEND or WRITE of 64 KiB to 2 MiB
 * from private VA regions into the QP's stage, and the engine sends the
 * copy after judging the work request's own SGEs.
 *
 *  - WRITE, WRITE_WITH_IMM and SEND land byte for byte below, at and
 *    above the bounds (64 KiB - 1, 64 KiB, 2 MiB, 2 MiB + 1), at odd
 *    offsets, with one and two SGEs, the bytes around untouched;
 *  - the stage is really used: with the daemon stopped (SIGSTOP) a 1 MiB
 *    WRITE is posted and its source overwritten; the target gets the
 *    bytes of post time;
 *  - a full stage: ten 1 MiB WRITEs posted to a stopped daemon all
 *    return (the ones past the stage go unstaged) and all land;
 *  - RESET empties the stage: after RESET and a new connection the
 *    stopped-daemon check passes again;
 *  - the engine still judges the SGEs: a key of another PD and a range
 *    past its region end in LOC_PROT_ERR.
 * The daemon runs without the copy helper (SOFTVERBS_VA_PAIR=0), whose
 * engine would not use the stage for 512 KiB and more.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_va.h"

#define AREA SVT_VA_AREA
#define MIB (1u << 20)

struct pair {
	struct svt_ep a, b;
	struct ibv_mr *ma, *mb;
	uint8_t *pa, *pb;
	struct svt_daemon d;
};

static void same(const uint8_t *got, const uint8_t *want, size_t n,
		 const char *what)
{
	if (memcmp(got, want, n)) {
		fprintf(stderr, "test_dp_stage: %s differs\n", what);
		exit(SVT_FAIL);
	}
}

static void connect_pair(struct pair *p)
{
	svt_ep_connect(&p->a, p->b.qp->qp_num);
	svt_ep_connect(&p->b, p->a.qp->qp_num);
}

/* a posts op with the given SGEs to b at roff; nothing is waited for. */
static void post(struct pair *p, enum ibv_wr_opcode op, struct ibv_sge *s,
		 int n, size_t roff, uint64_t id)
{
	struct ibv_send_wr wr = { .wr_id = id, .sg_list = s, .num_sge = n,
				  .opcode = op, .send_flags = IBV_SEND_SIGNALED,
				  .imm_data = htonl(0x5e5e) },
			   *bad;

	wr.wr.rdma.remote_addr = (uintptr_t)p->pb + roff;
	wr.wr.rdma.rkey = p->mb->rkey;
	SVT_CHECK(!ibv_post_send(p->a.qp, &wr, &bad));
}

static void recv_at(struct pair *p, size_t off, uint32_t len)
{
	struct ibv_sge s = { (uintptr_t)p->pb + off, len, p->mb->lkey };
	struct ibv_recv_wr wr = { .wr_id = 7, .sg_list = &s, .num_sge = 1 },
			   *bad;

	SVT_CHECK(!ibv_post_recv(p->b.qp, &wr, &bad));
}

static void sent_ok(struct pair *p)
{
	struct ibv_wc wc = svt_poll1(p->a.cq);

	if (wc.status != IBV_WC_SUCCESS)
		fprintf(stderr, "test_dp_stage: status %s\n",
			ibv_wc_status_str(wc.status));
	SVT_CHECK(wc.status == IBV_WC_SUCCESS);
}

/* One op of len bytes from a+soff to b+doff, checked with guards. */
static void one(struct pair *p, enum ibv_wr_opcode op, uint32_t len,
		size_t soff, size_t doff, bool two)
{
	uint32_t first = two ? len / 3 : len;
	struct ibv_sge s[2] = {
		{ (uintptr_t)p->pa + soff, first, p->ma->lkey },
		{ (uintptr_t)p->pa + soff + first + 4096, len - first,
		  p->ma->lkey },
	};
	bool send = op == IBV_WR_SEND;

	svt_va_fill(p->pa, AREA, len + (unsigned int)soff);
	memset(p->pb, 0xee, AREA);
	if (send || op == IBV_WR_RDMA_WRITE_WITH_IMM)
		recv_at(p, doff, send ? len : 0);
	post(p, op, s, two ? 2 : 1, doff, 1);
	sent_ok(p);
	if (send || op == IBV_WR_RDMA_WRITE_WITH_IMM) {
		struct ibv_wc wc = svt_poll1(p->b.cq);

		SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.byte_len == len);
		SVT_CHECK(send || ntohl(wc.imm_data) == 0x5e5e);
	}
	same(p->pb + doff, p->pa + soff, first, "payload");
	same(p->pb + doff + first, p->pa + soff + first + 4096, len - first,
	     "second SGE");
	SVT_CHECK(p->pb[doff - 1] == 0xee && p->pb[doff + len] == 0xee);
}

static void daemon_signal(struct pair *p, int sig)
{
	SVT_CHECK(!kill(p->d.pid, sig));
}

/*
 * n 1 MiB WRITEs posted while the daemon is stopped, their sources then
 * overwritten when overwrite: the targets must hold the bytes of post
 * time, which only the stage kept.
 */
static void stopped_writes(struct pair *p, unsigned int n, bool overwrite)
{
	unsigned int i;

	svt_va_fill(p->pa, AREA, n);
	memset(p->pb, 0xee, AREA);
	daemon_signal(p, SIGSTOP);
	for (i = 0; i < n; i++) {
		struct ibv_sge s = { (uintptr_t)p->pa + (i % 7) * MIB + 64,
				     MIB / 2, p->ma->lkey };

		post(p, IBV_WR_RDMA_WRITE, &s, 1, (i % 7) * MIB + 64, i);
	}
	if (overwrite)
		memset(p->pa, 0x42, AREA);
	daemon_signal(p, SIGCONT);
	for (i = 0; i < n; i++)
		sent_ok(p);
	if (overwrite) {
		uint8_t *want = malloc(AREA);

		SVT_CHECK(want);
		svt_va_fill(want, AREA, n);
		same(p->pb + 64, want + 64, MIB / 2, "staged WRITE");
		free(want);
	} else {
		for (i = 0; i < 7; i++)
			same(p->pb + i * MIB + 64, p->pa + i * MIB + 64,
			     MIB / 2, "WRITE past a full stage");
	}
}

static void reset_and_connect(struct pair *p)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };

	SVT_CHECK(!ibv_modify_qp(p->a.qp, &a, IBV_QP_STATE));
	SVT_CHECK(!ibv_modify_qp(p->b.qp, &a, IBV_QP_STATE));
	connect_pair(p);
}

static void bad_keys(struct pair *p)
{
	struct ibv_sge other = { (uintptr_t)p->pb, MIB, p->mb->lkey };
	struct ibv_sge past = { (uintptr_t)p->pa + AREA - MIB / 2, MIB,
				p->ma->lkey };

	SVT_CHECK(svt_rdma(&p->a, IBV_WR_RDMA_WRITE, &other,
			   (uintptr_t)p->pb, p->mb->rkey, 0,
			   0) == IBV_WC_LOC_PROT_ERR);
	reset_and_connect(p);
	SVT_CHECK(svt_rdma(&p->a, IBV_WR_RDMA_WRITE, &past, (uintptr_t)p->pb,
			   p->mb->rkey, 0, 0) == IBV_WC_LOC_PROT_ERR);
}

int main(void)
{
	static const uint32_t sizes[] = { (64u << 10) - 1, 64u << 10,
					  MIB + 7, 2 * MIB, 2 * MIB + 1 };
	struct pair p = { 0 };
	unsigned int i;

	setenv("SOFTVERBS_DIRECT", "0", 1);
	/*
	 * A daemon that never shares a copy with its helper thread: one that
	 * does sends large staged payloads from the source instead and tells
	 * the library to stop staging them (test_va_pair).
	 */
	setenv("SOFTVERBS_VA_PAIR", "0", 1);
	ibv_close_device(svt_start(&p.d));
	svt_ep_open(&p.a);
	svt_ep_open(&p.b);
	connect_pair(&p);
	p.pa = svt_va_area();
	p.pb = svt_va_area();
	p.ma = svt_va_reg(&p.a, p.pa);
	p.mb = svt_va_reg(&p.b, p.pb);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		one(&p, IBV_WR_RDMA_WRITE, sizes[i], i * 4096 + 5, 4096 + 5,
		    false);
		one(&p, IBV_WR_SEND, sizes[i], 3, 4096 + 3, false);
	}
	one(&p, IBV_WR_RDMA_WRITE, 300000, 17, 4096 + 17, true);
	one(&p, IBV_WR_RDMA_WRITE_WITH_IMM, MIB, 64, 4096 + 64, false);
	stopped_writes(&p, 1, true);
	stopped_writes(&p, 40, false);
	reset_and_connect(&p);
	stopped_writes(&p, 1, true);
	bad_keys(&p);
	SVT_CHECK(!ibv_dereg_mr(p.ma) && !ibv_dereg_mr(p.mb));
	svt_daemon_stop(&p.d);
	return SVT_PASS;
}
