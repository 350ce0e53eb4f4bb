// SPDX-License-Identifier: MIT
/*
 * Long transfers over the data-direct device, split between the engine
 * thread and the device's worker, with each copy method of a long
 * transfer (daemon/nic/dd_pick.h): "test_dd_split memcpy|stream|auto"
 * starts its daemon with SOFTVERBS_DD_METHOD set that way (auto: the
 * device measures and picks).
 *   - sizes around the split (256 KiB), the engine's 1 MiB steps and the
 *     long-transfer size (4 MiB), and 8 MiB, at odd offsets: WRITE into a
 *     data-direct region and READ out of one; the bytes match and the
 *     bytes beside them stay untouched; the device's counters show long
 *     jobs copied with the method asked for (all streamed, or none);
 *   - revoke during 8 MiB WRITEs split between the two threads: a thread
 *     streams them into a data-direct region, each WRITE with new bytes
 *     in every 64 KiB; the device is disabled; the streamer's WRITE ends
 *     in a remote access error, and the region's bytes never change after
 *     the CLI returned (no late chunk of a worker, no stale access); a
 *     READ of it fails too, other regions work, the daemon lives.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_dmabuf.h"

#define BIG (8 << 20)
#define LEN (BIG + (1 << 20)) /* room for odd offsets and guards */
#define DD SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT
#define STAMP (64 * 1024)

static struct svt_daemon d;
static const char *method;

/* The "dev list" value of key, as a number. */
static long dev_value(const char *key)
{
	char cmd[512], line[1024], *p;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/softverbs dev list", SVT_BINDIR);
	f = popen(cmd, "r");
	SVT_CHECK(f && fgets(line, sizeof(line), f));
	pclose(f);
	p = strstr(line, key);
	SVT_CHECK(p);
	return atol(p + strlen(key));
}

/* One size each way at odd offsets; guards around the landing zone. */
static void one_size(struct svt_ep *a, struct svt_buf *dd, struct svt_buf *pl,
		     uint32_t n, unsigned int seed)
{
	uint64_t doff = 4096 * 3 + 17, poff = 4096 * 5 + 5;
	struct ibv_sge s;

	svt_fill(pl->map, LEN, seed);
	memset(dd->map, 0xee, LEN);
	s = (struct ibv_sge){pl->iova + poff, n, pl->mr->lkey};
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, dd->iova + doff,
			   dd->mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(dd->map + doff, pl->map + poff, n));
	SVT_CHECK(dd->map[doff - 1] == 0xee && dd->map[doff + n] == 0xee);
	memset(pl->map, 0xdd, LEN);
	s = (struct ibv_sge){pl->iova + poff, n, pl->mr->lkey};
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_READ, &s, dd->iova + doff,
			   dd->mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(dd->map + doff, pl->map + poff, n));
	SVT_CHECK(pl->map[poff - 1] == 0xdd && pl->map[poff + n] == 0xdd);
}

static void test_sizes(struct ibv_context *ctx, struct ibv_pd *pd)
{
	static const uint32_t sizes[] = {
	    (256 << 10) - 1,  256 << 10,     (256 << 10) + 1,
	    (1 << 20) - 1,    (1 << 20) + 1, (4 << 20) - 1,
	    (4 << 20) + 4097, BIG - 1,	     BIG};
	long long0 = dev_value(" dd_long="),
	     st0 = dev_value(" dd_long_streamed=");
	long lng, st;
	struct svt_buf dd, pl;
	struct svt_ep a, b;
	unsigned int i, tries;

	SVT_CHECK(svt_buf_reg(&dd, pd, svt_memfd(LEN), LEN, 0x40000000, DD));
	SVT_CHECK(svt_buf_reg(&pl, pd, svt_memfd(LEN), LEN, 0x80000000, 0));
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		one_size(&a, &dd, &pl, sizes[i], i + 1);
	/* A starved worker splits nothing: give the long jobs chances. */
	for (tries = 0; tries < 50 && dev_value(" dd_long=") == long0; tries++)
		one_size(&a, &dd, &pl, BIG, tries);
	lng = dev_value(" dd_long=") - long0;
	st = dev_value(" dd_long_streamed=") - st0;
	printf("%s: sizes around the split and the steps match; %ld long "
	       "jobs, %ld streamed\n",
	       method, lng, st);
	SVT_CHECK(lng > 0);
	if (!strcmp(method, "stream"))
		SVT_CHECK(st == lng);
	if (!strcmp(method, "memcpy"))
		SVT_CHECK(st == 0);
	SVT_CHECK(svt_buf_free(&dd) && svt_buf_free(&pl));
}

struct streamer {
	struct svt_ep a, b;
	struct svt_buf src;
	const struct svt_buf *dst;
	atomic_long done;  /* successful WRITEs */
	atomic_bool ended; /* a WRITE failed, or the loop ran out */
	enum ibv_wc_status status;
};

/* 8 MiB WRITEs, each stamping its number every STAMP bytes, until one fails. */
static void *stream_main(void *arg)
{
	struct streamer *s = arg;
	struct ibv_sge sge = {s->src.iova, BIG, s->src.mr->lkey};
	enum ibv_wc_status st = IBV_WC_SUCCESS;
	long i, off;

	for (i = 1; i < 100000 && st == IBV_WC_SUCCESS; i++) {
		for (off = 0; off < BIG; off += STAMP)
			memcpy(s->src.map + off, &i, sizeof(i));
		st = svt_rdma(&s->a, IBV_WR_RDMA_WRITE, &sge, s->dst->iova,
			      s->dst->mr->rkey, 0, 0);
		if (st == IBV_WC_SUCCESS)
			atomic_fetch_add(&s->done, 1);
	}
	s->status = st;
	atomic_store(&s->ended, true);
	return NULL;
}

static void test_revoke(struct ibv_context *ctx, struct ibv_pd *pd)
{
	static struct streamer s;
	struct svt_buf dd, o;
	struct ibv_sge sge;
	uint8_t *snap = malloc(BIG);
	pthread_t t;
	long splits0 = dev_value(" dd_splits="), n;

	SVT_CHECK(snap);
	SVT_CHECK(svt_buf_reg(&dd, pd, svt_memfd(BIG), BIG, 0x7000000, DD));
	SVT_CHECK(svt_buf_reg(&s.src, pd, svt_memfd(BIG), BIG, 0x1000000, 0));
	svt_fill(s.src.map, BIG, 3);
	s.dst = &dd;
	svt_mem_pair(ctx, pd, &s.a, NULL, &s.b);
	SVT_CHECK(!pthread_create(&t, NULL, stream_main, &s));
	while (atomic_load(&s.done) < 4 && !atomic_load(&s.ended))
		usleep(1000);
	SVT_CHECK(svt_datadirect(false) == 0);
	memcpy(snap, dd.map, BIG); /* what the region holds once revoked */
	SVT_CHECK(!pthread_join(t, NULL));
	n = atomic_load(&s.done);
	printf("%s: revoked after %ld 8 MiB WRITEs (%ld split copies): %s\n",
	       method, n, dev_value(" dd_splits=") - splits0,
	       ibv_wc_status_str(s.status));
	SVT_CHECK(n >= 4 && s.status == IBV_WC_REM_ACCESS_ERR);
	usleep(20000);
	SVT_CHECK(!memcmp(snap, dd.map, BIG)); /* no late write */
	svt_daemon_alive(&d);
	SVT_CHECK(
	    svt_buf_reg(&o, pd, svt_memfd(1 << 20), 1 << 20, 0x9000000, 0));
	sge = (struct ibv_sge){o.iova, 1 << 20, o.mr->lkey};
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_READ, sge, dd.iova,
			       dd.mr->rkey) == IBV_WC_REM_ACCESS_ERR);
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_READ, sge, s.src.iova,
			       s.src.mr->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(o.map, s.src.map, 1 << 20));
	SVT_CHECK(!ibv_dereg_mr(dd.mr) && !ibv_dereg_mr(o.mr) &&
		  !ibv_dereg_mr(s.src.mr));
	SVT_CHECK(svt_datadirect(true) == 0);
	svt_daemon_alive(&d);
	free(snap);
}

int main(int argc, char **argv)
{
	struct svt_ep e;

	method = argc > 1 ? argv[1] : "auto";
	if (strcmp(method, "auto"))
		setenv("SOFTVERBS_DD_METHOD", method, 1);
	else
		unsetenv("SOFTVERBS_DD_METHOD");
	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&e);
	test_sizes(e.ctx, e.pd);
	test_revoke(e.ctx, e.pd);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
