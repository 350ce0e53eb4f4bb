// SPDX-License-Identifier: MIT
/*
 * Memory regions over 2 MiB huge pages (issues 11 and 19):
 *
 *   - MAP_HUGETLB private anonymous memory: a VA region (RDMA WRITE, READ
 *     and an atomic, checksummed), and the same as an ODP region;
 *   - MAP_HUGETLB | MAP_SHARED anonymous memory: traffic as above;
 *   - a hugetlbfs file (memfd_create(MFD_HUGETLB)) mapped MAP_SHARED:
 *     registered by a forked registrar that then exits; the region holds
 *     the file (the daemon maps it from the huge page that holds the
 *     offset), so this process reads the registrar's bytes through the
 *     imported MR afterwards;
 *   - ibv_rereg_mr onto another hugetlbfs mapping;
 *   - ibv_reg_dmabuf_mr over a hugetlbfs file at an offset that is not
 *     huge-page aligned.
 *
 * Needs free 2 MiB huge pages (tests/huge.cmake reserves some as root);
 * skips (77) only when the machine has none.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "svtest.h"
#include "svt_mem.h"

#define HUGE (2UL << 20)
#define LEN (2 * HUGE)

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct svt_daemon d;
static uint8_t *vbuf; /* ordinary memory: the other side of each transfer */
static struct ibv_mr *vmr;

static long free_huge_pages(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[128];
	long n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * Free huge pages, at least want of them if root can add them to the pool
 * (the hugepages_reserve fixture does it first; this covers a pool that
 * another program shrank since). The pool only ever grows here.
 */
static long reserve_huge_pages(long want)
{
	long have = free_huge_pages(), total = 0;
	FILE *f;

	if (have >= want || geteuid() != 0)
		return have;
	f = fopen("/proc/sys/vm/nr_hugepages", "r+e");
	if (!f)
		return have;
	if (fscanf(f, "%ld", &total) == 1) {
		rewind(f);
		fprintf(f, "%ld\n", total + want - have);
	}
	fclose(f);
	return free_huge_pages();
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 13) + seed);
}

static uint8_t *huge_anon(int share)
{
	uint8_t *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			  share | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	SVT_CHECK(p != MAP_FAILED);
	return p;
}

static int huge_memfd(void)
{
	int fd = memfd_create("svt-huge", MFD_CLOEXEC | MFD_HUGETLB);

	SVT_CHECK(fd >= 0 && !ftruncate(fd, (off_t)LEN));
	return fd;
}

static uint8_t *huge_map(int fd)
{
	uint8_t *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	SVT_CHECK(p != MAP_FAILED);
	return p;
}

/*
 * Through (addr, rkey/lkey) of a region whose bytes are at p: WRITE a
 * pattern in across the huge page boundary, READ it back to ordinary
 * memory, fetch-and-add on it; each checked.
 */
static void traffic(struct ibv_mr *mr, uint64_t addr, uint8_t *p)
{
	uint64_t off = HUGE - 4096, *v;
	struct ibv_sge s = svt_sge(vbuf, 64 * 1024, vmr->lkey);
	struct svt_ep a, b;

	fill(vbuf, 64 * 1024, (unsigned int)mr->rkey);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s, addr + off, mr->rkey,
			   0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(p + off, vbuf, 64 * 1024));
	s = svt_sge(vbuf + 64 * 1024, 64 * 1024, vmr->lkey);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_READ, &s, addr + off, mr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_sum(vbuf, 64 * 1024) ==
		  svt_sum(vbuf + 64 * 1024, 64 * 1024));
	/* The region as the local side, into the second huge page. */
	s = svt_sge((void *)(uintptr_t)(addr + off), 64 * 1024, mr->lkey);
	SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s,
			   (uintptr_t)vbuf + 128 * 1024, vmr->rkey, 0,
			   0) == IBV_WC_SUCCESS);
	SVT_CHECK(!memcmp(vbuf + 128 * 1024, vbuf, 64 * 1024));
	v = (uint64_t *)(void *)(p + HUGE + 64);
	*v = 40;
	s = svt_sge(vbuf, 8, vmr->lkey);
	SVT_CHECK(svt_rdma(&a, IBV_WR_ATOMIC_FETCH_AND_ADD, &s,
			   addr + HUGE + 64, mr->rkey, 0,
			   2) == IBV_WC_SUCCESS);
	SVT_CHECK(*v == 42 && *(uint64_t *)(void *)vbuf == 40);
}

static void test_anon(int share, unsigned int odp, const char *what)
{
	uint8_t *p = huge_anon(share);
	struct ibv_mr *mr = ibv_reg_mr(pd, p, LEN, SVT_ACCESS_ALL | odp);

	SVT_CHECK(mr);
	traffic(mr, (uintptr_t)p, p);
	SVT_CHECK(!ibv_dereg_mr(mr));
	munmap(p, LEN);
	printf("%s: WRITE, READ, atomic ok\n", what);
}

struct reg_msg {
	uint32_t handle;
	uint64_t addr;
};

/* A forked registrar: its own hugetlbfs file, registered, then gone. */
static void registrar(int wfd)
{
	int fd = huge_memfd();
	uint8_t *p = huge_map(fd);
	struct ibv_mr *mr;
	struct reg_msg m;

	fill(p, LEN, 9);
	mr = ibv_reg_mr(pd, p, LEN, SVT_ACCESS_ALL);
	if (!mr)
		_exit(1);
	m = (struct reg_msg){ mr->handle, (uintptr_t)p };
	_exit(write(wfd, &m, sizeof(m)) == sizeof(m) ? 0 : 1);
}

static void test_file_outlives_registrar(void)
{
	static uint8_t want[LEN];
	struct reg_msg m;
	struct ibv_mr *mr;
	struct svt_ep a, b;
	struct ibv_sge s;
	int pfd[2], st;
	uint64_t off;
	pid_t pid;

	SVT_CHECK(!pipe(pfd));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid)
		registrar(pfd[1]);
	SVT_CHECK(read(pfd[0], &m, sizeof(m)) == sizeof(m));
	SVT_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		  !WEXITSTATUS(st));
	close(pfd[0]);
	close(pfd[1]);
	mr = ibv_import_mr(pd, m.handle);
	SVT_CHECK(mr && mr->length == LEN);
	fill(want, LEN, 9);
	svt_mem_pair(ctx, pd, &a, NULL, &b);
	for (off = 0; off < LEN; off += 256 * 1024) {
		s = svt_sge(vbuf, 256 * 1024, vmr->lkey);
		SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_READ, &s, m.addr + off,
				   mr->rkey, 0, 0) == IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(vbuf, want + off, 256 * 1024));
	}
	SVT_CHECK(!ibv_dereg_mr(mr));
	printf("hugetlbfs file MR: the registrar's bytes read after it "
	       "exited\n");
}

/* rereg onto another hugetlbfs mapping; then it holds that file. */
static void test_rereg(void)
{
	int f1 = huge_memfd(), f2 = huge_memfd();
	uint8_t *p1 = huge_map(f1), *p2 = huge_map(f2);
	struct ibv_mr *mr = ibv_reg_mr(pd, p1, LEN, SVT_ACCESS_ALL);

	SVT_CHECK(mr);
	SVT_CHECK(!ibv_rereg_mr(mr, IBV_REREG_MR_CHANGE_TRANSLATION, NULL, p2,
				LEN, 0));
	traffic(mr, (uintptr_t)p2, p2);
	SVT_CHECK(!ibv_dereg_mr(mr));
	munmap(p1, LEN);
	munmap(p2, LEN);
	close(f1);
	close(f2);
	printf("rereg onto a hugetlbfs mapping: ok\n");
}

/* A dma-buf MR over a hugetlbfs file, at an offset inside a huge page. */
static void test_dmabuf(void)
{
	int fd = huge_memfd();
	uint8_t *p = huge_map(fd);
	uint64_t iova = 0x40000000, off = 4096;
	struct ibv_mr *mr;

	mr = ibv_reg_dmabuf_mr(pd, off, LEN - off, iova + off, fd,
			       SVT_ACCESS_ALL);
	SVT_CHECK(mr);
	/* traffic() works at iova+HUGE-4096 and iova+HUGE+64 of p's file */
	traffic(mr, iova, p);
	SVT_CHECK(!ibv_dereg_mr(mr));
	munmap(p, LEN);
	close(fd);
	printf("dma-buf MR over a hugetlbfs file at offset 4 KiB: ok\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	if (reserve_huge_pages(4) < 4) {
		svt_daemon_stop(&d);
		svt_skip("4 free 2 MiB huge pages (vm.nr_hugepages)");
	}
	pd = ibv_alloc_pd(ctx);
	vbuf = aligned_alloc(4096, 256 * 1024);
	SVT_CHECK(pd && vbuf);
	vmr = ibv_reg_mr(pd, vbuf, 256 * 1024, SVT_ACCESS_ALL);
	SVT_CHECK(vmr);
	test_anon(MAP_PRIVATE, 0, "MAP_HUGETLB private");
	test_anon(MAP_PRIVATE, IBV_ACCESS_ON_DEMAND, "MAP_HUGETLB private, ODP");
	test_anon(MAP_SHARED, 0, "MAP_HUGETLB shared anonymous");
	test_file_outlives_registrar();
	test_rereg();
	test_dmabuf();
	svt_daemon_alive(&d);
	svt_daemon_stop(&d);
	printf("test_huge: ok\n");
	return SVT_PASS;
}
