// SPDX-License-Identifier: MIT
/*
 * The data-direct DMA engine (daemon/nic/dd.c) on its own, linked with the
 * daemon core: copies of every size class (below the split, split, split
 * with streaming stores, a transfer in 1 MiB steps end to end) at odd
 * offsets land exactly, overlapping ranges
 * keep memmove's meaning, the worker really takes part (it moved bytes),
 * and a source truncated while jobs run fails them with -EFAULT on
 * whichever thread touched the hole, revokes the mapping, and leaves the
 * process alive; a stopped engine still copies (on the caller).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svd.h"
#include "svd_dd.h"
#include "svd_mem.h"

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
				#c);                                       \
			exit(1);                                           \
		}                                                          \
	} while (0)

#define LEN (10 << 20)

static struct svd_umem *umem_new(size_t len, int *fdp)
{
	int fd = memfd_create("unit-dd", MFD_CLOEXEC);
	struct svd_umem *u;

	CHECK(fd >= 0 && !ftruncate(fd, (off_t)len));
	u = svd_umem_get_mapped(fd, 0, len);
	CHECK(!svd_is_err(u));
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return u;
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed + (i >> 16));
}

static void test_sizes(struct svd_dd_dma *d)
{
	static const size_t sizes[] = {1,	4095,		65536,	300001,
				       1 << 20, (4 << 20) + 77, 9 << 20};
	struct svd_umem *a = umem_new(LEN, NULL), *b = umem_new(LEN, NULL);
	uint8_t *sa = a->map, *sb = b->map;
	size_t i;

	fill(sa, LEN, 1);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], so = 3 + i * 1000, doff = 17 + i * 333;

		memset(sb, 0, LEN);
		CHECK(!svd_dd_copy(d, b, doff, a, so, n));
		CHECK(!memcmp(sb + doff, sa + so, n));
		CHECK(sb[doff - 1] == 0 && sb[doff + n] == 0);
	}
	/* Out of range: nothing is copied. */
	CHECK(svd_mem_copy(b, LEN - 10, a, 0, 11) == -EFAULT);
	/* Overlap within one mapping: memmove's result. */
	fill(sa, LEN, 5);
	memcpy(sb, sa, LEN);
	memmove(sb + 4096, sb, 8 << 20);
	CHECK(!svd_dd_copy(d, a, 4096, a, 0, 8 << 20));
	CHECK(!memcmp(sa, sb, LEN));
	svd_umem_release(a);
	svd_umem_release(b);
}

/*
 * A transfer in 1 MiB steps end to end, as the engine moves an 8 MiB
 * WRITE: from the second step on each continues the previous one, so the
 * device copies with streaming stores (and its worker in real time); the
 * bytes land exactly, odd offsets and a short last step included.
 */
static void test_steps(struct svd_dd_dma *d)
{
	struct svd_umem *a = umem_new(LEN, NULL), *b = umem_new(LEN, NULL);
	uint8_t *sa = a->map, *sb = b->map;
	uint64_t off = 0, n = (8 << 20) + 4097, step;

	fill(sa, LEN, 7);
	memset(sb, 0, LEN);
	while (off < n) {
		step = n - off < (1 << 20) ? n - off : 1 << 20;
		CHECK(!svd_dd_copy(d, b, 33 + off, a, 5 + off, step));
		off += step;
	}
	CHECK(!memcmp(sb + 33, sa + 5, n) && sb[32] == 0 && sb[33 + n] == 0);
	svd_umem_release(a);
	svd_umem_release(b);
}

struct copier {
	struct svd_dd_dma *d;
	struct svd_umem *dst, *src;
	int first_err;
	long copies;
};

static void *copy_loop(void *arg)
{
	struct copier *c = arg;
	int ret = 0;

	while (!ret && c->copies < 100000) {
		ret = svd_dd_copy(c->d, c->dst, 0, c->src, 0, 8 << 20);
		c->copies++;
	}
	c->first_err = ret;
	return NULL;
}

/* The source file shrinks under running jobs. */
static void test_truncate(struct svd_dd_dma *d)
{
	struct copier c = {.d = d};
	pthread_t t;
	int fd;

	c.dst = umem_new(LEN, NULL);
	c.src = umem_new(LEN, &fd);
	memset(c.dst->map, 1, LEN); /* fault the pages in first */
	memset(c.src->map, 2, LEN);
	CHECK(!pthread_create(&t, NULL, copy_loop, &c));
	usleep(20000);
	CHECK(!ftruncate(fd, 4096));
	CHECK(!pthread_join(t, NULL));
	CHECK(c.first_err == -EFAULT);
	CHECK(atomic_load(&c.src->revoked) && !atomic_load(&c.dst->revoked));
	printf("truncated under %ld jobs: -EFAULT, source revoked\n", c.copies);
	close(fd);
	svd_umem_release(c.dst);
	svd_umem_release(c.src);
}

int main(void)
{
	struct svd_dd_dma *d = svd_dd_dma_new();
	struct svd_dd_stats st;
	int i;

	svd_mem_guard_init();
	CHECK(d && !svd_dd_dma_start(d));
	test_sizes(d);
	test_steps(d);
	svd_dd_dma_stats(d, &st);
	/* The worker may be starved on a loaded machine: give it chances. */
	for (i = 0; i < 50 && !st.worker_bytes; i++) {
		test_sizes(d);
		svd_dd_dma_stats(d, &st);
	}
	CHECK(st.splits > 0 && st.worker_bytes > 0);
	printf("split copies %llu, worker moved %llu bytes\n",
	       (unsigned long long)st.splits,
	       (unsigned long long)st.worker_bytes);
	test_truncate(d);
	svd_dd_dma_stop(d);
	test_sizes(d); /* no worker: the caller copies alone */
	svd_dd_dma_free(d);
	puts("unit_dd: ok");
	return 0;
}
