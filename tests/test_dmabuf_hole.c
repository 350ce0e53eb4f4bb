// SPDX-License-Identifier: MIT
/*
 * A hole punched (fallocate(FALLOC_FL_PUNCH_HOLE)) in the memfd under a
 * registered dma-buf MR, plain and data-direct (docs/dma-paths.md,
 * "Revoke"). The kernel does not revoke for it: the exporter (udmabuf)
 * holds the memfd's pages it pinned at creation, shmem drops them from the
 * file only, and no move_notify reaches the importer, so the MR keeps
 * working. So does softverbs' MR -- it is not revoked, no work request
 * fails, the daemon never faults -- but the daemon cannot hold pages a
 * file no longer has: its mapping follows the file, as an on-demand-paging
 * MR would. Checked:
 *   - the hole is real (the file's blocks went down; the exporter's
 *     mapping reads zeros there);
 *   - RDMA READ of the whole region succeeds, and what it returns is what
 *     the exporter's mapping shows: the bytes around the hole unchanged,
 *     zeros in the hole;
 *   - RDMA WRITE across the hole succeeds and the exporter sees the bytes
 *     (the file's pages come back), and an atomic on a page punched again
 *     works;
 *   - the region can be deregistered and the daemon is alive.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svtest.h"
#include "svt_mem.h"
#include "svt_dmabuf.h"

#define LEN (4 << 20)
#define HOLE_OFF (1 << 20)
#define HOLE_LEN (1 << 20)
#define DD SOFTVERBSDV_REG_DMABUF_ACCESS_DATA_DIRECT

static long long blocks(int fd)
{
	struct stat st;

	SVT_CHECK(!fstat(fd, &st));
	return (long long)st.st_blocks;
}

static bool zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static void punch_one(struct svt_ep *a, struct ibv_pd *pd, int sv_access)
{
	struct svt_buf t, l;
	struct ibv_sge s;
	long long before;
	uint64_t v = 0;

	SVT_CHECK(svt_buf_reg(&t, pd, svt_memfd(LEN), LEN, 0x10000000,
			      sv_access));
	SVT_CHECK(svt_buf_reg(&l, pd, svt_memfd(LEN), LEN, 0x20000000, 0));
	/* The region's bytes, written through the MR. */
	svt_fill(l.map, LEN, 3);
	s = (struct ibv_sge){ l.iova, LEN, l.mr->lkey };
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, t.iova, t.mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(t.map, l.map, LEN));
	before = blocks(t.fd);
	SVT_CHECK(!fallocate(t.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     HOLE_OFF, HOLE_LEN));
	SVT_CHECK(blocks(t.fd) < before);
	SVT_CHECK(zero(t.map + HOLE_OFF, HOLE_LEN));
	/* READ all of it: no error, the exporter's view. */
	memset(l.map, 0xee, LEN);
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_READ, &s, t.iova, t.mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(l.map, t.map, LEN));
	SVT_CHECK(zero(l.map + HOLE_OFF, HOLE_LEN));
	/* WRITE across the hole: the file has the bytes again. */
	svt_fill(l.map, LEN, 8);
	SVT_CHECK(svt_rdma(a, IBV_WR_RDMA_WRITE, &s, t.iova, t.mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(t.map, l.map, LEN));
	SVT_CHECK(blocks(t.fd) >= before);
	/* An atomic on a page punched again. */
	SVT_CHECK(!fallocate(t.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     HOLE_OFF, 4096));
	s = (struct ibv_sge){ l.iova, 8, l.mr->lkey };
	SVT_CHECK(svt_rdma(a, IBV_WR_ATOMIC_FETCH_AND_ADD, &s,
			   t.iova + HOLE_OFF, t.mr->rkey, 0,
			   7) == IBV_WC_SUCCESS);
	memcpy(&v, l.map, 8);
	SVT_CHECK(v == 0);
	memcpy(&v, t.map + HOLE_OFF, 8);
	SVT_CHECK(v == 7);
	SVT_CHECK(svt_buf_free(&t) && svt_buf_free(&l));
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_context *ctx = svt_start(&d);
	struct ibv_pd *pd = ibv_alloc_pd(ctx);
	struct svt_ep a, b;

	SVT_CHECK(pd);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	punch_one(&a, pd, 0);
	printf("dma-buf MR: hole punched, READ/WRITE/atomic over it work, "
	       "the MR sees the file's pages\n");
	punch_one(&a, pd, DD);
	printf("data-direct MR: the same\n");
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
