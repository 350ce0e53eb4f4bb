// SPDX-License-Identifier: MIT
/*
 * Issue 17: large direct WRITEs and READs to a VA region are cut into
 * chunks that the posting thread and the library's copy worker move
 * (lib/providers/softverbs/direct_worker.c). Forced on here
 * (SOFTVERBS_DIRECT_SPLIT=2: the worker takes chunks whatever the load),
 * they must land exactly as one copy would:
 *   - WRITE then READ back at sizes around the split threshold (256 KiB),
 *     from one SGE and from three of odd sizes, to odd remote offsets;
 *   - a list of scattered 60000-byte WRITEs (one call for the run, split
 *     over its remote ranges), each completed in order, read back;
 *   - a 1 MiB WRITE then a SEND: when the target sees the SEND, the
 *     WRITE's bytes are all there (RC order);
 *   - the target deregisters while 1 MiB WRITEs stream: the initiator gets
 *     REM_ACCESS_ERR and no byte lands after ibv_dereg_mr returned;
 *   - the worker ran ("sv-copy"), and is gone after ibv_close_device.
 * Run with "off" (SOFTVERBS_DIRECT=0): the same results through the daemon.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (8 << 20)
#define SPLIT (256 * 1024)
#define BACK (4 << 20) /* where READs land in our buffer */
#define MiB (1 << 20)
#define NLIST 16

static uint8_t pat(size_t i, uint8_t seed)
{
	return (uint8_t)(seed + i * 7 + (i >> 12));
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = pat(i, seed);
}

static bool worker_named(pid_t pid)
{
	char path[128], comm[32];
	struct dirent *e;
	bool found = false;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	SVT_CHECK(dir);
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid,
			 e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f))
			found = !strncmp(comm, "sv-copy", 7);
		if (f)
			fclose(f);
	}
	closedir(dir);
	return found;
}

/* One WR of op over ns SGEs of our buffer at loff (lens), to roff. */
static void post_sges(struct svt_dx *x, enum ibv_wr_opcode op, uint64_t loff,
		      const uint32_t *lens, int ns, uint64_t roff)
{
	struct ibv_send_wr wr = {.wr_id = roff,
				 .num_sge = ns,
				 .opcode = op,
				 .send_flags = IBV_SEND_SIGNALED},
			   *bad;
	struct ibv_sge s[3];
	int i;

	for (i = 0; i < ns; loff += lens[i], i++)
		s[i] = (struct ibv_sge){(uintptr_t)x->buf + loff, lens[i],
					x->mr->lkey};
	wr.sg_list = s;
	wr.wr.rdma.remote_addr = x->peer.addr + roff;
	wr.wr.rdma.rkey = x->peer.rkey;
	SVT_CHECK(!ibv_post_send(x->ep.qp, &wr, &bad));
	SVT_CHECK(svt_dx_one(x).status == IBV_WC_SUCCESS);
}

/* WRITE len bytes (ns SGEs) to an odd offset, READ them back, compare. */
static void round_trip(struct svt_dx *x, uint32_t len, int ns, uint8_t seed)
{
	uint32_t lens[3] = {len}, back = len;
	uint64_t roff = 4096 * seed + 3;

	if (ns == 3) {
		lens[0] = len / 5 + 3;
		lens[1] = len / 3 + 1;
		lens[2] = len - lens[0] - lens[1];
	}
	fill(x->buf, len, seed);
	memset(x->buf + BACK, 0, len);
	post_sges(x, IBV_WR_RDMA_WRITE, 0, lens, ns, roff);
	post_sges(x, IBV_WR_RDMA_READ, BACK, &back, 1, roff);
	SVT_CHECK(!memcmp(x->buf, x->buf + BACK, len));
}

/* 16 scattered WRITEs of 60000 bytes in one list, then each read back. */
static void scattered(struct svt_dx *x)
{
	struct ibv_send_wr wr[NLIST], *bad;
	struct ibv_sge s[NLIST];
	struct ibv_wc wc;
	uint32_t len = 60000;
	int i;

	memset(wr, 0, sizeof(wr));
	fill(x->buf, NLIST * 65536, 9);
	for (i = 0; i < NLIST; i++) {
		s[i] = (struct ibv_sge){(uintptr_t)x->buf + i * 65536, len,
					x->mr->lkey};
		wr[i] = (struct ibv_send_wr){.wr_id = (uint64_t)i,
					     .sg_list = &s[i],
					     .num_sge = 1,
					     .opcode = IBV_WR_RDMA_WRITE,
					     .send_flags = IBV_SEND_SIGNALED,
					     .next = i + 1 < NLIST ? &wr[i + 1]
								   : NULL};
		wr[i].wr.rdma.remote_addr =
		    x->peer.addr + (uint64_t)(NLIST - i) * 70001;
		wr[i].wr.rdma.rkey = x->peer.rkey;
	}
	SVT_CHECK(!ibv_post_send(x->ep.qp, wr, &bad));
	for (i = 0; i < NLIST; i++) {
		wc = svt_dx_one(x);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.wr_id == (uint64_t)i && wc.byte_len == len);
	}
	for (i = 0; i < NLIST; i++) {
		post_sges(x, IBV_WR_RDMA_READ, BACK, &len, 1,
			  (uint64_t)(NLIST - i) * 70001);
		SVT_CHECK(!memcmp(x->buf + BACK, x->buf + i * 65536, len));
	}
}

/* A 1 MiB WRITE, then a SEND: the target checks the bytes at the SEND. */
static void write_then_send(struct svt_dx *x)
{
	struct ibv_sge s = {(uintptr_t)x->buf, MiB, x->mr->lkey};
	struct ibv_send_wr w = {.wr_id = 1,
				.sg_list = &s,
				.num_sge = 1,
				.opcode = IBV_WR_RDMA_WRITE},
			   *bad;
	struct ibv_sge s2 = {(uintptr_t)x->buf + MiB, 8, x->mr->lkey};
	struct ibv_send_wr m = {.wr_id = 2,
				.sg_list = &s2,
				.num_sge = 1,
				.opcode = IBV_WR_SEND,
				.send_flags = IBV_SEND_SIGNALED};
	char c;

	fill(x->buf, MiB, 11);
	w.wr.rdma.remote_addr = x->peer.addr;
	w.wr.rdma.rkey = x->peer.rkey;
	w.next = &m;
	svt_dx_get(x, &c, 1); /* the target's receive is posted */
	SVT_CHECK(!ibv_post_send(x->ep.qp, &w, &bad));
	SVT_CHECK(svt_dx_one(x).wr_id == 2);
	svt_dx_get(x, &c, 1); /* the target checked its bytes */
}

static void target(struct svt_dx *x)
{
	struct ibv_sge s = {0, 64, 0};
	struct ibv_recv_wr r = {.wr_id = 7, .sg_list = &s, .num_sge = 1}, *bad;
	size_t i;
	char c = 1;

	svt_dx_target_begin(x, LEN);
	s.addr = (uintptr_t)x->buf + LEN - 64;
	s.lkey = x->mr->lkey;
	SVT_CHECK(!ibv_post_recv(x->ep.qp, &r, &bad));
	svt_dx_put(x, &c, 1);
	SVT_CHECK(svt_poll1(x->ep.cq).status == IBV_WC_SUCCESS);
	for (i = 0; i < MiB; i++)
		SVT_CHECK(x->buf[i] == pat(i, 11));
	svt_dx_put(x, &c, 1); /* checked */
	svt_dx_dereg_midstream(x, LEN);
	svt_dx_target_end(x);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = {SPLIT - 1, SPLIT, SPLIT + 1,
					 MiB + 4095, 3 * MiB + 7};
	struct svt_daemon d;
	struct svt_dx x = {};
	unsigned int i;
	bool on;

	setenv("SOFTVERBS_DIRECT_SPLIT", "2", 0); /* 0: compare without */
	on = svt_dx_begin(argc, argv, &d, &x, target, LEN);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		round_trip(&x, sizes[i], 1, (uint8_t)(i + 1));
		round_trip(&x, sizes[i], 3, (uint8_t)(i + 21));
	}
	scattered(&x);
	write_then_send(&x);
	/* The direct path copied above SPLIT: the worker started. */
	SVT_CHECK(worker_named(getpid()) ==
		  (on && getenv("SOFTVERBS_DIRECT_SPLIT")[0] != '0'));
	svt_dx_stream_until_dereg(&x);
	svt_dx_end(&x);
	SVT_CHECK(!worker_named(getpid()));
	svt_daemon_stop(&d);
	printf("direct split (%s): PASS\n", on ? "on" : "off");
	return SVT_PASS;
}
