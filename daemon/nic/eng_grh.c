// SPDX-License-Identifier: MIT
/*
 * The 40 bytes a UD receive gets in front of its payload, for RoCEv2.
 *
 * On RoCEv2 the "GRH" is the packet's IP header, as kernel rxe and RoCE
 * NICs report it: an IPv6 header with next header UDP, or, when the source
 * GID is IPv4-mapped (::ffff:a.b.c.d), 20 zero bytes then the IPv4 header.
 * ibv_init_ah_from_wc() (and udaddy, and rdma_cm UD users) rely on this
 * to build the reply address. IB-type ports keep the IB GRH (next header
 * 0x1b) that eng_req.c writes.
 */
#include <arpa/inet.h>
#include <string.h>

#include "engine.h"

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static uint16_t ip_checksum(const uint8_t *hdr, unsigned int len)
{
	uint32_t sum = 0;
	unsigned int i;

	for (i = 0; i < len; i += 2)
		sum += (uint32_t)hdr[i] << 8 | hdr[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void grh_ipv4(uint8_t *grh, uint8_t tclass, uint8_t ttl,
		     uint16_t ip_len, const uint8_t *sgid, const uint8_t *dgid)
{
	uint8_t *ip = grh + 20;
	uint16_t csum;

	memset(grh, 0, 40);
	ip[0] = 0x45; /* version 4, 5 words */
	ip[1] = tclass;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[6] = 0x40; /* DF, ID 0: what rxe sends */
	ip[8] = ttl;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, sgid + 12, 4);
	memcpy(ip + 16, dgid + 12, 4);
	csum = ip_checksum(ip, 20);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
}

void eng_grh_rocev2(uint8_t *grh)
{
	uint8_t tclass = (uint8_t)(grh[0] << 4 | grh[1] >> 4);
	uint16_t plen = (uint16_t)(grh[4] << 8 | grh[5]);
	uint8_t sgid[16], dgid[16];

	memcpy(sgid, grh + 8, 16);
	memcpy(dgid, grh + 24, 16);
	if (!memcmp(sgid, v4_prefix, 12) && !memcmp(dgid, v4_prefix, 12)) {
		grh_ipv4(grh, tclass, grh[7], (uint16_t)(plen + 20), sgid,
			 dgid);
		return;
	}
	grh[6] = IPPROTO_UDP;
}

/* mlx5's CQE sl for RoCE: bit 3 UDP present, bits 2..0 L3 type (1 IPv6, 2 IPv4). */
uint8_t eng_grh_l3_type(const uint8_t *dgid)
{
	return 0x8 | (memcmp(dgid, v4_prefix, 12) ? 0x1 : 0x2);
}
