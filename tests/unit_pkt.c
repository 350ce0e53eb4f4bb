// SPDX-License-Identifier: MIT
/*
 * The packet codec (daemon/nic/eng_pkt.c) against the opcode table: every
 * opcode the table knows round-trips through build and parse with the
 * fields its headers carry, in big-endian byte order, and parse rejects
 * truncated, padded-wrong, reserved-bit and payload-inconsistent headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static int failures;

#define CHECK(c, ...)                                                   \
	do {                                                            \
		if (!(c)) {                                             \
			failures++;                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                   \
			fputc('\n', stderr);                            \
		}                                                       \
	} while (0)

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Fields with every value the headers of 'mask' can carry. */
static void fill(struct eng_fields *f, uint8_t opcode, uint32_t mask)
{
	memset(f, 0, sizeof(*f));
	f->opcode = opcode;
	f->se = rnd() & 1;
	f->mig = rnd() & 1;
	f->ackreq = rnd() & 1;
	f->pkey = (uint16_t)rnd();
	f->dqpn = (uint32_t)rnd() & 0xffffff;
	f->psn = (uint32_t)rnd() & 0xffffff;
	if (mask & (ENG_RETH | ENG_ATMETH)) {
		f->va = rnd();
		f->rkey = (uint32_t)rnd();
	}
	if (mask & ENG_RETH)
		f->dma_len = (uint32_t)rnd();
	if (mask & ENG_ATMETH) {
		f->swap_add = rnd();
		f->compare = rnd();
	}
	if (mask & ENG_AETH) {
		f->syndrome = (uint8_t)rnd();
		f->msn = (uint32_t)rnd() & 0xffffff;
	}
	if (mask & ENG_ATMACK)
		f->orig = rnd();
	if (mask & (ENG_IMMDT | ENG_IETH))
		f->imm = (uint32_t)rnd();
	if (mask & ENG_DETH) {
		f->qkey = (uint32_t)rnd();
		f->src_qpn = (uint32_t)rnd() & 0xffffff;
	}
	if (mask & ENG_XRCETH)
		f->xrc_srqn = (uint32_t)rnd() & 0xffffff;
	if (mask & ENG_FETH) {
		f->sel = (uint8_t)(rnd() & 3);
		f->plt = (uint8_t)(rnd() & 0xf);
	}
}

static uint32_t payload_for(uint32_t mask)
{
	if (!(mask & ENG_PAYLOAD))
		return 0;
	if (mask & ENG_ATOMIC_WRITE)
		return 8;
	return 1 + (uint32_t)(rnd() % 4096);
}

static void round_trip(uint8_t opcode, const struct eng_opcode *op)
{
	struct eng_packet p = { .npsn = 1 }, q;
	struct eng_fields f;
	int i;

	for (i = 0; i < 50; i++) {
		fill(&f, opcode, op->mask);
		p.len = payload_for(op->mask);
		CHECK(!eng_pkt_build(&p, &f), "build %s", op->name);
		CHECK(p.hdr_len == op->hdr_len, "%s hdr_len", op->name);
		CHECK(p.hdr[0] == opcode, "%s opcode byte", op->name);
		CHECK(((p.hdr[9] << 16) | (p.hdr[10] << 8) | p.hdr[11]) ==
			      (int)f.psn, "%s PSN big-endian", op->name);
		q = p;
		memset(&q.f, 0, sizeof(q.f));
		CHECK(!eng_pkt_parse(&q), "parse %s", op->name);
		f.pad = eng_pad(p.len);
		CHECK(!memcmp(&q.f, &f, sizeof(f)), "%s fields differ",
		      op->name);
		CHECK(q.mask == op->mask, "%s mask", op->name);
		/* One byte short, or one more: not this opcode's header. */
		q.hdr_len = (uint8_t)(p.hdr_len - 1);
		CHECK(eng_pkt_parse(&q), "%s truncated accepted", op->name);
		q.hdr_len = (uint8_t)(p.hdr_len + 1);
		CHECK(eng_pkt_parse(&q), "%s long accepted", op->name);
		/* A pad count that does not match the payload. */
		q = p;
		q.len = p.len + 1;
		CHECK(eng_pkt_parse(&q), "%s wrong pad accepted", op->name);
	}
}

/* Headers at the offsets IBTA gives (spot checks on hand-known layouts). */
static void offsets(void)
{
	const struct eng_opcode *op;

	op = eng_opcode_info(ENG_TR_RC | ENG_OP_WRITE_ONLY_IMM);
	CHECK(op && op->off[ENG_H_RETH] == 12 && op->off[ENG_H_IMMDT] == 28 &&
		      op->hdr_len == 32, "RC WRITE_ONLY_IMM layout");
	op = eng_opcode_info(ENG_TR_UD | ENG_OP_SEND_ONLY_IMM);
	CHECK(op && op->off[ENG_H_DETH] == 12 && op->off[ENG_H_IMMDT] == 20 &&
		      op->hdr_len == 24, "UD SEND_ONLY_IMM layout");
	op = eng_opcode_info(ENG_TR_RC | ENG_OP_ATOMIC_ACK);
	CHECK(op && op->off[ENG_H_AETH] == 12 && op->off[ENG_H_ATMACK] == 16 &&
		      op->hdr_len == 24, "ATOMIC_ACK layout");
	op = eng_opcode_info(ENG_TR_RC | ENG_OP_CMP_SWAP);
	CHECK(op && op->hdr_len == 40, "CMP_SWAP layout");
	op = eng_opcode_info(ENG_TR_XRC | ENG_OP_WRITE_ONLY);
	CHECK(op && op->off[ENG_H_XRCETH] == 12 && op->off[ENG_H_RETH] == 16,
	      "XRC WRITE_ONLY layout");
	op = eng_opcode_info(ENG_TR_RC | ENG_OP_FLUSH);
	CHECK(op && op->off[ENG_H_FETH] == 12 && op->off[ENG_H_RETH] == 16 &&
		      op->hdr_len == 32, "FLUSH layout");
	CHECK(!eng_opcode_info(ENG_TR_UC | ENG_OP_READ_REQ), "UC READ");
	CHECK(!eng_opcode_info(ENG_TR_UD | ENG_OP_WRITE_ONLY), "UD WRITE");
	CHECK(!eng_opcode_info(ENG_TR_RC | 0x15), "RC 0x15");
}

/* Garbage: unknown opcodes, reserved bits, payload where none may be. */
static void garbage(void)
{
	struct eng_packet p = { .npsn = 1 }, q;
	struct eng_fields f;

	fill(&f, ENG_TR_RC | ENG_OP_ACK, ENG_AETH);
	CHECK(!eng_pkt_build(&p, &f), "build ACK");
	q = p;
	q.hdr[0] = ENG_TR_RC | 0x15;
	CHECK(eng_pkt_parse(&q), "unknown opcode accepted");
	q = p;
	q.hdr[1] |= 1; /* TVer */
	CHECK(eng_pkt_parse(&q), "TVer 1 accepted");
	q = p;
	q.len = 4;
	q.hdr[1] &= ~0x30;
	CHECK(eng_pkt_parse(&q), "ACK with payload accepted");
	q = p;
	q.npsn = 2;
	CHECK(eng_pkt_parse(&q), "ACK covering 2 PSNs accepted");
	q = p;
	q.npsn = 0;
	CHECK(eng_pkt_parse(&q), "npsn 0 accepted");
	q = p;
	q.hdr_len = 3;
	CHECK(eng_pkt_parse(&q), "3-byte header accepted");
	fill(&f, ENG_TR_UD | ENG_OP_SEND_ONLY, ENG_DETH);
	p.len = 16;
	CHECK(!eng_pkt_build(&p, &f), "build UD SEND");
	p.hdr[16] = 1; /* DETH reserved byte */
	CHECK(eng_pkt_parse(&p), "DETH reserved byte accepted");
	fill(&f, ENG_TR_RC | ENG_OP_ATOMIC_WRITE, ENG_RETH);
	p.len = 7;
	CHECK(!eng_pkt_build(&p, &f), "build ATOMIC_WRITE");
	CHECK(eng_pkt_parse(&p), "ATOMIC_WRITE of 7 bytes accepted");
	fill(&f, ENG_TR_RC | ENG_OP_SEND_ONLY, 0);
	p.len = 4097;
	CHECK(!eng_pkt_build(&p, &f), "build big SEND");
	CHECK(eng_pkt_parse(&p), "one PSN carrying 4097 bytes accepted");
	CHECK(eng_pkt_build(&p, &(struct eng_fields){ .opcode = 0x15 }),
	      "built an unknown opcode");
}

/* The MTU rule, GSO included. */
static void seg_rule(void)
{
	struct eng_packet p = { 0 };

	p.mask = eng_opcode_info(ENG_OP_WRITE_FIRST)->mask;
	p.npsn = 4;
	p.len = 4096;
	CHECK(!eng_pkt_check_len(&p, 1024), "FIRST 4x1024");
	p.len = 4095;
	CHECK(eng_pkt_check_len(&p, 1024), "FIRST short accepted");
	p.mask = eng_opcode_info(ENG_OP_WRITE_MIDDLE)->mask;
	p.len = 4097;
	CHECK(eng_pkt_check_len(&p, 1024), "MIDDLE long accepted");
	p.mask = eng_opcode_info(ENG_OP_WRITE_LAST)->mask;
	p.len = 3073;
	CHECK(!eng_pkt_check_len(&p, 1024), "LAST 3073 in 4");
	p.len = 3072;
	CHECK(eng_pkt_check_len(&p, 1024), "LAST with an empty PSN accepted");
	p.mask = eng_opcode_info(ENG_OP_SEND_ONLY)->mask;
	p.npsn = 1;
	p.len = 0;
	CHECK(!eng_pkt_check_len(&p, 1024), "empty ONLY");
	p.mask = eng_opcode_info(ENG_OP_SEND_LAST)->mask;
	CHECK(eng_pkt_check_len(&p, 1024), "empty LAST accepted");
}

int main(void)
{
	unsigned int opcode, n = 0;

	for (opcode = 0; opcode < 256; opcode++) {
		const struct eng_opcode *op = eng_opcode_info((uint8_t)opcode);

		if (!op)
			continue;
		round_trip((uint8_t)opcode, op);
		n++;
	}
	CHECK(n == 25 + 14 + 2 + 25, "%u opcodes in the table", n);
	offsets();
	garbage();
	seg_rule();
	printf("unit_pkt: %u opcodes, %d failures\n", n, failures);
	return failures ? 1 : 0;
}
