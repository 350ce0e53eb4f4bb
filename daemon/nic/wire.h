/* SPDX-License-Identifier: MIT */
/*
 * The RoCEv2 wire (docs/wire.md): IBTA transport packets (BTH, extension
 * headers, payload, pad) carried in UDP to port 4791 over IPv4 or IPv6,
 * followed by the ICRC, exactly as kernel Soft-RoCE and RoCE NICs send
 * them. No privilege: ordinary unconnected UDP sockets bound to the
 * device's addresses, IP_PMTUDISC_DO (so IPv4 packets go with DF and ID 0,
 * which the ICRC covers: ../shared/reference/FACTS.md).
 *
 *   wire_pkt.c   ICRC, the pseudo header, validation of a received packet
 *   wire_sock.c  the sockets of a device, sending, the receive thread
 *   wire_pcap.c  "softverbs trace": every packet to a pcap file
 *   wire_stats.c per-port counters ("softverbs dev stats")
 *
 * A device has a wire only when it is bound to a network interface
 * ("softverbs dev add NAME netdev IF"): the default device stays on the
 * same-host path and never binds port 4791, so many daemons can share a
 * host (tests, other users) as long as each netdev device has its own
 * addresses (one daemon per network namespace).
 */
#ifndef SVD_WIRE_H
#define SVD_WIRE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_UDP_PORT 4791
#define WIRE_BTH_LEN 12
#define WIRE_ICRC_LEN 4
/* The largest IBTA payload (4096 MTU) plus every header and the ICRC. */
#define WIRE_PKT_MAX (4096 + 64 + 4)
/*
 * RoCEv2's Congestion Notification Packet: BTH (opcode 0x81, BECN set,
 * DestQP = the QP whose packet arrived CE-marked, PSN 0), 16 reserved
 * bytes, ICRC.
 */
#define WIRE_OP_CNP 0x81
#define WIRE_CNP_LEN (WIRE_BTH_LEN + 16)
/* Source ports a device sends from per address, for ECMP entropy. */
#define WIRE_SPORTS 4

/* Why a received packet was dropped; the names are in wire_stats.c. */
enum wire_drop {
	WIRE_DROP_SHORT = 1, /* shorter than BTH + ICRC (0 means no drop) */
	WIRE_DROP_ICRC,
	WIRE_DROP_VERSION, /* BTH TVer != 0 */
	WIRE_DROP_OPCODE, /* unknown or not allowed for its transport */
	WIRE_DROP_LENGTH, /* headers, pad or payload do not add up */
	WIRE_DROP_PKEY,
	WIRE_DROP_QPN, /* no such QP on this device (or QP0) */
	WIRE_DROP_QKEY,
	WIRE_DROP_QP_STATE, /* the QP cannot take it in its state */
	WIRE_DROP_QUEUE, /* the engine did not drain: receive queue full */
	WIRE_DROP_NOTRANSPORT, /* no engine transport attached */
	WIRE_DROP_NR
};

struct wire_counters {
	_Atomic uint64_t sent_pkts, sent_bytes, rcvd_pkts, rcvd_bytes;
	_Atomic uint64_t send_err; /* sendmsg failed (no route, too big) */
	_Atomic uint64_t send_backoff; /* sends that waited for the window */
	_Atomic uint64_t dropped[WIRE_DROP_NR];
	/* Transport events the engine reports (wire_count()). */
	_Atomic uint64_t retransmitted, duplicate, out_of_sequence;
	/* ECN (wire_cc.c): CE-marked packets received, CNPs sent for them,
	 * CNPs received and acted on, rate cuts (loss or CNP). */
	_Atomic uint64_t ecn_marked, cnp_sent, cnp_handled, rate_cuts;
	_Atomic uint64_t queue_marked; /* marked by our receive queue */
};

/* A BTH as the validator sees it (host order). */
struct wire_bth {
	uint8_t opcode;
	bool se, ackreq;
	uint8_t pad;
	uint16_t pkey;
	uint32_t dest_qpn, psn;
	uint32_t hdr_len; /* BTH and every extension header */
	uint32_t payload_len; /* without pad */
};

/* Addresses as GIDs: IPv4 is ::ffff:a.b.c.d. */
struct wire_ends {
	uint8_t sgid[16], dgid[16];
	uint16_t sport, dport;
	/*
	 * IPv4 ID the ICRC is computed for. Unconnected DF sockets send 0;
	 * segment i of a UDP GSO send leaves with ID i (wire_tx.c). On
	 * receipt it is the first guess (the segment's index in a GRO batch).
	 */
	uint16_t ip_id;
};

bool wire_gid_is_v4(const uint8_t *gid);
/*
 * The ICRC of a RoCEv2 packet: 'ib' holds BTH .. pad (len bytes, no
 * ICRC), 'e' the addresses and ports. IPv4 is taken as sent by rxe and by
 * our sockets: ID 0, DF. The value is in wire (little-endian) order.
 */
uint32_t wire_icrc(const struct wire_ends *e, const uint8_t *ib, size_t len);
/*
 * The raw CRC-32 register advanced over the first bytes of p by
 * PCLMULQDQ (wire_crc.c): how many it took (a multiple of 16, or 0 when
 * n < 64 or the CPU lacks it); the caller does the rest.
 */
size_t wire_crc_clmul(uint32_t *crc, const uint8_t *p, size_t n);
/*
 * Validate a received UDP payload (BTH .. ICRC): 0 with *bth filled, or
 * -enum wire_drop. Nothing past this point sees an unchecked byte.
 */
int wire_parse(const struct wire_ends *e, const uint8_t *udp, size_t len,
	       struct wire_bth *bth);

/* ---- a device's wire (wire_sock.c) ---- */
struct svd_device;
struct wire;

/* A validated packet handed to the engine. 'ib' is BTH .. pad. */
struct wire_rx {
	struct wire_rx *next;
	struct wire_ends ends;
	struct wire_bth bth;
	uint32_t len;
	uint8_t ecn; /* the IP header's ECN bits (3: CE, congestion) */
	bool queue_ce; /* it met a long queue here: congestion too */
	uint8_t ib[WIRE_PKT_MAX];
};

/*
 * Who takes validated packets: called on the receive thread. It owns rx
 * (and frees it with wire_rx_free()), or returns a drop reason (>0) and
 * the wire frees it.
 */
typedef int (*wire_rx_fn)(void *ctx, struct wire_rx *rx);

struct wire *wire_create(struct svd_device *dev);
void wire_destroy(struct wire *w);
void wire_set_receiver(struct wire *w, wire_rx_fn fn, void *ctx);
/* Re-read the device's GID table: bind new addresses, drop gone ones. */
int wire_sync_addrs(struct wire *w);
/*
 * Send one packet (BTH .. pad, len bytes) from sgid to dgid; the wire adds
 * UDP/IP and the ICRC. 'entropy' (the QPN) picks the source port. 0 or
 * -errno (counted).
 */
int wire_send(struct wire *w, const uint8_t *sgid, const uint8_t *dgid,
	      uint32_t entropy, const uint8_t *ib, size_t len);
/* The same without the rate window, from any thread (wire_gsi.c). */
int wire_send_now(struct wire *w, const uint8_t *sgid, const uint8_t *dgid,
		  uint32_t entropy, const uint8_t *ib, size_t len);
/*
 * The engine's thread: the same, batched (wire_tx.c) until wire_flush(),
 * which the engine calls at the end of every pass.
 */
int wire_send_batch(struct wire *w, const uint8_t *sgid,
		    const uint8_t *dgid, uint32_t entropy, const uint8_t *ib,
		    size_t len);
void wire_flush(struct wire *w);
struct wire_counters *wire_counters(struct wire *w);
/* Test knob (SOFTVERBS_WIRE_LOSS ce=PCT): mark that share of sent packets
 * CE, as a congested router would, so the receiver answers with CNPs. */
void wire_set_ce(struct wire *w, double pct);
/* A received datagram (n bytes in rx->ib, rx->ends set): validate, count,
 * deliver. The receive thread and the fuzzer call it; it owns rx. */
void wire_input(struct wire *w, struct wire_rx *rx, size_t n, bool trunc);
/* nic->port_changed / port_gone: make, rebind or free dev->wire. */
int wire_port_changed(struct svd_device *dev);
void wire_port_gone(struct svd_device *dev);
/* The engine's wire transport (wire_xport.c): attach once per device. */
int wire_xport_attach(struct svd_device *dev, struct wire *w);
void wire_rx_free(struct wire_rx *rx);

/* ---- QP1, the GSI: CM MADs (wire_gsi.c) ---- */
#define WIRE_GSI_QPN 1
#define WIRE_GSI_QKEY 0x80010000U
#define WIRE_GSI_MAD_SIZE 256
/*
 * Who takes received MADs (the CM): called on a receive thread with the
 * sender's and our GID; it copies what it keeps. One for the daemon.
 */
typedef void (*wire_gsi_fn)(struct svd_device *dev, const uint8_t *sgid,
			    const uint8_t *dgid, uint32_t src_qpn,
			    const uint8_t *mad);
void wire_gsi_set_receiver(wire_gsi_fn fn);
/* A packet for QP1 (rx_deliver): checked, handed on; as wire_rx_fn. */
int wire_gsi_input(struct wire *w, struct wire_rx *rx);
/* One MAD (256 bytes) from sgid's QP1 to dgid's QP1: 0 or -errno. */
int wire_gsi_send(struct wire *w, const uint8_t *sgid, const uint8_t *dgid,
		  const uint8_t *mad);

/* ---- per-port counters (wire_stats.c) ---- */
const char *wire_drop_name(enum wire_drop d);
/* "name value" lines, rxe's hw_counters names where they exist. */
void wire_stats_print(const struct wire_counters *c, void *file);
/* ports/1/hw_counters/ in the runtime dir's sysfs tree (the view). */
void wire_stats_files(struct wire *w, const char *rundir, const char *name);
enum wire_event {
	WIRE_EV_RETRANSMIT,
	WIRE_EV_DUPLICATE,
	WIRE_EV_OUT_OF_SEQ,
	WIRE_EV_CNP, /* a CNP for one of our QPs: slow down */
};
void wire_count(struct wire *w, enum wire_event ev);

/* ---- trace (wire_pcap.c) ---- */
struct wire_pcap;
int wire_pcap_open(struct wire_pcap **pp, const char *path);
void wire_pcap_close(struct wire_pcap *p);
/* One packet as it is (or was) on the wire: IP + UDP + ib + ICRC. */
void wire_pcap_write(struct wire_pcap *p, const struct wire_ends *e,
		     const uint8_t *ib, size_t len, uint32_t icrc);
int wire_trace(struct wire *w, const char *path); /* NULL: stop */

#endif /* SVD_WIRE_H */
