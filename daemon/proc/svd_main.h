/* SPDX-License-Identifier: MIT */
/* Daemon plumbing shared by main.c, ufile.c and engine.c. */
#ifndef SVD_MAIN_H
#define SVD_MAIN_H

#include "svd.h"

struct svd_ufile *svd_ufile_open(struct svd_device *dev, int fd);
/* Serve one ready message; < 0 means the ufile is gone (all fds closed). */
int svd_ufile_serve(struct svd_ufile *uf);
/* The framing and dispatch of one received message (fuzz_frame drives it). */
struct msghdr;
void svd_ufile_handle_msg(struct svd_ufile *uf, struct msghdr *mh, size_t n);
void svd_ufile_close(struct svd_ufile *uf);
int svd_ufiles_on(const struct svd_device *dev);
void svd_ufiles_close_all(void);

/* Data-path engine per device (engine.c). */
int svd_engine_start(struct svd_device *dev);
void svd_engine_stop(struct svd_device *dev);

void svd_daemon_request_stop(void);

/* An fd another part of the daemon serves from the main loop. */
struct svd_ev_hook {
	void (*fn)(struct svd_ev_hook *hook);
};
int svd_ev_watch(int fd, struct svd_ev_hook *hook, void **tag);
/*
 * The same for a listening socket: it is paused with the daemon's own
 * when file descriptors run out. After accept4() on it, call
 * svd_serve_accepted(fd) (fd or -1 with errno): false means give up.
 */
int svd_ev_watch_listener(int fd, struct svd_ev_hook *hook, void **tag);
bool svd_serve_accepted(int fd);
void svd_ev_unwatch(int fd, void *tag);

/* The connection manager (daemon/cm): $RUNDIR/cm.sock. */
int svd_cm_start(void);
void svd_cm_stop(void);
void svd_cm_device_removed(struct svd_device *dev);

/*
 * The event loop (serve.c): init makes epoll and the control socket in
 * svd_rundir(); devices are added with svd_daemon_dev_add(); the loop runs
 * until svd_daemon_request_stop(); shutdown closes every client and device.
 */
int svd_serve_init(void);
void svd_serve_loop(void);
/* One round of the loop (a fuzzer drives it): the events handled. */
int svd_serve_once(int timeout_ms);
void svd_serve_shutdown(void);

#endif
