/* SPDX-License-Identifier: MIT */
/*
 * One request on a test daemon's control socket (the `softverbs` CLI's
 * protocol: a line in, lines out ending in "OK" or an error). Include
 * after svtest.h.
 */
#ifndef SVT_CTL_H
#define SVT_CTL_H

#include <sys/socket.h>
#include <sys/un.h>

/* The whole reply in reply (NUL-terminated); true if it ended in OK. */
static inline bool svt_ctl(const struct svt_daemon *d, const char *req,
			   char *reply, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	ssize_t n, used = 0;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/control.sock",
		 d->rundir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	SVT_CHECK(fd >= 0);
	SVT_CHECK(!connect(fd, (struct sockaddr *)&sun, sizeof(sun)));
	SVT_CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	SVT_CHECK(write(fd, "\n", 1) == 1);
	while ((n = read(fd, reply + used, len - 1 - (size_t)used)) > 0)
		used += n;
	reply[used] = 0;
	close(fd);
	return strstr(reply, "OK\n") != NULL;
}

#endif
