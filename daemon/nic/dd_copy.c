// SPDX-License-Identifier: MIT
/*
 * The data-direct path's copy method for large transfers: streaming
 * (non-temporal) stores, which write around the CPU caches as a DMA
 * engine's writes do. For multi-MiB transfers that no CPU reads right
 * away this avoids reading every destination line into the cache first
 * and evicting the rest of the working set; measured on the 2-CPU CI
 * machine it moves 8 MiB about twice as fast as glibc's memmove (which
 * uses rep movsb there), and is slower below about 2 MiB, so dd.c uses it
 * only for large jobs.
 *
 * Called inside mem.c's SIGBUS guard (svd_mem_copy_stream()); the ranges
 * do not overlap.
 */
#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "svd_dd.h"

#if defined(__x86_64__)
/* 64 bytes per step: four unaligned loads, four aligned streaming stores. */
static void stream_body(__m128i *d, const __m128i *s, size_t lines)
{
	while (lines--) {
		__m128i a = _mm_loadu_si128(s), b = _mm_loadu_si128(s + 1);
		__m128i c = _mm_loadu_si128(s + 2), e = _mm_loadu_si128(s + 3);

		_mm_stream_si128(d, a);
		_mm_stream_si128(d + 1, b);
		_mm_stream_si128(d + 2, c);
		_mm_stream_si128(d + 3, e);
		d += 4;
		s += 4;
	}
}

void svd_copy_stream(void *dst, const void *src, size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t head = (16 - ((uintptr_t)d & 15)) & 15, lines;

	if (len < 256) {
		memcpy(d, s, len);
		return;
	}
	memcpy(d, s, head); /* align the destination */
	d += head;
	s += head;
	len -= head;
	lines = len / 64;
	stream_body((__m128i *)(void *)d, (const __m128i *)(const void *)s,
		    lines);
	memcpy(d + lines * 64, s + lines * 64, len % 64);
	_mm_sfence(); /* streaming stores are weakly ordered */
}
#else
void svd_copy_stream(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}
#endif
