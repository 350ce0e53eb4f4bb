// SPDX-License-Identifier: MIT
/*
 * Seed recorder (fuzz/make-corpus.sh): an LD_PRELOAD shim that copies
 * every command message a client sends to the daemon into
 * $SV_RECORD_DIR/<pid>-<n>-f<nfds>.msg. Nothing in the product records;
 * this only watches sendmsg() calls of the programs it is preloaded into.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <softverbs/abi.h>

static void record(const struct msghdr *mh)
{
	const char *dir = getenv("SV_RECORD_DIR");
	const struct sv_msg_hdr *h;
	static unsigned int n;
	char path[512];
	int fd;

	if (!dir || mh->msg_iovlen != 1 || mh->msg_iov[0].iov_len < sizeof(*h))
		return;
	h = mh->msg_iov[0].iov_base;
	if (h->len != mh->msg_iov[0].iov_len ||
	    (h->type != SV_MSG_IOCTL && h->type != SV_MSG_WRITE))
		return;
	snprintf(path, sizeof(path), "%s/%d-%u-f%u.msg", dir, (int)getpid(),
		 n++, h->nfds);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, h, h->len) < 0)
		perror("record");
	close(fd);
}

ssize_t sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (!real)
		real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(
			RTLD_NEXT, "sendmsg");
	record(mh);
	return real(fd, mh, flags);
}
