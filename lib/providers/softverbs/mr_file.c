// SPDX-License-Identifier: MIT
/*
 * The file behind a memory region (issue 11, docs/sharing.md).
 *
 * A kernel MR pins its pages, so they outlive the process that registered
 * them. The daemon cannot pin another process's pages, but when the range
 * lies in a shared file mapping (memfd, POSIX shm, hugetlbfs, a regular
 * file mapped MAP_SHARED) it can map the same file: then the region is a
 * direct copy and lives as long as the MR, whoever registered it. So at
 * registration the library looks the range up in /proc/self/maps and
 * finds an fd for that file: one the process has open (same device and
 * inode, opened read-write), else /proc/self/map_files (privileged), else
 * the path shown in maps. Private memory (malloc, stacks, MAP_PRIVATE)
 * has no such file and stays a VA region.
 */
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "svl_mr.h"

/* One line of /proc/self/maps. */
struct map_line {
	unsigned long lo, hi;
	char perms[5];
	unsigned long long off;
	dev_t dev;
	unsigned long ino;
	char path[256];
};

static bool parse_line(const char *s, struct map_line *m)
{
	unsigned int maj, min;
	int n = 0;

	m->path[0] = '\0';
	if (sscanf(s, "%lx-%lx %4s %llx %x:%x %lu %n", &m->lo, &m->hi,
		   m->perms, &m->off, &maj, &min, &m->ino, &n) < 7)
		return false;
	m->dev = makedev(maj, min);
	if (n > 0)
		sscanf(s + n, "%255[^\n]", m->path);
	return true;
}

/* Does line m continue the file range cov (same file, contiguous)? */
static bool continues(const struct map_line *cov, const struct map_line *m)
{
	return m->lo == cov->hi && m->dev == cov->dev && m->ino == cov->ino &&
	       m->off - cov->off == m->lo - cov->lo && m->perms[3] == 's' &&
	       m->perms[1] == cov->perms[1];
}

/*
 * The shared file mapping that covers [lo, hi) in one piece: *cov gets
 * the first line (its offset and path) with hi extended to the end.
 */
static bool find_mapping(unsigned long lo, unsigned long hi,
			 struct map_line *cov)
{
	FILE *f = fopen("/proc/self/maps", "re");
	struct map_line m;
	char line[512];
	bool in = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f) && parse_line(line, &m)) {
		if (!in && m.lo <= lo && lo < m.hi && m.perms[3] == 's' &&
		    m.ino) {
			*cov = m;
			in = true;
		} else if (in && continues(cov, &m)) {
			cov->hi = m.hi;
		} else if (in) {
			break;
		}
		if (in && cov->hi >= hi)
			break;
	}
	fclose(f);
	return in && cov->hi >= hi;
}

/* fd is the file (dev, ino), open read-write? */
static bool fd_is(int fd, const struct map_line *m)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_ACCMODE) == O_RDWR && !fstat(fd, &st) &&
	       st.st_dev == m->dev && st.st_ino == m->ino;
}

/* A new fd for the file among those the process has open, or -1. */
static int dup_open_fd(const struct map_line *m)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fd, copy = -1;

	if (!d)
		return -1;
	while (copy < 0 && (e = readdir(d))) {
		fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d) || !fd_is(fd, m))
			continue;
		copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		/* The fd may have been closed and reused meanwhile. */
		if (copy >= 0 && !fd_is(copy, m)) {
			close(copy);
			copy = -1;
		}
	}
	closedir(d);
	return copy;
}

/* Reopen the file: map_files (needs privilege), then its path. */
static int reopen(const struct map_line *m)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", m->lo,
		 m->hi);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && m->path[0] == '/' && !strstr(m->path, " (deleted)"))
		fd = open(m->path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && !fd_is(fd, m)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int svl_mr_backing_file(const void *addr, size_t len, bool write,
			uint64_t *off)
{
	unsigned long lo = (unsigned long)(uintptr_t)addr;
	struct map_line m;
	int fd;

	if (!len || !find_mapping(lo, lo + len, &m))
		return -1;
	/* A write-access region needs a writable mapping, as the kernel's. */
	if (write && m.perms[1] != 'w')
		return -1;
	fd = dup_open_fd(&m);
	if (fd < 0)
		fd = reopen(&m);
	if (fd >= 0)
		*off = m.off + (lo - m.lo);
	return fd;
}
