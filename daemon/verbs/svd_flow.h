/* SPDX-License-Identifier: MIT */
/*
 * Flow steering for raw Ethernet QPs: the rules std_flow.c builds from
 * ibv_create_flow() and the NIC's receive path (nic/eng_raw.c) matches
 * frames against. A rule is a value and a mask over the header fields a
 * frame may carry, in the kernel's filter layouts; a frame matches when
 * it has every layer the rule names and its masked fields equal the
 * (pre-masked) value. Rules live on dev->flows, published and unpublished
 * under dev->lock, and the engine reads them only under it.
 */
#ifndef SVD_FLOW_H
#define SVD_FLOW_H

#include "svd.h"
#include "svd_objs.h"

/* The header fields of a frame, or of a rule's value / mask. */
struct svd_flow_key {
	struct ib_uverbs_flow_eth_filter eth;
	struct ib_uverbs_flow_ipv4_filter ipv4;
	struct ib_uverbs_flow_ipv6_filter ipv6;
	struct ib_uverbs_flow_tcp_udp_filter l4; /* TCP or UDP, per layers */
};

enum svd_flow_layer {
	SVD_FLOW_ETH = 1U << 0,
	SVD_FLOW_IPV4 = 1U << 1,
	SVD_FLOW_IPV6 = 1U << 2,
	SVD_FLOW_TCP = 1U << 3,
	SVD_FLOW_UDP = 1U << 4,
};

struct svd_flow {
	struct svd_flow *next; /* dev->flows */
	struct svd_qp *qp; /* holds qp->usecnt */
	uint32_t layers; /* enum svd_flow_layer the frame must have */
	struct svd_flow_key val, mask;
};

/*
 * Does the sender of this command hold CAP_NET_RAW in the daemon's user
 * namespace (the kernel's capable(CAP_NET_RAW) for raw QPs and flows)?
 * 0 or -EPERM (netraw.c).
 */
int svd_bundle_net_raw(const struct svd_bundle *b);

#endif
