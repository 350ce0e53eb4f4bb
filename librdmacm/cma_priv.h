/* SPDX-License-Identifier: MIT */
/* librdmacm.so.1 internals: the id, the channel and the daemon link. */
#ifndef SV_CMA_PRIV_H
#define SV_CMA_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <rdma/rdma_cma.h>
#include <rdma/rdma_verbs.h>
#include <softverbs/cm_abi.h>

/* One device as librdmacm sees it: opened once, shared with the app. */
struct cma_device {
	struct ibv_context *verbs;
	uint64_t guid; /* host order */
	/* The device's default PD, kept for the library's lifetime. */
	struct ibv_pd *pd;
};

struct cma_channel {
	struct rdma_event_channel ch; /* first: apps see only its fd */
	uint32_t handle;
};

struct cma_id_private {
	struct rdma_cm_id id;
	uint32_t handle; /* the daemon's */
	struct cma_device *dev;
	struct ibv_sa_path_rec path; /* route.path_rec points here */
	/* Events handed out and not yet acked: destroy waits for them. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int events_out;
	bool sync; /* created with a NULL channel: calls wait for events */
	bool own_cqs; /* rdma_create_qp made the CQs */
	int backlog;
	struct ibv_qp_init_attr *ep_qp_attr; /* rdma_create_ep's, for requests */
	uint8_t initiator_depth;
	uint8_t responder_resources;
	struct cma_mc *mcs; /* multicast groups joined (mcast.c), under lock */
	struct ibv_ece local_ece, remote_ece; /* ece.c */
};

struct cma_event {
	struct rdma_cm_event event;
	struct cma_id_private *id_priv;
	uint8_t pdata[SV_CM_PDATA_MAX];
};

static inline struct cma_channel *to_chan(struct rdma_event_channel *ch)
{
	return (struct cma_channel *)ch;
}

static inline struct cma_id_private *to_priv(struct rdma_cm_id *id)
{
	return (struct cma_id_private *)id;
}

/* transport.c: the daemon link. */
int cma_call(struct sv_cm_cmd *cmd, struct sv_cm_reply *rep);
int cma_call_fd(struct sv_cm_cmd *cmd, struct sv_cm_reply *rep, int fd);
int cma_errno(int status);

/* devices.c */
int cma_devices_init(void);
struct cma_device *cma_device_by_guid(uint64_t guid);
struct ibv_pd *cma_default_pd(struct cma_device *dev);

/* cma.c */
void cma_apply_route(struct cma_id_private *p, const struct sv_cm_route *r);
int cma_simple(struct cma_id_private *p, uint32_t op, int arg);
int cma_sync_wait(struct cma_id_private *p, enum rdma_cm_event_type want);
struct cma_id_private *cma_id_alloc(struct rdma_event_channel *ch,
				    void *context, enum rdma_port_space ps,
				    enum ibv_qp_type qpt);
void cma_id_free(struct cma_id_private *p);

int cma_join_call(struct cma_id_private *p, const struct sockaddr *group);

/* ece.c */
void cma_ece_from_qp(struct cma_id_private *p);
void cma_ece_to_conn(const struct cma_id_private *p, struct sv_cm_conn *c);
void cma_ece_from_event(struct cma_id_private *p, const struct sv_cm_event *ev);

/* mcast.c */
void cma_mc_joined(struct rdma_cm_event *ev, struct cma_id_private *p);
void cma_mc_free_all(struct cma_id_private *p);

/* qp.c */
int cma_modify_qp(struct cma_id_private *p, enum ibv_qp_state state);
int cma_qp_connect(struct cma_id_private *p);
int cma_qp_to_err(struct cma_id_private *p);
int cma_ud_qp_ready(struct cma_id_private *p);

#endif
