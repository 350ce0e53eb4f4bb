/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets: the file descriptors a real client would
 * send. Ring and doorbell memory is a memfd (sealed against shrinking, as
 * the library makes it, or not, as an attacker may), big enough for any
 * ring the seeds create; the daemon maps what the command names.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MEMFD_SIZE (4U << 20)
#define FUZZ_NFDS 4

/* Template fds, made once; each input gets dup()s (the daemon may keep). */
static inline int fuzz_template_fd(unsigned int i)
{
	static int fds[FUZZ_NFDS] = { -1, -1, -1, -1 };

	if (i >= FUZZ_NFDS)
		return -1;
	if (fds[i] < 0) {
		fds[i] = memfd_create("fuzz-ring", MFD_CLOEXEC |
						   MFD_ALLOW_SEALING);
		/* Slot 3: an empty memfd, as a truncating attacker leaves. */
		if (fds[i] >= 0 && i != 3 && !ftruncate(fds[i],
							FUZZ_MEMFD_SIZE) &&
		    i != 2)
			fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	}
	return fds[i];
}

/* dup()s of the first n template fds (n <= FUZZ_NFDS); returns how many. */
static inline int fuzz_fds(int *out, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && i < FUZZ_NFDS; i++)
		out[i] = fcntl(fuzz_template_fd(i), F_DUPFD_CLOEXEC, 0);
	return (int)i;
}

/*
 * Where recorded VA registrations point (make-corpus.sh rewrites them):
 * FUZZ_VA_LEN bytes of anonymous memory at a fixed address.
 */
#define FUZZ_VA_BASE 0x5e0000000000ULL
#define FUZZ_VA_LEN (64ULL << 20)

static inline void *fuzz_va_region(void)
{
	void *p = mmap((void *)FUZZ_VA_BASE, FUZZ_VA_LEN,
		       PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Read and drop whatever the daemon sent on sock, closing passed fds. */
static inline void fuzz_drain(int sock)
{
	char buf[8192], cbuf[CMSG_SPACE(sizeof(int) * 16)];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;

		if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
			return;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			int *fds = (int *)CMSG_DATA(c);
			size_t k, nf = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (c->cmsg_type != SCM_RIGHTS)
				continue;
			for (k = 0; k < nf; k++)
				close(fds[k]);
		}
	}
}

#endif
