// SPDX-License-Identifier: MIT
/*
 * Reading and writing IBTA CM MADs field by field (cm_mad.h). Fields are
 * addressed bit by bit from the spec's (byte, bit, width) triples, so odd
 * ones (a 5-bit timeout followed by a 2-bit service type in one byte, a
 * 20-bit flow label) need no special cases.
 */
#include <endian.h>
#include <string.h>

#include "cm_mad.h"

void cm_mad_init(uint8_t *mad, uint16_t attr_id, uint64_t tid)
{
	uint64_t be_tid = htobe64(tid);
	uint16_t be_attr = htobe16(attr_id);

	memset(mad, 0, CM_MAD_SIZE);
	mad[0] = 1; /* base version */
	mad[1] = CM_MGMT_CLASS;
	mad[2] = CM_CLASS_VERSION;
	mad[3] = CM_METHOD_SEND;
	memcpy(mad + 8, &be_tid, 8);
	memcpy(mad + 16, &be_attr, 2);
}

uint16_t cm_mad_attr(const uint8_t *mad)
{
	return (uint16_t)(mad[16] << 8 | mad[17]);
}

uint64_t cm_mad_tid(const uint8_t *mad)
{
	uint64_t be;

	memcpy(&be, mad + 8, 8);
	return be64toh(be);
}

void cm_mad_set_attr_mod(uint8_t *mad, uint32_t val)
{
	uint32_t be = htobe32(val);

	memcpy(mad + 20, &be, 4);
}

uint32_t cm_mad_attr_mod(const uint8_t *mad)
{
	uint32_t be;

	memcpy(&be, mad + 20, 4);
	return be32toh(be);
}

/* The common header a CM agent accepts: our class, version and method. */
int cm_mad_valid(const uint8_t *mad)
{
	return mad[0] == 1 && mad[1] == CM_MGMT_CLASS &&
	       mad[2] == CM_CLASS_VERSION && mad[3] == CM_METHOD_SEND;
}

void cm_put(uint8_t *mad, unsigned int off, unsigned int bit,
	    unsigned int width, uint32_t val)
{
	unsigned int i, b;

	for (i = 0; i < width; i++) {
		b = (CM_MAD_HDR + off) * 8 + bit + i;
		if (val >> (width - 1 - i) & 1)
			mad[b / 8] |= 0x80 >> (b % 8);
		else
			mad[b / 8] &= ~(0x80 >> (b % 8));
	}
}

uint32_t cm_get(const uint8_t *mad, unsigned int off, unsigned int bit,
		unsigned int width)
{
	uint32_t val = 0;
	unsigned int i, b;

	for (i = 0; i < width; i++) {
		b = (CM_MAD_HDR + off) * 8 + bit + i;
		val = val << 1 | ((mad[b / 8] >> (7 - b % 8)) & 1);
	}
	return val;
}

void cm_put64(uint8_t *mad, unsigned int off, uint64_t val)
{
	uint64_t be = htobe64(val);

	memcpy(mad + CM_MAD_HDR + off, &be, 8);
}

uint64_t cm_get64(const uint8_t *mad, unsigned int off)
{
	uint64_t be;

	memcpy(&be, mad + CM_MAD_HDR + off, 8);
	return be64toh(be);
}

void cm_put_bytes(uint8_t *mad, unsigned int off, const void *src,
		  unsigned int len)
{
	memcpy(mad + CM_MAD_HDR + off, src, len);
}

const uint8_t *cm_bytes(const uint8_t *mad, unsigned int off)
{
	return mad + CM_MAD_HDR + off;
}
