// SPDX-License-Identifier: MIT
/*
 * ibv_advise_mr (UVERBS_METHOD_ADVISE_MR) on ODP regions (docs/odp.md).
 *
 * Every SGE is checked first: its lkey names an ON_DEMAND region of the
 * PD, the range lies inside it, and PREFETCH_WRITE needs LOCAL_WRITE.
 * Then PREFETCH and PREFETCH_WRITE read the range through the memory
 * module, 64 KiB per read, which faults every page in the client (a
 * write fault cannot be made from here: storing a byte back could race
 * with the client's own stores; the library makes it in the registrar,
 * lib/providers/softverbs/mr_odp.c). PREFETCH_NO_FAULT only
 * checks, as it must not fault. With IBV_ADVISE_MR_FLAG_FLUSH (sync) a
 * page that cannot be faulted in fails the call with EFAULT; without it
 * (async, best effort as in the kernel) the faults are still made before
 * returning but their failures are not reported.
 */
#include <unistd.h>

#include "svd_keys.h"
#include "svd_mem.h"

struct advise {
	struct svd_device *dev;
	const struct svd_pd *pd;
	uint32_t need;
};

/*
 * No such region of this PD, or not writable: ENOENT (mlx5); not ODP:
 * EOPNOTSUPP; a range outside the region: EFAULT.
 */
static int sge_check(const struct advise *a, const struct ib_uverbs_sge *s)
{
	const struct svd_umem *umem;
	struct svd_mr *mr;
	uint64_t off;
	int ret = -ENOENT;

	pthread_mutex_lock(&a->dev->lock);
	mr = svd_dev_key_find(a->dev, s->lkey);
	if (mr && mr->lkey != s->lkey)
		mr = NULL; /* a stale key of a reused slot */
	if (mr && !mr->is_mw && !(mr->access & IB_UVERBS_ACCESS_ON_DEMAND))
		ret = -EOPNOTSUPP;
	else if (mr)
		ret = svd_mem_resolve(a->dev, a->pd, s->lkey, false, s->addr,
				      s->length, a->need, &umem, &off);
	pthread_mutex_unlock(&a->dev->lock);
	if (ret == -EINVAL || ret == -EACCES)
		return -ENOENT;
	return ret;
}

#define TOUCH_CHUNK (64 * 1024)

/*
 * Fault [iova, iova + len) in (len <= TOUCH_CHUNK): one read of the range
 * through the memory module, which faults each page in the client. The
 * region is looked up again for each chunk under dev->lock, so a
 * concurrent deregistration is seen, never a freed umem.
 */
static int touch_chunk(const struct advise *a, uint32_t lkey, uint64_t iova,
		       uint64_t len)
{
	static __thread uint8_t sink[TOUCH_CHUNK];
	const struct svd_umem *umem;
	uint64_t off;
	int ret;

	pthread_mutex_lock(&a->dev->lock);
	ret = svd_mem_resolve(a->dev, a->pd, lkey, false, iova, len, 0, &umem,
			      &off);
	if (!ret)
		ret = svd_mem_read(umem, off, sink, (size_t)len);
	pthread_mutex_unlock(&a->dev->lock);
	return ret;
}

static int sge_touch(const struct advise *a, const struct ib_uverbs_sge *s)
{
	uint64_t iova = s->addr, end = s->addr + s->length, n;
	int ret;

	for (; iova < end; iova += n) {
		/* Chunks end on a TOUCH_CHUNK boundary (whole pages). */
		n = TOUCH_CHUNK - (iova & (TOUCH_CHUNK - 1));
		if (n > end - iova)
			n = end - iova;
		ret = touch_chunk(a, s->lkey, iova, n);
		if (ret)
			return ret == -ESRCH ? ret : -EFAULT;
	}
	return 0;
}

int svd_mr_advise(struct svd_bundle *b, const struct svd_pd *pd,
		  uint32_t advice, uint32_t flags,
		  const struct ib_uverbs_sge *sge, size_t n)
{
	struct advise a = { .dev = b->dev, .pd = pd };
	size_t i;
	int ret = 0;

	if (advice == IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH_WRITE)
		a.need = IB_UVERBS_ACCESS_LOCAL_WRITE;
	else if (advice != IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH &&
		 advice != IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT)
		return -EOPNOTSUPP;
	for (i = 0; i < n && !ret; i++)
		ret = sge_check(&a, &sge[i]);
	if (ret || advice == IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT)
		return ret;
	for (i = 0; i < n && !ret; i++)
		ret = sge_touch(&a, &sge[i]);
	return (flags & IB_UVERBS_ADVISE_MR_FLAG_FLUSH) ? ret : 0;
}
