// SPDX-License-Identifier: MIT
/*
 * The data-direct DMA engine (daemon/nic/dd.c) on its own, linked with the
 * daemon core: copies of every size class (below the split, split, split
 * with streaming stores, a transfer in 1 MiB steps end to end) at odd
 * offsets land exactly, overlapping ranges
 * keep memmove's meaning, the worker really takes part (it moved bytes),
 * and a source truncated while jobs run fails them with -EFAULT on
 * whichever thread touched the hole, revokes the mapping, and leaves the
 * process alive; a stopped engine still copies (on the caller). The
 * measured choice of a long transfer's copy method (dd_pick.c) keeps the
 * faster method, tries the other, follows a change, ignores outliers;
 * the steps land exactly with either method fixed (SOFTVERBS_DD_METHOD).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dd_pick.h"
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

/*
 * Feed n jobs of 1 MiB whose cost depends on the method the picker gives;
 * every outlier-th job (0: none) of the memcpy method costs 100 times more.
 * Returns how many of them streamed.
 */
static int feed(struct dd_pick *p, int n, uint64_t memcpy_ns,
		uint64_t stream_ns, int outlier)
{
	int i, streamed = 0;
	uint64_t ns;

	for (i = 0; i < n; i++) {
		bool st = dd_pick_stream(p);

		ns = st ? stream_ns : memcpy_ns;
		if (!st && outlier && i % outlier == 0)
			ns *= 100;
		streamed += st;
		dd_pick_note(p, ns, 1 << 20);
	}
	return streamed;
}

#define PHASE (DD_PICK_SETTLE + DD_PICK_COUNT)

static void test_pick(void)
{
	struct dd_pick p;
	int s;

	unsetenv("SOFTVERBS_DD_METHOD");
	dd_pick_init(&p);
	CHECK(!dd_pick_stream(&p)); /* memcpy first */
	/* One kept phase, then a try of streaming, which is faster here. */
	CHECK(feed(&p, PHASE, 200, 100, 0) == 0);
	CHECK(dd_pick_stream(&p) && p.trying);
	CHECK(feed(&p, PHASE, 200, 100, 0) == PHASE);
	CHECK(dd_pick_stream(&p) && !p.trying && p.switches == 1);
	/* Kept for DD_PICK_KEEP phases; a try of memcpy, clearly worse,
	 * stops after DD_PICK_ABORT counted jobs. */
	s = feed(&p, DD_PICK_KEEP * PHASE, 200, 100, 0);
	CHECK(s == DD_PICK_KEEP * PHASE && p.trying);
	CHECK(feed(&p, DD_PICK_SETTLE + DD_PICK_ABORT, 200, 100, 0) == 0);
	CHECK(dd_pick_stream(&p) && !p.trying && p.switches == 1);
	/* The machine changes: memcpy became faster; the next try moves. */
	s = feed(&p, DD_PICK_KEEP * PHASE + PHASE, 60, 100, 0);
	CHECK(s == DD_PICK_KEEP * PHASE && !dd_pick_stream(&p));
	CHECK(p.switches == 2);
	/* Rare huge outliers of memcpy (a preempted worker) change nothing;
	 * alike costs (within 1/16) do not flap either. */
	s = feed(&p, 4 * (DD_PICK_KEEP + 1) * PHASE, 60, 58, 7);
	CHECK(!dd_pick_stream(&p) && p.switches == 2);
	CHECK(s <= 4 * PHASE); /* only the tries streamed */
	/* A fixed method never changes. */
	setenv("SOFTVERBS_DD_METHOD", "stream", 1);
	dd_pick_init(&p);
	CHECK(feed(&p, 20 * PHASE, 1, 1000, 0) == 20 * PHASE);
	unsetenv("SOFTVERBS_DD_METHOD");
	printf("method picker: keeps the faster, tries, follows, fixed\n");
}

/* 1 MiB steps end to end with method fixed (NULL: measured). */
static void test_steps_method(const char *method, bool streamed)
{
	struct svd_dd_dma *d;
	struct svd_dd_stats st = {0};
	int i;

	if (method)
		setenv("SOFTVERBS_DD_METHOD", method, 1);
	d = svd_dd_dma_new();
	unsetenv("SOFTVERBS_DD_METHOD");
	CHECK(d && !svd_dd_dma_start(d));
	for (i = 0; i < 50 && !st.long_jobs; i++) {
		test_steps(d);
		svd_dd_dma_stats(d, &st);
	}
	CHECK(st.long_jobs > 0); /* split at least once in 50 tries */
	CHECK(!method || (st.long_streamed > 0) == streamed);
	CHECK(!method || !streamed || st.long_streamed == st.long_jobs);
	printf("steps (%s): %llu long jobs, %llu streamed\n",
	       method ? method : "measured", (unsigned long long)st.long_jobs,
	       (unsigned long long)st.long_streamed);
	svd_dd_dma_free(d);
}

int main(void)
{
	struct svd_dd_dma *d = svd_dd_dma_new();
	struct svd_dd_stats st;
	int i;

	svd_mem_guard_init();
	test_pick();
	test_steps_method("memcpy", false);
	test_steps_method("stream", true);
	test_steps_method(NULL, false);
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
