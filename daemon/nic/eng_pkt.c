// SPDX-License-Identifier: MIT
/*
 * The packet codec: IBTA header bytes (big-endian) from a fields struct and
 * back, driven by the opcode table's offsets. Each extended header has one
 * writer and one reader below; build and parse walk the headers the
 * opcode carries. See eng_pkt.h for what is and is not on the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* The largest payload one MTU packet carries (IBV_MTU_4096). */
#define PKT_MTU_MAX 4096U

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* BTH: opcode, SE|M|PadCnt|TVer, P_Key, resv, DestQP, AckReq, PSN. */
static void bth_put(uint8_t *h, const struct eng_fields *f)
{
	memset(h, 0, ENG_BTH_LEN);
	h[0] = f->opcode;
	h[1] = (uint8_t)((f->se ? 0x80 : 0) | (f->mig ? 0x40 : 0) |
			 (f->pad & 3) << 4);
	put16(h + 2, f->pkey);
	put24(h + 5, f->dqpn);
	h[8] = f->ackreq ? 0x80 : 0;
	put24(h + 9, f->psn);
}

static int bth_get(const uint8_t *h, struct eng_fields *f)
{
	f->opcode = h[0];
	f->se = h[1] & 0x80;
	f->mig = h[1] & 0x40;
	f->pad = (h[1] >> 4) & 3;
	f->pkey = get16(h + 2);
	f->dqpn = get24(h + 5);
	f->ackreq = h[8] & 0x80;
	f->psn = get24(h + 9);
	/* Transport header version 0 is the only one. */
	return (h[1] & 0x0f) ? -EINVAL : 0;
}

static void ext_put(enum eng_hdr_id id, uint8_t *h, const struct eng_fields *f)
{
	switch (id) {
	case ENG_H_XRCETH:
		put32(h, f->xrc_srqn & 0xffffff);
		break;
	case ENG_H_DETH:
		put32(h, f->qkey);
		put32(h + 4, f->src_qpn & 0xffffff);
		break;
	case ENG_H_FETH:
		put32(h, (uint32_t)(f->sel & 3) << 4 | (f->plt & 0xf));
		break;
	case ENG_H_RETH:
		put64(h, f->va);
		put32(h + 8, f->rkey);
		put32(h + 12, f->dma_len);
		break;
	case ENG_H_ATMETH:
		put64(h, f->va);
		put32(h + 8, f->rkey);
		put64(h + 12, f->swap_add);
		put64(h + 20, f->compare);
		break;
	case ENG_H_AETH:
		put32(h, (uint32_t)f->syndrome << 24 | (f->msn & 0xffffff));
		break;
	case ENG_H_ATMACK:
		put64(h, f->orig);
		break;
	case ENG_H_IMMDT:
	case ENG_H_IETH:
	default:
		put32(h, f->imm);
		break;
	}
}

/* Reserved bits must be zero: a header with them set is garbage. */
static int ext_get(enum eng_hdr_id id, const uint8_t *h, struct eng_fields *f)
{
	switch (id) {
	case ENG_H_XRCETH:
		f->xrc_srqn = get24(h + 1);
		return h[0] ? -EINVAL : 0;
	case ENG_H_DETH:
		f->qkey = get32(h);
		f->src_qpn = get24(h + 5);
		return h[4] ? -EINVAL : 0;
	case ENG_H_FETH:
		f->sel = (h[3] >> 4) & 3;
		f->plt = h[3] & 0xf;
		return (get24(h) || (h[3] & 0xc0)) ? -EINVAL : 0;
	case ENG_H_RETH:
		f->va = get64(h);
		f->rkey = get32(h + 8);
		f->dma_len = get32(h + 12);
		return 0;
	case ENG_H_ATMETH:
		f->va = get64(h);
		f->rkey = get32(h + 8);
		f->swap_add = get64(h + 12);
		f->compare = get64(h + 20);
		return 0;
	case ENG_H_AETH:
		f->syndrome = h[0];
		f->msn = get24(h + 1);
		return 0;
	case ENG_H_ATMACK:
		f->orig = get64(h);
		return 0;
	case ENG_H_IMMDT:
	case ENG_H_IETH:
	default:
		f->imm = get32(h);
		return 0;
	}
}

int eng_pkt_build(struct eng_packet *p, const struct eng_fields *f)
{
	const struct eng_opcode *op = eng_opcode_info(f->opcode);
	struct eng_fields bf = *f;
	unsigned int h;

	if (!op || op->hdr_len > ENG_HDR_MAX)
		return -EINVAL;
	bf.pad = eng_pad(p->len);
	bth_put(p->hdr, &bf);
	for (h = 0; h < ENG_H_NUM; h++)
		if (op->mask & eng_hdr_bit(h))
			ext_put(h, p->hdr + op->off[h], &bf);
	p->hdr_len = op->hdr_len;
	p->f = bf;
	p->mask = op->mask;
	return 0;
}

/* What the payload may be for this opcode, whatever the MTU. */
static int payload_ok(const struct eng_packet *p, uint32_t mask)
{
	if (!(mask & ENG_PAYLOAD))
		return p->len ? -EINVAL : 0;
	if (mask & ENG_ATOMIC_WRITE)
		return p->len == 8 ? 0 : -EINVAL;
	if ((uint64_t)p->len > (uint64_t)p->npsn * PKT_MTU_MAX)
		return -EINVAL;
	return 0;
}

int eng_pkt_parse(struct eng_packet *p)
{
	const struct eng_opcode *op;
	unsigned int h;

	if (p->hdr_len < ENG_BTH_LEN || p->hdr_len > ENG_HDR_MAX ||
	    !p->npsn || p->npsn > 0x800000)
		return -EINVAL;
	op = eng_opcode_info(p->hdr[0]);
	if (!op || p->hdr_len != op->hdr_len)
		return -EINVAL;
	memset(&p->f, 0, sizeof(p->f));
	if (bth_get(p->hdr, &p->f) || p->f.pad != eng_pad(p->len))
		return -EINVAL;
	/* Only a message's packets may stand for several (GSO). */
	if (p->npsn > 1 && !(op->mask & ENG_PAYLOAD))
		return -EINVAL;
	for (h = 0; h < ENG_H_NUM; h++)
		if ((op->mask & eng_hdr_bit(h)) &&
		    ext_get(h, p->hdr + op->off[h], &p->f))
			return -EINVAL;
	p->mask = op->mask;
	return payload_ok(p, op->mask);
}

int eng_pkt_check_len(const struct eng_packet *p, unsigned int mtu)
{
	uint64_t max = (uint64_t)p->npsn * mtu;

	if (!(p->mask & ENG_PAYLOAD) || (p->mask & ENG_ATOMIC_WRITE))
		return 0;
	if (!(p->mask & ENG_LAST))
		return p->len == max ? 0 : -EINVAL;
	if (p->len > max)
		return -EINVAL;
	if (p->npsn == 1)
		return (p->len || (p->mask & ENG_FIRST)) ? 0 : -EINVAL;
	return p->len > max - mtu ? 0 : -EINVAL;
}

int eng_pkt_own(struct eng_packet *p)
{
	struct eng_sgl dst;
	uint8_t *buf;
	int ret;

	if (p->owned || !p->len) {
		p->sgl = NULL;
		return 0;
	}
	buf = malloc(p->len);
	if (!buf)
		return -ENOMEM;
	eng_sgl_one(&dst, buf, p->len);
	ret = p->sgl ? eng_sgl_copy_off(&dst, 0, p->sgl, p->sgl_off, p->len) :
		       -EINVAL;
	if (ret) {
		free(buf);
		return -EFAULT;
	}
	p->owned = buf;
	p->sgl = NULL;
	return 0;
}

struct eng_packet *eng_pkt_clone(const struct eng_packet *p)
{
	struct eng_packet *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	*c = *p;
	c->next = NULL;
	if (p->owned && p->len) {
		c->owned = malloc(p->len);
		if (!c->owned) {
			free(c);
			return NULL;
		}
		memcpy(c->owned, p->owned, p->len);
	}
	if (eng_pkt_own(c)) {
		free(c);
		return NULL;
	}
	return c;
}

void eng_pkt_free(struct eng_packet *p)
{
	if (!p)
		return;
	free(p->owned);
	free(p);
}

int eng_pkt_copy_out(const struct eng_packet *p, const struct eng_sgl *dst,
		     uint64_t dst_off)
{
	struct eng_sgl src;

	if (!p->len)
		return 0;
	if (p->owned) {
		eng_sgl_one(&src, p->owned, p->len);
		return eng_sgl_copy(dst, dst_off, &src, p->len);
	}
	if (!p->sgl)
		return -EINVAL;
	return eng_sgl_copy_off(dst, dst_off, p->sgl, p->sgl_off, p->len);
}
