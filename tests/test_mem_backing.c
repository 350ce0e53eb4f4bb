// SPDX-License-Identifier: MIT
/*
 * What backs a VA memory region after its mapping changes (issues 11, 13,
 * 19; docs/sharing.md, docs/odp.md):
 *
 *   - a plain MR over a shared file mapping holds the file (the daemon
 *     maps it, as a kernel MR pins its pages): after the process unmaps
 *     the range, RDMA WRITE still lands in the file;
 *   - ibv_rereg_mr to a new address in a shared mapping finds that file
 *     too (the same test after the rereg);
 *   - an ON_DEMAND MR follows the page tables, as the kernel's ODP: after
 *     munmap the access fails with a remote access error, and a new
 *     mapping at the same address is what the next access reaches;
 *   - a dma-buf MR is not revoked when its exporter unmaps and closes
 *     the memfd (only truncation or the DMA device going away revoke);
 *   - shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS) has no path:
 *     its file is reachable only through /proc/self/map_files, which the
 *     kernel opens for CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) only. As
 *     root the region holds the memory; without that privilege it is a
 *     VA region and an munmap takes the memory away.
 */
#include <sys/mman.h>

#include "svtest.h"
#include "svt_mem.h"

#define LEN (256 * 1024)

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct svt_daemon d;
static uint8_t *src;
static struct ibv_mr *smr;

static uint8_t *map_fd(int fd, void *at)
{
	uint8_t *p = mmap(at, LEN, PROT_READ | PROT_WRITE,
			  MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);

	SVT_CHECK(p != MAP_FAILED);
	return p;
}

static int new_memfd(void)
{
	int fd = memfd_create("svt-backing", MFD_CLOEXEC);

	SVT_CHECK(fd >= 0 && !ftruncate(fd, LEN));
	return fd;
}

/*
 * Unmap [p, p + LEN) for the tests that expect nothing there afterwards:
 * replaced in one step by a mapping of an empty file, which every access
 * faults on (SIGBUS; EIO through /proc/PID/mem, even with FOLL_FORCE). A
 * bare munmap would leave a hole that the next mmap of this process (a
 * CQ's ring, the sanitizer's allocator) may fill.
 */
static void unmap_guarded(uint8_t *p)
{
	int fd = memfd_create("svt-hole", MFD_CLOEXEC);

	SVT_CHECK(fd >= 0);
	SVT_CHECK(mmap(p, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		       fd, 0) == p);
	close(fd);
}

/* RDMA WRITE of LEN bytes of pattern seed from src to (addr, rkey). */
static enum ibv_wc_status write_to(uint64_t addr, uint32_t rkey, int seed)
{
	struct ibv_sge s = svt_sge(src, LEN, smr->lkey);
	struct svt_ep a, b;

	memset(src, seed, LEN);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	return svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, addr, rkey, 0, 0);
}

/* Does the file hold seed everywhere (read with pread, not a mapping)? */
static bool file_has(int fd, int seed)
{
	static uint8_t buf[LEN];
	size_t i;

	SVT_CHECK(pread(fd, buf, LEN, 0) == LEN);
	for (i = 0; i < LEN; i++)
		if (buf[i] != seed)
			return false;
	return true;
}

/* A plain MR, then a rereg to another shared mapping: both hold a file. */
static void test_plain_and_rereg(void)
{
	int f1 = new_memfd(), f2 = new_memfd();
	uint8_t *p1 = map_fd(f1, NULL), *p2 = map_fd(f2, NULL);
	struct ibv_mr *mr = ibv_reg_mr(pd, p1, LEN, SVT_ACCESS_ALL);

	SVT_CHECK(mr);
	SVT_CHECK(!munmap(p1, LEN));
	SVT_CHECK(write_to((uintptr_t)p1, mr->rkey, 0x11) == IBV_WC_SUCCESS);
	SVT_CHECK(file_has(f1, 0x11));
	SVT_CHECK(!ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, p2,
				LEN, 0));
	SVT_CHECK(!munmap(p2, LEN));
	SVT_CHECK(write_to((uintptr_t)p2, mr->rkey, 0x22) == IBV_WC_SUCCESS);
	SVT_CHECK(file_has(f2, 0x22) && file_has(f1, 0x11));
	SVT_CHECK(!ibv_dereg_mr(mr));
	close(f1);
	close(f2);
	printf("plain MR and rereg'd MR keep their file after munmap\n");
}

#define ODP_ACCESS (SVT_ACCESS_ALL | IBV_ACCESS_ON_DEMAND)

/* An ODP MR sees what is mapped at the time of each access. */
static void test_odp(void)
{
	int f1 = new_memfd(), f2 = new_memfd();
	uint8_t *p = map_fd(f1, NULL);
	struct ibv_mr *mr = ibv_reg_mr(pd, p, LEN, ODP_ACCESS);

	SVT_CHECK(mr);
	SVT_CHECK(write_to((uintptr_t)p, mr->rkey, 0x33) == IBV_WC_SUCCESS);
	SVT_CHECK(file_has(f1, 0x33));
	unmap_guarded(p);
	SVT_CHECK(write_to((uintptr_t)p, mr->rkey, 0x44) ==
		  IBV_WC_REM_ACCESS_ERR);
	SVT_CHECK(file_has(f1, 0x33));
	SVT_CHECK(map_fd(f2, p) == p); /* another file at the same address */
	SVT_CHECK(write_to((uintptr_t)p, mr->rkey, 0x55) == IBV_WC_SUCCESS);
	SVT_CHECK(file_has(f2, 0x55) && file_has(f1, 0x33));
	SVT_CHECK(!ibv_dereg_mr(mr));
	munmap(p, LEN);
	close(f1);
	close(f2);
	printf("ODP MR follows the page tables: munmap fails it, a new "
	       "mapping serves it\n");
}

/*
 * A dma-buf MR whose exporter unmaps and closes its memfd: not revoked
 * (a dma-buf is revoked by its exporter's move/revoke, never by a CPU
 * mapping going away; docs/dma-paths.md). WRITE, then READ it back.
 */
static void test_dmabuf_unmapped(void)
{
	int fd = new_memfd();
	uint8_t *p = map_fd(fd, NULL);
	struct ibv_mr *mr = ibv_reg_dmabuf_mr(pd, 0, LEN, 0x200000, fd,
					      SVT_ACCESS_ALL);
	struct ibv_sge s = svt_sge(src, LEN, smr->lkey);
	struct svt_ep a, b;

	SVT_CHECK(mr);
	SVT_CHECK(!munmap(p, LEN));
	close(fd);
	SVT_CHECK(write_to(0x200000, mr->rkey, 0x77) == IBV_WC_SUCCESS);
	memset(src, 0, LEN);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_READ, &s, 0x200000, mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(src[0] == 0x77 && src[LEN - 1] == 0x77);
	SVT_CHECK(!ibv_dereg_mr(mr));
	printf("dma-buf MR: the exporter's munmap and close revoke nothing\n");
}

/* MAP_SHARED | MAP_ANONYMOUS: held with map_files' privilege only. */
static void test_shared_anon(void)
{
	uint8_t *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[64];
	struct ibv_mr *mr;
	bool priv;
	int fd;

	SVT_CHECK(p != MAP_FAILED);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)(uintptr_t)p,
		 (unsigned long)(uintptr_t)(p + LEN));
	fd = open(path, O_RDWR | O_CLOEXEC);
	priv = fd >= 0;
	mr = ibv_reg_mr(pd, p, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	unmap_guarded(p);
	if (priv) {
		SVT_CHECK(write_to((uintptr_t)p, mr->rkey, 0x66) ==
			  IBV_WC_SUCCESS);
		SVT_CHECK(file_has(fd, 0x66));
		close(fd);
	} else {
		SVT_CHECK(write_to((uintptr_t)p, mr->rkey, 0x66) ==
			  IBV_WC_REM_ACCESS_ERR);
	}
	SVT_CHECK(!ibv_dereg_mr(mr));
	munmap(p, LEN);
	printf("shared anonymous memory: %s\n",
	       priv ? "held by the MR (map_files open: privileged)"
		    : "a VA region (no map_files without privilege)");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	src = aligned_alloc(4096, LEN);
	SVT_CHECK(src);
	smr = ibv_reg_mr(pd, src, LEN, SVT_ACCESS_ALL);
	SVT_CHECK(smr);
	test_plain_and_rereg();
	test_odp();
	test_dmabuf_unmapped();
	test_shared_anon();
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	printf("mem backing: ok\n");
	return SVT_PASS;
}
