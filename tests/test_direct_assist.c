// SPDX-License-Identifier: MIT
/*
 * Issue 17, peer assist (lib/providers/softverbs/direct_assist.c): the
 * target's library copies part of a large direct WRITE or READ. Run with
 * SOFTVERBS_DIRECT_ASSIST=3, where the initiator leaves every chunk to
 * the target's helper, so a helper that copies wrong bytes, or none,
 * fails the checks:
 *   - the target runs an "sv-assist" thread once its connected QP has
 *     its receive ring (asked for at its first receive);
 *   - WRITE then READ back at sizes around the threshold (256 KiB) and
 *     up to 8 MiB, to odd remote offsets, byte for byte;
 *   - 1 GiB of 8 MiB WRITEs: the helper thread used CPU time for them
 *     (at least 3 ticks: copying, not only its 200 us of polling);
 *   - the target deregisters while 1 MiB WRITEs stream: REM_ACCESS_ERR,
 *     and no byte lands after ibv_dereg_mr returned (the helper copies
 *     inside the initiator's busy record).
 * "noassist" (SOFTVERBS_DIRECT_ASSIST=0): no helper thread, same bytes;
 * "off" (SOFTVERBS_DIRECT=0): the daemon's path, same bytes.
 */
#include <infiniband/verbs.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (16 << 20)
#define BACK (8 << 20) /* where READs land in our buffer */
#define MiB (1 << 20)
#define BULK_MSG (8 << 20)
#define BULK_N 128 /* 1 GiB */

static uint8_t pat(size_t i, uint8_t seed)
{
	return (uint8_t)(seed + i * 13 + (i >> 12));
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = pat(i, seed);
}

/* The CPU ticks of pid's thread named name; -1: no such thread. */
static long thread_ticks(pid_t pid, const char *name)
{
	char path[160], buf[512], comm[32], *p;
	unsigned long ut, st;
	struct dirent *e;
	long ticks = -1;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	SVT_CHECK(dir);
	while (ticks < 0 && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid,
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f) ||
		    strncmp(comm, name, strlen(name))) {
			fclose(f);
			continue;
		}
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid,
			 e->d_name);
		f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f) &&
		    (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				  "%lu %lu",
			   &ut, &st) == 2)
			ticks = (long)(ut + st);
		if (f)
			fclose(f);
	}
	closedir(dir);
	return ticks;
}

/* One signaled WR of op: our buffer at loff, len bytes, to roff. */
static void post_one(struct svt_dx *x, enum ibv_wr_opcode op, uint64_t loff,
		     uint32_t len, uint64_t roff)
{
	svt_dx_post(x, op, loff, roff, len, true);
	SVT_CHECK(svt_dx_one(x).status == IBV_WC_SUCCESS);
}

/* WRITE len bytes to an odd offset, READ them back, compare. */
static void round_trip(struct svt_dx *x, uint32_t len, uint8_t seed)
{
	uint64_t roff = 4096 * seed + 5;

	fill(x->buf, len, seed);
	memset(x->buf + BACK, 0, len);
	post_one(x, IBV_WR_RDMA_WRITE, 0, len, roff);
	post_one(x, IBV_WR_RDMA_READ, BACK, len, roff);
	SVT_CHECK(!memcmp(x->buf, x->buf + BACK, len));
}

/* 1 GiB of 8 MiB WRITEs, the last one read back. */
static void bulk(struct svt_dx *x)
{
	int i;

	fill(x->buf, BULK_MSG, 77);
	for (i = 0; i < BULK_N; i++)
		post_one(x, IBV_WR_RDMA_WRITE, 0, BULK_MSG, 0);
	memset(x->buf + BACK, 0, BULK_MSG);
	post_one(x, IBV_WR_RDMA_READ, BACK, BULK_MSG, 0);
	SVT_CHECK(!memcmp(x->buf, x->buf + BACK, BULK_MSG));
}

static void target(struct svt_dx *x)
{
	struct ibv_sge s = { 0, 64, 0 };
	struct ibv_recv_wr r = { .wr_id = 7, .sg_list = &s, .num_sge = 1 },
			   *bad;

	svt_dx_target_begin(x, LEN);
	/* In RTS, the library asks for its receive ring at the first
	 * receive (a QP left in RTR asks for it after a few ms). */
	s.addr = (uintptr_t)x->buf + LEN - 64;
	s.lkey = x->mr->lkey;
	SVT_CHECK(!ibv_post_recv(x->ep.qp, &r, &bad));
	svt_dx_dereg_midstream(x, LEN);
	svt_dx_target_end(x);
}

/* The target's helper, once its ring is registered (in the background). */
static long wait_helper(pid_t pid)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	long t = -1;
	int i;

	for (i = 0; i < 1000 && (t = thread_ticks(pid, "sv-assist")) < 0; i++)
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL); /* its ring is on its list right after */
	return t;
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 256 * 1024 - 1, 256 * 1024,
					  MiB + 4095, 3 * MiB + 7,
					  8 * MiB - 4096 };
	bool assist = !(argc > 1 && !strcmp(argv[1], "noassist"));
	struct svt_daemon d;
	struct svt_dx x = {};
	long t0 = -1, t1;
	unsigned int i;
	bool on;

	setenv("SOFTVERBS_DIRECT_ASSIST", assist ? "3" : "0", 1);
	on = svt_dx_begin(argc, argv, &d, &x, target, LEN);
	if (on && assist) {
		t0 = wait_helper(x.child);
		SVT_CHECK(t0 >= 0);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		round_trip(&x, sizes[i], (uint8_t)(i + 1));
	bulk(&x);
	t1 = thread_ticks(x.child, "sv-assist");
	printf("target's sv-assist thread: %ld -> %ld ticks\n", t0, t1);
	if (on && assist)
		SVT_CHECK(t1 - t0 >= 3);
	else
		SVT_CHECK(t1 < 0);
	svt_dx_stream_until_dereg(&x);
	svt_dx_end(&x);
	svt_daemon_stop(&d);
	printf("direct assist (%s, %s): PASS\n", on ? "on" : "off",
	       assist ? "assist" : "no assist");
	return SVT_PASS;
}
