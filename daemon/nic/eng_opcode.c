// SPDX-License-Identifier: MIT
/*
 * The opcode table: which headers a packet carries and what it does, per
 * IBTA BTH opcode (transport bits | base opcode). Same-host delivery sends
 * a message as one "only" packet, but the table knows first/middle/last so
 * a wire transport can segment by MTU later.
 */
#include "engine.h"

#define REQ_SEND (ENG_REQ | ENG_SEND | ENG_PAYLOAD)
#define REQ_WRITE (ENG_REQ | ENG_WRITE | ENG_PAYLOAD)

static const struct eng_opcode base_ops[32] = {
	[0x00] = { "SEND_FIRST", REQ_SEND | ENG_FIRST },
	[0x01] = { "SEND_MIDDLE", REQ_SEND | ENG_MIDDLE },
	[0x02] = { "SEND_LAST", REQ_SEND | ENG_LAST },
	[0x03] = { "SEND_LAST_IMM", REQ_SEND | ENG_LAST | ENG_IMMDT },
	[0x04] = { "SEND_ONLY", REQ_SEND | ENG_FIRST | ENG_LAST },
	[0x05] = { "SEND_ONLY_IMM",
		   REQ_SEND | ENG_FIRST | ENG_LAST | ENG_IMMDT },
	[0x06] = { "WRITE_FIRST", REQ_WRITE | ENG_FIRST | ENG_RETH },
	[0x07] = { "WRITE_MIDDLE", REQ_WRITE | ENG_MIDDLE },
	[0x08] = { "WRITE_LAST", REQ_WRITE | ENG_LAST },
	[0x09] = { "WRITE_LAST_IMM",
		   REQ_WRITE | ENG_LAST | ENG_IMMDT | ENG_SEND },
	[0x0a] = { "WRITE_ONLY", REQ_WRITE | ENG_FIRST | ENG_LAST | ENG_RETH },
	[0x0b] = { "WRITE_ONLY_IMM", REQ_WRITE | ENG_FIRST | ENG_LAST |
					     ENG_RETH | ENG_IMMDT | ENG_SEND },
	[0x0c] = { "READ_REQUEST",
		   ENG_REQ | ENG_READ | ENG_RETH | ENG_FIRST | ENG_LAST },
	[0x0d] = { "READ_RESP_FIRST", ENG_READ | ENG_AETH | ENG_PAYLOAD },
	[0x0e] = { "READ_RESP_MIDDLE", ENG_READ | ENG_PAYLOAD },
	[0x0f] = { "READ_RESP_LAST", ENG_READ | ENG_AETH | ENG_PAYLOAD },
	[0x10] = { "READ_RESP_ONLY", ENG_READ | ENG_AETH | ENG_PAYLOAD },
	[0x11] = { "ACK", ENG_AETH },
	[0x12] = { "ATOMIC_ACK", ENG_AETH | ENG_ATMACK },
	[0x13] = { "CMP_SWAP", ENG_REQ | ENG_ATOMIC | ENG_ATMETH | ENG_FIRST |
				       ENG_LAST },
	[0x14] = { "FETCH_ADD", ENG_REQ | ENG_ATOMIC | ENG_ATMETH |
					ENG_FIRST | ENG_LAST },
	[0x16] = { "SEND_LAST_INV", REQ_SEND | ENG_LAST | ENG_IETH },
	[0x17] = { "SEND_ONLY_INV",
		   REQ_SEND | ENG_FIRST | ENG_LAST | ENG_IETH },
	[0x1d] = { "ATOMIC_WRITE", ENG_REQ | ENG_ATOMIC_WRITE | ENG_RETH |
					   ENG_PAYLOAD | ENG_FIRST | ENG_LAST },
};

const struct eng_opcode *eng_opcode_info(uint8_t opcode)
{
	const struct eng_opcode *op = &base_ops[opcode & 0x1f];
	uint8_t tr = opcode & 0xe0;

	if (!op->name)
		return NULL;
	/* UD carries only SEND_ONLY[_IMM] (with DETH). */
	if (tr == ENG_TR_UD && (opcode & 0x1f) != ENG_OP_SEND_ONLY &&
	    (opcode & 0x1f) != ENG_OP_SEND_ONLY_IMM)
		return NULL;
	/* UC has no reads, atomics or acks. */
	if (tr == ENG_TR_UC &&
	    (op->mask & (ENG_READ | ENG_ATOMIC | ENG_ATOMIC_WRITE | ENG_AETH)))
		return NULL;
	return op;
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
 * Work-request opcodes: the packet opcode each becomes (low 5 bits; the
 * QP type gives the transport bits), the QP types that may post it, and
 * whether it is executed locally (no packet).
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
