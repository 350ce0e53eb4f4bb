/* SPDX-License-Identifier: MIT */
/*
 * UD multicast groups (std_mcast.c). A device keeps a table of groups keyed
 * by MGID and MLID; each group lists the QP numbers attached to it. The
 * engine reads the table under dev->lock when a UD send names a multicast
 * address, and qpn.c drops a QP from every group when its number is freed.
 */
#ifndef SVD_MCAST_H
#define SVD_MCAST_H

#include <stdbool.h>
#include <stdint.h>

#include "svd.h"

#define SVD_MCAST_MAX_GRP 8192
#define SVD_MCAST_MAX_QP_ATTACH 56

/* The kernel's rdma_is_multicast_addr(): ff00::/8 or IPv4-mapped 224/4. */
bool svd_gid_is_mcast(const uint8_t *gid);

/*
 * Under dev->lock: the QPNs attached to the group (gid, lid), at most
 * SVD_MCAST_MAX_QP_ATTACH of them; returns how many. gid NULL (an IB send
 * without GRH) matches on the LID alone; RoCE ports ignore the LID.
 */
unsigned int svd_mcast_members(struct svd_device *dev, const uint8_t *gid,
			       uint16_t lid, uint32_t *qpns);

/* Under dev->lock: qpn is being freed, detach it everywhere. */
void svd_mcast_qp_gone(struct svd_device *dev, uint32_t qpn);

#endif
