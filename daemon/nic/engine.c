// SPDX-License-Identifier: MIT
/*
 * Scatter-list copies: the engine's bytes and registered memory, through
 * mem.c (svd_mem.h), the one module that touches client memory. The rest
 * of the engine: eng_sched.c thread and scheduler, eng_db.c doorbells,
 * eng_ring.c SQ ring, eng_sgl.c scatter lists from lkeys, eng_qp.c QP
 * hooks, eng_req/resp/comp.c the transport.
 */
#include <string.h>

#include "engine.h"
#include "svd_mem.h"

/* Copy n bytes between two segments; client memory goes through mem.c. */
static int seg_copy(const struct eng_seg *d, uint64_t doff,
		    const struct eng_seg *s, uint64_t soff, size_t n)
{
	if (!s->umem && !d->umem) {
		memcpy(d->buf + doff, s->buf + soff, n);
		return 0;
	}
	if (!s->umem)
		return svd_mem_write(d->umem, d->off + doff, s->buf + soff, n);
	if (!d->umem)
		return svd_mem_read(s->umem, s->off + soff, d->buf + doff, n);
	return svd_mem_copy(d->umem, d->off + doff, s->umem, s->off + soff, n);
}

/* After a failed copy: can the source still be read? (whose fault) */
static bool seg_readable(const struct eng_seg *s, uint64_t soff, size_t n)
{
	uint8_t scratch[4096];

	if (!s->umem)
		return true;
	while (n) {
		size_t c = n < sizeof(scratch) ? n : sizeof(scratch);

		if (svd_mem_read(s->umem, s->off + soff, scratch, c))
			return false;
		soff += c;
		n -= c;
	}
	return true;
}

int eng_sgl_copy(const struct eng_sgl *dst, uint64_t dst_skip,
		 const struct eng_sgl *src, uint64_t len)
{
	return eng_sgl_copy_off(dst, dst_skip, src, 0, len);
}

int eng_sgl_copy_off(const struct eng_sgl *dst, uint64_t dst_skip,
		     const struct eng_sgl *src, uint64_t src_skip,
		     uint64_t len)
{
	unsigned int di = 0, si = 0;
	uint64_t doff = dst_skip, soff = src_skip;

	if (src_skip > src->total || len > src->total - src_skip ||
	    dst_skip > dst->total || len > dst->total - dst_skip)
		return -EINVAL;
	while (len) {
		const struct eng_seg *d, *s;
		uint64_t n;
		int ret;

		while (di < dst->n && doff >= dst->seg[di].len)
			doff -= dst->seg[di++].len;
		while (si < src->n && soff >= src->seg[si].len)
			soff -= src->seg[si++].len;
		if (di >= dst->n || si >= src->n)
			return -EINVAL;
		d = &dst->seg[di];
		s = &src->seg[si];
		n = d->len - doff;
		if (s->len - soff < n)
			n = s->len - soff;
		if (len < n)
			n = len;
		ret = seg_copy(d, doff, s, soff, n);
		if (ret)
			return seg_readable(s, soff, n) ? ENG_COPY_EDST :
							  ENG_COPY_ESRC;
		doff += n;
		soff += n;
		len -= n;
	}
	return 0;
}
