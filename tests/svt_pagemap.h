/* SPDX-License-Identifier: MIT */
/*
 * Which pages a process faulted in for writing, from /proc/self/pagemap
 * (the ODP prefetch tests). Include after svtest.h.
 */
#ifndef SVT_PAGEMAP_H
#define SVT_PAGEMAP_H

#include <stdint.h>
#include <sys/mman.h>

/*
 * Private memory whose read faults and write faults can be told apart:
 * a MAP_PRIVATE mapping of a memfd. A read fault maps the file's page;
 * a write fault gives the process an anonymous copy. (Anonymous memory
 * cannot show it everywhere: where the kernel maps a read fault to a
 * fresh page instead of the shared zero page, as some VM kernels do,
 * a read-faulted page is as present and as exclusive as a written one.)
 */
static inline void *svt_map_private(size_t len)
{
	int fd = memfd_create("svt-private", MFD_CLOEXEC);
	void *p;

	SVT_CHECK(fd >= 0 && !ftruncate(fd, (off_t)len));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	SVT_CHECK(p != MAP_FAILED);
	close(fd);
	return p;
}

/*
 * Pages of [p, p + n pages) of an svt_map_private() region faulted in
 * for writing: present and anonymous (pagemap bit 61 clear: not a file
 * page), with or without the page frame numbers a user cannot see.
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
		r += (e[i] >> 63 & 1) && !(e[i] >> 61 & 1);
	return r;
}

#endif
