// SPDX-License-Identifier: MIT
/*
 * softverbsd: serves one or more soft RDMA devices.
 *
 * The main thread owns the command layer: it accepts connections on each
 * device socket (one connection = one command FD = one ufile), reads
 * requests and runs them one at a time. Running commands serially keeps the
 * handle tables simple; the data path runs on engine threads and never
 * waits for this loop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "svd.h"
#include "svd_main.h"

int svd_rundir_prepare(void);
int svd_control_listen(void);
int svd_control_serve(int listen_fd);

static struct svd_device *dev_list;
static int epfd = -1;
static volatile sig_atomic_t stop_requested;
static void *last_tag; /* the tag ev_add() made last, for its owner */

/* epoll tags: what a ready fd is. */
enum ev_kind { EV_DEVICE, EV_UFILE, EV_CONTROL };
struct ev_tag {
	enum ev_kind kind;
	void *ptr;
};

struct svd_device *svd_devices(void)
{
	return dev_list;
}

void svd_daemon_request_stop(void)
{
	stop_requested = 1;
}

static void on_signal(int sig)
{
	stop_requested = 1;
}

static int ev_add(int fd, enum ev_kind kind, void *ptr)
{
	struct ev_tag *t = calloc(1, sizeof(*t));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!t)
		return -ENOMEM;
	t->kind = kind;
	t->ptr = ptr;
	ev.data.ptr = t;
	last_tag = t;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		free(t);
		return -errno;
	}
	return 0;
}

static int dev_listen(struct svd_device *dev)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[300];
	int fd;

	snprintf(dir, sizeof(dir), "%s/devices/%s", svd_rundir(), dev->name);
	mkdir(dir, 0755);
	if (snprintf(dev->sock_path, sizeof(dev->sock_path), "%s/sock", dir) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, dev->sock_path);
	unlink(dev->sock_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* Any local user may open the device, as with /dev/infiniband. */
	chmod(dev->sock_path, 0666);
	dev->listen_fd = fd;
	return 0;
}

static struct svd_device *dev_find(const char *name)
{
	struct svd_device *d;

	for (d = dev_list; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

int svd_daemon_dev_add(const char *name, const char *netdev, bool ib)
{
	struct svd_device *dev;
	int ret;

	if (dev_find(name))
		return -EEXIST;
	dev = svd_dev_create(name, netdev, ib);
	if (svd_is_err(dev))
		return (int)svd_ptr_err(dev);
	ret = svd_dev_assign_lid(dev, dev_list);
	if (!ret)
		ret = dev_listen(dev);
	if (!ret)
		ret = svd_engine_start(dev);
	if (!ret)
		ret = svd_dev_write_facts(dev, svd_rundir());
	if (!ret)
		ret = ev_add(dev->listen_fd, EV_DEVICE, dev);
	if (!ret)
		dev->ev_tag = last_tag;
	if (ret) {
		svd_dev_destroy(dev);
		return ret;
	}
	dev->next = dev_list;
	dev_list = dev;
	return 0;
}

int svd_daemon_dev_del(const char *name)
{
	struct svd_device **pp, *d;

	for (pp = &dev_list; (d = *pp); pp = &d->next) {
		if (strcmp(d->name, name))
			continue;
		if (svd_ufiles_on(d))
			return -EBUSY; /* contexts are open on it */
		*pp = d->next;
		epoll_ctl(epfd, EPOLL_CTL_DEL, d->listen_fd, NULL);
		free(d->ev_tag);
		svd_dev_remove_facts(d, svd_rundir());
		svd_engine_stop(d);
		svd_dev_destroy(d);
		return 0;
	}
	return -ENODEV;
}

static void on_device(struct svd_device *dev)
{
	struct svd_ufile *uf;
	int fd;

	fd = accept4(dev->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	uf = svd_ufile_open(dev, fd);
	if (uf && !ev_add(fd, EV_UFILE, uf))
		uf->ev_tag = last_tag;
	else {
		if (uf)
			svd_ufile_close(uf);
		else
			close(fd);
	}
}

static void on_ufile(struct ev_tag *t, uint32_t events)
{
	struct svd_ufile *uf = t->ptr;

	if (svd_ufile_serve(uf) < 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, uf->fd, NULL);
		svd_ufile_close(uf); /* frees t, its ev_tag */
	}
}

static void loop(int ctl_fd)
{
	struct epoll_event evs[32];
	int i, n;

	while (!stop_requested) {
		n = epoll_wait(epfd, evs, 32, 500);
		for (i = 0; i < n; i++) {
			struct ev_tag *t = evs[i].data.ptr;

			if (t->kind == EV_DEVICE)
				on_device(t->ptr);
			else if (t->kind == EV_CONTROL)
				svd_control_serve(ctl_fd);
			else
				on_ufile(t, evs[i].events);
		}
	}
}

static void write_pidfile(void)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/softverbsd.pid", svd_rundir());
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

static void shutdown_all(void)
{
	char path[300];

	svd_ufiles_close_all();
	while (dev_list)
		svd_daemon_dev_del(dev_list->name);
	snprintf(path, sizeof(path), "%s/softverbsd.pid", svd_rundir());
	unlink(path);
	snprintf(path, sizeof(path), "%s/control.sock", svd_rundir());
	unlink(path);
}

int main(int argc, char **argv)
{
	bool no_default = false;
	void *ctl_tag;
	int ctl_fd, i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-default-device"))
			no_default = true;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	svd_sigbus_init();
	ret = svd_rundir_prepare();
	if (ret) {
		fprintf(stderr, "softverbsd: runtime dir %s: %s\n", svd_rundir(),
			strerror(-ret));
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl_fd = svd_control_listen();
	if (epfd < 0 || ctl_fd < 0 || ev_add(ctl_fd, EV_CONTROL, NULL)) {
		fprintf(stderr, "softverbsd: cannot listen on %s/control.sock\n",
			svd_rundir());
		return 1;
	}
	ctl_tag = last_tag;
	if (!no_default) {
		ret = svd_daemon_dev_add("softverbs0", getenv("SOFTVERBS_NETDEV"),
					 false);
		if (ret) {
			fprintf(stderr, "softverbsd: softverbs0: %s\n",
				strerror(-ret));
			return 1;
		}
	}
	write_pidfile();
	fprintf(stderr, "softverbsd: serving in %s\n", svd_rundir());
	loop(ctl_fd);
	shutdown_all();
	free(ctl_tag);
	close(ctl_fd);
	return 0;
}
