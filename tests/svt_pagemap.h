/* SPDX-License-Identifier: MIT */
/*
 * Which pages a process faulted in for writing, from /proc/self/pagemap
 * (the ODP prefetch tests). Include after svtest.h.
 */
#ifndef SVT_PAGEMAP_H
#define SVT_PAGEMAP_H

#include <stdint.h>

/*
 * Pages of [p, p + n pages) faulted in for writing: present and mapped by
 * this process alone (pagemap bit 56). A read fault of private anonymous
 * memory maps the shared zero page, which is never exclusive.
 */
static inline int svt_written_pages(void *p, size_t n)
{
	const uintptr_t pg = 4096;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e[16];
	int i, r = 0;

	SVT_CHECK(fd >= 0 && n <= 16);
	SVT_CHECK(pread(fd, e, n * 8, (off_t)((uintptr_t)p / pg * 8)) ==
		  (ssize_t)(n * 8));
	close(fd);
	for (i = 0; i < (int)n; i++)
		r += (e[i] >> 63 & 1) && (e[i] >> 56 & 1);
	return r;
}

#endif
