/* SPDX-License-Identifier: MIT */
/* The wire's own state, shared by wire_*.c only (the API is wire.h). */
#ifndef SVD_WIRE_INT_H
#define SVD_WIRE_INT_H

#include <pthread.h>
#include <sys/socket.h>

#include "svd.h"
#include "wire.h"

/* One address of the device: fd[0] on port 4791, the others send. */
struct wire_addr {
	bool used;
	uint8_t gid[16];
	uint32_t ifindex;
	int fd[WIRE_SPORTS + 1];
	uint16_t port[WIRE_SPORTS + 1];
};

/*
 * Congestion (wire_cc.c): a sending rate, halved when the transport sees
 * loss (a retransmission or a sequence NAK) and raised again step by step
 * while none is seen, enforced by a token bucket in wire_send().
 */
struct wire_window {
	_Atomic uint64_t rate; /* bytes per second */
	_Atomic uint64_t last_cut_ns, last_raise_ns;
	uint64_t tokens, stamp_ns; /* sender side: one thread per device */
};

struct wire {
	struct svd_device *dev;
	pthread_mutex_t lock; /* addr[] against wire_sync_addrs() */
	struct wire_addr addr[SVD_MAX_GIDS];
	int epfd, stopfd;
	pthread_t rx_tid;
	bool rx_running;
	pthread_mutex_t rx_lock; /* rx_fn, rx_ctx */
	wire_rx_fn rx_fn;
	void *rx_ctx;
	pthread_mutex_t trace_lock;
	struct wire_pcap *pcap;
	struct wire_window win;
	struct wire_counters cnt;
};

socklen_t wire_sockaddr(const uint8_t *gid, uint16_t port, uint32_t ifindex,
			struct sockaddr_storage *ss);
bool wire_gid_of(const struct sockaddr_storage *ss, uint8_t *gid,
		 uint16_t *port);
void wire_trace_pkt(struct wire *w, const struct wire_ends *e,
		    const uint8_t *ib, size_t len, uint32_t icrc);
void wire_window_init(struct wire_window *win);
void wire_window_wait(struct wire *w, struct wire_window *win, size_t len);
void wire_window_loss(struct wire_window *win);

#endif
