// SPDX-License-Identifier: MIT
/*
 * Scatter lists: a WQE's (untrusted, already copied) SGEs resolved into
 * pieces of registered memory through their lkeys. Runs under dev->lock:
 * a region resolved here stays valid until the lock drops (regions are
 * unpublished under it).
 */
#include "engine.h"

/* Called with dev->lock held: the region stays valid until it drops. */
int eng_lkey_seg(struct svd_device *dev, struct svd_pd *pd, uint32_t lkey,
		 uint64_t addr, uint32_t len, bool write, struct eng_seg *seg)
{
	const struct svd_umem *umem;
	uint64_t off;

	if (svd_mem_resolve(dev, pd, lkey, false, addr, len,
			    write ? IBV_ACCESS_LOCAL_WRITE : 0, &umem, &off))
		return IBV_WC_LOC_PROT_ERR;
	seg->umem = umem;
	seg->off = off;
	seg->buf = NULL;
	seg->len = len;
	return 0;
}

/* Build a scatter list from (untrusted, already copied) SGEs. */
int eng_wqe_sgl(struct svd_qp *qp, const struct sv_sge *sge, unsigned int n,
		bool write, struct eng_sgl *sgl)
{
	unsigned int i;
	int status;

	sgl->n = 0;
	sgl->total = 0;
	for (i = 0; i < n; i++) {
		if (!sge[i].length)
			continue; /* zero-length SGEs name no memory */
		status = eng_lkey_seg(qp->uctx->dev, qp->pd, sge[i].lkey,
				      sge[i].addr, sge[i].length, write,
				      &sgl->seg[sgl->n]);
		if (status)
			return status;
		sgl->total += sge[i].length;
		sgl->n++;
	}
	if (sgl->total > UINT32_MAX)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}
