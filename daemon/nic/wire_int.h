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
	/* The engine's thread only (cuts come from its passes too): */
	uint64_t target; /* the rate before the last cut: recovery aims here */
	uint32_t alpha; /* DCQCN's estimate of congestion, of 1024 */
	uint64_t tokens, stamp_ns;
	/* What was really sent: bytes since meter_ns, and the last rate. */
	uint64_t meter_bytes, meter_ns, sent_rate;
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
	struct wire_tx *tx; /* the engine's batch (wire_tx.c), under lock */
	uint32_t ce_ppm; /* test knob: sent packets marked CE, per million */
	uint64_t ce_rand;
	struct wire_counters cnt;
};

socklen_t wire_sockaddr(const uint8_t *gid, uint16_t port, uint32_t ifindex,
			struct sockaddr_storage *ss);
bool wire_gid_of(const struct sockaddr_storage *ss, uint8_t *gid,
		 uint16_t *port);
void wire_trace_pkt(struct wire *w, const struct wire_ends *e,
		    const uint8_t *ib, size_t len, uint32_t icrc);
/* The slot of addr[] serving gid, or -1; w->lock held. */
int wire_addr_index(const struct wire *w, const uint8_t *gid);
int wire_sendmsg_wait(struct wire *w, int fd, struct msghdr *mh);
struct wire_tx *wire_tx_new(void);
void wire_tx_free(struct wire_tx *tx);
void wire_window_init(struct wire_window *win);
/* The ECN bits to force on the next packet: 0, or CE by the knob. */
uint8_t wire_ce_mark(struct wire *w);
void wire_window_wait(struct wire *w, struct wire_window *win, size_t len);
/* Signals: true if the rate was cut. */
bool wire_window_loss(struct wire_window *win);
bool wire_window_cnp(struct wire_window *win);

#endif
