// SPDX-License-Identifier: MIT
/*
 * The ICRC's CRC-32 (reflected polynomial 0xedb88320, the Ethernet/zlib
 * one) by carry-less multiplication, where the CPU has it (PCLMULQDQ).
 * The ICRC covers every byte of every packet, sent and received: with
 * slicing-by-8 (wire_pkt.c) it was a tenth of both daemons' samples in
 * ib_write_bw. Folding 64 bytes at a time with PCLMULQDQ is several times
 * faster. The method is Intel's ("Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction", 2009): four 128-bit lanes
 * folded forward by x^(512+64) / x^512 modulo P, then to one lane, to 64
 * bits, and a Barrett reduction to 32. The constants below are those
 * powers of x modulo P (bit-reflected), and mu = floor(x^64 / P).
 *
 * wire_crc_clmul() takes the largest multiple of 16 bytes (at least 64)
 * and leaves the rest to the table; wire_pkt.c checks it against the
 * table once before trusting it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CLMUL __attribute__((target("pclmul,sse4.1")))

static const uint64_t k1k2[2] __attribute__((aligned(16))) = {
	0x0154442bd4ULL, 0x01c6e41596ULL
};
static const uint64_t k3k4[2] __attribute__((aligned(16))) = {
	0x01751997d0ULL, 0x00ccaa009eULL
};
static const uint64_t k5k0[2] __attribute__((aligned(16))) = {
	0x0163cd6124ULL, 0
};
static const uint64_t poly_mu[2] __attribute__((aligned(16))) = {
	0x01db710641ULL, 0x01f7011641ULL
};

/* x folded forward by k (one lane), plus the next 16 bytes y. */
CLMUL static inline __m128i fold(__m128i x, __m128i k, __m128i y)
{
	__m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
	__m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

	return _mm_xor_si128(_mm_xor_si128(lo, hi), y);
}

static inline __m128i ld(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* 128 bits to the 32-bit remainder (fold to 64, then Barrett). */
CLMUL static uint32_t reduce(__m128i x1)
{
	const __m128i mask = _mm_setr_epi32(~0, 0, ~0, 0);
	__m128i k = _mm_load_si128((const __m128i *)(const void *)k3k4);
	__m128i x2 = _mm_clmulepi64_si128(x1, k, 0x10);

	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
	k = _mm_loadl_epi64((const __m128i *)(const void *)k5k0);
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask), k, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	k = _mm_load_si128((const __m128i *)(const void *)poly_mu);
	x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask), k, 0x10);
	x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, mask), k, 0x00);
	return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, x2), 1);
}

CLMUL static size_t clmul_run(uint32_t *crc, const uint8_t *p, size_t n)
{
	__m128i k = _mm_load_si128((const __m128i *)(const void *)k1k2);
	__m128i x1 = _mm_xor_si128(ld(p), _mm_cvtsi32_si128((int)*crc));
	__m128i x2 = ld(p + 16), x3 = ld(p + 32), x4 = ld(p + 48);
	size_t done = 64;

	for (; n - done >= 64; done += 64) {
		x1 = fold(x1, k, ld(p + done));
		x2 = fold(x2, k, ld(p + done + 16));
		x3 = fold(x3, k, ld(p + done + 32));
		x4 = fold(x4, k, ld(p + done + 48));
	}
	k = _mm_load_si128((const __m128i *)(const void *)k3k4);
	x1 = fold(x1, k, x2);
	x1 = fold(x1, k, x3);
	x1 = fold(x1, k, x4);
	for (; n - done >= 16; done += 16)
		x1 = fold(x1, k, ld(p + done));
	*crc = reduce(x1);
	return done;
}

static bool have_clmul(void)
{
	static int have = -1;

	if (have < 0)
		have = __builtin_cpu_supports("pclmul") &&
		       __builtin_cpu_supports("sse4.1");
	return have;
}

size_t wire_crc_clmul(uint32_t *crc, const uint8_t *p, size_t n)
{
	if (n < 64 || !have_clmul())
		return 0;
	return clmul_run(crc, p, n);
}
#else
size_t wire_crc_clmul(uint32_t *crc, const uint8_t *p, size_t n)
{
	(void)crc;
	(void)p;
	(void)n;
	return 0; /* the table does it all */
}
#endif
