// SPDX-License-Identifier: MIT
/*
 * Address handles: legacy write CREATE_AH / DESTROY_AH. The daemon checks
 * the attributes (port, GRH required on RoCE, source GID index); a UD send
 * names the AH by its handle.
 *
 * ibv_init_ah_from_wc() turns a received GRH back into a reply address:
 * the 40 bytes before a UD payload are an IPv6/IB GRH, or on RoCE v2 with
 * IPv4 an IPv4 header in their last 20 bytes.
 */
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>

#include "svl.h"

/* Exported by the library but not declared by the installed headers. */
int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
		       unsigned int index, int *type);

#define AH_IB_NEXT_HDR 0x1b
#define AH_GID_SCAN_MAX 256

SVL_EXPORT struct ibv_ah *ibv_create_ah(struct ibv_pd *pd,
					struct ibv_ah_attr *attr)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_create_ah cmd;
	} req;
	struct ib_uverbs_create_ah_resp resp;
	struct ib_uverbs_ah_attr *a = &req.cmd.attr;
	struct ibv_ah *ah;
	int ret;

	ah = svl_zalloc(sizeof(*ah));
	if (!ah)
		return NULL;
	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_CREATE_AH, sizeof(req),
		      sizeof(resp));
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.user_handle = (uintptr_t)ah;
	req.cmd.pd_handle = pd->handle;
	svl_ah_attr_to_kern(a, attr);
	ret = svl_write(pd->context, &req, sizeof(req), &resp, sizeof(resp), -1,
			NULL);
	if (ret) {
		free(ah);
		errno = ret;
		return NULL;
	}
	ah->context = pd->context;
	ah->pd = pd;
	ah->handle = resp.ah_handle;
	return ah;
}

SVL_EXPORT int ibv_destroy_ah(struct ibv_ah *ah)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_destroy_ah cmd;
	} req;
	int ret;

	memset(&req, 0, sizeof(req));
	svl_write_hdr(&req, IB_USER_VERBS_CMD_DESTROY_AH, sizeof(req), 0);
	req.cmd.ah_handle = ah->handle;
	ret = svl_write(ah->context, &req, sizeof(req), NULL, 0, -1, NULL);
	if (ret)
		return ret;
	free(ah);
	return 0;
}

/*
 * The local GID index holding gid (of type, if the type is known). type is
 * an IBV_GID_TYPE_*; ibv_query_gid_type() answers in rdma-core's sysfs
 * enum, where RoCE v2 is 1 and IB/RoCE v1 is 0.
 */
static int find_gid_index(struct ibv_context *ctx, uint8_t port,
			  const union ibv_gid *gid, int type)
{
	int sysfs_type = type == IBV_GID_TYPE_ROCE_V2 ? 1 : 0;
	union ibv_gid g;
	int i, t;

	for (i = 0; i < AH_GID_SCAN_MAX; i++) {
		if (ibv_query_gid(ctx, port, i, &g))
			break;
		if (memcmp(&g, gid, sizeof(g)))
			continue;
		if (ibv_query_gid_type(ctx, port, (unsigned int)i, &t) ||
		    t == sysfs_type)
			return i;
	}
	errno = ENOENT;
	return -1;
}

static void ipv4_to_gid(uint32_t addr_be, union ibv_gid *gid)
{
	memset(gid, 0, sizeof(*gid));
	gid->raw[10] = 0xff;
	gid->raw[11] = 0xff;
	memcpy(&gid->raw[12], &addr_be, 4);
}

static uint16_t ipv4_csum(const struct iphdr *h)
{
	const uint16_t *p = (const uint16_t *)h;
	uint32_t sum = 0;
	int i;

	for (i = 0; i < 10; i++)
		if (i != 5) /* the checksum field itself */
			sum += p[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* 6 for an IPv6/IB GRH, 4 for RoCE v2 IPv4, -1 otherwise. */
static int grh_version(const struct ibv_grh *grh)
{
	const struct iphdr *ip4 = (const void *)((const uint8_t *)grh + 20);
	int v6 = (int)(be32toh(grh->version_tclass_flow) >> 28);

	if (ip4->version == 4 && (v6 != 6 || ip4->check == ipv4_csum(ip4)))
		return 4;
	return v6 == 6 ? 6 : -1;
}

static int ah_from_ipv4(struct ibv_context *ctx, uint8_t port,
			const struct ibv_grh *grh, struct ibv_ah_attr *ah)
{
	const struct iphdr *ip4 = (const void *)((const uint8_t *)grh + 20);
	union ibv_gid local;
	int idx;

	if ((be32toh(ip4->daddr) >> 28) == 0xe) { /* multicast: not ours */
		errno = EINVAL;
		return -1;
	}
	ipv4_to_gid(ip4->daddr, &local);
	idx = find_gid_index(ctx, port, &local, IBV_GID_TYPE_ROCE_V2);
	if (idx < 0)
		return -1;
	ipv4_to_gid(ip4->saddr, &ah->grh.dgid);
	ah->grh.sgid_index = (uint8_t)idx;
	ah->grh.hop_limit = ip4->ttl;
	ah->grh.traffic_class = ip4->tos;
	return 0;
}

static int ah_from_ipv6(struct ibv_context *ctx, uint8_t port,
			const struct ibv_grh *grh, struct ibv_ah_attr *ah)
{
	int idx, type;

	if (grh->dgid.raw[0] == 0xff) {
		errno = EINVAL;
		return -1;
	}
	if (grh->next_hdr == IPPROTO_UDP) {
		type = IBV_GID_TYPE_ROCE_V2;
	} else if (grh->next_hdr == AH_IB_NEXT_HDR) {
		type = IBV_GID_TYPE_IB;
	} else {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	idx = find_gid_index(ctx, port, &grh->dgid, type);
	if (idx < 0)
		return -1;
	ah->grh.dgid = grh->sgid;
	ah->grh.sgid_index = (uint8_t)idx;
	ah->grh.hop_limit = grh->hop_limit;
	ah->grh.traffic_class =
	    (uint8_t)(be32toh(grh->version_tclass_flow) >> 20);
	return 0;
}

SVL_EXPORT int ibv_init_ah_from_wc(struct ibv_context *context,
				   uint8_t port_num, struct ibv_wc *wc,
				   struct ibv_grh *grh,
				   struct ibv_ah_attr *ah_attr)
{
	memset(ah_attr, 0, sizeof(*ah_attr));
	ah_attr->dlid = wc->slid;
	ah_attr->sl = wc->sl;
	ah_attr->src_path_bits = wc->dlid_path_bits;
	ah_attr->port_num = port_num;
	if (!(wc->wc_flags & IBV_WC_GRH))
		return 0;
	ah_attr->is_global = 1;
	ah_attr->grh.flow_label = be32toh(grh->version_tclass_flow) & 0xfffff;
	switch (grh_version(grh)) {
	case 4:
		return ah_from_ipv4(context, port_num, grh, ah_attr);
	case 6:
		return ah_from_ipv6(context, port_num, grh, ah_attr);
	default:
		errno = EPROTONOSUPPORT;
		return -1;
	}
}

SVL_EXPORT struct ibv_ah *ibv_create_ah_from_wc(struct ibv_pd *pd,
						struct ibv_wc *wc,
						struct ibv_grh *grh,
						uint8_t port_num)
{
	struct ibv_ah_attr attr;

	if (ibv_init_ah_from_wc(pd->context, port_num, wc, grh, &attr))
		return NULL;
	return ibv_create_ah(pd, &attr);
}
