// SPDX-License-Identifier: MIT
/*
 * Flow steering: ibv_create_flow() / ibv_destroy_flow() (verbs_context
 * ops), sent as the kernel's extended write commands CREATE_FLOW /
 * DESTROY_FLOW. Each library spec (struct ibv_flow_spec_*) becomes the
 * kernel's spec: a header, then the value and the mask in the kernel's
 * filter layout (<rdma/ib_user_verbs.h>), as rdma-core's
 * ib_spec_to_kern_spec() does. The daemon checks and compiles them.
 */
#include <stdlib.h>
#include <string.h>

#include "svl_prov.h"

/* The biggest kernel spec: IPv6 (header, two 40-byte filters). */
#define FLOW_KSPEC_MAX sizeof(struct ib_uverbs_flow_spec_ipv6)

/* A library spec type and how it maps onto the kernel's. */
struct flow_map {
	uint32_t utype, ktype;
	size_t usize; /* sizeof the library's struct ibv_flow_spec_* */
	size_t uval, umask; /* offsets of its value and mask */
	size_t ulen; /* bytes of its filter */
	size_t klen; /* bytes of the kernel's filter (>= ulen) */
};

#define FLOW_MAP(_ut, _kt, _spec, _filt, _kfilt)                               \
	{ _ut, _kt, sizeof(struct _spec), offsetof(struct _spec, val),         \
	  offsetof(struct _spec, mask), sizeof(struct _filt),                  \
	  sizeof(struct _kfilt) }

static const struct flow_map flow_maps[] = {
	FLOW_MAP(IBV_FLOW_SPEC_ETH, SV_FLOW_SPEC_ETH, ibv_flow_spec_eth,
		 ibv_flow_eth_filter, ib_uverbs_flow_eth_filter),
	/* Plain IPv4 names the addresses only: the rest stays zero. */
	FLOW_MAP(IBV_FLOW_SPEC_IPV4, SV_FLOW_SPEC_IPV4, ibv_flow_spec_ipv4,
		 ibv_flow_ipv4_filter, ib_uverbs_flow_ipv4_filter),
	FLOW_MAP(IBV_FLOW_SPEC_IPV4_EXT, SV_FLOW_SPEC_IPV4,
		 ibv_flow_spec_ipv4_ext, ibv_flow_ipv4_ext_filter,
		 ib_uverbs_flow_ipv4_filter),
	FLOW_MAP(IBV_FLOW_SPEC_IPV6, SV_FLOW_SPEC_IPV6, ibv_flow_spec_ipv6,
		 ibv_flow_ipv6_filter, ib_uverbs_flow_ipv6_filter),
	FLOW_MAP(IBV_FLOW_SPEC_TCP, SV_FLOW_SPEC_TCP, ibv_flow_spec_tcp_udp,
		 ibv_flow_tcp_udp_filter, ib_uverbs_flow_tcp_udp_filter),
	FLOW_MAP(IBV_FLOW_SPEC_UDP, SV_FLOW_SPEC_UDP, ibv_flow_spec_tcp_udp,
		 ibv_flow_tcp_udp_filter, ib_uverbs_flow_tcp_udp_filter),
};

static const struct flow_map *flow_map(uint32_t utype)
{
	size_t i;

	for (i = 0; i < sizeof(flow_maps) / sizeof(flow_maps[0]); i++)
		if (flow_maps[i].utype == utype)
			return &flow_maps[i];
	return NULL;
}

/*
 * One library spec at u into kernel form at k. As in rdma-core, the specs
 * follow the attribute back to back, each as long as its size says
 * (ibv_flow_attr.size is not trusted to cover them).
 */
static int flow_spec(const uint8_t *u, uint8_t *k, uint16_t *usize,
		     uint16_t *ksize)
{
	struct ib_uverbs_flow_spec_hdr h = {};
	const struct flow_map *m;
	uint32_t type;

	memcpy(&type, u, sizeof(type));
	memcpy(usize, u + sizeof(type), sizeof(*usize));
	m = flow_map(type);
	if (!m) /* tunnels, inner headers, actions: not steered on */
		return EOPNOTSUPP;
	if (*usize < m->usize)
		return EINVAL;
	h.type = m->ktype;
	h.size = (uint16_t)(sizeof(h) + 2 * m->klen);
	memset(k, 0, h.size);
	memcpy(k, &h, sizeof(h));
	memcpy(k + sizeof(h), u + m->uval, m->ulen);
	memcpy(k + sizeof(h) + m->klen, u + m->umask, m->ulen);
	*ksize = h.size;
	return 0;
}

struct flow_cmd {
	struct ib_uverbs_cmd_hdr hdr;
	struct ib_uverbs_ex_cmd_hdr ex;
	struct ib_uverbs_create_flow body;
	uint8_t specs[SV_FLOW_MAX_SPECS * FLOW_KSPEC_MAX];
};

static int flow_fill(struct flow_cmd *c, struct ibv_qp *qp,
		     const struct ibv_flow_attr *a)
{
	const uint8_t *u = (const uint8_t *)(a + 1);
	uint16_t usize, ksize;
	size_t used = 0;
	unsigned int i;
	int ret;

	if (a->comp_mask || a->num_of_specs > SV_FLOW_MAX_SPECS)
		return EINVAL;
	for (i = 0; i < a->num_of_specs; i++) {
		ret = flow_spec(u, c->specs + used, &usize, &ksize);
		if (ret)
			return ret;
		u += usize;
		used += ksize;
	}
	c->body.qp_handle = qp->handle;
	c->body.flow_attr.type = a->type;
	c->body.flow_attr.size = (uint16_t)used;
	c->body.flow_attr.priority = a->priority;
	c->body.flow_attr.num_of_specs = a->num_of_specs;
	c->body.flow_attr.port = a->port;
	c->body.flow_attr.flags = a->flags;
	return 0;
}

struct ibv_flow *svl_create_flow(struct ibv_qp *qp, struct ibv_flow_attr *a)
{
	struct ib_uverbs_create_flow_resp resp = {};
	struct flow_cmd *c = calloc(1, sizeof(*c));
	struct ibv_flow *flow = calloc(1, sizeof(*flow));
	size_t core;
	int ret = c && flow ? flow_fill(c, qp, a) : ENOMEM;

	if (!ret) {
		core = sizeof(c->body) + c->body.flow_attr.size;
		svl_write_ex_hdr(c, IB_USER_VERBS_EX_CMD_CREATE_FLOW, core, 0,
				 sizeof(resp), 0, &resp);
		ret = svl_write(qp->context, c,
				offsetof(struct flow_cmd, body) + core, &resp,
				sizeof(resp), -1, NULL);
	}
	free(c);
	if (ret) {
		free(flow);
		return svl_fail(ret);
	}
	flow->context = qp->context;
	flow->handle = resp.flow_handle;
	return flow;
}

int svl_destroy_flow(struct ibv_flow *flow)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_destroy_flow body;
	} cmd = {};
	int ret;

	cmd.body.flow_handle = flow->handle;
	svl_write_ex_hdr(&cmd, IB_USER_VERBS_EX_CMD_DESTROY_FLOW,
			 sizeof(cmd.body), 0, 0, 0, NULL);
	ret = svl_write(flow->context, &cmd, sizeof(cmd), NULL, 0, -1, NULL);
	if (!ret)
		free(flow);
	return ret;
}
