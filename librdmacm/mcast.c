// SPDX-License-Identifier: MIT
/*
 * Multicast on UD ids, as rdma-core's librdmacm does it: the join goes to
 * the daemon's CM, which answers with MULTICAST_JOIN; on that event the
 * library attaches the id's QP to the MGID (unless the join is send-only)
 * and hands the join's context in param.ud.private_data. Leaving detaches.
 * The MGID follows rdma_cm on RoCEv2: IPv4 a.b.c.d -> ::ffff:a.b.c.d.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cma_priv.h"

struct cma_mc {
	union ibv_gid mgid;
	void *context;
	bool sendonly;
	bool attached;
	struct cma_mc *next;
};

/* The MGID of a group address; -EINVAL for anything but IPv4/IPv6. */
static int group_mgid(const struct sockaddr *sa, union ibv_gid *mgid)
{
	memset(mgid, 0, sizeof(*mgid));
	if (sa && sa->sa_family == AF_INET) {
		mgid->raw[10] = mgid->raw[11] = 0xff;
		memcpy(&mgid->raw[12],
		       &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(mgid->raw,
		       &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return sa && sa->sa_family == AF_IB ? -EAFNOSUPPORT : -EINVAL;
}

/* Under p->lock: the slot holding the join of mgid (or the list's end). */
static struct cma_mc **mc_slot(struct cma_id_private *p,
			       const union ibv_gid *mgid)
{
	struct cma_mc **m;

	for (m = &p->mcs; *m; m = &(*m)->next)
		if (!memcmp((*m)->mgid.raw, mgid->raw, 16))
			return m;
	return m;
}

/* MULTICAST_JOIN: attach the QP; a failure becomes MULTICAST_ERROR. */
void cma_mc_joined(struct rdma_cm_event *ev, struct cma_id_private *p)
{
	struct rdma_ud_param *ud = &ev->param.ud;
	struct cma_mc *mc;
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	mc = *mc_slot(p, &ud->ah_attr.grh.dgid);
	if (mc) {
		ud->private_data = mc->context;
		if (p->id.qp && !mc->sendonly && !mc->attached)
			ret = ibv_attach_mcast(p->id.qp, &mc->mgid, 0);
		mc->attached = mc->attached || (p->id.qp && !mc->sendonly &&
						!ret);
	}
	pthread_mutex_unlock(&p->lock);
	ud->private_data_len = 0;
	if (ret) {
		ev->event = RDMA_CM_EVENT_MULTICAST_ERROR;
		ev->status = -ret;
	}
}

/* Unlink the join of mgid, detaching the QP it attached. */
static int mc_leave(struct cma_id_private *p, const union ibv_gid *mgid)
{
	struct cma_mc **slot, *mc;
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	slot = mc_slot(p, mgid);
	mc = *slot;
	if (mc)
		*slot = mc->next;
	pthread_mutex_unlock(&p->lock);
	if (!mc)
		return -EADDRNOTAVAIL;
	if (mc->attached && p->id.qp)
		ret = ibv_detach_mcast(p->id.qp, &mc->mgid, 0);
	free(mc);
	return ret > 0 ? -ret : ret;
}

void cma_mc_free_all(struct cma_id_private *p)
{
	while (p->mcs) {
		struct cma_mc *mc = p->mcs;

		p->mcs = mc->next;
		free(mc);
	}
}

static int join(struct rdma_cm_id *id, const struct sockaddr *addr,
		bool sendonly, void *context)
{
	struct cma_id_private *p = to_priv(id);
	struct cma_mc *mc, **slot;
	union ibv_gid mgid;
	int ret = group_mgid(addr, &mgid);

	if (ret)
		return ret;
	mc = calloc(1, sizeof(*mc));
	if (!mc)
		return -ENOMEM;
	mc->mgid = mgid;
	mc->context = context;
	mc->sendonly = sendonly;
	pthread_mutex_lock(&p->lock);
	slot = mc_slot(p, &mgid);
	ret = *slot ? -EADDRINUSE : 0; /* the kernel refuses a second join */
	if (!ret)
		*slot = mc;
	pthread_mutex_unlock(&p->lock);
	if (ret) {
		free(mc);
		return ret;
	}
	ret = cma_join_call(p, addr);
	if (ret) {
		mc_leave(p, &mgid);
		return ret;
	}
	return p->sync ? cma_sync_wait(p, RDMA_CM_EVENT_MULTICAST_JOIN) : 0;
}

int rdma_join_multicast(struct rdma_cm_id *id, struct sockaddr *addr,
			void *context)
{
	return cma_errno(join(id, addr, false, context));
}

int rdma_join_multicast_ex(struct rdma_cm_id *id,
			   struct rdma_cm_join_mc_attr_ex *attr, void *context)
{
	const uint32_t need = RDMA_CM_JOIN_MC_ATTR_ADDRESS |
			      RDMA_CM_JOIN_MC_ATTR_JOIN_FLAGS;

	if (!attr || (attr->comp_mask & need) != need ||
	    attr->comp_mask & ~need)
		return cma_errno(-EINVAL);
	if (attr->join_flags != RDMA_MC_JOIN_FLAG_FULLMEMBER &&
	    attr->join_flags != RDMA_MC_JOIN_FLAG_SENDONLY_FULLMEMBER)
		return cma_errno(-EINVAL);
	return cma_errno(join(id, attr->addr,
			      attr->join_flags ==
				      RDMA_MC_JOIN_FLAG_SENDONLY_FULLMEMBER,
			      context));
}

int rdma_leave_multicast(struct rdma_cm_id *id, struct sockaddr *addr)
{
	union ibv_gid mgid;
	int ret = group_mgid(addr, &mgid);

	if (!ret)
		ret = mc_leave(to_priv(id), &mgid);
	return cma_errno(ret);
}
