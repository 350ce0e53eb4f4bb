// SPDX-License-Identifier: MIT
/*
 * The daemon's control socket: $RUNDIR/control.sock, a SOCK_STREAM socket
 * the softverbs CLI talks to. One connection carries one request line and
 * gets one reply: zero or more result lines, then "OK" or
 * "ERR <errno-name> <message>".
 *
 *   dev add NAME [netdev IF] [type roce|ib]
 *   dev del NAME
 *   dev datadirect NAME on|off   (the data-direct DMA device, seed 003)
 *   dev stats NAME  -> "counter value" lines of the port (docs/wire.md)
 *   trace NAME /ABS/FILE.pcap | trace NAME off   (every wire packet)
 *   dev list     -> NAME node_guid=%016llx port=1 state=ACTIVE netdev=%s
 *                   contexts=%u objects=%u type=roce|ib lid=%u
 *                   datadirect=on|off dd_copies=... (svd_dd_describe)
 *                   refused=%lu foreign_drops=%llu rc_req_psns=%llu
 *                   rc_dup_psns=%llu (svd_xuser.h)
 *                   raw_tx=%llu raw_rx=%llu raw_drop=%llu (svd_raw.h)
 *                   va_splits=... (svd_mem_describe: daemon-wide)
 *   status       -> pid=%d devices=%d
 *   stop
 *
 * Everything a client sends is untrusted: requests are bounded in length
 * and time, and only the daemon's own user (or root) may use the socket.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "svd.h"
#include "svd_dd.h"
#include "svd_mem.h"
#include "svd_raw.h"
#include "svd_switch.h"
#include "svd_xuser.h"
#include "wire.h"

/* Provided by main.c: make the main loop exit after this request. */
extern void svd_daemon_request_stop(void);

#define CTL_LINE_MAX 256
#define CTL_TIMEOUT_MS 1000
#define CTL_MAX_ARGS 8

/* Held for the daemon's lifetime: proves control.sock is ours to replace. */
static int ctl_lock_fd = -1;
static char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static int ctl_build_path(char *buf, size_t len, const char *file)
{
	const char *dir = svd_rundir();
	int n;

	if (!dir)
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * One daemon per runtime directory. Without this a second daemon would
 * unlink the first one's live socket and orphan it. flock() is released
 * by the kernel however the daemon dies, so no stale state is left.
 */
static int ctl_take_lock(void)
{
	char path[PATH_MAX];
	int ret;

	if (ctl_lock_fd >= 0)
		return 0;
	ret = ctl_build_path(path, sizeof(path), "control.lock");
	if (ret)
		return ret;
	ctl_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ctl_lock_fd < 0)
		return -errno;
	if (flock(ctl_lock_fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		close(ctl_lock_fd);
		ctl_lock_fd = -1;
		return ret;
	}
	return 0;
}

/*
 * Create, bind and listen on control.sock. Returns the (blocking) listening
 * fd or -errno; -EADDRINUSE means another daemon owns this directory.
 */
int svd_control_listen(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	ret = ctl_take_lock();
	if (ret)
		return ret;
	ret = ctl_build_path(sun.sun_path, sizeof(sun.sun_path),
			     SV_CONTROL_SOCK);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* We hold the lock, so whatever is there is a dead daemon's. */
	if (unlink(sun.sun_path) && errno != ENOENT)
		goto err;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
		goto err;
	/* Peer credentials are checked too; this just narrows the door. */
	if (chmod(sun.sun_path, 0600))
		goto err;
	if (listen(fd, 16))
		goto err;
	memcpy(ctl_path, sun.sun_path, sizeof(ctl_path));
	return fd;
err:
	ret = -errno;
	close(fd);
	return ret;
}

/* Close the listening socket and remove it (for an orderly shutdown). */
void svd_control_close(int listen_fd)
{
	if (listen_fd >= 0)
		close(listen_fd);
	if (ctl_path[0])
		unlink(ctl_path);
	ctl_path[0] = '\0';
}

static long ctl_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Read one line (without its '\n') within an overall deadline, so a client
 * dribbling bytes cannot hold the daemon for longer than a blocked one.
 */
static int ctl_read_line(int fd, char *buf, size_t len)
{
	struct timespec deadline;
	size_t used = 0;
	char *nl;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CTL_TIMEOUT_MS / 1000;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long left = ctl_ms_left(&deadline);
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = recv(fd, buf + used, len - 1 - used, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		buf[used + n] = '\0';
		nl = memchr(buf + used, '\n', n);
		used += n;
		if (nl) {
			*nl = '\0';
			return 0;
		}
		if (n == 0)
			return used ? 0 : -ENODATA; /* EOF ends the line too */
		if (used == len - 1)
			return -EMSGSIZE;
	}
}

/* Split on blanks; a NUL inside the line ends it (strlen semantics). */
static int ctl_split(char *line, char **argv, int max)
{
	char *save = NULL, *tok;
	int argc = 0;

	line[strcspn(line, "\r")] = '\0';
	for (tok = strtok_r(line, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (argc == max)
			return -E2BIG;
		argv[argc++] = tok;
	}
	return argc;
}

static void ctl_err(FILE *out, int err, const char *msg)
{
	const char *name = strerrorname_np(err);

	fprintf(out, "ERR %s %s\n", name ? name : "EUNKNOWN", msg);
}

/* Errors from the device layer: negative errno (tolerate positive). */
static void ctl_result(FILE *out, int ret)
{
	int err = ret < 0 ? -ret : ret;

	if (!ret)
		fputs("OK\n", out);
	else
		ctl_err(out, err, strerror(err));
}

static void ctl_dev_list(FILE *out)
{
	struct svd_device *dev;
	char dd[256], xu[64], raw[96], sw[96], mem[128];

	svd_mem_describe(mem, sizeof(mem));
	for (dev = svd_devices(); dev; dev = dev->next) {
		svd_dd_describe(dev, dd, sizeof(dd));
		svd_xuser_describe(dev, xu, sizeof(xu));
		svd_raw_describe(dev, raw, sizeof(raw));
		svd_switch_describe(dev, sw, sizeof(sw));
		fprintf(out, "%s node_guid=%016llx port=1 state=ACTIVE "
			     "netdev=%s contexts=%u objects=%u type=%s lid=%u "
			     "%s %s %s%s %s\n",
			dev->name, (unsigned long long)dev->node_guid,
			dev->port.netdev,
			(unsigned int)atomic_load(&dev->nr_ucontexts),
			(unsigned int)atomic_load(&dev->nr_uobjects),
			dev->port.attr.link_layer == SVD_LINK_IB ? "ib" : "roce",
			dev->port.attr.lid, dd, xu, raw, sw, mem);
	}
	fputs("OK\n", out);
}

static void ctl_status(FILE *out)
{
	const struct svd_device *dev;
	int n = 0;

	for (dev = svd_devices(); dev; dev = dev->next)
		n++;
	fprintf(out, "pid=%d devices=%d\nOK\n", (int)getpid(), n);
}

/* "netdev IF" and "type roce|ib" pairs after the name, in any order. */
static int ctl_dev_opts(int argc, char **argv, const char **netdev, bool *ib)
{
	int i;

	for (i = 3; i < argc; i += 2) {
		if (i + 1 == argc)
			return -EINVAL;
		if (!strcmp(argv[i], "netdev") && !*netdev)
			*netdev = argv[i + 1];
		else if (!strcmp(argv[i], "type") &&
			 (!strcmp(argv[i + 1], "ib") ||
			  !strcmp(argv[i + 1], "roce")))
			*ib = !strcmp(argv[i + 1], "ib");
		else
			return -EINVAL;
	}
	return *ib && *netdev ? -EINVAL : 0;
}

static void ctl_dev_add(FILE *out, int argc, char **argv)
{
	const char *netdev = NULL;
	bool ib = false;

	if (argc < 3 || ctl_dev_opts(argc, argv, &netdev, &ib)) {
		ctl_err(out, EINVAL,
			"usage: dev add NAME [netdev IF] [type roce|ib] "
			"(an ib device has no netdev)");
		return;
	}
	if (!sv_dev_name_valid(argv[2])) {
		ctl_err(out, EINVAL,
			"bad device name (want 1-63 of A-Z a-z 0-9 _ -)");
		return;
	}
	if (netdev && !sv_netdev_name_valid(netdev)) {
		ctl_err(out, EINVAL, "bad netdev name");
		return;
	}
	ctl_result(out, svd_daemon_dev_add(argv[2], netdev, ib));
}

/* "dev datadirect NAME on|off": the device's data-direct DMA path. */
static void ctl_dev_datadirect(FILE *out, const char *name, const char *state)
{
	struct svd_device *dev;

	if (strcmp(state, "on") && strcmp(state, "off")) {
		ctl_err(out, EINVAL, "usage: dev datadirect NAME on|off");
		return;
	}
	for (dev = svd_devices(); dev; dev = dev->next)
		if (!strcmp(dev->name, name))
			break;
	ctl_result(out, dev ? svd_dd_set(dev, !strcmp(state, "on")) : -ENODEV);
}

static struct svd_device *ctl_find(const char *name)
{
	struct svd_device *dev;

	for (dev = svd_devices(); dev; dev = dev->next)
		if (!strcmp(dev->name, name))
			return dev;
	return NULL;
}

/* "dev stats NAME": the wire's counters (a netdev device has a wire). */
static void ctl_dev_stats(FILE *out, const char *name)
{
	struct svd_device *dev = ctl_find(name);

	if (!dev)
		ctl_err(out, ENODEV, "no such device");
	else if (!dev->wire)
		ctl_err(out, EOPNOTSUPP,
			"no wire: the device is not bound to a netdev");
	else {
		wire_stats_print(wire_counters(dev->wire), out);
		fputs("OK\n", out);
	}
}

/* "trace NAME FILE|off": an absolute path, opened by the daemon. */
static void ctl_trace(FILE *out, int argc, char **argv)
{
	struct svd_device *dev = argc == 3 ? ctl_find(argv[1]) : NULL;
	bool off = argc == 3 && !strcmp(argv[2], "off");

	if (argc != 3 || (!off && argv[2][0] != '/'))
		ctl_err(out, EINVAL, "usage: trace NAME /ABSOLUTE/FILE.pcap|off");
	else if (!dev)
		ctl_err(out, ENODEV, "no such device");
	else if (!dev->wire)
		ctl_err(out, EOPNOTSUPP,
			"no wire: the device is not bound to a netdev");
	else
		ctl_result(out, wire_trace(dev->wire, off ? NULL : argv[2]));
}

static void ctl_dev(FILE *out, int argc, char **argv)
{
	if (argc < 2) {
		ctl_err(out, EINVAL, "usage: dev add|del|list|stats|datadirect");
	} else if (!strcmp(argv[1], "list") && argc == 2) {
		ctl_dev_list(out);
	} else if (!strcmp(argv[1], "add")) {
		ctl_dev_add(out, argc, argv);
	} else if (!strcmp(argv[1], "stats") && argc == 3) {
		ctl_dev_stats(out, argv[2]);
	} else if (!strcmp(argv[1], "datadirect") && argc == 4) {
		ctl_dev_datadirect(out, argv[2], argv[3]);
	} else if (!strcmp(argv[1], "del") && argc == 3) {
		if (!sv_dev_name_valid(argv[2]))
			ctl_err(out, EINVAL, "bad device name");
		else
			ctl_result(out, svd_daemon_dev_del(argv[2]));
	} else {
		ctl_err(out, EINVAL, "usage: dev add|del|list|stats|datadirect");
	}
}

static void ctl_execute(FILE *out, char *line)
{
	char *argv[CTL_MAX_ARGS];
	int argc = ctl_split(line, argv, CTL_MAX_ARGS);

	if (argc <= 0)
		ctl_err(out, EINVAL, "empty or oversized request");
	else if (!strcmp(argv[0], "dev"))
		ctl_dev(out, argc, argv);
	else if (!strcmp(argv[0], "trace"))
		ctl_trace(out, argc, argv);
	else if (!strcmp(argv[0], "status") && argc == 1)
		ctl_status(out);
	else if (!strcmp(argv[0], "stop") && argc == 1) {
		svd_daemon_request_stop();
		fputs("OK\n", out);
	} else {
		ctl_err(out, EINVAL, "unknown request");
	}
}

static void ctl_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the client went away or stalled: its loss */
		buf += n;
		len -= n;
	}
}

/* Only our own user and root may drive the daemon. */
static bool ctl_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void ctl_handle(int fd)
{
	char line[CTL_LINE_MAX];
	char *reply = NULL;
	size_t reply_len = 0;
	FILE *out;
	int ret;

	out = open_memstream(&reply, &reply_len);
	if (!out)
		return;
	if (!ctl_peer_allowed(fd)) {
		ctl_err(out, EPERM, "not allowed");
	} else {
		ret = ctl_read_line(fd, line, sizeof(line));
		if (ret == -ENODATA)
			goto done; /* a liveness probe: connect and close */
		if (ret)
			ctl_err(out, -ret, "bad request");
		else
			ctl_execute(out, line);
	}
done:
	if (fclose(out) == 0)
		ctl_send_all(fd, reply, reply_len);
	free(reply);
}

/*
 * Accept one client, answer its one request and close. Blocks in accept(),
 * so call it when poll() reports the listening fd readable or from a
 * dedicated thread. Returns 0, or -errno if accept() failed (-EINTR lets a
 * loop check for a stop request).
 */
int svd_control_serve(int listen_fd)
{
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_MS / 1000 };
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Bounds the reply write; the read has its own deadline. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ctl_handle(fd);
	close(fd);
	return 0;
}
