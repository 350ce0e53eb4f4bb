/* SPDX-License-Identifier: MIT */
/*
 * The transport interface: below the requester, responder and completer,
 * everything is "send a packet" (eng_xport_ops.send) and "a packet
 * arrived" (eng_recv(), which dispatches requests to the destination QP's
 * responder and responses to its completer).
 *
 * send() may deliver synchronously (the same-host transport calls
 * eng_recv() at once, so answers come back re-entrantly, at most
 * requester -> responder -> completer deep) or keep the packet; a
 * transport that keeps one past send() first makes its payload owned
 * (eng_pkt_own / eng_pkt_clone), because a referenced payload is valid
 * only during the call. poll() runs once per engine pass with dev->lock
 * held: a transport delivers what it kept (or received) from there and
 * lowers *deadline_ns to when it next needs a pass. seg_max() is the most
 * payload bytes one packet may carry (GSO); the engine rounds it down to a
 * multiple of the path MTU, and never below one MTU.
 *
 * Routing (eng_xport.c): a packet whose destination address is this
 * device's goes to the same-host transport (e->local, possibly wrapped by
 * the lossy test transport); on an InfiniBand device any other goes to
 * the switch (e->sw), which finds the port holding its DLID; on a RoCE
 * device to e->wire, which exists only on a device bound to a network
 * interface: without one, such packets are dropped.
 */
#ifndef SVD_ENG_XPORT_H
#define SVD_ENG_XPORT_H

#include <stdint.h>

struct eng_packet;
struct svd_engine;
struct eng_xport;

struct eng_xport_ops {
	const char *name;
	/* 0 sent (or dropped, as a lossy link may); -EFAULT: the payload's
	 * source memory could not be read (the sender's local error). */
	int (*send)(struct eng_xport *x, struct eng_packet *p);
	void (*poll)(struct eng_xport *x, int64_t *deadline_ns);
	uint32_t (*seg_max)(const struct eng_xport *x);
	void (*destroy)(struct eng_xport *x);
	/* Optional: the pass ends, send what send() batched (the wire). */
	void (*flush)(struct eng_xport *x);
};

struct eng_xport {
	const struct eng_xport_ops *ops;
	struct svd_engine *e;
};

/* Same host: lossless, synchronous delivery through eng_recv(). */
struct eng_xport *eng_xport_local_new(struct svd_engine *e);

/*
 * The switch between the daemon's InfiniBand ports (eng_switch.c): on an
 * IB device, e->sw carries packets to the port holding their DLID. 0 or
 * -ENOMEM; a RoCE device gets none.
 */
int eng_switch_attach(struct svd_engine *e);

/* The lossy test transport around inner, configured by spec
 * ("drop=PCT,dup=PCT,reorder=PCT,delay_us=N,seed=N", any subset). */
struct eng_loss_cfg {
	double drop, dup, reorder; /* percent, 0..100 */
	uint64_t delay_ns, seed;
};

int eng_loss_parse(const char *spec, struct eng_loss_cfg *cfg);
struct eng_xport *eng_xport_loss_new(struct svd_engine *e,
				     struct eng_xport *inner,
				     const struct eng_loss_cfg *cfg);

#endif /* SVD_ENG_XPORT_H */
