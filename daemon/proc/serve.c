// SPDX-License-Identifier: MIT
/*
 * The daemon's event loop: it accepts connections on each device socket
 * (one connection = one command FD = one ufile) and on the control socket,
 * reads requests and runs them one at a time on the calling thread.
 * Running commands serially keeps the handle tables simple; the data path
 * runs on engine threads and never waits for this loop. main.c runs it;
 * the engine fuzzer runs the very same loop on a thread of its own.
 *
 * Out of file descriptors (a connection flood), accept() fails and a
 * level-triggered listening socket would wake epoll forever: instead every
 * listening socket leaves the epoll set until a connection closes, or for
 * ACCEPT_PAUSE_MS at most. Waiting clients stay in the listen backlog.
 * Accepting pauses before that point already: every command brings its
 * reply socket (and ring memfds) as SCM_RIGHTS, so the connections already
 * in must keep fds to be served. The kernel hands out the lowest free fd,
 * so an accepted fd number close to RLIMIT_NOFILE says the table is full.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "svd.h"
#include "svd_dd.h"
#include "eng_idle.h"
#include "svd_main.h"
#include "svd_nic.h"
#include "wire.h"

#define ACCEPT_PAUSE_MS 200

int svd_rundir_prepare(void);
int svd_control_listen(void);
int svd_control_serve(int listen_fd);

static struct svd_device *dev_list;
static int epfd = -1;
static volatile sig_atomic_t stop_requested;
static void *last_tag; /* the tag ev_add() made last, for its owner */
static int ctl_listen_fd = -1;
static void *ctl_ev_tag;
static struct timespec paused_at; /* tv_sec 0: accepting */

/* epoll tags: what a ready fd is. */
enum ev_kind { EV_DEVICE, EV_UFILE, EV_CONTROL, EV_HOOK };
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

/* Other parts of the daemon (the connection manager) watch their fds. */
int svd_ev_watch(int fd, struct svd_ev_hook *hook, void **tag)
{
	int ret = ev_add(fd, EV_HOOK, hook);

	if (!ret)
		*tag = last_tag;
	return ret;
}

/* Their listening sockets pause and resume with ours (a flood). */
static struct { int fd; void *tag; } hook_listeners[4];

int svd_ev_watch_listener(int fd, struct svd_ev_hook *hook, void **tag)
{
	unsigned int i;

	for (i = 0; i < SVD_ARRAY_SIZE(hook_listeners); i++)
		if (!hook_listeners[i].tag)
			break;
	if (i == SVD_ARRAY_SIZE(hook_listeners))
		return -ENOSPC;
	if (svd_ev_watch(fd, hook, tag))
		return -errno;
	hook_listeners[i].fd = fd;
	hook_listeners[i].tag = *tag;
	return 0;
}

void svd_ev_unwatch(int fd, void *tag)
{
	for (unsigned int i = 0; i < SVD_ARRAY_SIZE(hook_listeners); i++)
		if (hook_listeners[i].tag == tag)
			hook_listeners[i].tag = NULL;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	free(tag);
}

/* accept() failed for lack of fds or memory: a flood, not a bad peer. */
static bool accept_exhausted(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM;
}

static void listeners_set(int op)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct svd_device *d;

	for (d = dev_list; d; d = d->next) {
		ev.data.ptr = d->ev_tag;
		epoll_ctl(epfd, op, d->listen_fd, &ev);
	}
	ev.data.ptr = ctl_ev_tag;
	epoll_ctl(epfd, op, ctl_listen_fd, &ev);
	for (unsigned int i = 0; i < SVD_ARRAY_SIZE(hook_listeners); i++) {
		if (!hook_listeners[i].tag)
			continue;
		ev.data.ptr = hook_listeners[i].tag;
		epoll_ctl(epfd, op, hook_listeners[i].fd, &ev);
	}
}

static void accept_pause(void)
{
	if (paused_at.tv_sec)
		return;
	listeners_set(EPOLL_CTL_DEL);
	clock_gettime(CLOCK_MONOTONIC, &paused_at);
	if (!paused_at.tv_sec)
		paused_at.tv_sec = 1;
}

static void accept_resume(void)
{
	if (!paused_at.tv_sec)
		return;
	listeners_set(EPOLL_CTL_ADD);
	paused_at.tv_sec = 0;
}

/* Retry after a while even if no connection closed (fds freed elsewhere). */
static void accept_resume_due(void)
{
	struct timespec now;

	if (!paused_at.tv_sec)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - paused_at.tv_sec) * 1000 +
	    (now.tv_nsec - paused_at.tv_nsec) / 1000000 >= ACCEPT_PAUSE_MS)
		accept_resume();
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
		ret = svd_netdev_refresh(dev);
	if (!ret)
		ret = svd_dd_dev_add(dev);
	if (!ret)
		ret = ev_add(dev->listen_fd, EV_DEVICE, dev);
	if (!ret)
		dev->ev_tag = last_tag;
	if (ret) {
		svd_dd_dev_del(dev);
		svd_engine_stop(dev); /* its thread, and its LID on the switch */
		dev->nic->port_gone(dev);
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
		d->nic->port_gone(d);
		svd_cm_device_removed(d);
		svd_dd_dev_del(d);
		svd_dev_destroy(d);
		return 0;
	}
	return -ENODEV;
}

/* fds kept free for serving commands: see the comment at the top. */
static bool fd_headroom_low(int fd)
{
	struct rlimit rl;
	rlim_t limit;

	/* Read each time: the owner may change it (prlimit) while we run. */
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur > INT_MAX)
		limit = INT_MAX;
	else
		limit = rl.rlim_cur;
	return (rlim_t)fd + 16 + limit / 16 >= limit;
}

/* Every accept goes through here: fd, or -1 with errno set. */
bool svd_serve_accepted(int fd)
{
	if (fd < 0) {
		if (accept_exhausted(errno))
			accept_pause();
		return false;
	}
	if (fd_headroom_low(fd))
		accept_pause();
	return true;
}

static void on_device(struct svd_device *dev)
{
	struct svd_ufile *uf;
	int fd;

	fd = accept4(dev->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (!svd_serve_accepted(fd))
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
		accept_resume(); /* an fd is free again */
	}
}

static void on_control(int ctl_fd)
{
	int ret = svd_control_serve(ctl_fd);

	if (ret < 0 && accept_exhausted(-ret))
		accept_pause();
}

/* About once a second: the wire devices' hw_counters files. */
static void counters_due(void)
{
	static time_t last;
	time_t now = time(NULL);

	if (now == last)
		return;
	last = now;
	for (struct svd_device *d = dev_list; d; d = d->next)
		if (d->wire)
			wire_stats_files(d->wire, svd_rundir(), d->name);
}

int svd_serve_once(int timeout_ms)
{
	struct epoll_event evs[32];
	int i, n;

	n = epoll_wait(epfd, evs, 32, timeout_ms);
	for (i = 0; i < n; i++) {
		struct ev_tag *t = evs[i].data.ptr;

		if (t->kind == EV_DEVICE)
			on_device(t->ptr);
		else if (t->kind == EV_CONTROL)
			on_control(ctl_listen_fd);
		else if (t->kind == EV_HOOK)
			((struct svd_ev_hook *)t->ptr)->fn(t->ptr);
		else
			on_ufile(t, evs[i].events);
	}
	accept_resume_due();
	counters_due();
	return n;
}

static int64_t serve_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * A client setting up connections sends its next command a few
 * microseconds after our reply (create, INIT, RTR, RTS...). Sleeping in
 * between costs a wake-up per command, which on a virtual machine is tens
 * of microseconds more than the command itself. So after a command the
 * loop polls on, for as long as the engine would (eng_idle.c: a little
 * while, and only while every runnable thread has a CPU of its own); on a
 * busy machine it sleeps at once, as before.
 */
void svd_serve_loop(void)
{
	struct eng_idle idle = { 0 };

	while (!stop_requested) {
		int64_t now = serve_now_ns();
		bool spin = idle.last_work &&
			    eng_idle_may_spin(&idle, now, INT64_MAX);
		int timeout = paused_at.tv_sec ? ACCEPT_PAUSE_MS : 500;

		if (svd_serve_once(spin ? 0 : timeout) > 0)
			eng_idle_work(&idle, serve_now_ns());
		else if (spin)
			eng_idle_relax();
		else
			idle.last_work = 0;
	}
}


/* Addresses or links changed: devices follow them (verbs/netdev.c). */
static int netdev_fd = -1;
static void *netdev_tag;

static void on_netdev(struct svd_ev_hook *hook)
{
	(void)hook;
	if (!svd_netdev_event(netdev_fd))
		return;
	for (struct svd_device *d = dev_list; d; d = d->next)
		svd_netdev_refresh(d);
}

static struct svd_ev_hook netdev_hook = { .fn = on_netdev };

/* Epoll and the control socket. 0, or -1 with the reason printed. */
int svd_serve_init(void)
{
	int ret = svd_rundir_prepare();

	if (ret) {
		fprintf(stderr, "softverbsd: runtime dir %s: %s\n", svd_rundir(),
			strerror(-ret));
		return -1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl_listen_fd = svd_control_listen();
	if (epfd < 0 || ctl_listen_fd < 0 ||
	    ev_add(ctl_listen_fd, EV_CONTROL, NULL)) {
		fprintf(stderr, "softverbsd: cannot listen on %s/control.sock\n",
			svd_rundir());
		return -1;
	}
	ctl_ev_tag = last_tag;
	netdev_fd = svd_netdev_open();
	if (netdev_fd < 0 || svd_ev_watch(netdev_fd, &netdev_hook, &netdev_tag))
		fprintf(stderr, "softverbsd: addresses will not be followed\n");
	ret = svd_cm_start();
	if (ret)
		fprintf(stderr, "softverbsd: no rdma_cm (%s/cm.sock): %s\n",
			svd_rundir(), strerror(-ret));
	return 0;
}

void svd_serve_shutdown(void)
{
	char path[300];

	svd_cm_stop();
	svd_ufiles_close_all();
	while (dev_list)
		svd_daemon_dev_del(dev_list->name);
	snprintf(path, sizeof(path), "%s/softverbsd.pid", svd_rundir());
	unlink(path);
	snprintf(path, sizeof(path), "%s/control.sock", svd_rundir());
	unlink(path);
	if (netdev_tag)
		svd_ev_unwatch(netdev_fd, netdev_tag);
	if (netdev_fd >= 0)
		close(netdev_fd);
	netdev_tag = NULL;
	netdev_fd = -1;
	free(ctl_ev_tag);
	close(ctl_listen_fd);
	ctl_ev_tag = NULL;
	ctl_listen_fd = -1;
}

