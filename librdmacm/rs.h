/* SPDX-License-Identifier: MIT */
/*
 * rsockets on softverbs: stream sockets over an RC QP that rdma_cm
 * connects (docs/rdma-cm.md). Each rsocket owns an rdma_cm event channel;
 * its fd is the socket number the application sees, so rsockets and real
 * fds never collide in rpoll().
 *
 * Data moves as SEND_WITH_IMM from registered slots into the peer's posted
 * receive slots. The immediate word says what a message is and returns
 * receive credits: the sender never sends more data messages than the
 * receiver has slots posted, and control messages use a few spare slots.
 * This is softverbs' own framing: both ends must be this library.
 */
#ifndef SV_RS_H
#define SV_RS_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rdma/rdma_cma.h>

#define RS_SLOT 16384 /* bytes per message */
#define RS_RECV_SLOTS 32 /* data receive slots (the peer's credits) */
#define RS_CTRL_SLOTS 4 /* spare receive slots for control messages */
#define RS_SEND_SLOTS 32

enum rs_state {
	RS_INIT,
	RS_BOUND,
	RS_LISTENING,
	RS_CONNECTED,
	RS_DISCONNECTED,
};

enum rs_msg {
	RS_MSG_DATA = 0,
	RS_MSG_CREDIT = 1,
	RS_MSG_CLOSE = 2,
	RS_MSG_IOMAP = 3,
};

#define RS_IMM(type, credits) ((uint32_t)(type) << 24 | ((credits) & 0xffffff))
#define RS_IMM_TYPE(imm) ((imm) >> 24)
#define RS_IMM_CREDITS(imm) ((imm) & 0xffffff)

/* A region the peer mapped with riomap(): riowrite() targets. */
struct rs_iomap {
	off_t offset;
	uint64_t addr;
	uint32_t rkey;
	uint64_t len;
	struct ibv_mr *mr; /* local maps only */
	void *buf;
	struct rs_iomap *next;
};

struct rs_iomap_msg {
	uint64_t offset;
	uint64_t addr;
	uint64_t len;
	uint32_t rkey;
	uint32_t pad;
};

/* Datagram sockets: a UD QP on at most this many devices. */
#define RS_DS_MAX_QPS 8
/* The most fds one rsocket adds to a poll() set. */
#define RS_WAIT_FDS (1 + RS_DS_MAX_QPS)

struct rs_ds;

struct rsock {
	int index; /* channel fd: the socket number */
	int domain;
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	struct rs_ds *ds; /* SOCK_DGRAM's state (rs_dgram.c) */
	enum rs_state state;
	int fl_flags; /* O_NONBLOCK */
	int err; /* SO_ERROR */
	bool nodelay, keepalive, reuseaddr;
	int sndbuf, rcvbuf;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	struct ibv_mr *rmr, *smr;
	uint8_t *rbuf, *sbuf;
	/* Send side. */
	int credits; /* data messages the peer can take */
	int ctrl_out; /* control messages sent and not yet acknowledged */
	uint32_t send_free; /* bitmask of free send slots */
	bool shut_wr;
	/* Receive side: slots holding data, in arrival order. */
	int rq[RS_RECV_SLOTS + RS_CTRL_SLOTS];
	uint32_t rq_len[RS_RECV_SLOTS + RS_CTRL_SLOTS];
	int rq_head, rq_count;
	uint32_t rq_off; /* bytes of the head slot already read */
	int owed; /* credits to give back */
	bool eof;
	struct rs_iomap *local_maps, *remote_maps;
	off_t next_offset;
	pthread_mutex_t lock;
};

/* rs_core.c */
struct rsock *rs_get(int socket);
int rs_setup_conn(struct rsock *rs);

/* rs_data.c */
int rs_progress(struct rsock *rs);
int rs_wait(struct rsock *rs, int timeout_ms);
int rs_post_recv(struct rsock *rs, int slot);
int rs_send_ctrl(struct rsock *rs, enum rs_msg type, const void *data,
		 uint32_t len);
int rs_send_slot(struct rsock *rs, enum rs_msg type, const void *data,
		 uint32_t len, bool data_msg);
bool rs_readable(struct rsock *rs);
bool rs_writable(struct rsock *rs);
int rs_take_send_slot(struct rsock *rs);

/* rs_dgram.c: SOCK_DGRAM rsockets */
int rs_ds_init(struct rsock *rs);
void rs_ds_free(struct rsock *rs);
int rs_ds_bind(struct rsock *rs, const struct sockaddr *addr);
int rs_ds_connect(struct rsock *rs, const struct sockaddr *addr,
		  socklen_t len);
ssize_t rs_ds_sendto(struct rsock *rs, const void *buf, size_t len,
		     int flags, const struct sockaddr *to, socklen_t tolen);
ssize_t rs_ds_recvfrom(struct rsock *rs, void *buf, size_t len, int flags,
		       struct sockaddr *from, socklen_t *fromlen);
int rs_ds_peername(struct rsock *rs, struct sockaddr *addr,
		   socklen_t *addrlen);
short rs_ds_revents(struct rsock *rs, short events);
int rs_ds_wait_fds(struct rsock *rs, struct pollfd *set);
void rs_ds_ack_wakeups(struct rsock *rs);

#endif
