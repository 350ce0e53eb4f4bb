/* SPDX-License-Identifier: MIT */
/*
 * IBTA CM messages (InfiniBand Architecture Specification vol. 1, ch. 12,
 * tables 106-120) as 256-byte MADs of management class 0x07, version 2.
 *
 * Each field is named by its place in the message, as the spec gives it:
 * the byte offset from the start of the message data (after the 24-byte
 * common MAD header), the bit offset from that byte's most significant
 * bit, and the width in bits. All multi-byte values are big-endian on the
 * wire. cm_get()/cm_put() take the three as separate arguments, so
 * cm_put(mad, CM_REQ_LOCAL_QPN, qpn) reads like the spec's table.
 */
#ifndef SVD_CM_MAD_H
#define SVD_CM_MAD_H

#include <stdint.h>

#define CM_MAD_SIZE 256
#define CM_MAD_HDR 24
#define CM_MGMT_CLASS 0x07
#define CM_CLASS_VERSION 2
#define CM_METHOD_SEND 0x03

enum cm_attr_id {
	CM_ATTR_REQ = 0x0010,
	CM_ATTR_MRA = 0x0011,
	CM_ATTR_REJ = 0x0012,
	CM_ATTR_REP = 0x0013,
	CM_ATTR_RTU = 0x0014,
	CM_ATTR_DREQ = 0x0015,
	CM_ATTR_DREP = 0x0016,
	CM_ATTR_SIDR_REQ = 0x0017,
	CM_ATTR_SIDR_REP = 0x0018,
};

/* Table 106: REQ. */
#define CM_REQ_LOCAL_COMM_ID 0, 0, 32
#define CM_REQ_VENDOR_ID 5, 0, 24 /* ECE (IBA comment 9434) */
#define CM_REQ_SERVICE_ID 8 /* 64 bits */
#define CM_REQ_LOCAL_CA_GUID 16 /* 64 bits */
#define CM_REQ_LOCAL_Q_KEY 28, 0, 32
#define CM_REQ_LOCAL_QPN 32, 0, 24
#define CM_REQ_RESPONDER_RESOURCES 35, 0, 8
#define CM_REQ_INITIATOR_DEPTH 39, 0, 8
#define CM_REQ_REMOTE_CM_RESPONSE_TIMEOUT 43, 0, 5
#define CM_REQ_TRANSPORT_SERVICE_TYPE 43, 5, 2
#define CM_REQ_END_TO_END_FLOW_CONTROL 43, 7, 1
#define CM_REQ_STARTING_PSN 44, 0, 24
#define CM_REQ_LOCAL_CM_RESPONSE_TIMEOUT 47, 0, 5
#define CM_REQ_RETRY_COUNT 47, 5, 3
#define CM_REQ_PARTITION_KEY 48, 0, 16
#define CM_REQ_PATH_PACKET_PAYLOAD_MTU 50, 0, 4
#define CM_REQ_RNR_RETRY_COUNT 50, 5, 3
#define CM_REQ_MAX_CM_RETRIES 51, 0, 4
#define CM_REQ_SRQ 51, 4, 1
#define CM_REQ_PRIMARY_LOCAL_PORT_LID 52, 0, 16
#define CM_REQ_PRIMARY_REMOTE_PORT_LID 54, 0, 16
#define CM_REQ_PRIMARY_LOCAL_PORT_GID 56 /* 16 bytes */
#define CM_REQ_PRIMARY_REMOTE_PORT_GID 72 /* 16 bytes */
#define CM_REQ_PRIMARY_FLOW_LABEL 88, 0, 20
#define CM_REQ_PRIMARY_PACKET_RATE 91, 2, 6
#define CM_REQ_PRIMARY_TRAFFIC_CLASS 92, 0, 8
#define CM_REQ_PRIMARY_HOP_LIMIT 93, 0, 8
#define CM_REQ_PRIMARY_SL 94, 0, 4
#define CM_REQ_PRIMARY_SUBNET_LOCAL 94, 4, 1
#define CM_REQ_PRIMARY_LOCAL_ACK_TIMEOUT 95, 0, 5
#define CM_REQ_PRIVATE_DATA 140
#define CM_REQ_PRIVATE_DATA_SIZE 92

/* Table 107: MRA (message receipt acknowledgement: "answer comes later"). */
#define CM_MRA_LOCAL_COMM_ID 0, 0, 32
#define CM_MRA_REMOTE_COMM_ID 4, 0, 32
#define CM_MRA_MESSAGE_MRAED 8, 0, 2
#define CM_MRA_SERVICE_TIMEOUT 9, 0, 5

/* Table 108: REJ. */
#define CM_REJ_LOCAL_COMM_ID 0, 0, 32
#define CM_REJ_REMOTE_COMM_ID 4, 0, 32
#define CM_REJ_MESSAGE_REJECTED 8, 0, 2
#define CM_REJ_REJECTED_INFO_LENGTH 9, 0, 7
#define CM_REJ_REASON 10, 0, 16
#define CM_REJ_ARI 12 /* additional rejection information, 72 bytes */
#define CM_REJ_PRIVATE_DATA 84
#define CM_REJ_PRIVATE_DATA_SIZE 148

/* Table 110: REP. */
#define CM_REP_LOCAL_COMM_ID 0, 0, 32
#define CM_REP_REMOTE_COMM_ID 4, 0, 32
#define CM_REP_LOCAL_Q_KEY 8, 0, 32
#define CM_REP_LOCAL_QPN 12, 0, 24
#define CM_REP_VENDOR_ID_H 15, 0, 8 /* ECE vendor ID, bits 23-16 */
#define CM_REP_VENDOR_ID_M 19, 0, 8 /* bits 15-8 */
#define CM_REP_STARTING_PSN 20, 0, 24
#define CM_REP_VENDOR_ID_L 23, 0, 8 /* bits 7-0 */
#define CM_REP_RESPONDER_RESOURCES 24, 0, 8
#define CM_REP_INITIATOR_DEPTH 25, 0, 8
#define CM_REP_TARGET_ACK_DELAY 26, 0, 5
#define CM_REP_FAILOVER_ACCEPTED 26, 5, 2
#define CM_REP_END_TO_END_FLOW_CONTROL 26, 7, 1
#define CM_REP_RNR_RETRY_COUNT 27, 0, 3
#define CM_REP_SRQ 27, 3, 1
#define CM_REP_LOCAL_CA_GUID 28 /* 64 bits */
#define CM_REP_PRIVATE_DATA 36
#define CM_REP_PRIVATE_DATA_SIZE 196

/* Tables 111-113: RTU, DREQ, DREP. */
#define CM_RTU_LOCAL_COMM_ID 0, 0, 32
#define CM_RTU_REMOTE_COMM_ID 4, 0, 32
#define CM_RTU_PRIVATE_DATA 8
#define CM_RTU_PRIVATE_DATA_SIZE 224
#define CM_DREQ_LOCAL_COMM_ID 0, 0, 32
#define CM_DREQ_REMOTE_COMM_ID 4, 0, 32
#define CM_DREQ_REMOTE_QPN_EECN 8, 0, 24
#define CM_DREQ_PRIVATE_DATA 12
#define CM_DREQ_PRIVATE_DATA_SIZE 220
#define CM_DREP_LOCAL_COMM_ID 0, 0, 32
#define CM_DREP_REMOTE_COMM_ID 4, 0, 32
#define CM_DREP_PRIVATE_DATA 8
#define CM_DREP_PRIVATE_DATA_SIZE 224

/* Tables 119-120: SIDR_REQ, SIDR_REP. */
#define CM_SIDR_REQ_REQUESTID 0, 0, 32
#define CM_SIDR_REQ_PARTITION_KEY 4, 0, 16
#define CM_SIDR_REQ_SERVICEID 8 /* 64 bits */
#define CM_SIDR_REQ_PRIVATE_DATA 16
#define CM_SIDR_REQ_PRIVATE_DATA_SIZE 216
#define CM_SIDR_REP_REQUESTID 0, 0, 32
#define CM_SIDR_REP_STATUS 4, 0, 8
#define CM_SIDR_REP_QPN 8, 0, 24
#define CM_SIDR_REP_SERVICEID 12 /* 64 bits */
#define CM_SIDR_REP_Q_KEY 20, 0, 32
#define CM_SIDR_REP_PRIVATE_DATA 96
#define CM_SIDR_REP_PRIVATE_DATA_SIZE 136

/* REJ reasons (table 109) and SIDR_REP statuses (table 121) used here. */
enum cm_rej_reason {
	CM_REJ_NO_RESOURCES = 3,
	CM_REJ_TIMEOUT = 4,
	CM_REJ_INVALID_COMM_ID = 5,
	CM_REJ_INVALID_SERVICE_ID = 8,
	CM_REJ_CONSUMER_DEFINED = 28,
	CM_REJ_VENDOR_OPTION_NOT_SUPPORTED = 35, /* rdma_reject_ece */
};

enum cm_sidr_status {
	CM_SIDR_SUCCESS = 0,
	CM_SIDR_UNSUPPORTED = 1, /* no listener on the service ID */
	CM_SIDR_REJECT = 2,
};

/* REJ "message rejected" and MRA "message MRAed": what they answer. */
enum { CM_MSG_REQ = 0, CM_MSG_REP = 1, CM_MSG_OTHER = 2 };

/*
 * rdma_cm's own header at the start of REQ and SIDR_REQ private data
 * (the IP addressing of an IB service ID, IBTA annex A11): version,
 * IP version in the high nibble, source port, source and destination
 * addresses (IPv4 in the last 4 of 16 bytes).
 */
#define CMA_HDR_SIZE 36
#define CMA_VERSION 0x00

void cm_mad_init(uint8_t *mad, uint16_t attr_id, uint64_t tid);
uint16_t cm_mad_attr(const uint8_t *mad);
/* The transaction ID: a request's answer carries the request's. */
uint64_t cm_mad_tid(const uint8_t *mad);
/* The header's attribute modifier: ECE options in a REQ or REP. */
void cm_mad_set_attr_mod(uint8_t *mad, uint32_t val);
uint32_t cm_mad_attr_mod(const uint8_t *mad);
int cm_mad_valid(const uint8_t *mad);
void cm_put(uint8_t *mad, unsigned int off, unsigned int bit,
	    unsigned int width, uint32_t val);
uint32_t cm_get(const uint8_t *mad, unsigned int off, unsigned int bit,
		unsigned int width);
void cm_put64(uint8_t *mad, unsigned int off, uint64_t val);
uint64_t cm_get64(const uint8_t *mad, unsigned int off);
void cm_put_bytes(uint8_t *mad, unsigned int off, const void *src,
		  unsigned int len);
const uint8_t *cm_bytes(const uint8_t *mad, unsigned int off);

#endif
