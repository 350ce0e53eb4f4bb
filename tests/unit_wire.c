// SPDX-License-Identifier: MIT
/*
 * The wire's packet checks without sockets: the ICRC against vectors made
 * by ../shared/tools/rxe-vm/icrc.py (the rule kernel rxe accepted from a
 * host peer: IPv4, ID 0, DF) and by the same masks for IPv6 (rxe_icrc.c),
 * and wire_parse() accepting a good packet and dropping each kind of bad
 * one for its own reason.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"
#include "svt_unit.h"


static void ends(struct wire_ends *e, bool v6)
{
	memset(e, 0, sizeof(*e));
	if (v6) {
		inet_pton(AF_INET6, "fd91::2", e->sgid);
		inet_pton(AF_INET6, "fd91::1", e->dgid);
	} else {
		e->sgid[10] = e->sgid[11] = e->dgid[10] = e->dgid[11] = 0xff;
		inet_pton(AF_INET, "10.91.0.2", e->sgid + 12);
		inet_pton(AF_INET, "10.91.0.1", e->dgid + 12);
	}
	e->sport = 49152;
	e->dport = 4791;
}

/* SEND_ONLY to QP 0x11, PSN 5, AckReq, 64 bytes of 'x', then the ICRC. */
static size_t send_only(uint8_t *p, const struct wire_ends *e)
{
	static const uint8_t bth[12] = { 0x04, 0, 0xff, 0xff, 0, 0, 0, 0x11,
					 0x80, 0, 0, 5 };
	uint32_t c;

	memcpy(p, bth, 12);
	memset(p + 12, 'x', 64);
	c = htole32(wire_icrc(e, p, 76));
	memcpy(p + 76, &c, 4);
	return 80;
}

static int parse(const struct wire_ends *e, uint8_t *p, size_t n)
{
	struct wire_bth bth;
	uint32_t c = htole32(wire_icrc(e, p, n - 4));

	memcpy(p + n - 4, &c, 4); /* a correct ICRC over the changed bytes */
	return wire_parse(e, p, n, &bth);
}

/* A CNP (BTH opcode 0x81 + 16 reserved bytes) passes; one with a
 * payload, or to QP0, does not. */
static void cnp_checks(const struct wire_ends *e)
{
	uint8_t c[64] = { WIRE_OP_CNP, 0, 0xff, 0xff, 0x40, 0, 0, 0x22 };
	struct wire_bth bth;

	CHECK(parse(e, c, WIRE_CNP_LEN + 4) == 0);
	CHECK(wire_parse(e, c, WIRE_CNP_LEN + 4, &bth) == 0);
	CHECK(bth.opcode == WIRE_OP_CNP && bth.dest_qpn == 0x22 &&
	      bth.payload_len == 0);
	CHECK(parse(e, c, WIRE_CNP_LEN + 8) == -WIRE_DROP_LENGTH);
	c[7] = 0;
	CHECK(parse(e, c, WIRE_CNP_LEN + 4) == -WIRE_DROP_QPN);
}

/* Bit by bit, the definition: the PCLMULQDQ fold must agree. */
static uint32_t crc_bits(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
	}
	return c;
}

static void clmul_checks(void)
{
	uint8_t b[4200];
	uint32_t x = 1;

	for (size_t i = 0; i < sizeof(b); i++) {
		x = x * 1664525U + 1013904223U;
		b[i] = (uint8_t)(x >> 24);
	}
	for (size_t n = 0; n < sizeof(b); n += n < 300 ? 1 : 97) {
		uint32_t c = x ^ (uint32_t)n;
		size_t k = wire_crc_clmul(&c, b + 1, n);

		CHECK(k <= n && k % 16 == 0 && (n < 64 || k + 16 > n || !k));
		CHECK(crc_bits(c, b + 1 + k, n - k) ==
		      crc_bits(x ^ (uint32_t)n, b + 1, n));
	}
}

int main(void)
{
	struct wire_ends e4, e6;
	struct wire_bth bth;
	uint8_t p[128];
	size_t n;

	clmul_checks();
	ends(&e4, false);
	ends(&e6, true);
	n = send_only(p, &e4);
	CHECK(wire_icrc(&e4, p, 76) == 0x1bcba552); /* icrc.py: 52a5cb1b */
	CHECK(!memcmp(p + 76, "\x52\xa5\xcb\x1b", 4));
	CHECK(wire_parse(&e4, p, n, &bth) == 0);
	CHECK(bth.dest_qpn == 0x11 && bth.psn == 5 && bth.ackreq);
	CHECK(bth.hdr_len == 12 && bth.payload_len == 64);
	/* A router may change TTL/TOS/checksums and FECN: still valid. */
	p[4] = 0xc0;
	CHECK(wire_parse(&e4, p, n, &bth) == 0);
	p[4] = 0;
	p[20] ^= 1;
	CHECK(wire_parse(&e4, p, n, &bth) == -WIRE_DROP_ICRC);
	p[20] ^= 1;
	e4.sport++; /* the ICRC covers the UDP header */
	CHECK(wire_parse(&e4, p, n, &bth) == -WIRE_DROP_ICRC);
	e4.sport--;
	/* Kernel rxe's IPv4 IDs are not 0: the ICRC (icrc.py) for ID 39967
	 * and for ID 1 are accepted, the same bytes with one bit flipped not. */
	memcpy(p + 76, "\xc8\x41\xbe\x75", 4);
	CHECK(wire_parse(&e4, p, n, &bth) == 0);
	memcpy(p + 76, "\x90\xa4\xae\xee", 4);
	CHECK(wire_parse(&e4, p, n, &bth) == 0);
	p[30] ^= 0x10;
	CHECK(wire_parse(&e4, p, n, &bth) == -WIRE_DROP_ICRC);
	p[30] ^= 0x10;
	memcpy(p + 76, "\x52\xa5\xcb\x1b", 4);
	/* Segment 5 of a GSO send leaves with ID 5 (wire_tx.c): computed
	 * for it, checked first for it (the GRO index), and solved for it
	 * without the hint. */
	e4.ip_id = 5;
	send_only(p, &e4);
	CHECK(wire_parse(&e4, p, n, &bth) == 0);
	e4.ip_id = 0;
	CHECK(wire_parse(&e4, p, n, &bth) == 0);
	e4.ip_id = 5; /* ID 5's ICRC is not ID 0's: the ID is covered */
	CHECK(wire_icrc(&e4, p, 76) != 0x1bcba552);
	e4.ip_id = 0;
	send_only(p, &e4);
	cnp_checks(&e4);
	n = send_only(p, &e6);
	CHECK(wire_icrc(&e6, p, 76) == 0x046b081b);
	CHECK(wire_parse(&e6, p, n, &bth) == 0);
	CHECK(wire_parse(&e4, p, n, &bth) == -WIRE_DROP_ICRC);
	CHECK(wire_parse(&e6, p, 15, &bth) == -WIRE_DROP_SHORT);
	p[1] = 0x01; /* TVer 1 */
	CHECK(parse(&e6, p, n) == -WIRE_DROP_VERSION);
	p[1] = 0x10; /* PadCnt 1, but 64 bytes need none */
	CHECK(parse(&e6, p, n) == 0);
	p[1] = 0;
	p[2] = 0x12; /* P_Key 0x12ff */
	CHECK(parse(&e6, p, n) == -WIRE_DROP_PKEY);
	p[2] = 0xff;
	p[7] = 0; /* QP0 */
	CHECK(parse(&e6, p, n) == -WIRE_DROP_QPN);
	p[7] = 0x11;
	p[0] = 0x11; /* an ACK carries no payload */
	CHECK(parse(&e6, p, n) == -WIRE_DROP_LENGTH);
	p[0] = 0x1f; /* no such opcode */
	CHECK(parse(&e6, p, n) == -WIRE_DROP_OPCODE);
	p[0] = 0x04;
	CHECK(parse(&e6, p, n - 2) == -WIRE_DROP_LENGTH); /* not aligned */
	CHECK(parse(&e6, p, 16) == 0); /* an empty SEND_ONLY */
	p[1] = 0x30; /* pad 3 with no payload */
	CHECK(parse(&e6, p, 16) == -WIRE_DROP_LENGTH);
	if (svt_failures)
		return 1;
	printf("unit_wire: ok\n");
	return 0;
}
