// SPDX-License-Identifier: MIT
/*
 * Flow steering rules: IB_USER_VERBS_EX_CMD_CREATE_FLOW / DESTROY_FLOW
 * (write path, as rdma-core sends them) and UVERBS_METHOD_FLOW_DESTROY.
 * The command is checked as the kernel's ib_uverbs_ex_create_flow() and
 * kern_spec_to_ib_spec() check it, each spec is compiled into the rule's
 * value and mask over struct svd_flow_key (svd_flow.h), and the rule is
 * published on dev->flows, where the NIC's raw receive path (nic/eng_raw.c)
 * matches frames against it. A rule is a uobject of the QP's context and
 * holds the QP (destroying the QP first is EBUSY); a closing context
 * destroys its rules before its QPs (SVD_ORDER_FLOW).
 */
#include <stdlib.h>
#include <string.h>

#include "svd_flow.h"
#include "svd_qpn.h"

/* The largest spec (the kernel's union ib_uverbs_flow_spec): IPv6. */
#define FLOW_SPEC_MAX sizeof(struct ib_uverbs_flow_spec_ipv6)

/* A spec type the NIC matches: its layer and its part of the key. */
struct flow_kind {
	uint32_t type;
	uint32_t layer;
	size_t off; /* in struct svd_flow_key */
	size_t size; /* the kernel's filter size (ib_flow_*_filter real_sz) */
};

static const struct flow_kind flow_kinds[] = {
	{ SV_FLOW_SPEC_ETH, SVD_FLOW_ETH, offsetof(struct svd_flow_key, eth),
	  sizeof(struct ib_uverbs_flow_eth_filter) },
	{ SV_FLOW_SPEC_IPV4, SVD_FLOW_IPV4, offsetof(struct svd_flow_key, ipv4),
	  sizeof(struct ib_uverbs_flow_ipv4_filter) },
	/* The kernel's IPv6 filter has no reserved byte. */
	{ SV_FLOW_SPEC_IPV6, SVD_FLOW_IPV6, offsetof(struct svd_flow_key, ipv6),
	  offsetof(struct ib_uverbs_flow_ipv6_filter, reserved) },
	{ SV_FLOW_SPEC_TCP, SVD_FLOW_TCP, offsetof(struct svd_flow_key, l4),
	  sizeof(struct ib_uverbs_flow_tcp_udp_filter) },
	{ SV_FLOW_SPEC_UDP, SVD_FLOW_UDP, offsetof(struct svd_flow_key, l4),
	  sizeof(struct ib_uverbs_flow_tcp_udp_filter) },
};

static void flow_free(struct svd_device *dev, struct svd_flow *f)
{
	struct svd_flow **pp;

	pthread_mutex_lock(&dev->lock);
	for (pp = &dev->flows; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	pthread_mutex_unlock(&dev->lock);
	/* Unpublished under dev->lock: no engine step still sees it. */
	atomic_fetch_sub(&f->qp->usecnt, 1);
	free(f);
}

static int flow_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	(void)why; /* nothing holds a rule */
	flow_free(uobj->dev, uobj->object);
	return 0;
}

SVD_DECLARE_IDR_TYPE(flow, UVERBS_OBJECT_FLOW, SVD_ORDER_FLOW, flow_destroy);

static bool bytes_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static const struct flow_kind *flow_kind(uint32_t type)
{
	size_t i;

	for (i = 0; i < SVD_ARRAY_SIZE(flow_kinds); i++)
		if (flow_kinds[i].type == type)
			return &flow_kinds[i];
	return NULL;
}

/* The layers the kernel knows but this NIC does not steer on. */
static bool flow_type_known(uint32_t type)
{
	type &= ~(uint32_t)SV_FLOW_SPEC_INNER;
	return (type >= 0x20 && type <= 0x22) || (type >= 0x30 && type <= 0x34) ||
	       (type >= 0x40 && type <= 0x41) || (type >= 0x50 && type <= 0x51) ||
	       type == 0x60 || (type >= 0x1000 && type <= 0x1003);
}

/* One spec (hdr, value, mask) into the rule: 0 or the kernel's errno. */
static int flow_add_spec(struct svd_flow *f,
			 const struct ib_uverbs_flow_spec_hdr *h,
			 const uint8_t *val)
{
	const struct flow_kind *k = flow_kind(h->type);
	size_t fsz = (h->size - sizeof(*h)) / 2, n;
	uint8_t *v = (uint8_t *)&f->val, *m = (uint8_t *)&f->mask;
	size_t i;

	if (h->reserved)
		return -EINVAL;
	if (!k)
		return flow_type_known(h->type) ? -EOPNOTSUPP : -EINVAL;
	/* A longer filter than the kernel knows must mask nothing more. */
	if (!fsz || (fsz > k->size && !bytes_zero(val + fsz + k->size,
						    fsz - k->size)))
		return -EINVAL;
	n = fsz < k->size ? fsz : k->size;
	for (i = 0; i < n; i++) {
		m[k->off + i] |= val[fsz + i];
		v[k->off + i] |= val[i] & val[fsz + i];
	}
	f->layers |= k->layer;
	return 0;
}

/* IPv6 flow labels are 20 bits (kern_spec_to_ib_spec_filter). */
static bool flow_label_ok(const struct svd_flow *f)
{
	return be32toh(f->val.ipv6.flow_label) < (1U << 20) &&
	       be32toh(f->mask.ipv6.flow_label) < (1U << 20);
}

/* The specs, size bytes at p: every one whole, and nothing left over. */
static int flow_compile(struct svd_flow *f, const uint8_t *p, size_t size,
			unsigned int nspecs)
{
	struct ib_uverbs_flow_spec_hdr h;
	unsigned int i;
	int ret;

	for (i = 0; i < nspecs; i++) {
		if (size < sizeof(h))
			return -EINVAL;
		memcpy(&h, p, sizeof(h));
		if (h.size < sizeof(h) + 2 || h.size > size ||
		    h.size > FLOW_SPEC_MAX)
			return -EINVAL;
		ret = flow_add_spec(f, &h, p + sizeof(h));
		if (ret)
			return ret;
		p += h.size;
		size -= h.size;
	}
	if (size || ((f->layers & SVD_FLOW_IPV6) && !flow_label_ok(f)))
		return -EINVAL;
	/* A TCP and a UDP spec together match nothing: refuse it. */
	if ((f->layers & SVD_FLOW_TCP) && (f->layers & SVD_FLOW_UDP))
		return -EINVAL;
	return 0;
}

/* The command's own checks, in the kernel's order. */
static int flow_check_cmd(struct svd_bundle *b,
			  const struct ib_uverbs_create_flow *c, size_t have)
{
	const struct ib_uverbs_flow_attr *a = &c->flow_attr;
	int ret;

	if (c->comp_mask)
		return -EINVAL;
	ret = svd_bundle_net_raw(b);
	if (ret)
		return ret;
	if (a->flags >= SV_FLOW_ATTR_FLAGS_RESERVED)
		return -EINVAL;
	if ((a->flags & SV_FLOW_ATTR_FLAGS_DONT_TRAP) &&
	    (a->type == SV_FLOW_ATTR_ALL_DEFAULT ||
	     a->type == SV_FLOW_ATTR_MC_DEFAULT))
		return -EINVAL;
	if (a->num_of_specs > SV_FLOW_MAX_SPECS ||
	    a->size > a->num_of_specs * FLOW_SPEC_MAX)
		return -EINVAL;
	if (a->reserved[0] || a->reserved[1])
		return -EINVAL;
	if (a->size > have)
		return -EINVAL;
	return 0;
}

/* The QP the rule steers to: a raw packet QP on port 1. */
static int flow_check_qp(const struct svd_qp *qp,
			 const struct ib_uverbs_flow_attr *a)
{
	if (qp->qp_type == SVD_QPT_UD)
		return -EOPNOTSUPP; /* no IPoIB-style steering to UD QPs */
	if (qp->qp_type != SVD_QPT_RAW_PACKET || a->port != 1)
		return -EINVAL;
	/* Only ingress rules that trap; no default or sniffer rules. */
	if (a->type != SV_FLOW_ATTR_NORMAL ||
	    (a->flags & SV_FLOW_ATTR_FLAGS_EGRESS))
		return -EOPNOTSUPP;
	return 0;
}

static int flow_build(struct svd_bundle *b,
		      const struct ib_uverbs_create_flow *c,
		      struct svd_flow **out)
{
	const uint8_t *specs = b->uhw_in.present ? b->uhw_in.in : NULL;
	size_t have = b->uhw_in.present ? b->uhw_in.len : 0;
	struct svd_flow *f;
	int ret = flow_check_cmd(b, c, have);

	if (ret)
		return ret;
	/* Bytes after the specs: the kernel's uverbs_request_finish(). */
	if (!bytes_zero(specs + c->flow_attr.size, have - c->flow_attr.size))
		return -EOPNOTSUPP;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = flow_compile(f, specs, c->flow_attr.size,
			   c->flow_attr.num_of_specs);
	if (ret) {
		free(f);
		return ret;
	}
	*out = f;
	return 0;
}

static void flow_publish(struct svd_device *dev, struct svd_flow *f,
			 struct svd_qp *qp)
{
	f->qp = qp;
	atomic_fetch_add(&qp->usecnt, 1);
	pthread_mutex_lock(&dev->lock);
	f->next = dev->flows;
	dev->flows = f;
	pthread_mutex_unlock(&dev->lock);
}

/* write(): IB_USER_VERBS_EX_CMD_CREATE_FLOW */
static int write_create_flow(struct svd_bundle *b)
{
	const struct ib_uverbs_create_flow *c = svd_write_req(b, NULL);
	struct ib_uverbs_create_flow_resp resp = {};
	struct svd_uobj *u, *qpu;
	struct svd_flow *f;
	int ret = flow_build(b, c, &f);

	if (ret)
		return ret;
	u = svd_bundle_new_uobj(b, 0, &svd_type_flow);
	qpu = svd_is_err(u) ? u :
			      svd_uobj_lookup(b->uctx, &svd_type_qp,
					      c->qp_handle, SVD_LOOKUP_READ);
	if (svd_is_err(qpu)) {
		free(f);
		ret = (int)svd_ptr_err(qpu);
		return ret == -ENOENT ? -EINVAL : ret;
	}
	ret = flow_check_qp(qpu->object, &c->flow_attr);
	if (!ret) {
		flow_publish(b->dev, f, qpu->object);
		u->object = f;
		resp.flow_handle = u->handle;
	} else {
		free(f);
	}
	svd_uobj_unlock(qpu, SVD_LOOKUP_READ);
	return ret ? ret : svd_write_resp(b, &resp, sizeof(resp));
}

/* write(): IB_USER_VERBS_EX_CMD_DESTROY_FLOW */
static int write_destroy_flow(struct svd_bundle *b)
{
	const struct ib_uverbs_destroy_flow *c = svd_write_req(b, NULL);

	if (c->comp_mask)
		return -EINVAL;
	return svd_write_destroy_def_handler(b);
}

/* ioctl: UVERBS_METHOD_FLOW_DESTROY */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_FLOW_DESTROY,
			   UVERBS_ATTR_DESTROY_FLOW_HANDLE, &svd_type_flow);

const struct svd_module svd_mod_flow = {
    .name = "flow",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_FLOW, &svd_type_flow,
			   SVD_METHOD_REF(UVERBS_METHOD_FLOW_DESTROY))),
    SVD_WRITE_CMDS(
	SVD_WRITE_EX(IB_USER_VERBS_EX_CMD_CREATE_FLOW, write_create_flow,
		     struct ib_uverbs_create_flow,
		     struct ib_uverbs_create_flow_resp),
	{ .cmd = IB_USER_VERBS_EX_CMD_DESTROY_FLOW, .ex = true,
	  .handler = write_destroy_flow,
	  .req_size = sizeof(struct ib_uverbs_destroy_flow),
	  .destroy_type = &svd_type_flow,
	  .handle_off = offsetof(struct ib_uverbs_destroy_flow, flow_handle) }),
};
