/* SPDX-License-Identifier: MIT */
/*
 * Cross-user delivery policy (xuser.c, docs/security.md).
 *
 * One daemon serves every user of the host, as one kernel device does, but
 * unlike a NIC on a wire every packet here is local, so the daemon knows
 * who owns both ends (the uid the kernel reported for each command FD).
 * By default (deny) a packet from a QP of one user reaches a QP of another
 * user only if the receiver's owner connected that QP to exactly the
 * sender (RC, UC, XRC: dest_qp_num); UD across users is refused. With
 * --cross-user=allow (softverbsd option) users are not told apart, as on a
 * shared fabric, and only the transport's own checks (peer QPN, Q_Key,
 * rkeys) apply. Refused packets are dropped like a packet to nowhere and
 * counted; the receiver's state never changes.
 */
#ifndef SVD_XUSER_H
#define SVD_XUSER_H

#include <stdbool.h>

#include "svd_objs.h"

/* Parse "--cross-user=allow|deny": 1 taken, 0 not ours, -1 bad value. */
int svd_xuser_parse_arg(const char *arg);
/* May a packet from src be delivered to dst? Caller holds dev->lock. */
bool svd_xuser_allowed(const struct svd_qp *src, const struct svd_qp *dst);
/* Packets refused so far (all devices). */
unsigned long svd_xuser_refused(void);

#endif
