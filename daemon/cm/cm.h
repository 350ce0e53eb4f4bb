/* SPDX-License-Identifier: MIT */
/*
 * softverbsd's connection manager: the kernel's ucma + rdma_cm + ib_cm in
 * one place (docs/rdma-cm.md).
 *
 *   cm_sock.c   cm.sock: one cm_file per process, commands, event channels
 *   cm_addr.c   addresses: bind, ports, address -> device/GID, routes
 *   cm_neigh.c  waiting for the next hop's neighbour entry (ARP/ND)
 *   cm_conn.c   the connection state machine and the CM MADs it exchanges
 *   cm_wire.c   where MADs go: to the local device that holds the
 *               destination GID, or on the wire (QP1) to another host
 *   cm_mad.c    the IBTA message formats
 */
#ifndef SVD_CM_H
#define SVD_CM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <softverbs/cm_abi.h>

#include "svd.h"
#include "svd_main.h"

enum cm_state {
	CM_IDLE,
	CM_ADDR_BOUND,
	CM_ADDR_RESOLVED,
	CM_ROUTE_RESOLVED,
	CM_LISTEN,
	CM_REQ_SENT,
	CM_REQ_RCVD,
	CM_REP_SENT,
	CM_REP_RCVD,
	CM_ESTABLISHED,
	CM_DREQ_SENT,
	CM_DREQ_RCVD,
	CM_TIMEWAIT,
	CM_SIDR_REQ_SENT,
	CM_SIDR_REQ_RCVD,
	CM_UD_READY, /* SIDR done: a UD id has its peer */
	CM_ADDR_QUERY, /* resolve_addr waits for the neighbour (cm_neigh.c) */
};

struct cm_event_q;

struct cm_chan {
	uint32_t handle;
	int fd; /* the daemon's end of the library's socketpair */
	struct cm_file *file;
	struct cm_event_q *pending; /* events not yet fetched (GET_EVENT) */
	unsigned int tokens_owed; /* wake-ups not yet written to fd */
	bool destroyed; /* by the library; freed once its end is closed */
	struct cm_chan *next;
};

/* One process's connection to cm.sock (its "ucma file"). */
struct cm_file {
	struct svd_ev_hook hook; /* first: the main loop hands it back */
	int fd;
	pid_t pid;
	uid_t uid;
	void *ev_tag; /* main.c's */
	struct cm_chan *chans;
	struct cm_file *next;
	atomic_uint *charge; /* per-user connection count (svd_limits.h) */
};

/* The hop limit of every path the CM hands out. */
#define CM_HOP_LIMIT 64

struct cm_id {
	uint32_t handle;
	struct cm_file *file;
	struct cm_chan *chan;
	uint16_t ps;
	uint8_t qp_type; /* enum ibv_qp_type */
	enum cm_state state;
	union sv_cm_sockaddr src, dst;
	bool bound;
	bool reuseaddr;
	bool afonly;
	bool tos_set;
	uint8_t tos;
	uint8_t hop_limit; /* 0: CM_HOP_LIMIT; else the path's (IB_PATH) */
	uint8_t ack_timeout;
	/* The device, port 1 and the GIDs the addresses map to. */
	struct svd_device *dev;
	uint32_t sgid_index;
	uint8_t sgid[16];
	uint8_t dgid[16];
	bool have_route;
	/* ADDR_QUERY: the neighbour awaited (destination or gateway). */
	int nh_ifindex;
	uint8_t nh_family;
	uint8_t nh_addr[16];
	int backlog;
	int nr_pending; /* listener: requests not yet accepted/rejected */
	struct cm_id *listener;
	/* The connection, as the REQ/REP exchange set it up. */
	uint32_t local_comm_id, remote_comm_id;
	uint64_t remote_guid;
	uint64_t service_id;
	uint32_t local_qpn, remote_qpn;
	/* Starting PSNs as REQ and REP carry them: the PSN each side
	 * expects to receive first (ours: our QP's rq_psn). */
	uint32_t local_psn, remote_psn;
	uint32_t qkey;
	uint8_t resp_res, init_depth; /* local QP's: dest_rd_atomic, rd_atomic */
	uint8_t retry_count, rnr_retry; /* what the local QP uses */
	uint8_t srq, flow_control;
	uint8_t mtu;
	/* The MAD transaction of the exchange under way (answers reuse it). */
	uint64_t tid;
	/* Retransmission / timewait timer. */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC; 0 = none */
	uint64_t timeout_ms; /* between retransmissions */
	int retries, max_retries;
	uint8_t last_mad[256]; /* for retransmission */
	bool disconnected_sent; /* DISCONNECTED goes out once */
	struct cm_id *next;
};

/* cm_sock.c */
struct cm_id *cm_ids(void);
uint64_t cm_now_ms(void);
void cm_timer_update(void);
void cm_settle(void);
void cm_emit(struct cm_id *id, uint32_t event, int status,
	     const struct sv_cm_conn *conn, struct sv_cm_event *extra);
void cm_route_of(const struct cm_id *id, struct sv_cm_route *r);
struct cm_id *cm_id_new(struct cm_file *f, struct cm_chan *ch);
void cm_id_free(struct cm_id *id);

/* cm_addr.c */
int cm_bind(struct cm_id *id, const union sv_cm_sockaddr *addr);
int cm_resolve_addr(struct cm_id *id, const struct sv_cm_cmd *cmd);
int cm_resolve_route(struct cm_id *id, int timeout_ms);
void cm_addr_done(struct cm_id *id, int status);
int cm_listen(struct cm_id *id, int backlog);
int cm_set_option(struct cm_id *id, const struct sv_cm_cmd *cmd);
uint8_t cm_hop_limit(const struct cm_id *id);
struct cm_id *cm_find_listener(uint64_t service_id,
			       const union sv_cm_sockaddr *dst,
			       const struct svd_device *dev);
int cm_gid_index(const struct svd_device *dev, const uint8_t *gid);
struct svd_device *cm_dev_of_gid(const uint8_t *gid, uint32_t *index);
void cm_sa_to_gid(const union sv_cm_sockaddr *sa, uint8_t *gid);
uint16_t cm_sa_port(const union sv_cm_sockaddr *sa);
uint64_t cm_service_id(const struct cm_id *id);

/* cm_neigh.c */
int cm_neigh_query(struct cm_id *id, int timeout_ms);
void cm_neigh_stop(void);

/* cm_conn.c */
int cm_connect(struct cm_id *id, const struct sv_cm_conn *conn);
int cm_accept(struct cm_id *id, const struct sv_cm_conn *conn);
int cm_reject(struct cm_id *id, const struct sv_cm_conn *conn, int reason);
int cm_disconnect(struct cm_id *id);
int cm_establish(struct cm_id *id);
int cm_join_mcast(struct cm_id *id, const union sv_cm_sockaddr *group);
int cm_init_qp_attr(struct cm_id *id, int state, struct sv_cm_qp_attr *a);
void cm_id_shutdown(struct cm_id *id);
void cm_timeout(struct cm_id *id);
void cm_recv_mad(struct svd_device *dev, const uint8_t *sgid,
		 const uint8_t *dgid, const uint8_t *mad);

/* cm_wire.c */
void cm_send_mad(struct cm_id *id, const uint8_t *mad);
void cm_send_mad_to(struct svd_device *dev, const uint8_t *sgid,
		    const uint8_t *dgid, const uint8_t *mad);
void cm_wire_drain(void);
/* MADs from the wire: start/stop taking them; one, as received (fuzzer). */
int cm_wire_start(void);
void cm_wire_stop(void);
void cm_wire_input(const uint8_t *sgid, const uint8_t *dgid,
		   const uint8_t *mad);

#endif
