/* SPDX-License-Identifier: MIT */
/*
 * Device-wide number maps (qpn.c) and the QP/SRQ/XRCD module internals
 * shared by std_qp.c, std_srq.c and std_xrcd.c.
 *
 * QP numbers and SRQ numbers are device-wide (a remote peer names them on
 * the wire). Both maps are published and unpublished under dev->lock; the
 * engine looks them up under dev->lock with svd_dev_qp_find() and
 * svd_dev_srq_find().
 */
#ifndef SVD_QPN_H
#define SVD_QPN_H

#include "svd.h"
#include "svd_nic.h"
#include "svd_objs.h"
#include <softverbs/qp_rules.h>

/* Largest inline payload a send WQE may carry. */
#define SVD_QP_MAX_INLINE 256U
/* Numbers are 24 bits on the wire; 0 and 1 are the special QPs. */
#define SVD_QPN_MASK 0xffffffU

/* Allocate a free number >= 2 and publish qp under it. Takes dev->lock. */
int svd_qpn_insert(struct svd_device *dev, struct svd_qp *qp);
/* Unpublish qp->qpn. Takes dev->lock. */
void svd_qpn_remove(struct svd_device *dev, struct svd_qp *qp);
/* The same for SRQ numbers (XRC senders name a remote SRQ by number). */
int svd_srqn_insert(struct svd_device *dev, struct svd_srq *srq);
void svd_srqn_remove(struct svd_device *dev, struct svd_srq *srq);
/* Under dev->lock, like svd_dev_qp_find(). */
struct svd_srq *svd_dev_srq_find(struct svd_device *dev, uint32_t srqn);

/* An XRC domain: XRC_TGT QPs and XRC SRQs hang off it. */
struct svd_xrcd {
	struct svd_ucontext *uctx;
	/* Domain number: shared by every open of the same inode. */
	uint32_t xrcdn;
	void *inode; /* std_xrcd.c's shared entry, or NULL */
	atomic_int usecnt; /* XRC_TGT QPs and XRC SRQs */
};

/* The QP states of the modify rules (softverbs/qp_rules.h). */
enum svd_qp_state {
	SVD_QPS_RESET = SV_QPS_RESET,
	SVD_QPS_INIT = SV_QPS_INIT,
	SVD_QPS_RTR = SV_QPS_RTR,
	SVD_QPS_RTS = SV_QPS_RTS,
	SVD_QPS_SQD = SV_QPS_SQD,
	SVD_QPS_SQE = SV_QPS_SQE,
	SVD_QPS_ERR = SV_QPS_ERR,
};

enum svd_qp_type {
	SVD_QPT_RC = IB_UVERBS_QPT_RC,
	SVD_QPT_UC = IB_UVERBS_QPT_UC,
	SVD_QPT_UD = IB_UVERBS_QPT_UD,
	SVD_QPT_RAW_PACKET = IB_UVERBS_QPT_RAW_PACKET,
	SVD_QPT_XRC_INI = IB_UVERBS_QPT_XRC_INI,
	SVD_QPT_XRC_TGT = IB_UVERBS_QPT_XRC_TGT,
	SVD_QPT_DRIVER = IB_UVERBS_QPT_DRIVER,
};

/* enum ib_srq_attr_mask */
#define SVD_SRQ_MAX_WR 1U
#define SVD_SRQ_LIMIT 2U

/*
 * The XRC domain number of an XRC_TGT QP / XRC SRQ (0 if none): the engine
 * delivers to an XRC SRQ only from a target QP of the same domain.
 */
uint32_t svd_qp_xrcdn(const struct svd_qp *qp);
uint32_t svd_srq_xrcdn(const struct svd_srq *srq);

/* Same stride on both sides: see sv_recv_wqe_stride() in the ABI header. */
static inline uint32_t svd_rq_stride(uint32_t max_recv_sge)
{
	return sv_recv_wqe_stride(max_recv_sge);
}

static inline bool svd_is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

#endif
