/* SPDX-License-Identifier: MIT */
/*
 * Packets as IBTA defines them: the base transport header (BTH) and the
 * extended headers each opcode carries, as big-endian bytes. One function
 * writes them from a fields struct (eng_pkt_build), one reads them back
 * and validates lengths (eng_pkt_parse); both are driven by the opcode
 * table (eng_opcode.c), which gives per opcode the headers present and
 * their offsets.
 *
 * A struct eng_packet is what the transports move (eng_xport.h): header
 * bytes, a payload that is either owned bytes or a reference to a scatter
 * list (valid only during the transport's send call; a transport that keeps
 * the packet calls eng_pkt_own() first), the number of consecutive PSNs it
 * covers (npsn > 1: one GSO packet standing for npsn MTU packets of one
 * message), and routing metadata.
 *
 * Not on the wire here: LRH/GRH/UDP (routing metadata instead), the pad
 * bytes (the BTH PadCnt is written and checked against the payload length;
 * a wire transport adds and strips the bytes) and the ICRC.
 */
#ifndef SVD_ENG_PKT_H
#define SVD_ENG_PKT_H

#include <stdbool.h>
#include <stdint.h>

struct eng_sgl;
struct svd_qp;

/* Header lengths in bytes (IBTA vol. 1, ch. 9). */
enum {
	ENG_BTH_LEN = 12,
	ENG_RETH_LEN = 16,
	ENG_AETH_LEN = 4,
	ENG_ATMETH_LEN = 28,
	ENG_ATMACK_LEN = 8,
	ENG_IMMDT_LEN = 4,
	ENG_IETH_LEN = 4,
	ENG_DETH_LEN = 8,
	ENG_XRCETH_LEN = 4,
	ENG_FETH_LEN = 4,
	/* BTH + XRCETH + RETH + ImmDt: the longest request header. */
	ENG_HDR_MAX = 64,
};

/* Extended headers, in the order IBTA places them after the BTH. */
enum eng_hdr_id {
	ENG_H_XRCETH,
	ENG_H_DETH,
	ENG_H_FETH,
	ENG_H_RETH,
	ENG_H_ATMETH,
	ENG_H_AETH,
	ENG_H_ATMACK,
	ENG_H_IMMDT,
	ENG_H_IETH,
	ENG_H_NUM,
};

/* Every field any header of the table carries (host byte order). */
struct eng_fields {
	/* BTH */
	uint8_t opcode;
	bool se, mig, ackreq;
	uint8_t pad;
	uint16_t pkey;
	uint32_t dqpn, psn;
	/* RETH (and the va/rkey of AtomicETH) */
	uint64_t va;
	uint32_t rkey, dma_len;
	/* AtomicETH */
	uint64_t swap_add, compare;
	/* AETH */
	uint8_t syndrome;
	uint32_t msn;
	/* AtomicAckETH */
	uint64_t orig;
	/* ImmDt, or IETH's rkey */
	uint32_t imm;
	/* DETH */
	uint32_t qkey, src_qpn;
	/* XRCETH */
	uint32_t xrc_srqn;
	/* FETH: selectivity level and placement type */
	uint8_t sel, plt;
};

/* Routing metadata: what LRH/GRH (or IP/UDP) would carry. */
struct eng_route {
	const struct svd_qp *src; /* sender QP on this daemon, else NULL */
	bool held; /* src was cleared when a transport kept the packet */
	uint32_t src_qpn;
	uint16_t slid, dlid;
	bool global; /* dgid valid */
	uint8_t dgid[16];
	uint8_t sl; /* for a UD receiver's wc.sl (RoCE: the L3 type) */
	bool has_grh; /* UD: the 40 bytes a receiver gets in front */
	uint8_t grh[40];
	/*
	 * The source GID, resolved when the packet was sent: a transport
	 * that holds it (src cleared) still sends it from the right address
	 * after its QP is gone, as a NIC's packet already on the wire.
	 */
	bool has_sgid;
	uint8_t sgid[16];
};

struct eng_packet {
	uint8_t hdr[ENG_HDR_MAX];
	uint8_t hdr_len;
	uint32_t npsn; /* PSNs covered: 1, or more for a GSO packet */
	/* Payload: owned bytes, or len bytes of sgl from sgl_off. */
	uint32_t len;
	uint8_t *owned;
	const struct eng_sgl *sgl;
	uint64_t sgl_off;
	struct eng_route route;
	/* Parsed view of hdr (eng_pkt_parse fills it). */
	struct eng_fields f;
	uint32_t mask; /* the opcode's enum eng_hdr bits */
	/* Queues of transports and of the responder. */
	struct eng_packet *next;
	uint64_t due_ns; /* delay queue of the lossy transport */
};

/* BTH PadCnt: bytes that round the payload up to 4. */
static inline uint8_t eng_pad(uint32_t len)
{
	return (uint8_t)((4 - (len & 3)) & 3);
}

/* Write the headers the opcode carries: 0 or -EINVAL (unknown opcode). */
int eng_pkt_build(struct eng_packet *p, const struct eng_fields *f);
/*
 * Read p->hdr back into p->f and p->mask: 0, or -EINVAL when the header is
 * short or inconsistent (unknown opcode, length not the opcode's, wrong
 * pad, a payload the opcode does not carry or longer than npsn packets of
 * the largest MTU).
 */
int eng_pkt_parse(struct eng_packet *p);
/*
 * The segmentation rule at path MTU mtu: FIRST/MIDDLE carry exactly
 * npsn * mtu bytes, LAST/ONLY more than (npsn - 1) * mtu and at most
 * npsn * mtu (ONLY may be empty with npsn 1). 0 or -EINVAL.
 */
int eng_pkt_check_len(const struct eng_packet *p, unsigned int mtu);
/* Make the payload owned bytes (copy the reference): 0 or -ENOMEM/-EFAULT. */
int eng_pkt_own(struct eng_packet *p);
/* A heap copy of p with an owned payload, or NULL. */
struct eng_packet *eng_pkt_clone(const struct eng_packet *p);
void eng_pkt_free(struct eng_packet *p);

/* 24-bit PSN arithmetic: the signed distance from b to a. */
static inline int32_t eng_psn_cmp(uint32_t a, uint32_t b)
{
	return (int32_t)((a - b) << 8) >> 8;
}

static inline uint32_t eng_psn_add(uint32_t psn, uint32_t n)
{
	return (psn + n) & 0xffffff;
}

#endif /* SVD_ENG_PKT_H */
