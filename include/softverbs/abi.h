/* SPDX-License-Identifier: MIT */
/*
 * softverbs ABI shared by softverbsd and libibverbs.so.1.
 *
 * Three things live here:
 *  1. the wire format of a command channel (how an ioctl()/write() of the
 *     kernel uverbs ABI travels over a UNIX socket),
 *  2. softverbs' driver namespace (objects, methods, attributes with the
 *     UVERBS_ID_NS bit) and the buffer-descriptor slot enums of seed 001,
 *  3. the shared-memory layout of rings, doorbell records and doorbell pages.
 *
 * Everything the daemon reads from a client is untrusted, including every
 * byte of shared memory described here.
 */
#ifndef SOFTVERBS_ABI_H
#define SOFTVERBS_ABI_H

#include <stdint.h>
#include <linux/types.h>
#include <rdma/ib_user_verbs.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/ib_user_ioctl_verbs.h>
#include <rdma/rdma_user_ioctl_cmds.h>

#define SV_ABI_VERSION 1
#define SV_DRIVER_ID 0x5356 /* "SV": ib_uverbs_ioctl_hdr.driver_id */
#define SV_VENDOR_ID 0x5356
#define SV_VENDOR_PART_ID 1

/* Largest command message (request or reply) on a command channel. */
#define SV_MSG_MAX (64 * 1024)
/* Most fds carried by one message (SCM_RIGHTS). */
#define SV_MSG_MAX_FDS 16

/* ---------------------------------------------------------------------- */
/* 1. Wire format                                                          */
/* ---------------------------------------------------------------------- */

/*
 * The command FD (ibv_context->cmd_fd) is a SOCK_SEQPACKET socket connected
 * to the device socket. It stands for the ufile: the daemon tears down the
 * ucontext when the last copy of it is closed (dup, fork and SCM_RIGHTS all
 * keep it alive).
 *
 * Several processes may share the command FD (fork, SCM_RIGHTS) without
 * reading each other's replies: a request carries, in SCM_RIGHTS slot 0, the
 * sender's private reply socket, and the reply is sent there. Further fds
 * (FD attributes) follow in slots 1..n. Only the process that opened the
 * context may ask for its replies on the command FD itself
 * (SV_MSG_F_REPLY_HERE): it is the only one that reads it; slot 0 is then
 * absent and the fds it sends are slots 1..n all the same.
 */
enum sv_msg_type {
	SV_MSG_IOCTL = 1, /* ib_uverbs_ioctl_hdr + attrs + payload */
	SV_MSG_WRITE = 2, /* ib_uverbs_cmd_hdr [+ ex_hdr] + body */
};

enum sv_msg_flags {
	/* Reply on the command FD; no reply socket in the request. */
	SV_MSG_F_REPLY_HERE = 1 << 0,
	/*
	 * The command names none of the sender's memory (no VA buffer, no
	 * VA MR, no raw QP): the daemon need not pin the sender's identity
	 * (a pidfd per message costs as much as the rest of a small
	 * command), and refuses any such access in it with EINVAL.
	 */
	SV_MSG_F_NO_IDENTITY = 1 << 1,
	/*
	 * Reply only if the command fails. The sender does not wait for
	 * it (a posted modify_qp): a later reply, which comes after, says
	 * it ran, and only a refusal needs saying.
	 */
	SV_MSG_F_QUIET = 1 << 2,
};

struct sv_msg_hdr {
	__u32 type; /* enum sv_msg_type */
	__u32 len; /* whole message, including this header */
	__u64 seq; /* echoed in the reply */
	__u32 nfds; /* fds sent along, reply socket included */
	__u32 flags; /* enum sv_msg_flags */
};

struct sv_reply_hdr {
	__u32 len; /* whole reply, including this header */
	__s32 err; /* 0 or a negative errno */
	__u64 seq;
	__u32 nfds; /* fds sent along with the reply */
	/*
	 * The device's GID table generation when the reply was sent: it
	 * changes with the table. The library checks a modify it posts
	 * against the table as of this generation (qp_rules.h).
	 */
	__u32 dev_gen;
};

/*
 * SV_MSG_IOCTL request:
 *   sv_msg_hdr | ib_uverbs_ioctl_hdr | ib_uverbs_attr[num_attrs] | payload
 * ib_uverbs_ioctl_hdr.length covers hdr+attrs, as in the kernel.
 * For a PTR_IN attribute longer than 8 bytes, attr.data is the offset of its
 * bytes inside the payload area (the kernel would get a user pointer).
 * For a PTR_OUT attribute, attr.len is the room the caller has; attr.data is
 * ignored. For an FD attribute, attr.data is the SCM_RIGHTS slot (>= 1) of
 * the fd, or -1.
 *
 * SV_MSG_IOCTL reply:
 *   sv_reply_hdr | ib_uverbs_attr[num_attrs] | payload
 * The attrs are echoed back. For each PTR_OUT attribute the daemon wrote,
 * UVERBS_ATTR_F_VALID_OUTPUT is set, len is the written length and data is
 * the offset of the bytes in the reply payload. For an FD_OUT (a new fd
 * object), data is the SCM_RIGHTS slot in the reply.
 *
 * SV_MSG_WRITE request:  sv_msg_hdr | the bytes a write() would carry
 * SV_MSG_WRITE reply:    sv_reply_hdr | response bytes
 * The library copies the response bytes to the command's response pointer.
 * Commands that name an fd (CREATE_CQ comp_channel, OPEN_XRCD fd) carry
 * that fd in SCM_RIGHTS slot 1; a new fd (CREATE_COMP_CHANNEL, GET_CONTEXT
 * async_fd) returns in reply slot 0 and the library patches its number in.
 */

/* ---------------------------------------------------------------------- */
/* 2. Driver namespace                                                     */
/* ---------------------------------------------------------------------- */

#define SV_ID_DRIVER(x) ((__u16)((1U << UVERBS_ID_NS_SHIFT) | (x)))

/* Seed 001: the generic buffer descriptor array attribute. */
/*
 * The seed appends it after UVERBS_ID_DRIVER_NS_WITH_UHW in the enum that
 * starts at UVERBS_ATTR_UHW_IN (1 << 12): UHW_IN, UHW_OUT, NS_WITH_UHW,
 * BUFFERS.
 */
#define SV_ATTR_BUFFERS ((__u16)(UVERBS_ATTR_UHW_IN + 3))

enum sv_buffer_type {
	SV_BUFFER_TYPE_DMABUF = 0, /* an fd the daemon mmap()s */
	SV_BUFFER_TYPE_VA = 1, /* caller memory reached with process_vm_* */
};

struct sv_buffer_desc {
	__s32 fd; /* for DMABUF: SCM_RIGHTS slot on the wire */
	__u32 type;
	__u32 index;
	__u32 reserved;
	__aligned_u64 addr; /* offset in the dma-buf, or a user VA */
	__aligned_u64 length;
};

/* Per-command buffer slots (seed 001). */
enum sv_cq_buffer_slot {
	SV_CQ_BUF_RING = 0,
	SV_CQ_BUF_DBREC = 1,
	SV_CQ_BUF_SLOT_MAX = SV_CQ_BUF_DBREC,
};

enum sv_qp_buffer_slot {
	SV_QP_BUF_SQ = 0,
	SV_QP_BUF_RQ = 1,
	SV_QP_BUF_DBREC = 2,
	SV_QP_BUF_SLOT_MAX = SV_QP_BUF_DBREC,
};

enum sv_srq_buffer_slot {
	SV_SRQ_BUF_RING = 0,
	SV_SRQ_BUF_DBREC = 1,
	SV_SRQ_BUF_SLOT_MAX = SV_SRQ_BUF_DBREC,
};

/*
 * Upstream's later form: one UMEM attribute per buffer. Accepted on
 * CQ/QP/SRQ create as an alternative to SV_ATTR_BUFFERS; each carries one
 * sv_buffer_desc whose index must equal the slot the attribute names.
 */
enum sv_umem_attrs {
	SV_ATTR_UMEM_SLOT0 = SV_ATTR_BUFFERS + 1,
	SV_ATTR_UMEM_SLOT1,
	SV_ATTR_UMEM_SLOT2,
};

/* Driver objects and methods (UVERBS_ID_NS bit set). */
enum sv_driver_objects {
	SV_OBJECT_DEVX = SV_ID_DRIVER(0),
};

enum sv_driver_device_methods {
	/* Allocate a doorbell page: returns its fd and index. */
	SV_METHOD_DB_PAGE_ALLOC = SV_ID_DRIVER(0),
	/* Query a PD for import (seed 000; mlx5 keeps PD query in the driver) */
	SV_METHOD_PD_QUERY = SV_ID_DRIVER(1),
	/* Data-direct DMA path discovery (seed 003) */
	SV_METHOD_GET_DATA_DIRECT_PATH = SV_ID_DRIVER(2),
	/* Device statistics (doorbell pages, engines). */
	SV_METHOD_QUERY_STATS = SV_ID_DRIVER(3),
};

enum sv_db_page_alloc_attrs {
	SV_ATTR_DB_PAGE_FD = SV_ID_DRIVER(0), /* FD out */
	SV_ATTR_DB_PAGE_INDEX = SV_ID_DRIVER(1), /* u32 out */
	SV_ATTR_DB_PAGE_DOMAIN = SV_ID_DRIVER(2), /* u32 in, optional */
	/* FD out, optional: the caller's user's wake page (sv_wake_page) */
	SV_ATTR_DB_PAGE_WAKE_FD = SV_ID_DRIVER(3),
};

/*
 * SV_ATTR_DB_PAGE_DOMAIN: what the page is for (recorded by the daemon,
 * counted in the stats). A value below max_resource_domains is a seed-002
 * resource domain index; the others name the context's shared page and a
 * thread domain's dedicated page (docs/resource-domains.md).
 */
#define SV_DB_DOMAIN_TD 0xfffffffeU
#define SV_DB_DOMAIN_SHARED 0xffffffffU

/* SV_METHOD_QUERY_STATS on the device. */
enum sv_query_stats_attrs {
	SV_ATTR_QUERY_STATS_RESP = SV_ID_DRIVER(0), /* sv_query_stats_resp */
	/* u32 in, optional: a doorbell page of the caller, for page_qps */
	SV_ATTR_QUERY_STATS_PAGE = SV_ID_DRIVER(1),
};

struct sv_query_stats_resp {
	__u32 max_db_pages; /* doorbell pages of the device */
	__u32 db_pages_used; /* by every context */
	__u32 max_resource_domains; /* seed 002: valid indices [0, this) */
	__u32 ctx_db_pages; /* pages the calling context holds */
	__u32 ctx_td_pages; /* of them: allocated for thread domains */
	__u32 ctx_rd_pages; /* of them: allocated for resource domains */
	/* With SV_ATTR_QUERY_STATS_PAGE: QPs the engine rings through that
	 * page (bound to its slots); 0 for a page that is not the caller's */
	__u32 page_qps;
	__u32 reserved;
};

enum sv_pd_query_attrs {
	SV_ATTR_PD_QUERY_HANDLE = SV_ID_DRIVER(0), /* idr PD */
	SV_ATTR_PD_QUERY_RESP = SV_ID_DRIVER(1), /* struct sv_pd_query_resp */
};

struct sv_pd_query_resp {
	__u32 pdn;
	__u32 reserved;
};

/*
 * Device memory (mlx5 MEMIC's counterpart): a sealed memfd the daemon
 * owns. DM_ALLOC returns it in SV_ATTR_ALLOC_DM_FD so the library can map
 * it; SV_METHOD_DM_QUERY (driver method on UVERBS_OBJECT_DM, as mlx5's
 * DM_QUERY) hands it to an importer.
 */
enum sv_dm_alloc_attrs {
	SV_ATTR_ALLOC_DM_FD = SV_ID_DRIVER(0), /* FD out, optional */
};

enum sv_dm_methods {
	SV_METHOD_DM_QUERY = SV_ID_DRIVER(0),
};

enum sv_dm_query_attrs {
	SV_ATTR_QUERY_DM_HANDLE = SV_ID_DRIVER(0), /* idr DM */
	SV_ATTR_QUERY_DM_LENGTH = SV_ID_DRIVER(1), /* u64 out */
	SV_ATTR_QUERY_DM_FD = SV_ID_DRIVER(2), /* FD out */
};

/* Device memory per device, as query_device_ex's max_dm_size. */
#define SV_MAX_DM_SIZE (256 * 1024)

/*
 * Seed 003: the data-direct DMA device. SV_METHOD_GET_DATA_DIRECT_PATH
 * returns its path (NUL-terminated) or ENODEV; REG_DMABUF_MR takes
 * softverbs access flags in SV_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, as mlx5's
 * MLX5_IB_ATTR_REG_DMABUF_MR_ACCESS_FLAGS.
 */
enum sv_data_direct_attrs {
	SV_ATTR_GET_DATA_DIRECT_PATH = SV_ID_DRIVER(0), /* PTR out, string */
};

enum sv_reg_dmabuf_mr_attrs {
	SV_ATTR_REG_DMABUF_MR_ACCESS_FLAGS = SV_ID_DRIVER(0), /* u32 flags */
};

enum sv_reg_dmabuf_access {
	SV_REG_DMABUF_ACCESS_DATA_DIRECT = 1U << 0,
};

/* Driver data (udata) for GET_CONTEXT. */
struct sv_alloc_ucontext_resp {
	__u32 abi_version; /* SV_ABI_VERSION */
	__u32 max_db_pages;
	__u32 db_page_size;
	__u32 db_slots_per_page;
	__u32 max_inline;
	__u32 reserved;
};

/* Driver data for CREATE_QP (response). */
struct sv_create_qp_resp {
	__u32 qpn;
	__u32 sq_wqe_size; /* stride of the SQ ring */
	__u32 rq_wqe_size;
	__u32 db_page_index;
	__u32 db_slot;
	__u32 reserved;
};

/*
 * Driver data for REG_MR (request, optional). SV_REG_MR_FILE: the range
 * lies in a shared mapping of the file sent with the command (fd slot 1),
 * byte 'start' at file_offset. The daemon maps the file, so the region
 * outlives its registrar (docs/sharing.md).
 */
#define SV_REG_MR_FILE 1U

struct sv_reg_mr_req {
	__aligned_u64 file_offset;
	__u32 flags;
	__u32 reserved;
};

/* Driver data for CREATE_QP/CQ/SRQ (request). */
struct sv_create_ring_req {
	__u32 db_page_index; /* which doorbell page to ring */
	__u32 wqe_size; /* ring entry stride chosen by the library */
	__u32 sq_entries; /* or CQ / SRQ entries: a power of two */
	__u32 rq_entries;
};

/* ---------------------------------------------------------------------- */
/* 3. Rings                                                                */
/* ---------------------------------------------------------------------- */

#define SV_CACHELINE 64

/*
 * A doorbell record: the producer and consumer indices of one ring, each on
 * its own cache line. Indices are free-running u32; the ring size is a power
 * of two and slot = index & (entries - 1).
 */
struct sv_dbrec {
	/* Written by the producer (library for SQ/RQ/SRQ, daemon for CQ). */
	_Alignas(SV_CACHELINE) __u32 prod;
	/* Written by the consumer (daemon for SQ/RQ/SRQ, library for CQ). */
	_Alignas(SV_CACHELINE) __u32 cons;
	/*
	 * SQ only, daemon: while not 0, the engine sends payloads of at least
	 * this many bytes from the application's buffers even when staged (it
	 * shares the copy with a second thread, docs/datapath.md), so the
	 * library does not stage them. A hint: only speed depends on it.
	 */
	__u32 stage_skip;
	/* CQ only: arm requests (library) and the sequence armed (daemon). */
	_Alignas(SV_CACHELINE) __u32 arm_seq; /* library: bumped per arm */
	__u32 arm_flags; /* library: SV_CQ_ARM_* of the latest arm */
	__u32 armed_seen; /* daemon: last arm_seq it consumed */
	/*
	 * RQ records only: the engine found the queue empty (a message met
	 * no receive) and asks for a doorbell at the next post (1: the
	 * library takes it with an exchange), or wants one at every post
	 * (SV_RQ_WANT_ALWAYS). Otherwise posting a receive does not wake the
	 * engine (docs/datapath.md, "Receives").
	 */
	__u32 want;
};
#define SV_RQ_WANT_ALWAYS 2

/* A QP's dbrec region holds two records: SQ at 0, RQ at 1. */
#define SV_QP_DBREC_SIZE (2 * sizeof(struct sv_dbrec))

enum {
	SV_CQ_ARM_NEXT = 1,
	SV_CQ_ARM_SOLICITED = 2,
};

/*
 * A doorbell page is shared memory handed to a context. Ringing for a QP:
 * set the QP's slot bit in 'pending' (slot = QPN & (SV_DB_SLOTS - 1)), then
 * its word's bit in 'summary', then bump 'ring' (all seq_cst), and wake
 * the engine with FUTEX_WAKE on 'ring' only if 'sleeping' is set. The
 * engine takes the bits with an exchange, so it visits only the QPs that
 * were rung: a doorbell costs the same with 8 QPs or 10,000. Slots may be
 * shared by several QPs (the engine then checks each of them); a ring with
 * no bit (SRQ, RQ without a QP slot) only wakes the engine.
 */
#define SV_DB_SLOTS 4096
struct sv_db_page {
	/* Library (any thread) increments; engine reads. */
	_Alignas(SV_CACHELINE) __u32 ring;
	/* The CPU the last ringer ran on (a hint for the engine's waiting). */
	__u32 ring_cpu;
	/* Engine sets before sleeping, clears on wake; library reads. */
	_Alignas(SV_CACHELINE) __u32 sleeping;
	/* Bit w: pending[w] may have bits set. */
	_Alignas(SV_CACHELINE) __u64 summary;
	/* Bit per slot: a QP of that slot has new work. */
	_Alignas(SV_CACHELINE) __u64 pending[SV_DB_SLOTS / 64];
};
#define SV_DB_PAGE_SIZE 4096

/*
 * The engine's wake word, one per user of the device: a sealed 4 KiB
 * memfd every context of that user maps. A ringer that finds its page
 * 'sleeping' increments 'word' and FUTEX_WAKEs it, instead of its page's
 * 'ring'. The engine then sleeps on one word, not on every page (a
 * futex_waitv over three words cost 0.5 us per daemon-path round trip).
 * Only a change of the value matters; the engine never trusts it.
 */
struct sv_wake_page {
	_Alignas(SV_CACHELINE) __u32 word;
};
#define SV_WAKE_PAGE_SIZE 4096

/* Send WQE opcodes are enum ibv_wr_opcode values, validated per QP type. */
struct sv_sge {
	__aligned_u64 addr;
	__u32 length;
	__u32 lkey;
};

enum sv_wqe_flags {
	SV_WQE_INLINE = 1U << 0, /* payload follows the header inline */
	/*
	 * num_sge SGEs follow the header, then the bytes they name, copied
	 * at post time (a small payload from a private VA region): the
	 * engine checks the SGEs as for any WQE and sends these bytes.
	 */
	SV_WQE_CAPTURED = 1U << 1,
	/*
	 * num_sge SGEs follow the header, then one more: a copy of the bytes
	 * they name, made at post time into a region the library registered
	 * in the QP's PD (a large payload from a private VA region, which the
	 * engine would otherwise move with two cross-process copies). The
	 * engine checks the first num_sge SGEs as for any WQE, checks the
	 * extra one the same way and that it has their total length, and
	 * sends its bytes.
	 */
	SV_WQE_STAGED = 1U << 2,
};

struct sv_send_wqe {
	__aligned_u64 wr_id;
	__u32 opcode; /* enum ibv_wr_opcode */
	__u32 send_flags; /* enum ibv_send_flags */
	__u32 num_sge; /* or inline byte count with SV_WQE_INLINE */
	__u32 flags; /* enum sv_wqe_flags */
	__u32 imm_data; /* imm (network order) or invalidate rkey */
	__u32 xrc_srqn;
	union {
		struct {
			__aligned_u64 remote_addr;
			__u32 rkey;
			__u32 reserved;
		} rdma;
		struct {
			__aligned_u64 remote_addr;
			__aligned_u64 compare_add;
			__aligned_u64 swap;
			__u32 rkey;
			__u32 reserved;
		} atomic;
		struct {
			__u32 ah_handle;
			__u32 remote_qpn;
			__u32 remote_qkey;
			__u32 reserved;
		} ud;
		struct {
			__aligned_u64 addr;
			__aligned_u64 length;
			__u32 mw_handle;
			__u32 mr_lkey;
			__u32 new_rkey;
			__u32 access;
		} bind;
	};
	/* then num_sge * struct sv_sge, or inline data */
};

struct sv_recv_wqe {
	__aligned_u64 wr_id;
	__u32 num_sge;
	__u32 reserved;
	/* then num_sge * struct sv_sge */
};

/*
 * The receive WQE stride of an RQ or SRQ ring. Both sides derive it from
 * max_sge (it is not sent), so it lives here, once.
 */
static inline __u32 sv_recv_wqe_stride(__u32 max_sge)
{
	__u32 need = sizeof(struct sv_recv_wqe) + max_sge * sizeof(struct sv_sge);
	__u32 v = 1;

	while (v < need)
		v <<= 1;
	return v;
}

/*
 * A CQE: what ibv_wc / ibv_cq_ex read back. 64 bytes. A tag-matching
 * receive that matched a tag (IBV_WC_TM_MATCH) carries the TMH's tag and
 * app_ctx in tm_tag and tm_priv; tm_priv shares vendor_err's room, which
 * only an error completion uses.
 */
struct sv_cqe {
	__aligned_u64 wr_id;
	__u32 status; /* enum ibv_wc_status */
	__u32 opcode; /* enum ibv_wc_opcode */
	union {
		__u32 vendor_err;
		__u32 tm_priv;
	};
	__u32 byte_len;
	__u32 imm_data; /* network order, or invalidated rkey */
	__u32 qp_num;
	__u32 src_qp;
	__u32 wc_flags;
	__u16 pkey_index;
	__u16 slid;
	__u8 sl;
	__u8 dlid_path_bits;
	__u16 reserved;
	__aligned_u64 timestamp;
	__aligned_u64 tm_tag;
};

/*
 * Tag matching (TM-SRQ, docs/tag-matching.md). The device's limits, as
 * query_device_ex's tm_caps; one ibv_post_srq_ops work request per
 * SV_METHOD_SRQ_TM_OP (a driver method on UVERBS_OBJECT_SRQ), answered
 * with the ADD's handle. Its completion, if any, goes to the SRQ's CQ.
 */
#define SV_TM_MAX_NUM_TAGS 255
#define SV_TM_MAX_OPS 1024
#define SV_TM_MAX_SGE 4
#define SV_TM_MAX_RNDV_HDR 64

enum sv_srq_methods {
	SV_METHOD_SRQ_TM_OP = SV_ID_DRIVER(0),
};

enum sv_srq_tm_op_attrs {
	SV_ATTR_SRQ_TM_OP_HANDLE = SV_ID_DRIVER(0), /* idr SRQ */
	SV_ATTR_SRQ_TM_OP_REQ = SV_ID_DRIVER(1), /* struct sv_tm_op in */
	SV_ATTR_SRQ_TM_OP_TAG = SV_ID_DRIVER(2), /* u32 out: ADD's handle */
};

struct sv_tm_op {
	__aligned_u64 wr_id;
	__aligned_u64 recv_wr_id;
	__aligned_u64 tag;
	__aligned_u64 mask;
	__u32 opcode; /* enum ibv_ops_wr_opcode */
	__u32 flags; /* enum ibv_ops_flags */
	__u32 unexpected_cnt;
	__u32 handle; /* DEL */
	__u32 num_sge; /* ADD */
	__u32 reserved;
	struct sv_sge sge[SV_TM_MAX_SGE];
};

/*
 * ib_uverbs_qp_dest <-> an address attribute. ibv_ah_attr (library) and
 * ib_uverbs_ah_attr (daemon) name these members alike, so one list serves
 * both sides: X(ah_member, dest_member). The dgid is copied apart, as its
 * type differs between the two.
 */
#define SV_QP_DEST_FIELDS(X)                                                   \
	X(grh.flow_label, flow_label) X(grh.sgid_index, sgid_index)            \
	X(grh.hop_limit, hop_limit) X(grh.traffic_class, traffic_class)        \
	X(dlid, dlid) X(sl, sl) X(src_path_bits, src_path_bits)                \
	X(static_rate, static_rate) X(is_global, is_global)                    \
	X(port_num, port_num)
/* With ah and d in scope: copy one field either way. */
#define SV_DEST_FROM_AH(_ah, _d) d->_d = ah->_ah;
#define SV_AH_FROM_DEST(_ah, _d) ah->_ah = d->_d;

/*
 * Flow spec types on the wire of IB_USER_VERBS_EX_CMD_CREATE_FLOW: the
 * kernel's enum ib_flow_spec_type, which <rdma/ib_user_verbs.h> leaves
 * out. Library specs (IBV_FLOW_SPEC_*) use the same numbers except
 * IPV4_EXT, which travels as SV_FLOW_SPEC_IPV4 with the full filter.
 */
enum sv_flow_spec_type {
	SV_FLOW_SPEC_ETH = 0x20,
	SV_FLOW_SPEC_IPV4 = 0x30,
	SV_FLOW_SPEC_IPV6 = 0x31,
	SV_FLOW_SPEC_TCP = 0x40,
	SV_FLOW_SPEC_UDP = 0x41,
	SV_FLOW_SPEC_INNER = 0x100, /* flag: the tunnelled headers */
	SV_FLOW_SPEC_ACTION_TAG = 0x1000,
};
/* Flow attribute types and flags (kernel enum ib_flow_attr_type, _flags). */
enum {
	SV_FLOW_ATTR_NORMAL = 0,
	SV_FLOW_ATTR_ALL_DEFAULT = 1,
	SV_FLOW_ATTR_MC_DEFAULT = 2,
};
enum {
	SV_FLOW_ATTR_FLAGS_DONT_TRAP = 1U << 1,
	SV_FLOW_ATTR_FLAGS_EGRESS = 1U << 2,
	SV_FLOW_ATTR_FLAGS_RESERVED = 1U << 3,
};
/* At most this many specs in one rule (IB_FLOW_SPEC_SUPPORT_LAYERS). */
#define SV_FLOW_MAX_SPECS 10

/*
 * RSS: a WQ (UVERBS_METHOD_WQ_CREATE) is a receive ring laid out as an
 * SRQ's (sv_srq_buffer_slot, sv_create_ring_req.rq_entries). A raw QP
 * over an indirection table has no rings; its driver data carries the
 * receive hash after the (zero) ring request.
 */
#define SV_RSS_KEY_MAX 64
#define SV_RSS_MAX_LOG_TBL 8 /* 256 WQs per indirection table */

struct sv_create_qp_rss {
	struct sv_create_ring_req ring;
	__aligned_u64 rx_hash_fields_mask; /* enum ibv_rx_hash_fields */
	__u8 rx_hash_function; /* enum ibv_rx_hash_function_flags */
	__u8 rx_hash_key_len;
	__u8 reserved[6];
	__u8 rx_hash_key[SV_RSS_KEY_MAX];
};

/* ---------------------------------------------------------------------- */
/* 4. The same-host direct path (docs/direct-path.md)                      */
/* ---------------------------------------------------------------------- */

/*
 * The initiator's library performs RDMA WRITE and READ itself when the
 * daemon granted its RC connection the direct path (both QPs on this
 * daemon, same user; the library then proves that the kernel lets it reach
 * the target process by opening /proc/PID/mem). Everything it checks comes
 * from one table the daemon writes and clients map read-only
 * (F_SEAL_FUTURE_WRITE): key entries, then connection records. Anything in
 * doubt goes to the daemon, which gives the exact daemon-path result.
 */
enum sv_direct_methods {
	SV_METHOD_DIRECT_GRANT = SV_ID_DRIVER(5), /* on UVERBS_OBJECT_DEVICE */
	SV_METHOD_DIRECT_MEM = SV_ID_DRIVER(6), /* on UVERBS_OBJECT_DEVICE */
	SV_METHOD_DIRECT_RECV = SV_ID_DRIVER(7), /* on UVERBS_OBJECT_DEVICE */
	SV_METHOD_DIRECT_PEER_RECV = SV_ID_DRIVER(8), /* on UVERBS_OBJECT_DEVICE */
	SV_METHOD_DIRECT_NOTIFY = SV_ID_DRIVER(9), /* on UVERBS_OBJECT_DEVICE */
	SV_METHOD_DIRECT_INV = SV_ID_DRIVER(10), /* on UVERBS_OBJECT_DEVICE */
	SV_METHOD_DIRECT_CQ_NOTIFY = SV_ID_DRIVER(11), /* on UVERBS_OBJECT_DEVICE */
};

/*
 * SV_METHOD_DIRECT_MEM: the registrar's address-space handle of a region
 * the granted QP may target (a copy of the daemon's own /proc/PID/mem fd,
 * bound to the registrar's mm: it stops working when that process exits
 * or execs, so a pid never comes to mean another process). The library
 * takes it only after opening the registrar's /proc/PID/mem itself, so
 * the kernel has said it may reach that memory anyway.
 */
enum sv_direct_mem_attrs {
	SV_ATTR_DIRECT_MEM_QP = SV_ID_DRIVER(0), /* idr QP, granted */
	SV_ATTR_DIRECT_MEM_KEY = SV_ID_DRIVER(1), /* u32 rkey in */
	SV_ATTR_DIRECT_MEM_FD = SV_ID_DRIVER(2), /* FD out */
};

enum sv_direct_grant_attrs {
	SV_ATTR_DIRECT_GRANT_QP = SV_ID_DRIVER(0), /* idr QP, the initiator */
	SV_ATTR_DIRECT_GRANT_RESP = SV_ID_DRIVER(1), /* sv_direct_grant_resp */
	SV_ATTR_DIRECT_GRANT_FD = SV_ID_DRIVER(2), /* FD out: the table */
};

struct sv_direct_grant_resp {
	__u32 conn; /* index of the connection record */
	__u32 dev; /* the device's tag in key entries */
	__aligned_u64 pd; /* the tag of the initiator QP's PD */
	__u32 peer_qpn;
	__u32 slid; /* the port LID a receiver's completion names */
	__u32 flags; /* SV_DIRECT_GRANT_* */
	__u32 reserved;
};

enum {
	/*
	 * The daemon's quiesce runs membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
	 * between its seq stores and its reads of busy records: a library
	 * registered for those barriers may order its busy store and seq load
	 * with a compiler barrier instead of a locked instruction.
	 */
	SV_DIRECT_GRANT_ASYM = 1U << 0,
};

#define SV_DIRECT_KEYS (1U << 20) /* key entries, by sv_direct_key_slot() */
#define SV_DIRECT_CONNS (1U << 16) /* connection records */

/*
 * A published memory region (VA regions only). seq is a seqlock: odd while
 * the daemon rewrites the entry, bumped on every change; key 0 = empty.
 */
struct sv_direct_key {
	__u32 seq;
	__u32 key; /* lkey == rkey of the region */
	__u32 dev; /* device tag */
	__u32 access; /* IBV_ACCESS_* */
	__aligned_u64 pd; /* tag of the region's PD */
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 va; /* the registrar's address of byte iova (0: none) */
	__u32 pid; /* the registrar (mapped: the context's creator) */
	__u32 flags; /* SV_DIRECT_KEY_* */
	__aligned_u64 start; /* its start time (/proc/PID/stat field 22) */
	__aligned_u64 file_off; /* mapped: file offset of byte iova */
	__u64 reserved[7];
};

enum {
	/* The bytes are a file the daemon maps (memfd, shm, dma-buf): the
	 * library maps it too and copies with memcpy, atomics with CPU
	 * atomics (the daemon's own primitive on mapped memory). */
	SV_DIRECT_KEY_MAPPED = 1U << 0,
};

/* A granted RC connection; live while both QPs are connected and usable. */
struct sv_direct_conn {
	__u32 seq; /* seqlock, as in sv_direct_key */
	__u32 live; /* initiator RTS, peer RTR/RTS, connected to each other */
	__u32 qpn;
	__u32 peer_qpn;
	__u32 peer_access; /* the peer QP's qp_access_flags */
	__u32 peer_rx; /* the peer's receive ring generation, 0: none */
	__aligned_u64 peer_pd; /* tag of the peer QP's PD */
	__u64 reserved2[4];
};

#define SV_DIRECT_CONN_OFF ((__u64)SV_DIRECT_KEYS * sizeof(struct sv_direct_key))
#define SV_DIRECT_TABLE_SIZE                                                   \
	(SV_DIRECT_CONN_OFF + (__u64)SV_DIRECT_CONNS * sizeof(struct sv_direct_conn))

/* Where key lives in the table (a region whose slot is taken is not published). */
static inline __u32 sv_direct_key_slot(__u32 key)
{
	return (__u32)(key * 0x9E3779B1U) >> 12;
}

/*
 * While the initiator's library accesses a region directly it names the
 * entry in its QP's SQ doorbell record, on the line CQs use for arming
 * (unused in a QP's records): slot + 1 and the entry's seq, 0 when idle.
 * A daemon that unpublishes a region waits until no busy record names its
 * old seq, so ibv_dereg_mr never returns while a direct access runs.
 */
struct sv_direct_busy {
	__u32 slot1; /* slot + 1, 0 = idle */
	__u32 seq;
};
#define SV_DIRECT_BUSY_OFF 128 /* offsetof(struct sv_dbrec, arm_seq) */

/*
 * Direct SEND: the receive ring of an RC QP (docs/direct-path.md). The
 * daemon creates it (a sealed memfd) for the QP's owner, which maps it
 * read-write and drains it in poll_cq; a granted initiator maps it too and
 * pushes eager messages into it inside ibv_post_send. Layout: this header,
 * then at SV_DIRECT_RX_MIRROR_OFF a copy of the QP's receive queue (the
 * owner copies each receive WQE it posts, so the initiator can check the
 * receive a message will take), then SV_DIRECT_RX_SLOTS message slots.
 *
 * Whose turn: the initiator pushes only when nothing of its is left in
 * the daemon; before the engine runs its next daemon-path work it drains
 * what is left in the ring itself (under the drainer word), so the
 * receive queue is consumed in message order by one party at a time.
 */
enum sv_direct_recv_attrs {
	SV_ATTR_DIRECT_RECV_QP = SV_ID_DRIVER(0), /* idr QP, the receiver */
	SV_ATTR_DIRECT_RECV_RESP = SV_ID_DRIVER(1), /* sv_direct_recv_resp */
	SV_ATTR_DIRECT_RECV_FD = SV_ID_DRIVER(2), /* FD out: the ring */
	SV_ATTR_DIRECT_RECV_TABLE = SV_ID_DRIVER(3), /* FD out: the table */
};

struct sv_direct_recv_resp {
	__u32 dev; /* the device's tag in key entries */
	__u32 rq_entries; /* the mirror's geometry */
	__aligned_u64 pd; /* the tag of the receiver QP's PD */
	__aligned_u64 size; /* bytes of the ring */
	__u32 rq_stride;
	__u32 gen;
};

/* SV_METHOD_DIRECT_PEER_RECV: the peer's ring, for a granted initiator */
enum sv_direct_peer_recv_attrs {
	SV_ATTR_DIRECT_PEER_QP = SV_ID_DRIVER(0), /* idr QP, granted */
	SV_ATTR_DIRECT_PEER_RESP = SV_ID_DRIVER(1), /* sv_direct_recv_resp */
	SV_ATTR_DIRECT_PEER_FD = SV_ID_DRIVER(2), /* FD out: the ring */
};

/* SV_METHOD_DIRECT_NOTIFY: raise the peer's receive CQ event if armed */
enum sv_direct_notify_attrs {
	SV_ATTR_DIRECT_NOTIFY_QP = SV_ID_DRIVER(0), /* idr QP, granted */
	SV_ATTR_DIRECT_NOTIFY_SE = SV_ID_DRIVER(1), /* u32 in: solicited */
};

/*
 * SV_METHOD_DIRECT_CQ_NOTIFY: the library wrote a completion into its own
 * CQ (a direct operation's) while the CQ was armed: raise the CQ's event,
 * if its arm asks for one (as for a daemon CQE that is not solicited).
 */
enum sv_direct_cq_notify_attrs {
	SV_ATTR_DIRECT_CQ_NOTIFY_CQ = SV_ID_DRIVER(0), /* idr CQ */
};

/*
 * SV_METHOD_DIRECT_INV: a direct SEND_WITH_INV's invalidation, asked by
 * the initiator before it pushes the message: the rkey must name a bound
 * type 2 memory window of the peer QP's PD (as the responder checks);
 * 0, or EINVAL and nothing changed (the work request then goes to the
 * daemon, which fails it as the daemon path does).
 */
enum sv_direct_inv_attrs {
	SV_ATTR_DIRECT_INV_QP = SV_ID_DRIVER(0), /* idr QP, granted */
	SV_ATTR_DIRECT_INV_RKEY = SV_ID_DRIVER(1), /* u32 in */
};

struct sv_direct_rx_hdr {
	/* Initiator: messages pushed. */
	_Alignas(SV_CACHELINE) __u32 prod;
	/* Receiver (and the engine while the ring is empty): messages
	 * taken (low half) and the receive queue's cons (high half), stored
	 * together so an initiator reads one consistent pair. */
	_Alignas(SV_CACHELINE) __aligned_u64 cons;
	/* Who drains: 0 nobody, 1 the receiver's library, 2 the engine
	 * (which drains the ring itself before the initiator's next
	 * daemon-path work, so that work never waits for a poll_cq). */
	__aligned_u64 drainer;
	/* Receiver: receive WQEs posted (its RQ prod), after the mirror. */
	_Alignas(SV_CACHELINE) __u32 rq_prod;
	/* Receiver: SV_CQ_ARM_* while its CQ waits for an event; the
	 * initiator that takes it asks the daemon for the event. */
	_Alignas(SV_CACHELINE) __u32 armed;
	/* Daemon, at creation: 1 if the receiver's CQ has no completion
	 * channel (nobody can sleep on it: the initiator need not look at
	 * armed, nor fence for it). */
	__u32 nochan;
	/*
	 * Peer assist (lib/providers/softverbs/direct_assist.c): the
	 * receiver's library copies part of a large direct WRITE/READ of
	 * its granted initiator. Written by the two libraries only; the
	 * daemon makes the page zero and never reads it.
	 */
	/* Receiver's helper thread: SV_ASSIST_* (0: none serves us). */
	_Alignas(SV_CACHELINE) __u32 as_state;
	/* Futex word: the initiator bumps it to wake a sleeping helper. */
	__u32 as_wake;
	/* Initiator: generation << 32 | chunks << 16 | next chunk; the two
	 * sides claim chunks with a compare-and-swap. */
	_Alignas(SV_CACHELINE) __aligned_u64 as_take;
	/* Helper: chunks of this generation it finished; any it failed. */
	_Alignas(SV_CACHELINE) __u32 as_done;
	__u32 as_failed;
	/* Initiator, before as_take (release): the job. l*: its own bytes
	 * (one range), r*: the receiver's; read: the initiator reads. The
	 * helper reads token_addr in pid and finds token there before each
	 * chunk: still the process that posted it. */
	_Alignas(SV_CACHELINE) __aligned_u64 as_laddr;
	__aligned_u64 as_raddr, as_len, as_chunk;
	__aligned_u64 as_token_addr, as_token;
	__u32 as_pid, as_read;
	/*
	 * Small WRITEs to the receiver's VA regions, applied by its helper
	 * (lib/providers/softverbs/direct_war.c; records after the slots).
	 * Written by the two libraries; the daemon reads war_busy only.
	 */
	/* Records the helper took (it, compare-and-swap); the initiator
	 * sets SV_DIRECT_WAR_REVOKED to take the rest back. */
	_Alignas(SV_CACHELINE) __u32 war_claim;
	/* Helper: records applied; the failing record + 1 (0: none). */
	_Alignas(SV_CACHELINE) __u32 war_cons;
	__u32 war_err;
	/* Initiator: bumped when it waits for records to be applied (the
	 * helper looks at new records only now and then, otherwise). */
	_Alignas(SV_CACHELINE) __u32 war_want;
	/* Initiator: records written so far, published every few lines and
	 * before it waits (a hint: the helper still checks each seq). */
	__u32 war_prod;
	/* Helper: the entry it writes through, as a busy record (the daemon
	 * waits for it as for an initiator's, svd_direct_quiesce). */
	_Alignas(SV_CACHELINE) struct sv_direct_busy war_busy;
};

enum {
	SV_ASSIST_NONE = 0,
	SV_ASSIST_AWAKE = 1, /* polling: a job is seen without a wake-up */
	SV_ASSIST_ASLEEP = 2, /* in futex_wait on as_wake */
};

struct sv_direct_rx_msg {
	__u32 len;
	__u32 flags; /* SV_DIRECT_RX_* */
	__u32 imm; /* network order */
	__u32 src_qp;
	__u32 slid;
	/* Written last (release), after the payload and prod: the message
	 * number + 1. The receiver's library polls this word, so a message
	 * costs it one cache line, not prod's line and then the slot's. */
	__u32 seq;
	__u32 reserved[2];
	/* then len bytes */
};

enum {
	SV_DIRECT_RX_IMM = 1U << 0,
	SV_DIRECT_RX_SOLICITED = 1U << 1,
	/* RDMA WRITE_WITH_IMM: the initiator already wrote len bytes to the
	 * target region; the message carries no payload, only the
	 * immediate, and takes a receive WQE without writing to it. */
	SV_DIRECT_RX_WRITE = 1U << 2,
	/* A SEND larger than a slot: the initiator already wrote its len
	 * bytes into the first SGE of the receive the message takes. */
	SV_DIRECT_RX_PLACED = 1U << 3,
	/* SEND_WITH_INV: imm is the rkey the initiator had the daemon
	 * invalidate (SV_METHOD_DIRECT_INV) before it pushed the message. */
	SV_DIRECT_RX_INV = 1U << 4,
};

#define SV_DIRECT_RX_MIRROR_OFF 4096U
_Static_assert(sizeof(struct sv_direct_rx_hdr) <= SV_DIRECT_RX_MIRROR_OFF,
	       "the ring header fits before the mirror");
#define SV_DIRECT_RX_SLOTS 32U
#define SV_DIRECT_RX_SLOT 8192U
#define SV_DIRECT_RX_EAGER (SV_DIRECT_RX_SLOT - sizeof(struct sv_direct_rx_msg))

static inline __u64 sv_direct_rx_slots_off(__u32 rq_entries, __u32 rq_stride)
{
	__u64 m = (__u64)rq_entries * rq_stride;

	return SV_DIRECT_RX_MIRROR_OFF + ((m + 4095) & ~4095ULL);
}

/*
 * Small WRITEs for the receiver's helper to apply (direct_war.c): a ring
 * of 32-byte slots, two to a cache line, since what a record costs is
 * its line moving from the initiator's core to the helper's and back.
 * A record of at most SV_DIRECT_WAR_SHORT bytes takes one slot; a longer
 * one (at most SV_DIRECT_WAR_MAX) takes two, a whole line: it starts at
 * an even slot, after a pad record if the initiator was at an odd one.
 * Record numbers (seq, war_claim, war_cons) count slots.
 */
#define SV_DIRECT_WAR_SLOTS 2048U /* a power of two */
#define SV_DIRECT_WAR_SHORT 8U /* payload bytes in one slot */
#define SV_DIRECT_WAR_MAX 40U /* payload bytes in two */
#define SV_DIRECT_WAR_PAD 0xffffffffU /* len of a record that writes nothing */
#define SV_DIRECT_WAR_REVOKED 0x80000000U
struct sv_direct_war_rec {
	/* Written last (release): the record's number + 1. */
	__u32 seq;
	__u32 len;
	__u32 rkey;
	__u32 reserved;
	__aligned_u64 raddr; /* as the WRITE named it (the key's iova) */
	/* A two-slot record's payload goes on through the next slot. */
	__u8 data[SV_DIRECT_WAR_SHORT];
};
_Static_assert(sizeof(struct sv_direct_war_rec) == 32, "two slots a line");

static inline __u64 sv_direct_rx_war_off(__u32 rq_entries, __u32 rq_stride)
{
	return sv_direct_rx_slots_off(rq_entries, rq_stride) +
	       (__u64)SV_DIRECT_RX_SLOTS * SV_DIRECT_RX_SLOT;
}

static inline __u64 sv_direct_rx_size(__u32 rq_entries, __u32 rq_stride)
{
	return sv_direct_rx_war_off(rq_entries, rq_stride) +
	       (__u64)SV_DIRECT_WAR_SLOTS * sizeof(struct sv_direct_war_rec);
}

/*
 * Scatter-to-CQE (docs/datapath.md, "Small receives scattered at poll").
 * A CQ created or resized with SV_CQ_CREATE_SCATTER in the CQ's
 * sv_create_ring_req.rq_entries has its ring buffer followed by a payload
 * area of one SV_CQ_SCAT_SLOT-byte slot per CQE slot. A receive WQE the
 * library keeps a private record of carries SV_RWQE_F_INDEX in its
 * 'reserved'; every receive CQE the daemon makes of it carries
 * SV_CQE_F_RIDX in the CQE's 'reserved' and the WQE's free-running ring
 * index in tm_tag, and with SV_CQE_F_SCATTER its byte_len (at most
 * SV_CQ_SCAT_MAX) payload bytes are in the area at the CQE's slot instead
 * of in the receive buffer: poll_cq copies them there from its record.
 */
#define SV_CQ_CREATE_SCATTER 1U
#define SV_CQ_SCAT_SLOT 64U
#define SV_CQ_SCAT_MAX 64U
#define SV_RWQE_F_INDEX 1U
#define SV_CQE_F_RIDX 1U
#define SV_CQE_F_SCATTER 2U

#endif /* SOFTVERBS_ABI_H */
