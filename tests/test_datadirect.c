// SPDX-License-Identifier: MIT
/*
 * The data-direct DMA device (seed 003), through <softverbs/softverbs_dv.h>:
 *   - discovery: the path names a directory with the device's identity;
 *     ENOSPC for a short buffer; ENODEV once the CLI disables it, and the
 *     directory is gone; back after enabling;
 *   - the access flag: accepted with the device, ENODEV without it,
 *     EOPNOTSUPP for an unaligned IOVA, EINVAL for unknown bits;
 *   - data-direct MRs carry traffic (8 MiB WRITE/READ, checksums), as
 *     source and as destination, and every byte of it goes over the
 *     device (its dd_bytes counter), in 1 MiB steps;
 *   - revoke during traffic: a second process streams RDMA WRITEs into a
 *     data-direct MR while the device is disabled; its next completion is
 *     a remote access error. Afterwards the MR fails as a local source
 *     (local protection error) and as a target (remote access error), even
 *     with the device back; other MRs work, dereg works, the daemon lives.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_dmabuf.h"

#define BIG (8 << 20)
#define STREAM (256 * 1024)
#define DD SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT

static struct svt_daemon d;

static void read_file(const char *dir, const char *name, char *buf, size_t len)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "r");
	SVT_CHECK(f && fgets(buf, (int)len, f));
	fclose(f);
}

/* The "dev list" line's value of key (e.g. "datadirect="), or "". */
static const char *dev_list_value(const char *key, char *buf, size_t len)
{
	char cmd[512], *p;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/softverbs dev list", SVT_BINDIR);
	f = popen(cmd, "r");
	SVT_CHECK(f && fgets(buf, (int)len, f));
	pclose(f);
	p = strstr(buf, key);
	if (!p)
		return "";
	p += strlen(key);
	p[strcspn(p, " \n")] = '\0';
	return p;
}

static void check_present(struct ibv_context *ctx)
{
	char path[512], val[128];
	struct stat st;

	SVT_CHECK(
	    !softverbsdv_get_data_direct_sysfs_path(ctx, path, sizeof(path)));
	SVT_CHECK(!stat(path, &st) && S_ISDIR(st.st_mode));
	read_file(path, "ibdev", val, sizeof(val));
	SVT_CHECK(!strcmp(val, "softverbs0\n"));
	read_file(path, "vuid", val, sizeof(val));
	SVT_CHECK(strlen(val) > 8);
	SVT_CHECK(softverbsdv_get_data_direct_sysfs_path(ctx, path, 4) ==
		  ENOSPC);
}

static void test_discovery_and_flag(struct ibv_context *ctx, struct ibv_pd *pd)
{
	char path[512];
	struct stat st;
	int fd = svt_memfd(BIG);
	struct ibv_mr *mr;

	check_present(ctx);
	SVT_CHECK(
	    !softverbsdv_get_data_direct_sysfs_path(ctx, path, sizeof(path)));
	mr = softverbsdv_reg_dmabuf_mr(pd, 0, BIG, 0, fd, SVT_ACCESS_ALL, DD);
	SVT_CHECK(mr && !ibv_dereg_mr(mr));
	errno = 0;
	SVT_CHECK(!softverbsdv_reg_dmabuf_mr(pd, 0x10, 4096, 0x1010, fd,
					     SVT_ACCESS_ALL, DD) &&
		  errno == EOPNOTSUPP);
	SVT_CHECK(!softverbsdv_reg_dmabuf_mr(pd, 0, 4096, 0, fd, SVT_ACCESS_ALL,
					     1 << 7) &&
		  errno == EINVAL);
	/* Absent: discovery and the flag say ENODEV; plain MRs still work. */
	SVT_CHECK(svt_datadirect(false) == 0);
	SVT_CHECK(softverbsdv_get_data_direct_sysfs_path(
		      ctx, path, sizeof(path)) == ENODEV);
	SVT_CHECK(stat(path, &st) && errno == ENOENT);
	SVT_CHECK(
	    !strcmp(dev_list_value("datadirect=", path, sizeof(path)), "off"));
	SVT_CHECK(!softverbsdv_reg_dmabuf_mr(pd, 0, 4096, 0, fd, SVT_ACCESS_ALL,
					     DD) &&
		  errno == ENODEV);
	mr = softverbsdv_reg_dmabuf_mr(pd, 0, 4096, 0, fd, SVT_ACCESS_ALL, 0);
	SVT_CHECK(mr && !ibv_dereg_mr(mr));
	SVT_CHECK(svt_datadirect(true) == 0);
	check_present(ctx);
	SVT_CHECK(
	    !strcmp(dev_list_value("datadirect=", path, sizeof(path)), "on"));
	close(fd);
	printf("discovery present/absent, access flag accepted/refused\n");
}

/* The data-direct device's copies and bytes so far ("dev list"). */
static void dd_counts(long *copies, long *bytes)
{
	char line[512];

	*copies = atol(dev_list_value("dd_copies=", line, sizeof(line)));
	*bytes = atol(dev_list_value("dd_bytes=", line, sizeof(line)));
}

/*
 * Every byte of a transfer with a data-direct region on either side goes
 * over the device, in steps of 1 MiB (the engine's step, and the
 * device's burst where the region drives the step: eng_dd.c): an 8 MiB
 * WRITE plus an 8 MiB READ are 16 MiB in at most 16 copies, where the
 * former 64 KiB steps made 256. Checked for the region as the source
 * (dd_bursts) and as the destination (test_traffic), with the library's
 * direct path on or off (data-direct regions are never its business).
 */
static void dd_check(const char *role, long c0, long b0)
{
	long c1, b1;

	dd_counts(&c1, &b1);
	printf("data-direct %s: 8 MiB WRITE + READ, %ld MiB in %ld copies "
	       "over the device\n",
	       role, (b1 - b0) >> 20, c1 - c0);
	SVT_CHECK(b1 - b0 == 2L * BIG);
	SVT_CHECK(c1 - c0 >= 2 && c1 - c0 <= 2 * (BIG >> 20));
}

static void dd_bursts(struct svt_ep *a, const struct svt_buf *dd,
		      const struct svt_buf *plain)
{
	struct ibv_sge s = {dd->iova, BIG, dd->mr->lkey};
	long c0, b0;

	dd_counts(&c0, &b0);
	svt_fill(dd->map, BIG, 5);
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, plain->iova,
			   plain->mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(dd->map, plain->map, BIG));
	memset(plain->map, 0, BIG);
	s = (struct ibv_sge){plain->iova, BIG, plain->mr->lkey};
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_READ, &s, dd->iova, dd->mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(dd->map, plain->map, BIG));
	dd_check("source", c0, b0);
}

/* 8 MiB each way between a data-direct MR and a plain dma-buf MR. */
static void test_traffic(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct svt_buf dd, plain;
	struct svt_ep a, b;
	struct ibv_sge s;
	long c0, b0;

	SVT_CHECK(svt_buf_reg(&dd, pd, svt_memfd(BIG), BIG, 0x40000000, DD));
	SVT_CHECK(svt_buf_reg(&plain, pd, svt_memfd(BIG), BIG, 0x80000000, 0));
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	dd_counts(&c0, &b0);
	svt_fill(plain.map, BIG, 9);
	s = (struct ibv_sge){plain.iova, BIG, plain.mr->lkey};
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, dd.iova, dd.mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(dd.map, plain.map, BIG));
	svt_fill(dd.map, BIG, 4);
	s = (struct ibv_sge){dd.iova, BIG, dd.mr->lkey};
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_READ, &s, plain.iova, plain.mr->rkey,
			   0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(dd.map, plain.map, BIG));
	/* Both went over the data-direct device, not the default path. */
	dd_check("destination", c0, b0);
	dd_bursts(&a, &dd, &plain);
	SVT_CHECK(svt_buf_free(&dd) && svt_buf_free(&plain));
	printf("data-direct MR: 8 MiB WRITE and READ, contents match\n");
}

struct target {
	uint32_t qpn, rkey;
	uint64_t iova;
};

/*
 * The streaming process: WRITE into the target until a completion fails;
 * 'S' to the parent after a few successes; its status back at the end.
 */
static int streamer_main(int sock)
{
	struct svt_buf src;
	struct target t, me;
	struct svt_ep e;
	struct ibv_sge s;
	uint32_t status = IBV_WC_SUCCESS;
	char go;
	long i;

	svt_ep_open(&e);
	SVT_CHECK(
	    svt_buf_reg(&src, e.pd, svt_memfd(STREAM), STREAM, 0x1000000, 0));
	me.qpn = e.qp->qp_num;
	svt_xchg(sock, NULL, &t, sizeof(t));
	svt_xchg(sock, &me, NULL, sizeof(me));
	svt_ep_connect(&e, t.qpn);
	svt_xchg(sock, NULL, &go, 1);
	s = (struct ibv_sge){src.iova, STREAM, src.mr->lkey};
	for (i = 0; i < 200000 && status == IBV_WC_SUCCESS; i++) {
		status =
		    svt_rdma(&e, IBV_WR_RDMA_WRITE, &s, t.iova, t.rkey, 0, 0);
		if (i == 8)
			svt_xchg(sock, "S", NULL, 1);
	}
	svt_xchg(sock, &status, NULL, sizeof(status));
	return i > 8 ? SVT_PASS : SVT_FAIL;
}

/* After the revoke: the right error on each side; the rest works. */
static void check_revoked(struct ibv_context *ctx, struct ibv_pd *pd,
			  struct svt_buf *dd)
{
	struct svt_buf o;
	struct ibv_sge s;

	SVT_CHECK(svt_buf_reg(&o, pd, svt_memfd(STREAM), STREAM, 0x9000000, 0));
	s = (struct ibv_sge){dd->iova, 4096, dd->mr->lkey};
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, o.iova,
			       o.mr->rkey) == IBV_WC_LOC_PROT_ERR);
	s = (struct ibv_sge){o.iova, 4096, o.mr->lkey};
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_READ, s, dd->iova,
			       dd->mr->rkey) == IBV_WC_REM_ACCESS_ERR);
	SVT_CHECK(svt_datadirect(true) == 0); /* a new device... */
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, dd->iova,
			       dd->mr->rkey) ==
		  IBV_WC_REM_ACCESS_ERR); /* ...same */
	svt_fill(o.map, 4096, 1);
	SVT_CHECK(svt_one_rdma(ctx, pd, IBV_WR_RDMA_WRITE, s, o.iova + 8192,
			       o.mr->rkey) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(o.map, o.map + 8192, 4096));
	SVT_CHECK(!ibv_dereg_mr(dd->mr) && !ibv_dereg_mr(o.mr));
}

static void test_revoke_during_traffic(struct ibv_context *ctx,
				       struct ibv_pd *pd, struct svt_ep *ep)
{
	struct target t, peer;
	struct svt_buf dd;
	int sv[2], st;
	uint32_t status;
	char s;
	pid_t pid;

	SVT_CHECK(
	    svt_buf_reg(&dd, pd, svt_memfd(STREAM), STREAM, 0x7000000, DD));
	SVT_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid) {
		close(sv[0]);
		_exit(streamer_main(sv[1]));
	}
	close(sv[1]);
	t = (struct target){ep->qp->qp_num, dd.mr->rkey, dd.iova};
	svt_xchg(sv[0], &t, &peer, sizeof(t));
	svt_ep_connect(ep, peer.qpn);
	svt_xchg(sv[0], "G", &s, 1); /* go; wait until it streams */
	SVT_CHECK(s == 'S');
	SVT_CHECK(svt_datadirect(false) == 0);
	svt_xchg(sv[0], NULL, &status, sizeof(status));
	SVT_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  !WEXITSTATUS(st));
	SVT_CHECK(status == IBV_WC_REM_ACCESS_ERR);
	svt_daemon_alive(&d);
	check_revoked(ctx, pd, &dd);
	svt_daemon_alive(&d);
	printf("revoke during traffic: remote access error for the streamer, "
	       "local protection error as a source, others unaffected\n");
}

int main(void)
{
	struct svt_ep e;

	if (svt_daemon_start(&d))
		return SVT_FAIL;
	svt_ep_open(&e);
	test_discovery_and_flag(e.ctx, e.pd);
	test_traffic(e.ctx, e.pd);
	test_revoke_during_traffic(e.ctx, e.pd, &e);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
