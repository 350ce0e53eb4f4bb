// SPDX-License-Identifier: MIT
/*
 * The connection state machine (IBTA vol. 1, 12.9) and the CM MADs it
 * sends and receives: REQ, REP, RTU, REJ, DREQ, DREP for connected QPs,
 * SIDR_REQ/SIDR_REP for UD. Every message is built into and parsed from
 * its real 256-byte MAD (cm_mad.h), so the same bytes can cross a wire.
 *
 *  active:  ROUTE_RESOLVED -REQ-> REQ_SENT -REP-> REP_RCVD -RTU-> ESTABLISHED
 *  passive: (listener) REQ -> REQ_RCVD -REP-> REP_SENT -RTU-> ESTABLISHED
 *  either:  ESTABLISHED -DREQ-> DREQ_SENT -DREP-> TIMEWAIT -> IDLE
 *           ESTABLISHED <-DREQ- DREQ_RCVD -DREP-> TIMEWAIT -> IDLE
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "cm.h"
#include "cm_mad.h"

/* IBTA times are exponents: 4.096 us << n. */
#define CM_RESPONSE_TIMEOUT 20 /* about 4.3 s, the kernel's rdma_cm's */
#define CM_MAX_RETRIES 15
#define CM_TIMEWAIT_MS 100
#define CM_DEFAULT_ACK_TIMEOUT 14 /* 67 ms */
#define CM_MRA_DELAY 24 /* 69 s: what rdma_cm asks for */

static uint32_t hi_tid; /* the high half of our transaction IDs */

/* 4.096 us << e in ms, rounded up. */
static uint64_t exp_ms(unsigned int e)
{
	return ((4096ULL << (e & 31)) + 999999) / 1000000;
}

/*
 * The CM response timeout we announce and wait for. The test knob
 * SOFTVERBS_CM_RESPONSE_TIMEOUT (an exponent, 8..31) shortens it, so a
 * test can see a silent peer become UNREACHABLE in seconds.
 */
static unsigned int response_timeout(void)
{
	static int rt = -1;
	const char *env;

	if (rt < 0) {
		env = getenv("SOFTVERBS_CM_RESPONSE_TIMEOUT");
		rt = env ? atoi(env) : CM_RESPONSE_TIMEOUT;
		if (rt < 8 || rt > 31)
			rt = CM_RESPONSE_TIMEOUT;
	}
	return (unsigned int)rt;
}

/* As the kernel's CM: the agent's 32 bits above the local comm ID. */
static uint64_t form_tid(const struct cm_id *id)
{
	while (!hi_tid)
		hi_tid = (uint32_t)random();
	return (uint64_t)hi_tid << 32 | id->local_comm_id;
}

static uint8_t ack_timeout_of(const struct cm_id *id)
{
	return id->ack_timeout ? id->ack_timeout : CM_DEFAULT_ACK_TIMEOUT;
}


static uint32_t next_comm_id;

/* Local communication IDs: unique, never 0 (0 means "unknown" in a REJ). */
static uint32_t new_comm_id(void)
{
	do
		next_comm_id = next_comm_id ? next_comm_id + 1 :
					      (uint32_t)random();
	while (!next_comm_id);
	return next_comm_id;
}

static uint32_t new_psn(void)
{
	return (uint32_t)random() & 0xffffff;
}

static struct cm_id *find_by_comm_id(uint32_t local_comm_id)
{
	struct cm_id *id;

	for (id = cm_ids(); id; id = id->next)
		if (id->local_comm_id == local_comm_id &&
		    id->state != CM_LISTEN)
			return id;
	return NULL;
}

/* Send and keep a copy for retransmission until the answer comes. */
static void send_tracked(struct cm_id *id, const uint8_t *mad)
{
	memcpy(id->last_mad, mad, CM_MAD_SIZE);
	id->retries = 0;
	id->deadline_ms = cm_now_ms() + id->timeout_ms;
	cm_send_mad(id, mad);
}

static void put_pdata(uint8_t *mad, unsigned int off, const uint8_t *data,
		      unsigned int len)
{
	cm_put_bytes(mad, off, data, len);
}

/* The IP header's room in REQ / SIDR_REQ private data (none for AF_IB). */
static unsigned int hdr_len(const union sv_cm_sockaddr *sa)
{
	return sa->sa.sa_family == AF_IB ? 0 : CMA_HDR_SIZE;
}

/* rdma_cm's IP header in front of REQ / SIDR_REQ private data. */
static void put_cma_hdr(uint8_t *mad, unsigned int off,
			const struct cm_id *id)
{
	uint8_t hdr[CMA_HDR_SIZE] = { CMA_VERSION };
	uint16_t port = htons(cm_sa_port(&id->src));

	if (!hdr_len(&id->dst))
		return; /* AF_IB: the GIDs and service ID say it all */

	memcpy(hdr + 2, &port, 2);
	if (id->src.sa.sa_family == AF_INET) {
		hdr[1] = 4 << 4;
		memcpy(hdr + 4 + 12, &id->src.in.sin_addr, 4);
		memcpy(hdr + 20 + 12, &id->dst.in.sin_addr, 4);
	} else {
		hdr[1] = 6 << 4;
		memcpy(hdr + 4, &id->src.in6.sin6_addr, 16);
		memcpy(hdr + 20, &id->dst.in6.sin6_addr, 16);
	}
	cm_put_bytes(mad, off, hdr, CMA_HDR_SIZE);
}

/* The sender's and our own addresses, from the cma header. */
static int parse_cma_hdr(const uint8_t *hdr, union sv_cm_sockaddr *peer,
			 union sv_cm_sockaddr *self)
{
	memset(peer, 0, sizeof(*peer));
	memset(self, 0, sizeof(*self));
	if (hdr[0] != CMA_VERSION)
		return -EPROTO;
	if (hdr[1] >> 4 == 4) {
		peer->in.sin_family = self->in.sin_family = AF_INET;
		memcpy(&peer->in.sin_port, hdr + 2, 2);
		memcpy(&peer->in.sin_addr, hdr + 16, 4);
		memcpy(&self->in.sin_addr, hdr + 32, 4);
		return 0;
	}
	if (hdr[1] >> 4 != 6)
		return -EPROTO;
	peer->in6.sin6_family = self->in6.sin6_family = AF_INET6;
	memcpy(&peer->in6.sin6_port, hdr + 2, 2);
	memcpy(&peer->in6.sin6_addr, hdr + 4, 16);
	memcpy(&self->in6.sin6_addr, hdr + 20, 16);
	return 0;
}

static uint8_t ibv_qpt_to_cm(uint8_t qpt)
{
	return qpt == IBV_QPT_UC ? 1 : 0; /* RC 0, UC 1 */
}

static void build_req(struct cm_id *id, uint8_t *mad,
		      const struct sv_cm_conn *c)
{
	cm_mad_init(mad, CM_ATTR_REQ, id->tid);
	cm_put(mad, CM_REQ_LOCAL_COMM_ID, id->local_comm_id);
	cm_put(mad, CM_REQ_VENDOR_ID, c->ece_vendor_id);
	cm_mad_set_attr_mod(mad, c->ece_options);
	cm_put64(mad, CM_REQ_SERVICE_ID, id->service_id);
	cm_put64(mad, CM_REQ_LOCAL_CA_GUID, id->dev->node_guid);
	cm_put(mad, CM_REQ_LOCAL_QPN, id->local_qpn);
	cm_put(mad, CM_REQ_RESPONDER_RESOURCES, c->responder_resources);
	cm_put(mad, CM_REQ_INITIATOR_DEPTH, c->initiator_depth);
	cm_put(mad, CM_REQ_REMOTE_CM_RESPONSE_TIMEOUT, response_timeout());
	cm_put(mad, CM_REQ_TRANSPORT_SERVICE_TYPE, ibv_qpt_to_cm(c->qp_type));
	cm_put(mad, CM_REQ_END_TO_END_FLOW_CONTROL, c->flow_control);
	cm_put(mad, CM_REQ_STARTING_PSN, id->local_psn);
	cm_put(mad, CM_REQ_LOCAL_CM_RESPONSE_TIMEOUT, response_timeout());
	cm_put(mad, CM_REQ_RETRY_COUNT, c->retry_count);
	cm_put(mad, CM_REQ_PARTITION_KEY, 0xffff);
	cm_put(mad, CM_REQ_PATH_PACKET_PAYLOAD_MTU, id->mtu);
	cm_put(mad, CM_REQ_RNR_RETRY_COUNT, c->rnr_retry_count);
	cm_put(mad, CM_REQ_MAX_CM_RETRIES, CM_MAX_RETRIES);
	cm_put(mad, CM_REQ_SRQ, c->srq);
	/* RoCE: no LIDs (0xffff "permissive" in the kernel's RoCE REQ). */
	cm_put(mad, CM_REQ_PRIMARY_LOCAL_PORT_LID, 0xffff);
	cm_put(mad, CM_REQ_PRIMARY_REMOTE_PORT_LID, 0xffff);
	cm_put_bytes(mad, CM_REQ_PRIMARY_LOCAL_PORT_GID, id->sgid, 16);
	cm_put_bytes(mad, CM_REQ_PRIMARY_REMOTE_PORT_GID, id->dgid, 16);
	cm_put(mad, CM_REQ_PRIMARY_TRAFFIC_CLASS, id->tos);
	cm_put(mad, CM_REQ_PRIMARY_HOP_LIMIT, cm_hop_limit(id));
	cm_put(mad, CM_REQ_PRIMARY_LOCAL_ACK_TIMEOUT, ack_timeout_of(id));
	put_cma_hdr(mad, CM_REQ_PRIVATE_DATA, id);
	put_pdata(mad, CM_REQ_PRIVATE_DATA + hdr_len(&id->dst), c->pdata,
		  c->pdata_len);
}

static void build_sidr_req(struct cm_id *id, uint8_t *mad,
			   const struct sv_cm_conn *c)
{
	cm_mad_init(mad, CM_ATTR_SIDR_REQ, id->tid);
	cm_put(mad, CM_SIDR_REQ_REQUESTID, id->local_comm_id);
	cm_put(mad, CM_SIDR_REQ_PARTITION_KEY, 0xffff);
	cm_put64(mad, CM_SIDR_REQ_SERVICEID, id->service_id);
	put_cma_hdr(mad, CM_SIDR_REQ_PRIVATE_DATA, id);
	put_pdata(mad, CM_SIDR_REQ_PRIVATE_DATA + hdr_len(&id->dst), c->pdata,
		  c->pdata_len);
}

int cm_connect(struct cm_id *id, const struct sv_cm_conn *c)
{
	uint8_t mad[CM_MAD_SIZE];
	bool ud = id->qp_type == IBV_QPT_UD;

	if (id->state != CM_ROUTE_RESOLVED || !id->dev)
		return -EINVAL;
	if (c->pdata_len > (ud ? CM_SIDR_REQ_PRIVATE_DATA_SIZE :
				 CM_REQ_PRIVATE_DATA_SIZE) - hdr_len(&id->dst))
		return -EINVAL;
	id->local_comm_id = new_comm_id();
	id->tid = form_tid(id);
	/* The answer may take the peer's response time and a round trip. */
	id->timeout_ms = exp_ms(response_timeout()) +
			 2 * exp_ms(ack_timeout_of(id) - 1);
	id->max_retries = CM_MAX_RETRIES;
	id->service_id = ((uint64_t)id->ps << 16) | cm_sa_port(&id->dst);
	id->local_qpn = c->qp_num & 0xffffff;
	id->local_psn = new_psn();
	id->resp_res = c->responder_resources;
	id->init_depth = c->initiator_depth;
	id->retry_count = c->retry_count;
	id->srq = c->srq;
	id->flow_control = c->flow_control;
	if (ud)
		build_sidr_req(id, mad, c);
	else
		build_req(id, mad, c);
	id->state = ud ? CM_SIDR_REQ_SENT : CM_REQ_SENT;
	send_tracked(id, mad);
	return 0;
}

/* Where a REJ goes and what it answers. */
struct cm_rej_to {
	struct svd_device *dev;
	const uint8_t *sgid, *dgid;
	uint32_t local, remote;
	uint64_t tid;
};

static void send_rej(const struct cm_rej_to *to, int msg, int reason,
		     const struct sv_cm_conn *c)
{
	uint8_t mad[CM_MAD_SIZE];

	cm_mad_init(mad, CM_ATTR_REJ, to->tid);
	cm_put(mad, CM_REJ_LOCAL_COMM_ID, to->local);
	cm_put(mad, CM_REJ_REMOTE_COMM_ID, to->remote);
	cm_put(mad, CM_REJ_MESSAGE_REJECTED, msg);
	cm_put(mad, CM_REJ_REASON, reason);
	if (c)
		put_pdata(mad, CM_REJ_PRIVATE_DATA, c->pdata, c->pdata_len);
	if (reason == CM_REJ_TIMEOUT) { /* ARI: our CA GUID (12.6.7.2) */
		cm_put(mad, CM_REJ_REJECTED_INFO_LENGTH, 8);
		cm_put64(mad, CM_REJ_ARI, to->dev->node_guid);
	}
	cm_send_mad_to(to->dev, to->sgid, to->dgid, mad);
}

static void send_rej_id(struct cm_id *id, uint32_t remote, int msg,
			int reason, const struct sv_cm_conn *c)
{
	struct cm_rej_to to = { id->dev, id->sgid, id->dgid,
				id->local_comm_id, remote, id->tid };

	send_rej(&to, msg, reason, c);
}

static void send_sidr_rep(struct cm_id *id, int status,
			  const struct sv_cm_conn *c)
{
	uint8_t mad[CM_MAD_SIZE];

	cm_mad_init(mad, CM_ATTR_SIDR_REP, id->tid);
	cm_put(mad, CM_SIDR_REP_REQUESTID, id->remote_comm_id);
	cm_put(mad, CM_SIDR_REP_STATUS, status);
	cm_put(mad, CM_SIDR_REP_QPN, status ? 0 : id->local_qpn);
	cm_put64(mad, CM_SIDR_REP_SERVICEID, id->service_id);
	cm_put(mad, CM_SIDR_REP_Q_KEY, status ? 0 : id->qkey);
	if (c)
		put_pdata(mad, CM_SIDR_REP_PRIVATE_DATA, c->pdata,
			  c->pdata_len);
	cm_send_mad(id, mad);
}

static void listener_release(struct cm_id *id)
{
	if (id->listener)
		id->listener->nr_pending--;
	id->listener = NULL;
}

static int accept_ud(struct cm_id *id, const struct sv_cm_conn *c)
{
	if (c->pdata_len > CM_SIDR_REP_PRIVATE_DATA_SIZE)
		return -EINVAL;
	id->local_qpn = c->qp_num & 0xffffff;
	send_sidr_rep(id, CM_SIDR_SUCCESS, c);
	listener_release(id);
	id->state = CM_UD_READY;
	return 0;
}

/* The REP spreads the 24-bit vendor ID over three reserved bytes. */
static void put_rep_ece(uint8_t *mad, const struct sv_cm_conn *c)
{
	cm_put(mad, CM_REP_VENDOR_ID_H, c->ece_vendor_id >> 16 & 0xff);
	cm_put(mad, CM_REP_VENDOR_ID_M, c->ece_vendor_id >> 8 & 0xff);
	cm_put(mad, CM_REP_VENDOR_ID_L, c->ece_vendor_id & 0xff);
	cm_mad_set_attr_mod(mad, c->ece_options);
}

static void get_rep_ece(const uint8_t *mad, struct sv_cm_conn *c)
{
	c->ece_vendor_id = cm_get(mad, CM_REP_VENDOR_ID_H) << 16 |
			   cm_get(mad, CM_REP_VENDOR_ID_M) << 8 |
			   cm_get(mad, CM_REP_VENDOR_ID_L);
	c->ece_options = cm_mad_attr_mod(mad);
}

static void build_rep(struct cm_id *id, uint8_t *mad,
		      const struct sv_cm_conn *c)
{
	cm_mad_init(mad, CM_ATTR_REP, id->tid);
	cm_put(mad, CM_REP_LOCAL_COMM_ID, id->local_comm_id);
	cm_put(mad, CM_REP_REMOTE_COMM_ID, id->remote_comm_id);
	cm_put(mad, CM_REP_LOCAL_QPN, id->local_qpn);
	cm_put(mad, CM_REP_STARTING_PSN, id->local_psn);
	cm_put(mad, CM_REP_RESPONDER_RESOURCES, c->responder_resources);
	cm_put(mad, CM_REP_INITIATOR_DEPTH, c->initiator_depth);
	cm_put(mad, CM_REP_TARGET_ACK_DELAY, 0);
	cm_put(mad, CM_REP_END_TO_END_FLOW_CONTROL, c->flow_control);
	cm_put(mad, CM_REP_RNR_RETRY_COUNT, c->rnr_retry_count);
	cm_put(mad, CM_REP_SRQ, c->srq);
	cm_put64(mad, CM_REP_LOCAL_CA_GUID, id->dev->node_guid);
	put_pdata(mad, CM_REP_PRIVATE_DATA, c->pdata, c->pdata_len);
	put_rep_ece(mad, c);
}

int cm_accept(struct cm_id *id, const struct sv_cm_conn *c)
{
	uint8_t mad[CM_MAD_SIZE];

	if (id->state == CM_SIDR_REQ_RCVD)
		return accept_ud(id, c);
	if (id->state != CM_REQ_RCVD)
		return -EINVAL;
	if (c->pdata_len > CM_REP_PRIVATE_DATA_SIZE)
		return -EINVAL;
	id->local_qpn = c->qp_num & 0xffffff;
	id->resp_res = c->responder_resources;
	id->init_depth = c->initiator_depth;
	build_rep(id, mad, c);
	listener_release(id);
	id->state = CM_REP_SENT;
	send_tracked(id, mad);
	return 0;
}

int cm_reject(struct cm_id *id, const struct sv_cm_conn *c, int reason)
{
	int msg;

	if (c->pdata_len > CM_REJ_PRIVATE_DATA_SIZE)
		return -EINVAL;
	if (id->state == CM_SIDR_REQ_RCVD) {
		send_sidr_rep(id, CM_SIDR_REJECT, c);
	} else if (id->state == CM_REQ_RCVD || id->state == CM_REP_RCVD) {
		msg = id->state == CM_REQ_RCVD ? CM_MSG_REQ : CM_MSG_REP;
		send_rej_id(id, id->remote_comm_id, msg,
			    reason ? reason : CM_REJ_CONSUMER_DEFINED, c);
	} else {
		return -EINVAL;
	}
	listener_release(id);
	id->deadline_ms = 0;
	id->state = CM_IDLE;
	return 0;
}

static void send_rtu(struct cm_id *id)
{
	uint8_t mad[CM_MAD_SIZE];

	cm_mad_init(mad, CM_ATTR_RTU, id->tid);
	cm_put(mad, CM_RTU_LOCAL_COMM_ID, id->local_comm_id);
	cm_put(mad, CM_RTU_REMOTE_COMM_ID, id->remote_comm_id);
	cm_send_mad(id, mad);
}

int cm_establish(struct cm_id *id)
{
	if (id->state != CM_REP_RCVD)
		return -EINVAL;
	send_rtu(id);
	id->state = CM_ESTABLISHED;
	return 0;
}

static void enter_timewait(struct cm_id *id)
{
	id->state = CM_TIMEWAIT;
	id->deadline_ms = cm_now_ms() + CM_TIMEWAIT_MS;
}

static void send_drep(struct cm_id *id)
{
	uint8_t mad[CM_MAD_SIZE];

	cm_mad_init(mad, CM_ATTR_DREP, id->tid); /* the DREQ's */
	cm_put(mad, CM_DREP_LOCAL_COMM_ID, id->local_comm_id);
	cm_put(mad, CM_DREP_REMOTE_COMM_ID, id->remote_comm_id);
	cm_send_mad(id, mad);
}

static void send_dreq(struct cm_id *id)
{
	uint8_t mad[CM_MAD_SIZE];

	id->tid = form_tid(id); /* a new transaction */
	cm_mad_init(mad, CM_ATTR_DREQ, id->tid);
	cm_put(mad, CM_DREQ_LOCAL_COMM_ID, id->local_comm_id);
	cm_put(mad, CM_DREQ_REMOTE_COMM_ID, id->remote_comm_id);
	cm_put(mad, CM_DREQ_REMOTE_QPN_EECN, id->remote_qpn);
	id->state = CM_DREQ_SENT;
	send_tracked(id, mad);
}

static void emit_disconnected(struct cm_id *id)
{
	if (id->disconnected_sent)
		return;
	id->disconnected_sent = true;
	cm_emit(id, RDMA_CM_EVENT_DISCONNECTED, 0, NULL, NULL);
}

int cm_disconnect(struct cm_id *id)
{
	switch (id->state) {
	case CM_ESTABLISHED:
	case CM_REP_SENT: /* RTU not seen yet: the DREQ settles it */
	case CM_REP_RCVD:
		send_dreq(id);
		return 0;
	case CM_DREQ_RCVD:
		send_drep(id);
		enter_timewait(id);
		return 0;
	case CM_DREQ_SENT:
	case CM_TIMEWAIT:
	case CM_UD_READY:
		return 0; /* already going down / nothing to tear down */
	default:
		return -EINVAL;
	}
}

/* The id goes away: tell the peer, as ib_destroy_cm_id does. */
void cm_id_shutdown(struct cm_id *id)
{
	static const struct sv_cm_conn none;

	switch (id->state) {
	case CM_REQ_SENT:
		send_rej_id(id, 0, CM_MSG_OTHER, CM_REJ_TIMEOUT, NULL);
		break;
	case CM_REQ_RCVD:
	case CM_REP_RCVD:
	case CM_SIDR_REQ_RCVD:
		cm_reject(id, &none, CM_REJ_CONSUMER_DEFINED);
		break;
	case CM_REP_SENT:
	case CM_ESTABLISHED:
		send_dreq(id);
		break;
	case CM_DREQ_RCVD:
		send_drep(id);
		break;
	default:
		break;
	}
	listener_release(id);
}

static void retransmit_or_fail(struct cm_id *id)
{
	if (id->retries++ < id->max_retries) {
		id->deadline_ms = cm_now_ms() + id->timeout_ms;
		cm_send_mad(id, id->last_mad);
		return;
	}
	id->deadline_ms = 0;
	switch (id->state) {
	case CM_REQ_SENT:
	case CM_SIDR_REQ_SENT:
		id->state = CM_ROUTE_RESOLVED;
		cm_emit(id, RDMA_CM_EVENT_UNREACHABLE, -ETIMEDOUT, NULL, NULL);
		break;
	case CM_REP_SENT:
		id->state = CM_IDLE;
		cm_emit(id, RDMA_CM_EVENT_CONNECT_ERROR, -ETIMEDOUT, NULL,
			NULL);
		break;
	default: /* DREQ_SENT: nobody answered, we are down anyway */
		emit_disconnected(id);
		enter_timewait(id);
		break;
	}
}

void cm_timeout(struct cm_id *id)
{
	if (id->state == CM_ADDR_QUERY) { /* no neighbour in timeout_ms */
		cm_addr_done(id, -ETIMEDOUT);
		return;
	}
	if (id->state == CM_TIMEWAIT) {
		id->deadline_ms = 0;
		id->state = CM_IDLE;
		cm_emit(id, RDMA_CM_EVENT_TIMEWAIT_EXIT, 0, NULL, NULL);
		return;
	}
	retransmit_or_fail(id);
}

/* ---------------------------------------------------------------------- */
/* Receiving                                                              */
/* ---------------------------------------------------------------------- */

/* Where a received MAD came from and went to (the GRH of RoCEv2). */
struct cm_rx {
	struct svd_device *dev;
	const uint8_t *sgid; /* the sender's GID */
	const uint8_t *dgid; /* ours */
	const uint8_t *mad;
};

static void get_pdata(struct sv_cm_conn *c, const uint8_t *mad,
		      unsigned int off, unsigned int len)
{
	c->pdata_len = len;
	memcpy(c->pdata, cm_bytes(mad, off), len);
}

static struct cm_id *find_by_remote(uint32_t remote_comm_id,
				    const uint8_t *peer_gid)
{
	struct cm_id *id;

	for (id = cm_ids(); id; id = id->next)
		if (id->remote_comm_id == remote_comm_id &&
		    id->state != CM_LISTEN && id->state != CM_IDLE &&
		    !memcmp(id->dgid, peer_gid, 16))
			return id;
	return NULL;
}

/* A new passive id for a request that a listener takes. */
static struct cm_id *passive_id(struct cm_id *l, const struct cm_rx *rx,
				const union sv_cm_sockaddr *peer,
				const union sv_cm_sockaddr *self)
{
	struct cm_id *id = cm_id_new(l->file, l->chan);

	if (!id)
		return NULL;
	id->ps = l->ps;
	id->qp_type = l->qp_type;
	id->dev = rx->dev;
	memcpy(id->sgid, rx->dgid, 16);
	memcpy(id->dgid, rx->sgid, 16);
	id->sgid_index = cm_gid_index(rx->dev, rx->dgid);
	id->src = *self;
	id->dst = *peer;
	id->have_route = true;
	id->mtu = rx->dev->port.attr.active_mtu;
	id->local_comm_id = new_comm_id();
	id->local_psn = new_psn();
	id->listener = l;
	l->nr_pending++;
	return id;
}

/*
 * A request's addresses as an AF_IB listener sees them (as the kernel's
 * cma_save_ib_info): the path's GIDs, our side with the service ID.
 */
static void ib_rx_addrs(const struct cm_rx *rx, uint64_t sid,
			union sv_cm_sockaddr *peer, union sv_cm_sockaddr *self)
{
	memset(peer, 0, sizeof(*peer));
	memset(self, 0, sizeof(*self));
	peer->ib.sib_family = self->ib.sib_family = AF_IB;
	peer->ib.sib_pkey = self->ib.sib_pkey = htobe16(0xffff);
	memcpy(&peer->ib.sib_addr, rx->sgid, 16);
	memcpy(&self->ib.sib_addr, rx->dgid, 16);
	self->ib.sib_sid = htobe64(sid);
	self->ib.sib_sid_mask = htobe64(~0ULL);
}

/* The listener for a request's service ID and destination address. */
static struct cm_id *req_listener(const struct cm_rx *rx, uint64_t sid,
				  unsigned int hdr_off,
				  union sv_cm_sockaddr *peer,
				  union sv_cm_sockaddr *self)
{
	struct cm_id *l;
	uint16_t port = htons(sid & 0xffff);

	ib_rx_addrs(rx, sid, peer, self);
	l = cm_find_listener(sid, self, rx->dev);
	if (l)
		goto found;
	if (parse_cma_hdr(cm_bytes(rx->mad, hdr_off), peer, self))
		return NULL;
	if (self->sa.sa_family == AF_INET)
		self->in.sin_port = port;
	else
		self->in6.sin6_port = port;
	l = cm_find_listener(sid, self, rx->dev);
found:
	if (l && l->nr_pending >= l->backlog)
		return NULL;
	return l;
}

static void req_fill(struct cm_id *id, const uint8_t *mad,
		     struct sv_cm_conn *c)
{
	id->remote_comm_id = cm_get(mad, CM_REQ_LOCAL_COMM_ID);
	id->tid = cm_mad_tid(mad);
	/* The REP waits as long as the REQ's sender says it will. */
	id->timeout_ms = exp_ms(cm_get(mad, CM_REQ_LOCAL_CM_RESPONSE_TIMEOUT));
	id->max_retries = (int)cm_get(mad, CM_REQ_MAX_CM_RETRIES);
	id->remote_guid = cm_get64(mad, CM_REQ_LOCAL_CA_GUID);
	id->service_id = cm_get64(mad, CM_REQ_SERVICE_ID);
	id->remote_qpn = cm_get(mad, CM_REQ_LOCAL_QPN);
	id->remote_psn = cm_get(mad, CM_REQ_STARTING_PSN);
	id->qp_type = cm_get(mad, CM_REQ_TRANSPORT_SERVICE_TYPE) == 1 ?
			      IBV_QPT_UC : IBV_QPT_RC;
	/* Our reads are bounded by what the peer accepts, and vice versa. */
	id->resp_res = cm_get(mad, CM_REQ_INITIATOR_DEPTH);
	id->init_depth = cm_get(mad, CM_REQ_RESPONDER_RESOURCES);
	id->retry_count = cm_get(mad, CM_REQ_RETRY_COUNT);
	id->rnr_retry = cm_get(mad, CM_REQ_RNR_RETRY_COUNT);
	id->srq = cm_get(mad, CM_REQ_SRQ);
	id->flow_control = cm_get(mad, CM_REQ_END_TO_END_FLOW_CONTROL);
	id->tos = cm_get(mad, CM_REQ_PRIMARY_TRAFFIC_CLASS);
	id->ack_timeout = cm_get(mad, CM_REQ_PRIMARY_LOCAL_ACK_TIMEOUT);
	if (cm_get(mad, CM_REQ_PATH_PACKET_PAYLOAD_MTU) < id->mtu)
		id->mtu = cm_get(mad, CM_REQ_PATH_PACKET_PAYLOAD_MTU);
	c->responder_resources = id->resp_res;
	c->initiator_depth = id->init_depth;
	c->flow_control = id->flow_control;
	c->retry_count = id->retry_count;
	c->rnr_retry_count = id->rnr_retry;
	c->srq = id->srq;
	c->qp_num = id->remote_qpn;
	c->ece_vendor_id = cm_get(mad, CM_REQ_VENDOR_ID);
	c->ece_options = cm_mad_attr_mod(mad);
	get_pdata(c, mad, CM_REQ_PRIVATE_DATA + hdr_len(&id->src),
		  CM_REQ_PRIVATE_DATA_SIZE - hdr_len(&id->src));
}

/* "Your REQ arrived, the answer takes a while": no more resends. */
static void send_mra(struct cm_id *id)
{
	uint8_t mad[CM_MAD_SIZE];

	cm_mad_init(mad, CM_ATTR_MRA, id->tid);
	cm_put(mad, CM_MRA_LOCAL_COMM_ID, id->local_comm_id);
	cm_put(mad, CM_MRA_REMOTE_COMM_ID, id->remote_comm_id);
	cm_put(mad, CM_MRA_MESSAGE_MRAED, CM_MSG_REQ);
	cm_put(mad, CM_MRA_SERVICE_TIMEOUT, CM_MRA_DELAY);
	cm_send_mad(id, mad);
}

/* The peer got our REQ or REP and answers within its service timeout. */
static void rcv_mra(const struct cm_rx *rx)
{
	int what = (int)cm_get(rx->mad, CM_MRA_MESSAGE_MRAED);
	struct cm_id *id;

	id = find_by_comm_id(cm_get(rx->mad, CM_MRA_REMOTE_COMM_ID));
	if (!id || !((what == CM_MSG_REQ && id->state == CM_REQ_SENT) ||
		     (what == CM_MSG_REP && id->state == CM_REP_SENT)))
		return;
	id->retries = id->max_retries; /* its expiry ends the wait */
	id->deadline_ms = cm_now_ms() + id->timeout_ms +
			  exp_ms(cm_get(rx->mad, CM_MRA_SERVICE_TIMEOUT));
}

static void emit_request(struct cm_id *id, const struct sv_cm_conn *c)
{
	struct sv_cm_event extra = { .listen_id = id->listener->handle };

	cm_emit(id, RDMA_CM_EVENT_CONNECT_REQUEST, 0, c, &extra);
}

static void rcv_req(const struct cm_rx *rx)
{
	uint32_t their_id = cm_get(rx->mad, CM_REQ_LOCAL_COMM_ID);
	union sv_cm_sockaddr peer, self;
	struct sv_cm_conn c = { 0 };
	struct cm_id *l, *id;

	id = find_by_remote(their_id, rx->sgid);
	if (id) { /* a retransmitted REQ: answer again if we already did */
		if (id->state == CM_REP_SENT)
			cm_send_mad(id, id->last_mad);
		else if (id->state == CM_REQ_RCVD)
			send_mra(id); /* still with the application */
		return;
	}
	l = req_listener(rx, cm_get64(rx->mad, CM_REQ_SERVICE_ID),
			 CM_REQ_PRIVATE_DATA, &peer, &self);
	id = l ? passive_id(l, rx, &peer, &self) : NULL;
	if (!id) {
		struct cm_rej_to to = { rx->dev, rx->dgid, rx->sgid, 0,
					their_id, cm_mad_tid(rx->mad) };

		send_rej(&to, CM_MSG_REQ,
			 l ? CM_REJ_CONSUMER_DEFINED : CM_REJ_INVALID_SERVICE_ID,
			 NULL);
		return;
	}
	req_fill(id, rx->mad, &c);
	id->state = CM_REQ_RCVD;
	emit_request(id, &c);
}

/* A message for a connection we do not have (any more). */
static void rej_unknown(const struct cm_rx *rx, unsigned int their_off,
			unsigned int their_bit, unsigned int their_width,
			int msg)
{
	struct cm_rej_to to = { rx->dev, rx->dgid, rx->sgid, 0,
				cm_get(rx->mad, their_off, their_bit,
				       their_width),
				cm_mad_tid(rx->mad) };

	send_rej(&to, msg, CM_REJ_INVALID_COMM_ID, NULL);
}

static void rcv_rep(const struct cm_rx *rx)
{
	const uint8_t *mad = rx->mad;
	struct sv_cm_conn c = { 0 };
	struct cm_id *id;

	id = find_by_comm_id(cm_get(mad, CM_REP_REMOTE_COMM_ID));
	if (!id) {
		rej_unknown(rx, CM_REP_LOCAL_COMM_ID, CM_MSG_REP);
		return;
	}
	if (id->state == CM_ESTABLISHED &&
	    id->remote_comm_id == cm_get(mad, CM_REP_LOCAL_COMM_ID))
		send_rtu(id); /* our RTU was lost */
	if (id->state != CM_REQ_SENT)
		return; /* late or duplicate */
	id->deadline_ms = 0;
	id->remote_comm_id = cm_get(mad, CM_REP_LOCAL_COMM_ID);
	id->remote_guid = cm_get64(mad, CM_REP_LOCAL_CA_GUID);
	id->remote_qpn = cm_get(mad, CM_REP_LOCAL_QPN);
	id->remote_psn = cm_get(mad, CM_REP_STARTING_PSN);
	id->rnr_retry = cm_get(mad, CM_REP_RNR_RETRY_COUNT);
	c.responder_resources = cm_get(mad, CM_REP_INITIATOR_DEPTH);
	c.initiator_depth = cm_get(mad, CM_REP_RESPONDER_RESOURCES);
	c.flow_control = cm_get(mad, CM_REP_END_TO_END_FLOW_CONTROL);
	c.rnr_retry_count = id->rnr_retry;
	c.srq = cm_get(mad, CM_REP_SRQ);
	c.qp_num = id->remote_qpn;
	get_pdata(&c, mad, CM_REP_PRIVATE_DATA, CM_REP_PRIVATE_DATA_SIZE);
	get_rep_ece(mad, &c);
	id->state = CM_REP_RCVD;
	cm_emit(id, RDMA_CM_EVENT_CONNECT_RESPONSE, 0, &c, NULL);
}

static void rcv_rtu(const struct cm_rx *rx)
{
	struct cm_id *id;

	id = find_by_comm_id(cm_get(rx->mad, CM_RTU_REMOTE_COMM_ID));
	if (!id || id->state != CM_REP_SENT)
		return;
	id->deadline_ms = 0;
	id->state = CM_ESTABLISHED;
	cm_emit(id, RDMA_CM_EVENT_ESTABLISHED, 0, NULL, NULL);
}

static struct cm_id *rej_target(const struct cm_rx *rx)
{
	uint32_t ours = cm_get(rx->mad, CM_REJ_REMOTE_COMM_ID);

	/* A REJ for a REQ we got carries only the sender's own id. */
	if (!ours)
		return find_by_remote(cm_get(rx->mad, CM_REJ_LOCAL_COMM_ID),
				      rx->sgid);
	return find_by_comm_id(ours);
}

static void rcv_rej(const struct cm_rx *rx)
{
	struct sv_cm_conn c = { 0 };
	struct cm_id *id = rej_target(rx);
	int reason = cm_get(rx->mad, CM_REJ_REASON);

	if (!id)
		return;
	get_pdata(&c, rx->mad, CM_REJ_PRIVATE_DATA, CM_REJ_PRIVATE_DATA_SIZE);
	id->deadline_ms = 0;
	switch (id->state) {
	case CM_REQ_SENT:
		id->state = CM_ROUTE_RESOLVED;
		break;
	case CM_REQ_RCVD:
	case CM_REP_SENT:
	case CM_REP_RCVD:
		listener_release(id);
		id->state = CM_IDLE;
		break;
	default:
		return;
	}
	cm_emit(id, RDMA_CM_EVENT_REJECTED, reason, &c, NULL);
}

/* A DREQ for a connection already gone: its DREP, as the kernel's CM. */
static void drep_unknown(const struct cm_rx *rx)
{
	uint8_t mad[CM_MAD_SIZE];

	cm_mad_init(mad, CM_ATTR_DREP, cm_mad_tid(rx->mad));
	cm_put(mad, CM_DREP_LOCAL_COMM_ID,
	       cm_get(rx->mad, CM_DREQ_REMOTE_COMM_ID));
	cm_put(mad, CM_DREP_REMOTE_COMM_ID,
	       cm_get(rx->mad, CM_DREQ_LOCAL_COMM_ID));
	cm_send_mad_to(rx->dev, rx->dgid, rx->sgid, mad);
}

static void rcv_dreq(const struct cm_rx *rx)
{
	struct cm_id *id;

	id = find_by_comm_id(cm_get(rx->mad, CM_DREQ_REMOTE_COMM_ID));
	if (!id) {
		drep_unknown(rx);
		return;
	}
	id->tid = cm_mad_tid(rx->mad); /* for our DREP */
	switch (id->state) {
	case CM_ESTABLISHED:
	case CM_REP_SENT:
	case CM_REP_RCVD:
		id->deadline_ms = 0;
		id->state = CM_DREQ_RCVD;
		emit_disconnected(id);
		break;
	case CM_DREQ_SENT: /* both sides at once: answer, wait for theirs */
	case CM_TIMEWAIT: /* our DREP was lost */
		send_drep(id);
		break;
	default:
		break;
	}
}

static void rcv_drep(const struct cm_rx *rx)
{
	struct cm_id *id;

	id = find_by_comm_id(cm_get(rx->mad, CM_DREP_REMOTE_COMM_ID));
	if (!id || id->state != CM_DREQ_SENT)
		return;
	emit_disconnected(id);
	enter_timewait(id);
}

static void sidr_reply_raw(const struct cm_rx *rx, int status)
{
	uint8_t mad[CM_MAD_SIZE];
	uint32_t req_id = cm_get(rx->mad, CM_SIDR_REQ_REQUESTID);

	cm_mad_init(mad, CM_ATTR_SIDR_REP, cm_mad_tid(rx->mad));
	cm_put(mad, CM_SIDR_REP_REQUESTID, req_id);
	cm_put(mad, CM_SIDR_REP_STATUS, status);
	cm_put64(mad, CM_SIDR_REP_SERVICEID,
		 cm_get64(rx->mad, CM_SIDR_REQ_SERVICEID));
	cm_send_mad_to(rx->dev, rx->dgid, rx->sgid, mad);
}

static void rcv_sidr_req(const struct cm_rx *rx)
{
	uint32_t req_id = cm_get(rx->mad, CM_SIDR_REQ_REQUESTID);
	uint64_t sid = cm_get64(rx->mad, CM_SIDR_REQ_SERVICEID);
	union sv_cm_sockaddr peer, self;
	struct sv_cm_conn c = { 0 };
	struct cm_id *l, *id;

	if (find_by_remote(req_id, rx->sgid))
		return; /* a retransmission of one being answered */
	l = req_listener(rx, sid, CM_SIDR_REQ_PRIVATE_DATA, &peer, &self);
	id = l && l->qp_type == IBV_QPT_UD ? passive_id(l, rx, &peer, &self) :
					     NULL;
	if (!id) {
		sidr_reply_raw(rx, CM_SIDR_UNSUPPORTED);
		return;
	}
	id->remote_comm_id = req_id;
	id->tid = cm_mad_tid(rx->mad);
	id->service_id = sid;
	id->qkey = RDMA_UDP_QKEY;
	get_pdata(&c, rx->mad, CM_SIDR_REQ_PRIVATE_DATA + hdr_len(&id->src),
		  CM_SIDR_REQ_PRIVATE_DATA_SIZE - hdr_len(&id->src));
	id->state = CM_SIDR_REQ_RCVD;
	emit_request(id, &c);
}

static void rcv_sidr_rep(const struct cm_rx *rx)
{
	struct sv_cm_event ud = { 0 };
	struct sv_cm_conn c = { 0 };
	struct cm_id *id;
	int status = cm_get(rx->mad, CM_SIDR_REP_STATUS);

	id = find_by_comm_id(cm_get(rx->mad, CM_SIDR_REP_REQUESTID));
	if (!id || id->state != CM_SIDR_REQ_SENT)
		return;
	id->deadline_ms = 0;
	get_pdata(&c, rx->mad, CM_SIDR_REP_PRIVATE_DATA,
		  CM_SIDR_REP_PRIVATE_DATA_SIZE);
	if (status != CM_SIDR_SUCCESS) {
		id->state = CM_ROUTE_RESOLVED;
		cm_emit(id, RDMA_CM_EVENT_UNREACHABLE, status, &c, NULL);
		return;
	}
	id->remote_qpn = cm_get(rx->mad, CM_SIDR_REP_QPN);
	c.qp_num = id->remote_qpn;
	c.qkey = cm_get(rx->mad, CM_SIDR_REP_Q_KEY);
	memcpy(ud.ud_dgid, id->dgid, 16);
	ud.ud_sgid_index = id->sgid_index;
	ud.ud_hop_limit = cm_hop_limit(id);
	ud.ud_traffic_class = id->tos;
	id->state = CM_UD_READY;
	cm_emit(id, RDMA_CM_EVENT_ESTABLISHED, 0, &c, &ud);
}

void cm_recv_mad(struct svd_device *dev, const uint8_t *sgid,
		 const uint8_t *dgid, const uint8_t *mad)
{
	static void (*const handlers[])(const struct cm_rx *) = {
		[CM_ATTR_REQ - CM_ATTR_REQ] = rcv_req,
		[CM_ATTR_MRA - CM_ATTR_REQ] = rcv_mra,
		[CM_ATTR_REJ - CM_ATTR_REQ] = rcv_rej,
		[CM_ATTR_REP - CM_ATTR_REQ] = rcv_rep,
		[CM_ATTR_RTU - CM_ATTR_REQ] = rcv_rtu,
		[CM_ATTR_DREQ - CM_ATTR_REQ] = rcv_dreq,
		[CM_ATTR_DREP - CM_ATTR_REQ] = rcv_drep,
		[CM_ATTR_SIDR_REQ - CM_ATTR_REQ] = rcv_sidr_req,
		[CM_ATTR_SIDR_REP - CM_ATTR_REQ] = rcv_sidr_rep,
	};
	struct cm_rx rx = { dev, sgid, dgid, mad };
	unsigned int attr = cm_mad_attr(mad) - CM_ATTR_REQ;

	/* LAP, APR and unknown attributes are ignored. */
	if (!cm_mad_valid(mad) ||
	    attr >= sizeof(handlers) / sizeof(handlers[0]) || !handlers[attr])
		return;
	handlers[attr](&rx);
}
