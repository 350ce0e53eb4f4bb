// SPDX-License-Identifier: MIT
/*
 * The send queue ring as the engine sees it: geometry checks, the
 * producer index (untrusted: a producer more than a ring ahead is
 * garbage), WQE copies out of shared memory, and the consumer index.
 */
#include <string.h>

#include "engine.h"
#include "svd_mem.h"

static bool sq_sane(const struct svd_qp *qp)
{
	uint32_t n = qp->sq_entries;

	return qp->sq && qp->dbrec && n && !(n & (n - 1)) &&
	       qp->sq_wqe_size >= sizeof(struct sv_send_wqe) &&
	       (uint64_t)n * qp->sq_wqe_size <= qp->sq->length;
}

/* Producer index of the SQ; -EAGAIN when there is nothing to do. */
int eng_sq_peek(struct eng_qp *eq, uint32_t *prod)
{
	struct svd_qp *qp = eq->qp;

	if (!sq_sane(qp))
		return -EINVAL;
	if (svd_mem_load32(qp->dbrec, offsetof(struct sv_dbrec, prod), prod))
		return -EFAULT;
	/* A producer more than a ring ahead is garbage: ignore it. */
	if (*prod == eq->sq_cons || *prod - eq->sq_cons > qp->sq_entries)
		return -EAGAIN;
	return 0;
}

int eng_sq_read(struct eng_qp *eq, uint32_t idx, void *buf, size_t len)
{
	struct svd_qp *qp = eq->qp;
	uint64_t off = (uint64_t)(idx & (qp->sq_entries - 1)) *
		       qp->sq_wqe_size;

	if (len > qp->sq_wqe_size)
		len = qp->sq_wqe_size;
	memset(buf, 0, ENG_WQE_MAX);
	return svd_mem_read(qp->sq, off, buf, len);
}

/*
 * The requester's read of a whole slot into an ENG_WQE_MAX buffer: only a
 * header the slot is too short for is cleared, since wqe_check() bounds
 * every later read (SGEs, inline and captured bytes) by the slot. Clearing
 * the whole KiB per WQE showed in the daemon path's small-SEND profile.
 */
int eng_sq_read_slot(struct eng_qp *eq, uint32_t idx, void *buf)
{
	struct svd_qp *qp = eq->qp;
	uint64_t off = (uint64_t)(idx & (qp->sq_entries - 1)) *
		       qp->sq_wqe_size;
	size_t len = qp->sq_wqe_size < ENG_WQE_MAX ? qp->sq_wqe_size :
						     ENG_WQE_MAX;

	if (len < sizeof(struct sv_send_wqe))
		memset((uint8_t *)buf + len, 0,
		       sizeof(struct sv_send_wqe) - len);
	return svd_mem_read(qp->sq, off, buf, len);
}

void eng_sq_consume(struct eng_qp *eq)
{
	eq->sq_cons++;
	svd_mem_store32(eq->qp->dbrec, offsetof(struct sv_dbrec, cons),
			eq->sq_cons);
}
