/* SPDX-License-Identifier: MIT */
/*
 * Who may deliver to a QP (xuser.c, docs/security.md).
 *
 * One daemon serves every user of the host, as one kernel device does, but
 * unlike a NIC on a wire every packet here is local, so the daemon knows
 * who owns both ends (the uid the kernel reported for each command FD).
 *
 * Cross-user policy. By default (deny) a packet from a QP of one user
 * reaches a QP of another user only if the receiver's owner connected that
 * QP to exactly the sender (RC, UC, XRC: dest_qp_num); UD across users is
 * refused. With --cross-user=allow (softverbsd option) users are not told
 * apart, as on a shared fabric.
 *
 * Path check. A connected QP (RC, UC, XRC target) takes packets only from
 * the path it was connected to, as rxe's check_addr does: the packet's
 * source address (SLID on an IB port, source GID with a GRH) must be the
 * path's destination, and its destination GID the path's source GID. The
 * responder then checks the source QPN (eng_resp.c), so a packet must come
 * from the right QP at the right address.
 *
 * Refused packets are dropped like a packet to nowhere (the sender's RC QP
 * retries and fails); the receiver's state never changes. They are counted
 * per device (dev->pkts_refused, `softverbs dev list`).
 */
#ifndef SVD_XUSER_H
#define SVD_XUSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "svd_objs.h"

/* The network-layer source and destination a packet carries. */
struct svd_xuser_addr {
	uint16_t slid, dlid;
	bool global; /* the packet has a GRH: sgid and dgid are valid */
	uint8_t sgid[16], dgid[16];
};

/*
 * A packet's sender, taken when it leaves its device (eng_switch.c): a
 * receiving device may not look at another device's objects, so what the
 * checks need of the sender travels with the packet.
 */
struct svd_xuser_from {
	uid_t uid; /* the sender QP's owner */
	uint32_t qpn;
	bool ud; /* UD: no path (the Q_Key decides) */
	struct svd_xuser_addr addr; /* a connected sender's path */
};

/* Parse "--cross-user=allow|deny": 1 taken, 0 not ours, -1 bad value. */
int svd_xuser_parse_arg(const char *arg);
/*
 * May a packet from the local QP src be delivered to dst? The user policy,
 * then the path check. Counts a refusal. Caller holds dev->lock.
 */
bool svd_xuser_allowed(const struct svd_qp *src, const struct svd_qp *dst);
/* The same decision, not counted (the direct path's grant, direct.c). */
bool svd_xuser_check(const struct svd_qp *src, const struct svd_qp *dst);
/*
 * The path check alone, for a packet whose sender is not a local QP (a
 * wire transport passes the addresses from the packet's LRH/GRH or IP
 * header). True for QPs that are not connected (UD: the Q_Key decides).
 * Counts a refusal on dst's device.
 */
bool svd_xuser_path_ok(const struct svd_qp *dst,
		       const struct svd_xuser_addr *from);
/* Fill f from src (caller holds src's dev->lock). */
void svd_xuser_from(const struct svd_qp *src, struct svd_xuser_from *f);
/* svd_xuser_allowed() for a sender described by f; counts a refusal. */
bool svd_xuser_from_allowed(const struct svd_qp *dst,
			    const struct svd_xuser_from *f);
/* Packets refused so far (all devices). */
unsigned long svd_xuser_refused(void);
/*
 * "refused=N foreign_drops=N rc_req_psns=N rc_dup_psns=N" for `softverbs
 * dev list`: refusals above on this device, the drops of its live QPs'
 * responders (wrong source QPN or Q_Key), and the PSNs of their RC
 * requests sent and taken for duplicates (any transport, same-host too).
 * Takes the engine lock: call without dev->lock.
 */
void svd_xuser_describe(struct svd_device *dev, char *buf, size_t len);

#endif
