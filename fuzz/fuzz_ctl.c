// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the control socket (daemon/proc/control.c): the
 * requests `softverbs` sends to $RUNDIR/control.sock (status, stop,
 * dev add|del|list|stats|datadirect, trace). Only root and the daemon's
 * owner may connect, but the parser is still the daemon's to get right:
 * it reads a line under a deadline, splits it and acts on it.
 *
 * One input is the bytes of one connection, sent whole and then shut
 * (EOF ends a line without '\n', as a client that dies mid-request). The
 * daemon's own loop (svd_serve_once) accepts it, answers and closes; the
 * reply is read and dropped.
 *
 * Safety and state: an input that names "netdev" is skipped, since it
 * would bind a device to a real interface of this host (raw packets out,
 * and only such a device opens a `trace` file). After each input every
 * device but softverbs0 is deleted and softverbs0 is added back if the
 * input deleted it, so devices do not pile up from run to run; "stop"
 * only raises the flag svd_serve_loop() checks, which the fuzzer never
 * runs.
 */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_daemon.h"

#define MAX_INPUT 4096

static int ctl_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock",
		 fuzz_rundir);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	return fd;
}

/* Run the loop until the daemon has answered and closed fd's peer. */
static void await_reply(int fd)
{
	char buf[4096];
	ssize_t n;

	for (int i = 0; i < 100; i++) {
		svd_serve_once(0);
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		if (n == 0)
			return;
	}
	abort(); /* the daemon kept a control connection open */
}

/* Back to one device, softverbs0, whatever the input added or deleted. */
static void devices_reset(void)
{
	char name[SVD_NAME_MAX];
	struct svd_device *dev;

	for (;;) {
		for (dev = svd_devices(); dev; dev = dev->next)
			if (strcmp(dev->name, "softverbs0"))
				break;
		if (!dev)
			break;
		snprintf(name, sizeof(name), "%s", dev->name);
		if (svd_daemon_dev_del(name))
			abort();
	}
	if (!svd_devices() && svd_daemon_dev_add("softverbs0", NULL, false))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	int fd;

	if (size > MAX_INPUT || memmem(data, size, "netdev", 6))
		return -1; /* not added to the corpus */
	if (!ready) {
		fuzz_daemon_init();
		ready = true;
	}
	fd = ctl_connect();
	if (size && send(fd, data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort(); /* 4 KiB fits a local stream socket's buffer */
	shutdown(fd, SHUT_WR);
	await_reply(fd);
	close(fd);
	devices_reset();
	return 0;
}
