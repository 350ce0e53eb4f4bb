// SPDX-License-Identifier: MIT
/*
 * The opcode table: per IBTA BTH opcode (transport bits | base opcode) the
 * headers present, their offsets and the header length, what the packet
 * does (SEND, WRITE, READ, ...; first/middle/last) and, through the
 * transport bits, the QP types that may carry it. eng_pkt.c builds and
 * parses header bytes from it; the requester, responder and completer
 * dispatch on its flags.
 *
 * The 32 base opcodes are written once below; the 256-entry table adds
 * each transport's own header (UD: DETH, XRC requests: XRCETH), drops
 * what a transport cannot carry (UD: only SEND_ONLY[_IMM]; UC: no READ,
 * atomics, FLUSH or acknowledgements) and computes the offsets, in the
 * order IBTA places the extended headers.
 */
#include <pthread.h>

#include "engine.h"

#define REQ_SEND (ENG_REQ | ENG_SEND | ENG_PAYLOAD)
#define REQ_WRITE (ENG_REQ | ENG_WRITE | ENG_PAYLOAD)
#define ONLY (ENG_FIRST | ENG_LAST)
#define RD_RESP (ENG_READ | ENG_PAYLOAD)

static const struct eng_opcode base_ops[32] = {
	[0x00] = { "SEND_FIRST", REQ_SEND | ENG_FIRST },
	[0x01] = { "SEND_MIDDLE", REQ_SEND | ENG_MIDDLE },
	[0x02] = { "SEND_LAST", REQ_SEND | ENG_LAST },
	[0x03] = { "SEND_LAST_IMM", REQ_SEND | ENG_LAST | ENG_IMMDT },
	[0x04] = { "SEND_ONLY", REQ_SEND | ONLY },
	[0x05] = { "SEND_ONLY_IMM", REQ_SEND | ONLY | ENG_IMMDT },
	[0x06] = { "WRITE_FIRST", REQ_WRITE | ENG_FIRST | ENG_RETH },
	[0x07] = { "WRITE_MIDDLE", REQ_WRITE | ENG_MIDDLE },
	[0x08] = { "WRITE_LAST", REQ_WRITE | ENG_LAST },
	[0x09] = { "WRITE_LAST_IMM",
		   REQ_WRITE | ENG_LAST | ENG_IMMDT | ENG_SEND },
	[0x0a] = { "WRITE_ONLY", REQ_WRITE | ONLY | ENG_RETH },
	[0x0b] = { "WRITE_ONLY_IMM",
		   REQ_WRITE | ONLY | ENG_RETH | ENG_IMMDT | ENG_SEND },
	[0x0c] = { "READ_REQUEST", ENG_REQ | ENG_READ | ENG_RETH | ONLY },
	[0x0d] = { "READ_RESP_FIRST", RD_RESP | ENG_FIRST | ENG_AETH },
	[0x0e] = { "READ_RESP_MIDDLE", RD_RESP | ENG_MIDDLE },
	[0x0f] = { "READ_RESP_LAST", RD_RESP | ENG_LAST | ENG_AETH },
	[0x10] = { "READ_RESP_ONLY", RD_RESP | ONLY | ENG_AETH },
	[0x11] = { "ACK", ENG_AETH },
	[0x12] = { "ATOMIC_ACK", ENG_AETH | ENG_ATMACK },
	[0x13] = { "CMP_SWAP", ENG_REQ | ENG_ATOMIC | ENG_ATMETH | ONLY },
	[0x14] = { "FETCH_ADD", ENG_REQ | ENG_ATOMIC | ENG_ATMETH | ONLY },
	[0x16] = { "SEND_LAST_INV", REQ_SEND | ENG_LAST | ENG_IETH },
	[0x17] = { "SEND_ONLY_INV", REQ_SEND | ONLY | ENG_IETH },
	[0x1c] = { "FLUSH", ENG_REQ | ENG_FLUSH | ENG_FETH | ENG_RETH | ONLY },
	[0x1d] = { "ATOMIC_WRITE",
		   ENG_REQ | ENG_ATOMIC_WRITE | ENG_RETH | ENG_PAYLOAD | ONLY },
};

/* Header bit and length of each extended header, in wire order. */
static const struct {
	uint32_t bit;
	uint8_t len;
} hdr_order[ENG_H_NUM] = {
	[ENG_H_XRCETH] = { ENG_XRCETH, ENG_XRCETH_LEN },
	[ENG_H_DETH] = { ENG_DETH, ENG_DETH_LEN },
	[ENG_H_FETH] = { ENG_FETH, ENG_FETH_LEN },
	[ENG_H_RETH] = { ENG_RETH, ENG_RETH_LEN },
	[ENG_H_ATMETH] = { ENG_ATMETH, ENG_ATMETH_LEN },
	[ENG_H_AETH] = { ENG_AETH, ENG_AETH_LEN },
	[ENG_H_ATMACK] = { ENG_ATMACK, ENG_ATMACK_LEN },
	[ENG_H_IMMDT] = { ENG_IMMDT, ENG_IMMDT_LEN },
	[ENG_H_IETH] = { ENG_IETH, ENG_IETH_LEN },
};

static struct eng_opcode ops[256];
static pthread_once_t ops_once = PTHREAD_ONCE_INIT;

/* What one transport does to a base opcode: its mask, or 0 (not allowed). */
static uint32_t transport_mask(uint8_t tr, uint8_t base, uint32_t mask)
{
	switch (tr) {
	case ENG_TR_RC:
		return mask;
	case ENG_TR_UC:
		if (mask & (ENG_READ | ENG_ATOMIC | ENG_ATOMIC_WRITE |
			    ENG_AETH | ENG_FLUSH))
			return 0;
		return mask;
	case ENG_TR_UD:
		if (base != ENG_OP_SEND_ONLY && base != ENG_OP_SEND_ONLY_IMM)
			return 0;
		return mask | ENG_DETH;
	case ENG_TR_XRC:
		return mask & ENG_REQ ? mask | ENG_XRCETH : mask;
	default:
		return 0; /* RD, CNP and the rest are not built */
	}
}

static void ops_fill(uint8_t tr, uint8_t base)
{
	struct eng_opcode *op = &ops[tr | base];
	uint32_t mask = transport_mask(tr, base, base_ops[base].mask);
	unsigned int off = ENG_BTH_LEN, h;

	if (!base_ops[base].name || !mask)
		return;
	op->name = base_ops[base].name;
	op->mask = mask;
	for (h = 0; h < ENG_H_NUM; h++) {
		if (!(mask & hdr_order[h].bit))
			continue;
		op->off[h] = (uint8_t)off;
		off += hdr_order[h].len;
	}
	op->hdr_len = (uint8_t)off;
}

static void ops_init(void)
{
	static const uint8_t trs[] = { ENG_TR_RC, ENG_TR_UC, ENG_TR_UD,
				       ENG_TR_XRC };
	unsigned int t, b;

	for (t = 0; t < SVD_ARRAY_SIZE(trs); t++)
		for (b = 0; b < 32; b++)
			ops_fill(trs[t], (uint8_t)b);
}

const struct eng_opcode *eng_opcode_info(uint8_t opcode)
{
	pthread_once(&ops_once, ops_init);
	return ops[opcode].name ? &ops[opcode] : NULL;
}

unsigned int eng_hdr_len(enum eng_hdr_id h)
{
	return hdr_order[h].len;
}

uint32_t eng_hdr_bit(enum eng_hdr_id h)
{
	return hdr_order[h].bit;
}

uint8_t eng_transport_bits(uint32_t qp_type)
{
	switch (qp_type) {
	case SVD_QPT_UC:
		return ENG_TR_UC;
	case SVD_QPT_UD:
		return ENG_TR_UD;
	case SVD_QPT_XRC_INI:
	case SVD_QPT_XRC_TGT:
		return ENG_TR_XRC;
	default:
		return ENG_TR_RC;
	}
}

/* QP types as bits, for the work-request table. */
#define QT(t) (1U << (t))
#define QT_CONN (QT(SVD_QPT_RC) | QT(SVD_QPT_UC) | QT(SVD_QPT_XRC_INI))
#define QT_RD (QT(SVD_QPT_RC) | QT(SVD_QPT_XRC_INI))
#define QT_ALL (QT_CONN | QT(SVD_QPT_UD))

/*
 * Work-request opcodes: the packet opcode of the message (its ONLY form,
 * low 5 bits; the QP type gives the transport bits), the QP types that may
 * post it, and whether it is executed locally (no packet).
 */
static const struct eng_wr_op wr_ops[] = {
	[IBV_WR_SEND] = { ENG_OP_SEND_ONLY, QT_ALL, false },
	[IBV_WR_SEND_WITH_IMM] = { ENG_OP_SEND_ONLY_IMM, QT_ALL, false },
	[IBV_WR_SEND_WITH_INV] = { ENG_OP_SEND_ONLY_INV, QT_RD, false },
	[IBV_WR_RDMA_WRITE] = { ENG_OP_WRITE_ONLY, QT_CONN, false },
	[IBV_WR_RDMA_WRITE_WITH_IMM] = { ENG_OP_WRITE_ONLY_IMM, QT_CONN,
					 false },
	[IBV_WR_RDMA_READ] = { ENG_OP_READ_REQ, QT_RD, false },
	[IBV_WR_ATOMIC_CMP_AND_SWP] = { ENG_OP_CMP_SWAP, QT_RD, false },
	[IBV_WR_ATOMIC_FETCH_AND_ADD] = { ENG_OP_FETCH_ADD, QT_RD, false },
	[IBV_WR_ATOMIC_WRITE] = { ENG_OP_ATOMIC_WRITE, QT_RD, false },
	[IBV_WR_LOCAL_INV] = { 0, QT_CONN, true },
	[IBV_WR_BIND_MW] = { 0, QT_CONN, true },
};

const struct eng_wr_op *eng_wr_op(uint32_t wr_opcode, uint32_t qp_type)
{
	const struct eng_wr_op *op;

	if (wr_opcode >= SVD_ARRAY_SIZE(wr_ops) || qp_type >= 32)
		return NULL;
	op = &wr_ops[wr_opcode];
	if (!(op->qp_types & QT(qp_type)))
		return NULL;
	return op;
}

/* The request opcode for a send WQE on a QP type, or -1 if not allowed. */
int eng_wr_to_opcode(uint32_t wr_opcode, uint32_t qp_type)
{
	const struct eng_wr_op *op = eng_wr_op(wr_opcode, qp_type);
	uint8_t opcode;

	if (!op || op->local)
		return -1;
	opcode = (uint8_t)(eng_transport_bits(qp_type) | op->base);
	if (!eng_opcode_info(opcode))
		return -1;
	return opcode;
}
