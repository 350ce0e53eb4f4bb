// SPDX-License-Identifier: MIT
/*
 * The device object: context creation, device/port/GID queries and the
 * async event FD, on both command paths. Error codes follow the kernel's
 * uverbs_std_types_device.c / uverbs_cmd.c so rdma-core's bad-flow
 * expectations hold.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "svd.h"
#include "svd_objs.h"

#define SVD_NUM_COMP_VECTORS 1
#define SVD_PORT 1

static int async_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	return 0;
}

/*
 * The async event file is not a handle-table object: its daemon end lives
 * in uctx->async_fd for the context's lifetime. The type exists so the FD
 * attribute spec names what it creates.
 */
SVD_DECLARE_FD_TYPE(async_event, UVERBS_OBJECT_ASYNC_EVENT,
		    SVD_ORDER_ASYNC_FD, async_destroy);

/* Optional outputs: absent is fine, as IS_UVERBS_COPY_ERR in the kernel. */
static int copy_opt(struct svd_bundle *b, uint16_t id, const void *src,
		    size_t size)
{
	int ret = svd_attr_copy_to(b, id, src, size);

	return ret == -ENOENT ? 0 : ret;
}

static int fill_uhw_ucontext(struct svd_bundle *b)
{
	struct sv_alloc_ucontext_resp r = {
		.abi_version = SV_ABI_VERSION,
		.max_db_pages = b->dev->max_db_pages,
		.db_page_size = SV_DB_PAGE_SIZE,
		.db_slots_per_page = 1,
		.max_inline = 256,
	};

	return svd_uhw_copy_to(b, &r, sizeof(r));
}

/* Create the ufile's ucontext; a second one is EINVAL as in the kernel. */
static int uctx_install(struct svd_bundle *b)
{
	if (b->ufile->uctx)
		return -EINVAL;
	errno = 0;
	b->ufile->uctx = svd_uctx_create(b->ufile);
	if (!b->ufile->uctx)
		return errno == EAGAIN ? -EAGAIN : -ENOMEM;
	b->uctx = b->ufile->uctx;
	return 0;
}

static void uctx_uninstall(struct svd_bundle *b)
{
	svd_uctx_destroy(b->ufile->uctx);
	b->ufile->uctx = NULL;
	b->uctx = NULL;
}

/*
 * A SOCK_SEQPACKET pair: the daemon keeps one end (events are whole
 * ib_uverbs_async_event_desc records), the other goes to the client.
 * Returns the reply fd slot of the client end, or -errno.
 */
static int async_pair(struct svd_bundle *b, int *daemon_end)
{
	int sv[2], slot;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	slot = svd_bundle_add_out_fd(b, sv[1]);
	if (slot < 0) {
		close(sv[0]);
		close(sv[1]);
		return slot;
	}
	/* The client only reads; the daemon only writes. */
	shutdown(sv[0], SHUT_RD);
	*daemon_end = sv[0];
	return slot;
}

/* ---------------------------------------------------------------------- */
/* ioctl methods                                                           */
/* ---------------------------------------------------------------------- */

static int method_get_context(struct svd_bundle *b)
{
	uint32_t ncomp = SVD_NUM_COMP_VECTORS;
	uint64_t core = IB_UVERBS_CORE_SUPPORT_OPTIONAL_MR_ACCESS;
	int ret;

	ret = uctx_install(b);
	if (ret)
		return ret;
	ret = copy_opt(b, UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS, &ncomp,
		       sizeof(ncomp));
	if (!ret)
		ret = copy_opt(b, UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT, &core,
			       sizeof(core));
	if (!ret)
		ret = fill_uhw_ucontext(b);
	if (ret)
		uctx_uninstall(b);
	return ret;
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_GET_CONTEXT, method_get_context,
    SVD_METHOD_NO_UCTX | SVD_METHOD_UHW,
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS, uint32_t,
		     SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT, uint64_t,
		     SVD_OPTIONAL));

static int method_query_context(struct svd_bundle *b)
{
	uint32_t ncomp = SVD_NUM_COMP_VECTORS;
	uint64_t core = IB_UVERBS_CORE_SUPPORT_OPTIONAL_MR_ACCESS;
	int ret;

	ret = copy_opt(b, UVERBS_ATTR_QUERY_CONTEXT_NUM_COMP_VECTORS, &ncomp,
		       sizeof(ncomp));
	if (!ret)
		ret = copy_opt(b, UVERBS_ATTR_QUERY_CONTEXT_CORE_SUPPORT, &core,
			       sizeof(core));
	if (!ret)
		ret = fill_uhw_ucontext(b);
	return ret;
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_QUERY_CONTEXT, method_query_context, SVD_METHOD_UHW,
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_CONTEXT_NUM_COMP_VECTORS, uint32_t,
		     SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_CONTEXT_CORE_SUPPORT, uint64_t,
		     SVD_OPTIONAL));

static int method_query_port(struct svd_bundle *b)
{
	struct ib_uverbs_query_port_resp_ex resp = {};
	uint64_t port;
	int ret;

	ret = svd_attr_get_u64(b, UVERBS_ATTR_QUERY_PORT_PORT_NUM, &port);
	if (ret)
		return ret;
	if (port != SVD_PORT)
		return -EINVAL;
	resp.legacy_resp = b->dev->port.attr;
	return svd_attr_copy_to(b, UVERBS_ATTR_QUERY_PORT_RESP, &resp,
				sizeof(resp));
}
SVD_DECLARE_METHOD(UVERBS_METHOD_QUERY_PORT, method_query_port,
		   SVD_ATTR_CONST_IN(UVERBS_ATTR_QUERY_PORT_PORT_NUM, UINT8_MAX,
				     SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_PORT_RESP,
				    struct ib_uverbs_query_port_resp_ex,
				    SVD_MANDATORY));

static void gid_to_entry(const struct svd_gid_entry *g, uint32_t index,
			 struct ib_uverbs_gid_entry *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->gid, g->gid, sizeof(e->gid));
	e->gid_index = index;
	e->port_num = SVD_PORT;
	e->gid_type = g->gid_type;
	e->netdev_ifindex = g->netdev_ifindex;
}

static int method_query_gid_table(struct svd_bundle *b)
{
	struct svd_attr *out =
		svd_attr_get(b, UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES);
	const struct svd_port *p = &b->dev->port;
	uint64_t esize, num = 0;
	size_t max, copy, i;
	uint8_t *buf;
	int ret;

	ret = svd_attr_get_u64(b, UVERBS_ATTR_QUERY_GID_TABLE_ENTRY_SIZE,
			       &esize);
	if (ret)
		return ret;
	if (!esize || !out || esize > out->out_room)
		return -EINVAL;
	max = out->out_room / esize;
	buf = calloc(max, esize);
	if (!buf)
		return -ENOMEM;
	/* Entries go out with the caller's stride, each one truncated. */
	copy = esize < sizeof(struct ib_uverbs_gid_entry) ?
		       esize : sizeof(struct ib_uverbs_gid_entry);
	for (i = 0; i < SVD_MAX_GIDS; i++) {
		struct ib_uverbs_gid_entry e;

		if (!p->gids[i].valid)
			continue;
		if (num >= max) {
			free(buf); /* the caller's array is too small */
			return -EINVAL;
		}
		gid_to_entry(&p->gids[i], (uint32_t)i, &e);
		memcpy(buf + num * esize, &e, copy);
		num++;
	}
	ret = svd_attr_copy_to(b, UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES,
			       buf, num * esize);
	free(buf);
	if (!ret)
		ret = svd_attr_copy_to(
			b, UVERBS_ATTR_QUERY_GID_TABLE_RESP_NUM_ENTRIES, &num,
			sizeof(num));
	return ret;
}
SVD_DECLARE_METHOD(
    UVERBS_METHOD_QUERY_GID_TABLE, method_query_gid_table,
    SVD_ATTR_CONST_IN(UVERBS_ATTR_QUERY_GID_TABLE_ENTRY_SIZE, UINT64_MAX,
		      SVD_MANDATORY),
    SVD_ATTR_FLAGS_IN(UVERBS_ATTR_QUERY_GID_TABLE_FLAGS, 0, SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES,
		     struct ib_uverbs_gid_entry, SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_GID_TABLE_RESP_NUM_ENTRIES, uint64_t,
		     SVD_MANDATORY));

static int method_query_gid_entry(struct svd_bundle *b)
{
	struct ib_uverbs_gid_entry e;
	uint32_t port, index;
	int ret;

	ret = svd_attr_get_u32(b, UVERBS_ATTR_QUERY_GID_ENTRY_PORT, &port);
	if (!ret)
		ret = svd_attr_get_u32(b, UVERBS_ATTR_QUERY_GID_ENTRY_GID_INDEX,
				       &index);
	if (ret)
		return ret;
	if (port != SVD_PORT || index >= SVD_MAX_GIDS)
		return -EINVAL;
	/* An empty slot is ENODATA, which rdma-core maps to a zero GID. */
	if (!b->dev->port.gids[index].valid)
		return -ENODATA;
	gid_to_entry(&b->dev->port.gids[index], index, &e);
	return svd_attr_copy_to(b, UVERBS_ATTR_QUERY_GID_ENTRY_RESP_ENTRY, &e,
				sizeof(e));
}
SVD_DECLARE_METHOD(UVERBS_METHOD_QUERY_GID_ENTRY, method_query_gid_entry,
		   SVD_ATTR_CONST_IN(UVERBS_ATTR_QUERY_GID_ENTRY_PORT,
				     UINT32_MAX, SVD_MANDATORY),
		   SVD_ATTR_CONST_IN(UVERBS_ATTR_QUERY_GID_ENTRY_GID_INDEX,
				     UINT32_MAX, SVD_MANDATORY),
		   SVD_ATTR_FLAGS_IN(UVERBS_ATTR_QUERY_GID_ENTRY_FLAGS, 0,
				     SVD_OPTIONAL),
		   SVD_ATTR_PTR_OUT(UVERBS_ATTR_QUERY_GID_ENTRY_RESP_ENTRY,
				    struct ib_uverbs_gid_entry, SVD_MANDATORY));

/* List the handles of one object type this context holds. */
static int method_info_handles(struct svd_bundle *b)
{
	struct svd_attr *list = svd_attr_get(b, UVERBS_ATTR_INFO_HANDLES_LIST);
	uint32_t obj, total = 0, max, *ids;
	struct svd_ucontext *uctx = b->uctx;
	uint32_t i;
	int ret;

	ret = svd_attr_get_u32(b, UVERBS_ATTR_INFO_OBJECT_ID, &obj);
	if (ret)
		return ret;
	max = list ? list->out_room / sizeof(uint32_t) : 0;
	/* One spare slot: never hand a NULL source to the copy. */
	ids = calloc(max + 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	if (uctx) {
		pthread_mutex_lock(&uctx->lock);
		for (i = 0; i < uctx->nhandles; i++) {
			struct svd_uobj *u = uctx->handles[i];

			if (!u || !u->committed || u->type->is_fd ||
			    u->type->uapi_id != obj)
				continue;
			if (total < max)
				ids[total] = u->handle;
			total++;
		}
		pthread_mutex_unlock(&uctx->lock);
	}
	if (list && total > max)
		ret = -EINVAL;
	if (!ret && list)
		ret = svd_attr_copy_to(b, UVERBS_ATTR_INFO_HANDLES_LIST, ids,
				       total * sizeof(*ids));
	if (!ret)
		ret = copy_opt(b, UVERBS_ATTR_INFO_TOTAL_HANDLES, &total,
			       sizeof(total));
	free(ids);
	return ret;
}
SVD_DECLARE_METHOD_FLAGS(
    UVERBS_METHOD_INFO_HANDLES, method_info_handles, SVD_METHOD_NO_UCTX,
    SVD_ATTR_CONST_IN(UVERBS_ATTR_INFO_OBJECT_ID, UINT16_MAX, SVD_MANDATORY),
    SVD_ATTR_PTR_OUT(UVERBS_ATTR_INFO_TOTAL_HANDLES, uint32_t, SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT_MIN(UVERBS_ATTR_INFO_HANDLES_LIST, 0, SVD_OPTIONAL));

/*
 * UVERBS_METHOD_ASYNC_EVENT_ALLOC. The kernel allows several async files
 * per context; softverbs delivers events to one, so a second is refused.
 */
static int method_async_event_alloc(struct svd_bundle *b)
{
	struct svd_attr *a = svd_attr_get(b, UVERBS_ATTR_ASYNC_EVENT_ALLOC_FD_HANDLE);
	int slot, dfd = -1;

	if (!a)
		return -EINVAL;
	if (b->uctx->async_fd >= 0)
		return -EEXIST;
	slot = async_pair(b, &dfd);
	if (slot < 0)
		return slot;
	b->uctx->async_fd = dfd;
	a->data = (uint64_t)slot;
	a->out_valid = true;
	return 0;
}
SVD_DECLARE_METHOD(UVERBS_METHOD_ASYNC_EVENT_ALLOC, method_async_event_alloc,
		   SVD_ATTR_FD(UVERBS_ATTR_ASYNC_EVENT_ALLOC_FD_HANDLE,
			       &svd_type_async_event, SVD_ACCESS_NEW,
			       SVD_MANDATORY));

/* ---------------------------------------------------------------------- */
/* Legacy write commands                                                   */
/* ---------------------------------------------------------------------- */

static int write_get_context(struct svd_bundle *b)
{
	struct ib_uverbs_get_context_resp resp = {
		.num_comp_vectors = SVD_NUM_COMP_VECTORS,
	};
	int ret, slot, dfd = -1;

	ret = uctx_install(b);
	if (ret)
		return ret;
	ret = fill_uhw_ucontext(b);
	slot = ret ? ret : async_pair(b, &dfd);
	if (slot < 0) {
		uctx_uninstall(b);
		return slot;
	}
	b->uctx->async_fd = dfd;
	/* The reply fd slot; the library patches in its own fd number. */
	resp.async_fd = (uint32_t)slot;
	return svd_write_resp(b, &resp, sizeof(resp));
}

static int write_query_device(struct svd_bundle *b)
{
	return svd_write_resp(b, &b->dev->attr, sizeof(b->dev->attr));
}

static int write_query_port(struct svd_bundle *b)
{
	const struct ib_uverbs_query_port *cmd = svd_write_req(b, NULL);

	if (cmd->port_num != SVD_PORT)
		return -EINVAL;
	return svd_write_resp(b, &b->dev->port.attr,
			      sizeof(b->dev->port.attr));
}

#define EX_QD_MIN_RESP                                                         \
	(offsetof(struct ib_uverbs_ex_query_device_resp, response_length) +   \
	 sizeof(uint32_t))

/* ODP capability bits (enum ib_odp_general_cap_bits / transport_cap_bits). */
#define ODP_GEN_SUPPORT (1U << 0)
#define ODP_GEN_IMPLICIT (1U << 1)
#define ODP_SEND (1U << 0)
#define ODP_RECV (1U << 1)
#define ODP_WRITE (1U << 2)
#define ODP_READ (1U << 3)
#define ODP_ATOMIC (1U << 4)
#define ODP_SRQ_RECV (1U << 5)
#define ODP_ALL_OPS                                                    \
	(ODP_SEND | ODP_RECV | ODP_WRITE | ODP_READ | ODP_ATOMIC |      \
	 ODP_SRQ_RECV)

/*
 * Every transport reaches client memory through the same memory module,
 * and an ODP region differs only in skipping the registration probe
 * (docs/odp.md), so each transport supports ODP for every operation it
 * has. Reported is only what rdma-core's test_odp and tests/test_odp.c
 * exercise: all of RC, UC SEND/RECV/WRITE, UD SEND, XRC SEND and SRQ
 * RECV. The rest (UC SRQ, UD RECV, XRC RDMA) waits for a test.
 */
static void ex_query_odp(struct ib_uverbs_ex_query_device_resp *r)
{
	r->odp_caps.general_caps = ODP_GEN_SUPPORT | ODP_GEN_IMPLICIT;
	r->odp_caps.per_transport_caps.rc_odp_caps = ODP_ALL_OPS;
	r->odp_caps.per_transport_caps.uc_odp_caps =
		ODP_SEND | ODP_RECV | ODP_WRITE;
	r->odp_caps.per_transport_caps.ud_odp_caps = ODP_SEND;
	r->xrc_odp_caps = ODP_SEND | ODP_SRQ_RECV;
}

/* Tag matching on RC (TM-SRQs, docs/tag-matching.md): IB_TM_CAP_RNDV_RC. */
static void ex_query_tm(struct ib_uverbs_ex_query_device_resp *r)
{
	r->tm_caps.flags = 1U << 0;
	r->tm_caps.max_rndv_hdr_size = SV_TM_MAX_RNDV_HDR;
	r->tm_caps.max_num_tags = SV_TM_MAX_NUM_TAGS;
	r->tm_caps.max_ops = SV_TM_MAX_OPS;
	r->tm_caps.max_sge = SV_TM_MAX_SGE;
}

/*
 * The extended query: the response is cut to what the caller has room
 * for, and response_length says how much that was (the kernel's rule).
 * The core response attr holds the first EX_QD_MIN_RESP bytes; the rest
 * of the caller's room follows it as uhw_out.
 */
static int write_ex_query_device(struct svd_bundle *b)
{
	const struct ib_uverbs_ex_query_device *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_ex_query_device_resp resp = {};
	size_t room = b->attrs[1].out_room;
	int ret;

	if (cmd->comp_mask || cmd->reserved)
		return -EINVAL;
	if (b->uhw_out.present)
		room += b->uhw_out.out_room;
	if (room > sizeof(resp))
		room = sizeof(resp);
	resp.base = b->dev->attr;
	resp.device_cap_flags_ex = b->dev->attr.device_cap_flags;
	resp.max_dm_size = SV_MAX_DM_SIZE;
	ex_query_odp(&resp);
	ex_query_tm(&resp);
	resp.response_length = (uint32_t)room;
	ret = svd_write_resp(b, &resp, EX_QD_MIN_RESP);
	if (!ret && room > EX_QD_MIN_RESP)
		ret = svd_uhw_copy_to(b, (const uint8_t *)&resp + EX_QD_MIN_RESP,
				      room - EX_QD_MIN_RESP);
	return ret;
}

const struct svd_module svd_mod_device = {
    .name = "device",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			   SVD_METHOD_REF(UVERBS_METHOD_GET_CONTEXT),
			   SVD_METHOD_REF(UVERBS_METHOD_QUERY_CONTEXT),
			   SVD_METHOD_REF(UVERBS_METHOD_QUERY_PORT),
			   SVD_METHOD_REF(UVERBS_METHOD_QUERY_GID_TABLE),
			   SVD_METHOD_REF(UVERBS_METHOD_QUERY_GID_ENTRY),
			   SVD_METHOD_REF(UVERBS_METHOD_INFO_HANDLES)),
		SVD_OBJECT(UVERBS_OBJECT_ASYNC_EVENT, &svd_type_async_event,
			   SVD_METHOD_REF(UVERBS_METHOD_ASYNC_EVENT_ALLOC))),
    SVD_WRITE_CMDS(SVD_WRITE_NO_UCTX(IB_USER_VERBS_CMD_GET_CONTEXT,
				     write_get_context,
				     struct ib_uverbs_get_context,
				     struct ib_uverbs_get_context_resp),
		   SVD_WRITE(IB_USER_VERBS_CMD_QUERY_DEVICE, write_query_device,
			     struct ib_uverbs_query_device,
			     struct ib_uverbs_query_device_resp),
		   SVD_WRITE(IB_USER_VERBS_CMD_QUERY_PORT, write_query_port,
			     struct ib_uverbs_query_port,
			     struct ib_uverbs_query_port_resp),
		   /* The response grows by version: the core part is its
		    * minimum, the rest goes to the driver data. */
		   {.cmd = IB_USER_VERBS_EX_CMD_QUERY_DEVICE,
		    .ex = true,
		    .handler = write_ex_query_device,
		    .req_size = sizeof(struct ib_uverbs_ex_query_device),
		    .resp_size = EX_QD_MIN_RESP}),
};
