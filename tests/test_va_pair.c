// SPDX-License-Identifier: MIT
/*
 * Large VA-to-VA copies shared between the engine and its copy helper
 * (daemon/nic/mem_va_pair.c), forced on whatever the load
 * (SOFTVERBS_VA_PAIR=2) and on the daemon path (SOFTVERBS_DIRECT=0).
 *
 * Two contexts of this process, one RC QP each, connected to each other;
 * buffers are private memory (VA MRs). RDMA WRITEs and READs of sizes
 * around the split threshold and the engine's 1 MiB step, at odd offsets,
 * must land byte for byte, with the bytes around the target untouched.
 * Then a WRITE whose source range was unmapped after registration must
 * fail with LOC_PROT_ERR (whichever thread's piece meets it reports it).
 *
 * A daemon that shares copies sends a staged payload (stage.c) from the
 * application's buffer and tells the library to stop staging payloads of
 * that size (sv_dbrec.stage_skip): of four 1 MiB WRITEs in a row only the
 * first is staged (the daemon's counters, "softverbs dev list").
 *
 * Before any of it, 200 small WRITEs rung from one CPU make the engine
 * leave that CPU out of its affinity (eng_steer.c); the helper must start
 * all the same (va_splits > 0 at the end; it did not when its CPUs were
 * taken from the engine thread's narrowed mask).
 */
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "svtest.h"
#include "svt_cli.h"
#include "svt_ep.h"
#include "svt_va.h"

#define AREA SVT_VA_AREA

/* op of len bytes from src+soff (lmr) to/from the peer's dst+doff. */
static void one(struct svt_ep *e, enum ibv_wr_opcode op, struct ibv_mr *lmr,
		size_t loff, struct ibv_mr *rmr, size_t roff, uint32_t len)
{
	struct ibv_sge s = { (uintptr_t)lmr->addr + loff, len, lmr->lkey };

	SVT_CHECK(svt_rdma(e, op, &s, (uintptr_t)rmr->addr + roff, rmr->rkey,
			   0, 0) == IBV_WC_SUCCESS);
}

static void check(const uint8_t *got, const uint8_t *want, size_t n,
		  const char *what)
{
	if (memcmp(got, want, n)) {
		fprintf(stderr, "test_va_pair: %s differs\n", what);
		exit(SVT_FAIL);
	}
}

static void round_trip(struct svt_ep *a, struct svt_ep *b, struct ibv_mr *ma,
		       struct ibv_mr *mb, uint32_t len, size_t off)
{
	uint8_t *pa = ma->addr, *pb = mb->addr;
	svt_va_fill(pa, AREA, len + (unsigned int)off);
	memset(pb, 0xee, AREA);
	one(a, IBV_WR_RDMA_WRITE, ma, off, mb, off + 3, len);
	check(pb + off + 3, pa + off, len, "WRITE payload");
	SVT_CHECK(pb[off + 2] == 0xee && pb[off + 3 + len] == 0xee);
	/* READ it back into a cleared area of a, at another offset. */
	memset(pa, 0x11, AREA);
	one(a, IBV_WR_RDMA_READ, ma, 64 + 1, mb, off + 3, len);
	check(pa + 65, pb + off + 3, len, "READ payload");
	SVT_CHECK(pa[64] == 0x11 && pa[65 + len] == 0x11);
}

/* A counter of the daemon's line for the device (svt_cli.h). */
static long dev_value(const char *key)
{
	return (long)svt_dev_counter("softverbs0", key);
}

/*
 * The stage_skip hint in action (see the top comment). Since the start a
 * staged WRITE of 512 KiB or more went from source (the very first one
 * may still have used its stage: the helper thread starts with it), and
 * that set the hint: the four 1 MiB WRITEs here are not staged at all.
 */
static void not_staged(struct svt_ep *a, struct ibv_mr *ma, struct ibv_mr *mb,
		       long skipped_start)
{
	long staged0 = dev_value("staged"),
	     skipped0 = dev_value("staged_skipped");
	unsigned int i;

	svt_va_fill(ma->addr, AREA, 99);
	for (i = 0; i < 4; i++)
		one(a, IBV_WR_RDMA_WRITE, ma, 0, mb, 4096, 1u << 20);
	check((uint8_t *)mb->addr + 4096, ma->addr, 1u << 20, "1 MiB WRITE");
	fprintf(stderr, "test_va_pair: staged WQEs from source %ld before, "
			"%ld + %ld (stage + source) after; splits %ld (helper "
			"joined %ld)\n",
		skipped0 - skipped_start, dev_value("staged") - staged0,
		dev_value("staged_skipped") - skipped0,
		dev_value("va_splits"), dev_value("va_joined"));
	SVT_CHECK(skipped0 > skipped_start);
	SVT_CHECK(dev_value("staged") == staged0 &&
		  dev_value("staged_skipped") == skipped0);
}

/*
 * Small WRITEs rung from one CPU: the engine leaves that CPU out of its
 * affinity (eng_steer.c) before the first large copy starts the helper,
 * whose CPUs must still be the daemon's, not the engine's narrowed mask
 * (with the engine's, no helper ever started: va_splits stayed 0).
 */
static void steer_engine(struct svt_ep *a, struct ibv_mr *ma,
			 struct ibv_mr *mb)
{
	cpu_set_t all, cpu;
	unsigned int i;

	if (sched_getaffinity(0, sizeof(all), &all) || CPU_COUNT(&all) < 2)
		return;
	CPU_ZERO(&cpu);
	for (i = 0; !CPU_ISSET(i, &all); i++)
		;
	CPU_SET(i, &cpu);
	SVT_CHECK(!sched_setaffinity(0, sizeof(cpu), &cpu));
	for (i = 0; i < 200; i++)
		one(a, IBV_WR_RDMA_WRITE, ma, 0, mb, 0, 8);
}

int main(void)
{
	static const uint32_t sizes[] = { (512u << 10) - 1, 512u << 10,
					  (1u << 20) + 7, (3u << 20) + 4097 };
	struct svt_ep a = { 0 }, b = { 0 };
	struct ibv_mr *ma, *mb;
	struct svt_daemon d;
	unsigned int i;
	uint8_t *hole;
	long skipped0;

	setenv("SOFTVERBS_VA_PAIR", "2", 1);
	setenv("SOFTVERBS_DIRECT", "0", 1);
	ibv_close_device(svt_start(&d));
	svt_ep_open(&a);
	svt_ep_open(&b);
	svt_ep_connect(&a, b.qp->qp_num);
	svt_ep_connect(&b, a.qp->qp_num);
	ma = svt_va_reg(&a, svt_va_area());
	mb = svt_va_reg(&b, svt_va_area());
	steer_engine(&a, ma, mb);
	skipped0 = dev_value("staged_skipped");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		round_trip(&a, &b, ma, mb, sizes[i], i * 4096 + 5);
	not_staged(&a, ma, mb, skipped0);
	SVT_CHECK(dev_value("va_splits") > 0);
	/* A source page unmapped after registration: the WRITE fails. */
	hole = (uint8_t *)ma->addr + (1u << 20) + (512u << 10);
	SVT_CHECK(!munmap(hole, 4096));
	{
		struct ibv_sge s = { (uintptr_t)ma->addr, 2u << 20, ma->lkey };

		SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s,
				   (uintptr_t)mb->addr, mb->rkey, 0,
				   0) == IBV_WC_LOC_PROT_ERR);
	}
	SVT_CHECK(!ibv_dereg_mr(ma) && !ibv_dereg_mr(mb));
	svt_daemon_stop(&d);
	return SVT_PASS;
}
