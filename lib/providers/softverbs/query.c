// SPDX-License-Identifier: MIT
/*
 * Device, port, GID and P_Key queries. The device query goes through the
 * extended write command (as rdma-core's ibv_cmd_query_device_any), port
 * and GID queries through the ioctl methods, P_Keys are local: a RoCE port
 * has exactly the default P_Key, as sysfs would show.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "svl.h"
#include "svl_prov.h"

/* Exported by libibverbs (IBVERBS_PRIVATE_34) but not declared in verbs.h. */
int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
		       unsigned int index, int *type);

/* Before 'flags' was added: what ibv_query_port@IBVERBS_1.1 callers have. */
#define SVL_COMPAT_PORT_ATTR_LEN offsetof(struct ibv_port_attr, flags)

static void fw_ver_str(uint64_t raw, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u", (unsigned int)((raw >> 32) & 0xffff),
		 (unsigned int)((raw >> 16) & 0xffff),
		 (unsigned int)(raw & 0xffff));
}

static void copy_base_attr(struct svl_context *ctx,
			   const struct ib_uverbs_query_device_resp *r,
			   struct ibv_device_attr *a)
{
	memset(a, 0, sizeof(*a));
	fw_ver_str(r->fw_ver, a->fw_ver, sizeof(a->fw_ver));
	a->node_guid = r->node_guid;
	a->sys_image_guid = r->sys_image_guid;
	a->max_mr_size = r->max_mr_size;
	a->page_size_cap = r->page_size_cap;
	a->vendor_id = r->vendor_id;
	a->vendor_part_id = r->vendor_part_id;
	a->hw_ver = r->hw_ver;
	a->max_qp = (int)r->max_qp;
	a->max_qp_wr = (int)r->max_qp_wr;
	a->device_cap_flags = r->device_cap_flags;
	a->max_sge = (int)r->max_sge;
	a->max_sge_rd = (int)r->max_sge_rd;
	a->max_cq = (int)r->max_cq;
	a->max_cqe = (int)r->max_cqe;
	a->max_mr = (int)r->max_mr;
	a->max_pd = (int)r->max_pd;
	a->max_qp_rd_atom = (int)r->max_qp_rd_atom;
	a->max_ee_rd_atom = (int)r->max_ee_rd_atom;
	a->max_res_rd_atom = (int)r->max_res_rd_atom;
	a->max_qp_init_rd_atom = (int)r->max_qp_init_rd_atom;
	a->max_ee_init_rd_atom = (int)r->max_ee_init_rd_atom;
	a->atomic_cap = (enum ibv_atomic_cap)r->atomic_cap;
	a->max_ee = (int)r->max_ee;
	a->max_rdd = (int)r->max_rdd;
	a->max_mw = (int)r->max_mw;
	a->max_raw_ipv6_qp = (int)r->max_raw_ipv6_qp;
	a->max_raw_ethy_qp = (int)r->max_raw_ethy_qp;
	a->max_mcast_grp = (int)r->max_mcast_grp;
	a->max_mcast_qp_attach = (int)r->max_mcast_qp_attach;
	a->max_total_mcast_qp_attach = (int)r->max_total_mcast_qp_attach;
	a->max_ah = (int)r->max_ah;
	a->max_fmr = (int)r->max_fmr;
	a->max_map_per_fmr = (int)r->max_map_per_fmr;
	a->max_srq = (int)r->max_srq;
	a->max_srq_wr = (int)r->max_srq_wr;
	a->max_srq_sge = (int)r->max_srq_sge;
	a->max_pkeys = r->max_pkeys;
	a->local_ca_ack_delay = r->local_ca_ack_delay;
	a->phys_port_cnt = r->phys_port_cnt;
	(void)ctx;
}

static int query_device_cmd(struct ibv_context *c,
			    struct ib_uverbs_ex_query_device_resp *resp)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_ex_cmd_hdr ex;
		struct ib_uverbs_ex_query_device body;
	} cmd = {};

	memset(resp, 0, sizeof(*resp));
	svl_write_ex_hdr(&cmd, IB_USER_VERBS_EX_CMD_QUERY_DEVICE,
			 sizeof(cmd.body), 0, sizeof(*resp), 0, resp);
	return svl_write(c, &cmd, sizeof(cmd), resp, sizeof(*resp), -1, NULL);
}

int svl_query_device_ex(struct ibv_context *c,
			const struct ibv_query_device_ex_input *in,
			struct ibv_device_attr_ex *attr, size_t len)
{
	struct ib_uverbs_ex_query_device_resp r;
	struct ibv_device_attr_ex a = {};
	int ret;

	if (in && in->comp_mask)
		return EINVAL;
	if (len < sizeof(attr->orig_attr))
		return EINVAL;
	ret = query_device_cmd(c, &r);
	if (ret)
		return ret;
	copy_base_attr(to_svl_ctx(c), &r.base, &a.orig_attr);
	a.odp_caps.general_caps = r.odp_caps.general_caps;
	a.odp_caps.per_transport_caps.rc_odp_caps =
		r.odp_caps.per_transport_caps.rc_odp_caps;
	a.odp_caps.per_transport_caps.uc_odp_caps =
		r.odp_caps.per_transport_caps.uc_odp_caps;
	a.odp_caps.per_transport_caps.ud_odp_caps =
		r.odp_caps.per_transport_caps.ud_odp_caps;
	a.completion_timestamp_mask = r.timestamp_mask;
	a.hca_core_clock = r.hca_core_clock;
	a.device_cap_flags_ex = r.device_cap_flags_ex;
	a.max_wq_type_rq = r.max_wq_type_rq;
	a.raw_packet_caps = r.raw_packet_caps;
	a.tm_caps.max_rndv_hdr_size = r.tm_caps.max_rndv_hdr_size;
	a.tm_caps.max_num_tags = r.tm_caps.max_num_tags;
	a.tm_caps.flags = r.tm_caps.flags; /* IB_TM_CAP_RNDV_RC: IBV_TM_CAP_RC */
	a.tm_caps.max_ops = r.tm_caps.max_ops;
	a.tm_caps.max_sge = r.tm_caps.max_sge;
	a.cq_mod_caps.max_cq_count = r.cq_moderation_caps.max_cq_moderation_count;
	a.cq_mod_caps.max_cq_period =
		r.cq_moderation_caps.max_cq_moderation_period;
	a.max_dm_size = r.max_dm_size;
	a.xrc_odp_caps = r.xrc_odp_caps;
	a.phys_port_cnt_ex = r.base.phys_port_cnt;
	/* An older caller's struct is shorter: give it what it has room for. */
	memcpy(attr, &a, len < sizeof(a) ? len : sizeof(a));
	return 0;
}

SVL_EXPORT int ibv_query_device(struct ibv_context *context,
				struct ibv_device_attr *device_attr)
{
	return svl_query_device_ex(context, NULL,
				   (struct ibv_device_attr_ex *)device_attr,
				   sizeof(*device_attr));
}

static void port_from_resp(const struct ib_uverbs_query_port_resp_ex *rx,
			   struct ibv_port_attr *a)
{
	const struct ib_uverbs_query_port_resp *r = &rx->legacy_resp;

	memset(a, 0, sizeof(*a));
	a->state = (enum ibv_port_state)r->state;
	a->max_mtu = (enum ibv_mtu)r->max_mtu;
	a->active_mtu = (enum ibv_mtu)r->active_mtu;
	a->gid_tbl_len = (int)r->gid_tbl_len;
	a->port_cap_flags = r->port_cap_flags;
	a->max_msg_sz = r->max_msg_sz;
	a->bad_pkey_cntr = r->bad_pkey_cntr;
	a->qkey_viol_cntr = r->qkey_viol_cntr;
	a->pkey_tbl_len = r->pkey_tbl_len;
	a->lid = r->lid;
	a->sm_lid = r->sm_lid;
	a->lmc = r->lmc;
	a->max_vl_num = r->max_vl_num;
	a->sm_sl = r->sm_sl;
	a->subnet_timeout = r->subnet_timeout;
	a->init_type_reply = r->init_type_reply;
	a->active_width = r->active_width;
	a->active_speed = r->active_speed;
	a->phys_state = r->phys_state;
	a->link_layer = r->link_layer;
	if (r->flags & IB_UVERBS_QPF_GRH_REQUIRED)
		a->flags |= IBV_QPF_GRH_REQUIRED;
	a->port_cap_flags2 = rx->port_cap_flags2;
}

int svl_query_port_ex(struct ibv_context *c, uint8_t port,
		      struct ibv_port_attr *attr, size_t len)
{
	struct ib_uverbs_query_port_resp_ex resp = {};
	struct ibv_port_attr a;
	struct svl_cmd cmd;
	int ret;

	svl_cmd_init(&cmd, UVERBS_OBJECT_DEVICE, UVERBS_METHOD_QUERY_PORT);
	svl_attr_u64(&cmd, UVERBS_ATTR_QUERY_PORT_PORT_NUM, port);
	svl_attr_out(&cmd, UVERBS_ATTR_QUERY_PORT_RESP, &resp, sizeof(resp));
	ret = svl_exec(c, &cmd);
	if (ret)
		return ret;
	port_from_resp(&resp, &a);
	/* Callers built against an older verbs.h have a shorter struct. */
	memcpy(attr, &a, len < sizeof(a) ? len : sizeof(a));
	return 0;
}

/* The IBVERBS_1.1 symbol: called with the pre-'flags' struct layout. */
SVL_EXPORT int ibv_query_port(struct ibv_context *context, uint8_t port_num,
			      struct _compat_ibv_port_attr *port_attr)
{
	return svl_query_port_ex(context, port_num,
				 (struct ibv_port_attr *)port_attr,
				 SVL_COMPAT_PORT_ATTR_LEN);
}

SVL_EXPORT int _ibv_query_gid_ex(struct ibv_context *context,
				 uint32_t port_num, uint32_t gid_index,
				 struct ibv_gid_entry *entry, uint32_t flags,
				 size_t entry_size)
{
	struct ib_uverbs_gid_entry e = {};
	struct svl_cmd cmd;
	int ret;

	if (flags || entry_size < sizeof(*entry))
		return EINVAL;
	svl_cmd_init(&cmd, UVERBS_OBJECT_DEVICE,
		     UVERBS_METHOD_QUERY_GID_ENTRY);
	svl_attr_u64(&cmd, UVERBS_ATTR_QUERY_GID_ENTRY_PORT, port_num);
	svl_attr_u64(&cmd, UVERBS_ATTR_QUERY_GID_ENTRY_GID_INDEX, gid_index);
	svl_attr_out(&cmd, UVERBS_ATTR_QUERY_GID_ENTRY_RESP_ENTRY, &e,
		     sizeof(e));
	ret = svl_exec(context, &cmd);
	if (ret)
		return ret;
	memset(entry, 0, entry_size);
	memcpy(&entry->gid, e.gid, sizeof(entry->gid));
	entry->gid_index = e.gid_index;
	entry->port_num = e.port_num;
	entry->gid_type = e.gid_type;
	entry->ndev_ifindex = e.netdev_ifindex;
	return 0;
}

SVL_EXPORT ssize_t _ibv_query_gid_table(struct ibv_context *context,
					struct ibv_gid_entry *entries,
					size_t max_entries, uint32_t flags,
					size_t entry_size)
{
	uint64_t num = 0;
	struct svl_cmd cmd;
	size_t room;
	int ret;

	if (flags || entry_size < sizeof(*entries))
		return -EINVAL;
	/* The attribute length is 16 bits: ask for what fits. */
	if (max_entries > UINT16_MAX / entry_size)
		max_entries = UINT16_MAX / entry_size;
	room = max_entries * entry_size;
	if (!room)
		return -EINVAL;
	svl_cmd_init(&cmd, UVERBS_OBJECT_DEVICE,
		     UVERBS_METHOD_QUERY_GID_TABLE);
	svl_attr_u64(&cmd, UVERBS_ATTR_QUERY_GID_TABLE_ENTRY_SIZE, entry_size);
	svl_attr_out(&cmd, UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES, entries,
		     room);
	svl_attr_out(&cmd, UVERBS_ATTR_QUERY_GID_TABLE_RESP_NUM_ENTRIES, &num,
		     sizeof(num));
	ret = svl_exec(context, &cmd);
	if (ret)
		return -ret;
	return (ssize_t)num;
}

SVL_EXPORT int ibv_query_gid(struct ibv_context *context, uint8_t port_num,
			     int index, union ibv_gid *gid)
{
	struct ibv_gid_entry e;
	int ret;

	if (index < 0) {
		errno = EINVAL;
		return -1;
	}
	ret = _ibv_query_gid_ex(context, port_num, (uint32_t)index, &e, 0,
				sizeof(e));
	/* An empty slot reads as the zero GID, as the sysfs file did. */
	if (ret == ENODATA) {
		memset(gid, 0, sizeof(*gid));
		return 0;
	}
	if (ret) {
		errno = ret;
		return -1;
	}
	*gid = e.gid;
	return 0;
}

/* Values of rdma-core's enum ibv_gid_type_sysfs. */
enum { SVL_GID_SYSFS_IB_ROCE_V1, SVL_GID_SYSFS_ROCE_V2 };

SVL_EXPORT int ibv_query_gid_type(struct ibv_context *context,
				  uint8_t port_num, unsigned int index,
				  int *type)
{
	struct ibv_gid_entry e;
	int ret;

	ret = _ibv_query_gid_ex(context, port_num, index, &e, 0, sizeof(e));
	if (ret == ENODATA) {
		*type = SVL_GID_SYSFS_IB_ROCE_V1;
		return 0;
	}
	if (ret) {
		errno = ret;
		return -1;
	}
	*type = e.gid_type == IBV_GID_TYPE_ROCE_V2 ? SVL_GID_SYSFS_ROCE_V2 :
						     SVL_GID_SYSFS_IB_ROCE_V1;
	return 0;
}

/*
 * One P_Key, the default full-membership 0xffff, as every RoCE port has.
 * The port is checked with the daemon so a bad port fails like sysfs would.
 */
SVL_EXPORT int ibv_query_pkey(struct ibv_context *context, uint8_t port_num,
			      int index, __be16 *pkey)
{
	struct ibv_port_attr a;
	int ret;

	ret = svl_query_port_ex(context, port_num, &a, sizeof(a));
	if (ret) {
		errno = ret;
		return -1;
	}
	if (index < 0 || index >= a.pkey_tbl_len) {
		errno = EINVAL;
		return -1;
	}
	*pkey = htobe16(0xffff);
	return 0;
}

SVL_EXPORT int ibv_get_pkey_index(struct ibv_context *context,
				  uint8_t port_num, __be16 pkey)
{
	__be16 p;
	int i;

	for (i = 0;; i++) {
		if (ibv_query_pkey(context, port_num, i, &p))
			return -1;
		if (p == pkey)
			return i;
	}
}

int svl_query_rt_values(struct ibv_context *c, struct ibv_values_ex *v)
{
	return EOPNOTSUPP;
}
