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
#include <time.h>
#include <unistd.h>

#include "dd_pick.h"
#include "svd.h"
#include "svd_dd.h"
#include "svd_mem.h"
#include "svt_unit.h"

#define LEN (10 << 20)

static struct svd_umem *umem_new(size_t len, int *fdp)
{
	int fd = memfd_create("unit-dd", MFD_CLOEXEC);
	struct svd_umem *u;

	REQUIRE(fd >= 0 && !ftruncate(fd, (off_t)len));
	u = svd_umem_get_mapped(fd, 0, len);
	REQUIRE(!svd_is_err(u));
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

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/*
 * Where waking an idle CPU takes longer than copying a megabyte (a VM
 * whose idle vCPU the host must reschedule: 0.1-0.5 ms seen), every
 * split of test_sizes() ends before the worker wakes, and the path
 * rightly copies alone for a while. A stream of 9 MiB copies, each
 * longer than that wake-up, retried past the longest back-off, still
 * finds the worker copying beside the caller.
 */
static void long_stream(struct svd_dd_dma *d, struct svd_dd_stats *st)
{
	const uint64_t n = 9 << 20, end = mono_ns() + 5000000000ULL;
	struct svd_umem *a = umem_new(LEN, NULL), *b = umem_new(LEN, NULL);

	fill(a->map, LEN, 3);
	while (!st->worker_bytes && mono_ns() < end) {
		REQUIRE(!svd_dd_copy(d, b, 0, a, 0, n));
		svd_dd_dma_stats(d, st);
	}
	REQUIRE(!memcmp(b->map, a->map, n));
	svd_umem_release(a);
	svd_umem_release(b);
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
		REQUIRE(!svd_dd_copy(d, b, doff, a, so, n));
		REQUIRE(!memcmp(sb + doff, sa + so, n));
		REQUIRE(sb[doff - 1] == 0 && sb[doff + n] == 0);
	}
	/* Out of range: nothing is copied. */
	REQUIRE(svd_mem_copy(b, LEN - 10, a, 0, 11) == -EFAULT);
	/* Overlap within one mapping: memmove's result. */
	fill(sa, LEN, 5);
	memcpy(sb, sa, LEN);
	memmove(sb + 4096, sb, 8 << 20);
	REQUIRE(!svd_dd_copy(d, a, 4096, a, 0, 8 << 20));
	REQUIRE(!memcmp(sa, sb, LEN));
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
		REQUIRE(!svd_dd_copy(d, b, 33 + off, a, 5 + off, step));
		off += step;
	}
	REQUIRE(!memcmp(sb + 33, sa + 5, n) && sb[32] == 0 && sb[33 + n] == 0);
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
	REQUIRE(!pthread_create(&t, NULL, copy_loop, &c));
	usleep(20000);
	REQUIRE(!ftruncate(fd, 4096));
	REQUIRE(!pthread_join(t, NULL));
	REQUIRE(c.first_err == -EFAULT);
	REQUIRE(atomic_load(&c.src->revoked) && !atomic_load(&c.dst->revoked));
	printf("truncated under %ld jobs: -EFAULT, source revoked\n", c.copies);
	close(fd);
	svd_umem_release(c.dst);
	svd_umem_release(c.src);
}

/*
 * Feed n jobs of 1 MiB whose cost depends on the method the picker gives;
 * every outlier-th job (0: none) costs 100 times more. Returns how many
 * of them streamed.
 */
static int feed(struct dd_pick *p, int n, uint64_t memcpy_ns,
		uint64_t stream_ns, int outlier)
{
	int i, streamed = 0;
	uint64_t ns;

	for (i = 0; i < n; i++) {
		bool st = dd_pick_stream(p);

		ns = st ? stream_ns : memcpy_ns;
		if (outlier && i % outlier == 0)
			ns *= 100;
		streamed += st;
		dd_pick_note(p, st, ns, 1 << 20);
	}
	return streamed;
}

/* Jobs until the try under way ends (at most a limit). */
static int feed_try(struct dd_pick *p, uint64_t memcpy_ns, uint64_t stream_ns)
{
	int n = 0;

	while (p->trying && n < 1000) {
		feed(p, 1, memcpy_ns, stream_ns, 0);
		n++;
	}
	REQUIRE(!p->trying);
	return n;
}

#define TRY (DD_PICK_SETTLE + 2 * DD_PICK_COUNT)

static void test_pick(void)
{
	struct dd_pick p;
	int s;

	unsetenv("SOFTVERBS_DD_METHOD");
	dd_pick_init(&p);
	REQUIRE(!dd_pick_stream(&p)); /* memcpy first */
	/* A try soon, both methods side by side: streaming is faster. */
	REQUIRE(feed(&p, DD_PICK_SETTLE, 200, 100, 0) == 0 && p.trying);
	REQUIRE(feed(&p, 4, 200, 100, 0) == 2); /* job by job */
	REQUIRE(feed_try(&p, 200, 100) == TRY - 4);
	REQUIRE(dd_pick_stream(&p) && p.switches == 1);
	/* Kept until the next try; memcpy, clearly worse, stops it after
	 * DD_PICK_ABORT jobs of each. */
	s = feed(&p, DD_PICK_KEEP, 200, 100, 0);
	REQUIRE(s == DD_PICK_KEEP && p.trying);
	REQUIRE(feed_try(&p, 200, 100) == DD_PICK_SETTLE + 2 * DD_PICK_ABORT);
	REQUIRE(dd_pick_stream(&p) && p.switches == 1);
	/* The machine changes: memcpy became faster; the next try moves. */
	feed(&p, DD_PICK_KEEP, 60, 100, 0);
	feed_try(&p, 60, 100);
	REQUIRE(!dd_pick_stream(&p) && p.switches == 2);
	/* Outliers in both (a preempted worker) change nothing, nor do
	 * alike costs (within 1/16): four tries, no switch. */
	s = feed(&p, 4 * (DD_PICK_KEEP + TRY), 60, 58, 7);
	REQUIRE(!dd_pick_stream(&p) && p.switches == 2 && p.tries == 7);
	REQUIRE(s <= 4 * TRY / 2 + 4); /* only the tries streamed */
	/* A fixed method never changes. */
	setenv("SOFTVERBS_DD_METHOD", "stream", 1);
	dd_pick_init(&p);
	REQUIRE(feed(&p, 4 * DD_PICK_KEEP, 1, 1000, 0) == 4 * DD_PICK_KEEP);
	unsetenv("SOFTVERBS_DD_METHOD");
	printf("method picker: side by side, keeps the faster, follows, "
	       "fixed\n");
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
	REQUIRE(d && !svd_dd_dma_start(d));
	/* A starved worker splits nothing: give it chances. */
	for (i = 0; i < 50 && !st.splits; i++) {
		test_steps(d);
		svd_dd_dma_stats(d, &st);
	}
	REQUIRE(st.long_jobs > 0);
	REQUIRE(!method || (st.long_streamed > 0) == streamed);
	REQUIRE(!method || !streamed || st.long_streamed == st.long_jobs);
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
	REQUIRE(d && !svd_dd_dma_start(d));
	test_sizes(d);
	test_steps(d);
	svd_dd_dma_stats(d, &st);
	/* The worker may be starved on a loaded machine: give it chances. */
	for (i = 0; i < 50 && !st.worker_bytes; i++) {
		test_sizes(d);
		svd_dd_dma_stats(d, &st);
	}
	if (!st.worker_bytes)
		long_stream(d, &st);
	REQUIRE(st.splits > 0 && st.worker_bytes > 0);
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
