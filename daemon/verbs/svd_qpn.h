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

/* Kernel enums the uapi headers leave out (values are the ABI). */
enum svd_qp_state {
	SVD_QPS_RESET, SVD_QPS_INIT, SVD_QPS_RTR, SVD_QPS_RTS, SVD_QPS_SQD,
	SVD_QPS_SQE, SVD_QPS_ERR,
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

/* enum ib_qp_attr_mask */
enum svd_qp_attr_mask {
	SVD_QP_STATE = 1 << 0,
	SVD_QP_CUR_STATE = 1 << 1,
	SVD_QP_EN_SQD_ASYNC_NOTIFY = 1 << 2,
	SVD_QP_ACCESS_FLAGS = 1 << 3,
	SVD_QP_PKEY_INDEX = 1 << 4,
	SVD_QP_PORT = 1 << 5,
	SVD_QP_QKEY = 1 << 6,
	SVD_QP_AV = 1 << 7,
	SVD_QP_PATH_MTU = 1 << 8,
	SVD_QP_TIMEOUT = 1 << 9,
	SVD_QP_RETRY_CNT = 1 << 10,
	SVD_QP_RNR_RETRY = 1 << 11,
	SVD_QP_RQ_PSN = 1 << 12,
	SVD_QP_MAX_QP_RD_ATOMIC = 1 << 13,
	SVD_QP_ALT_PATH = 1 << 14,
	SVD_QP_MIN_RNR_TIMER = 1 << 15,
	SVD_QP_SQ_PSN = 1 << 16,
	SVD_QP_MAX_DEST_RD_ATOMIC = 1 << 17,
	SVD_QP_PATH_MIG_STATE = 1 << 18,
	SVD_QP_CAP = 1 << 19,
	SVD_QP_DEST_QPN = 1 << 20,
	SVD_QP_RATE_LIMIT = 1 << 25,
};

/* enum ib_srq_attr_mask */
#define SVD_SRQ_MAX_WR 1U
#define SVD_SRQ_LIMIT 2U
#define SVD_MTU_256 1
#define SVD_MIG_ARMED 2
#define SVD_LINK_LAYER_ETHERNET 2

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
