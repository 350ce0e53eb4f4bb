/* SPDX-License-Identifier: MIT */
/*
 * The rdma_cm command protocol between librdmacm.so.1 and softverbsd: the
 * part the kernel's ucma (/dev/infiniband/rdma_cm) plays for rdma-core.
 *
 * Transport: $RUNDIR/cm.sock, SOCK_SEQPACKET. A process opens one
 * connection (its "ucma file"); every request is one struct sv_cm_cmd and
 * gets one struct sv_cm_reply. Closing the connection (or dying) destroys
 * every cm_id and event channel it made, and the peers of its connected
 * ids get DISCONNECTED.
 *
 * Event channels: CREATE_CHANNEL carries, as SCM_RIGHTS, one end of a
 * socketpair(SOCK_SEQPACKET) that the library made; the library's end is
 * the rdma_event_channel fd the application polls. Events wait in the
 * daemon; for each one the daemon writes a one-byte token into the
 * socket. The library reads a token, then GET_EVENT fetches the channel's
 * oldest event (EAGAIN: that event was migrated or its id destroyed, so
 * the token is stale). Keeping events in the daemon lets rdma_migrate_id
 * move an id's unread events to the new channel, as ucma does.
 *
 * All fields are host order; the daemon validates every field.
 */
#ifndef SOFTVERBS_CM_ABI_H
#define SOFTVERBS_CM_ABI_H

#include <infiniband/ib.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#define SV_CM_SOCK "cm.sock"
#define SV_CM_ABI_VERSION 3
/* Private data buffers: large enough for the largest CM message (RTU). */
#define SV_CM_PDATA_MAX 224

enum sv_cm_op {
	SV_CM_CREATE_CHANNEL = 1,
	SV_CM_DESTROY_CHANNEL,
	SV_CM_CREATE_ID,
	SV_CM_DESTROY_ID,
	SV_CM_BIND,
	SV_CM_RESOLVE_ADDR,
	SV_CM_RESOLVE_ROUTE,
	SV_CM_LISTEN,
	SV_CM_CONNECT,
	SV_CM_ACCEPT,
	SV_CM_REJECT,
	SV_CM_DISCONNECT,
	SV_CM_ESTABLISH, /* the active side's QP is ready: send the RTU */
	SV_CM_MIGRATE,
	SV_CM_SET_OPTION,
	SV_CM_QUERY, /* the id's current route */
	SV_CM_INIT_QP_ATTR,
	SV_CM_NOTIFY,
	SV_CM_GET_EVENT,
	SV_CM_JOIN_MCAST, /* dst: the group address; MULTICAST_JOIN follows */
	SV_CM_OP_MAX,
};

union sv_cm_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_ib ib; /* AF_IB: a GID and a service ID */
};

/* Connection parameters, as in struct rdma_conn_param / rdma_ud_param. */
struct sv_cm_conn {
	uint32_t qp_num;
	uint32_t qkey;
	/* ECE (struct ibv_ece): REQ/REP vendor ID and attribute modifier. */
	uint32_t ece_vendor_id; /* 24 bits */
	uint32_t ece_options;
	uint8_t responder_resources;
	uint8_t initiator_depth;
	uint8_t flow_control;
	uint8_t retry_count;
	uint8_t rnr_retry_count;
	uint8_t srq;
	uint8_t qp_type; /* enum ibv_qp_type of the QP behind qp_num */
	uint8_t pdata_len;
	uint8_t pdata[SV_CM_PDATA_MAX];
};

/* What the library needs to fill rdma_cm_id.route and pick a context. */
struct sv_cm_route {
	union sv_cm_sockaddr src;
	union sv_cm_sockaddr dst;
	uint64_t node_guid; /* the device, 0 when none is bound yet */
	uint8_t port_num;
	uint8_t have_path; /* route resolved: one path record */
	uint16_t pkey;
	uint8_t sgid[16];
	uint8_t dgid[16];
	uint8_t traffic_class;
	uint8_t hop_limit;
	uint8_t mtu; /* enum ibv_mtu */
	uint8_t pad;
	uint32_t sgid_index;
};

struct sv_cm_cmd {
	uint32_t op;
	uint32_t id; /* daemon handle of the cm_id */
	uint32_t chan; /* daemon handle of an event channel */
	uint32_t ps; /* enum rdma_port_space */
	uint32_t qp_type;
	int32_t arg; /* timeout_ms, backlog, qp_state, reject reason, ... */
	uint64_t uctx; /* library cookie, echoed in events */
	union sv_cm_sockaddr src;
	union sv_cm_sockaddr dst;
	int32_t level; /* SET_OPTION */
	int32_t optname;
	uint32_t optlen;
	uint8_t optval[64];
	struct sv_cm_conn conn;
};

/* ibv_qp_attr fields that rdma_init_qp_attr fills (kernel order). */
struct sv_cm_qp_attr {
	uint32_t mask; /* enum ibv_qp_attr_mask */
	uint32_t qp_state;
	uint32_t qkey;
	uint32_t dest_qp_num;
	uint32_t rq_psn;
	uint32_t sq_psn;
	uint32_t access;
	uint16_t pkey_index;
	uint8_t port_num;
	uint8_t path_mtu;
	uint8_t max_dest_rd_atomic;
	uint8_t max_rd_atomic;
	uint8_t min_rnr_timer;
	uint8_t timeout;
	uint8_t retry_cnt;
	uint8_t rnr_retry;
	uint8_t hop_limit;
	uint8_t traffic_class;
	uint8_t dgid[16];
	uint32_t flow_label;
	uint32_t sgid_index;
};

struct sv_cm_event {
	uint32_t event; /* enum rdma_cm_event_type */
	int32_t status;
	uint32_t id; /* the subject; for CONNECT_REQUEST a new id */
	uint32_t listen_id;
	uint64_t uctx; /* the subject's cookie (the listener's for a new id) */
	uint64_t listen_uctx;
	struct sv_cm_route route; /* the subject's route after the event */
	struct sv_cm_conn conn; /* REQ/REP/REJ/SIDR contents */
	/* UD (SIDR_REP): where to send, for the address handle. */
	uint8_t ud_dgid[16];
	uint32_t ud_sgid_index;
	uint8_t ud_hop_limit;
	uint8_t ud_traffic_class;
	uint8_t pad[2];
};

struct sv_cm_reply {
	int32_t status; /* 0 or -errno */
	uint32_t id; /* CREATE_ID, CREATE_CHANNEL: the new handle */
	struct sv_cm_route route;
	struct sv_cm_qp_attr attr;
	struct sv_cm_event ev; /* GET_EVENT */
};

#endif
