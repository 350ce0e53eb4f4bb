/* SPDX-License-Identifier: MIT */
/*
 * The NIC as the verbs objects see it: the few things a command must ask
 * the data path to do (forget a QP, wait out a pass, register a doorbell
 * page). The NIC (daemon/nic/nic_ops.c) fills one const table and
 * svd_dev_create() installs it in dev->nic, the way an rdma-core provider
 * fills verbs_context_ops and calls verbs_set_ops(). Every slot is set: a
 * missing function is a link error, never a silent NULL. Unit tests that
 * build a device by hand install svd_soft_nic_ops themselves.
 *
 * Every hook is called WITHOUT dev->lock held (engine.h: lock order).
 */
#ifndef SVD_NIC_H
#define SVD_NIC_H

#include "svd.h"

struct svd_qp;
struct svd_srq;
struct sv_db_page;

struct svd_nic_ops {
	/* Wait until no engine pass runs (it then holds no object pointer). */
	void (*quiesce)(struct svd_device *dev);
	/* Run the engine until nothing is runnable (CQ resize sees it all). */
	void (*drain)(struct svd_device *dev);
	/* A modify moved qp from old_state: flush on ERR, forget on RESET. */
	void (*qp_modified)(struct svd_qp *qp, uint32_t old_state);
	/* Before a destroy the user asked for: send what an unreliable QP
	 * (UD, UC) posted, as a NIC would have by then. */
	void (*qp_send_out)(struct svd_qp *qp);
	/* The same for the context's UD QPs before the AH handle goes. */
	void (*ah_send_out)(struct svd_ucontext *uctx, uint32_t handle,
			    const struct ib_uverbs_ah_attr *attr);
	/* Drop every engine reference to qp / srq before they are freed. */
	void (*qp_destroy)(struct svd_qp *qp);
	void (*srq_destroy)(struct svd_srq *srq);
	/* Doorbell pages: the engine watches a registered page's ring. */
	int (*db_add)(struct svd_device *dev, struct sv_db_page *page,
		      struct svd_ucontext *uctx, uint32_t *index,
		      int *wake_fd);
	void (*db_del)(struct svd_device *dev, uint32_t index);
	/* QPs bound to page index if uctx owns it (stats), else 0. */
	uint32_t (*db_page_qps)(struct svd_device *dev, uint32_t index,
				struct svd_ucontext *uctx);
	/* The port's addresses or MTU changed (verbs/netdev.c). */
	int (*port_changed)(struct svd_device *dev);
	/* The device goes away: after its engine stopped. */
	void (*port_gone)(struct svd_device *dev);
};

/* The software NIC (nic/nic_ops.c). */
extern const struct svd_nic_ops svd_soft_nic_ops;

static inline void svd_nic_quiesce(struct svd_device *dev)
{
	dev->nic->quiesce(dev);
}

#endif
