// SPDX-License-Identifier: MIT
/* Who may deliver to a QP: see svd_xuser.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "svd_xuser.h"

static bool allow_cross_user;
static atomic_ulong refused;

int svd_xuser_parse_arg(const char *arg)
{
	static const char opt[] = "--cross-user=";

	if (strncmp(arg, opt, sizeof(opt) - 1))
		return 0;
	arg += sizeof(opt) - 1;
	if (!strcmp(arg, "allow"))
		allow_cross_user = true;
	else if (!strcmp(arg, "deny"))
		allow_cross_user = false;
	else
		return -1;
	return 1;
}

static void refuse(const struct svd_qp *dst)
{
	atomic_fetch_add(&refused, 1);
	atomic_fetch_add(&dst->uctx->dev->pkts_refused, 1);
}

/* The uid the kernel reported for the command FD that made qp. */
static uid_t qp_owner(const struct svd_qp *qp)
{
	return qp->uctx && qp->uctx->ufile ? qp->uctx->ufile->uid : 0;
}

static bool is_connected(const struct svd_qp *qp)
{
	return qp->qp_type == SVD_QPT_RC || qp->qp_type == SVD_QPT_UC ||
	       qp->qp_type == SVD_QPT_XRC_TGT;
}

/* Its owner connected dst to QP srcqpn: that is the owner asking for it. */
static bool connected_to(const struct svd_qp *dst, uint32_t srcqpn)
{
	return is_connected(dst) && dst->attr.dest_qp_num == srcqpn;
}

/* The GID at a path's source index on qp's port (zeros when out of range). */
static void port_gid(const struct svd_qp *qp, uint8_t idx, uint8_t *gid)
{
	const struct svd_port *port = &qp->uctx->dev->port;

	if (idx < SVD_MAX_GIDS && port->gids[idx].valid)
		memcpy(gid, port->gids[idx].gid, 16);
	else
		memset(gid, 0, 16);
}

/* What a packet from a local connected QP carries (eng_req.c: req_addr). */
static void local_addr(const struct svd_qp *src, struct svd_xuser_addr *a)
{
	const struct ib_uverbs_ah_attr *ah = &src->attr.ah_attr;

	a->slid = src->uctx->dev->port.attr.lid;
	a->dlid = ah->dlid;
	a->global = ah->is_global;
	port_gid(src, ah->grh.sgid_index, a->sgid);
	memcpy(a->dgid, ah->grh.dgid, 16);
}

static bool path_matches(const struct svd_qp *dst,
			 const struct svd_xuser_addr *from)
{
	const struct ib_uverbs_ah_attr *ah = &dst->attr.ah_attr;
	bool ib = dst->uctx->dev->port.attr.link_layer == SVD_LINK_IB;
	uint8_t own[16];

	/* On IB the LRH always counts; RoCE has no LIDs, only the GRH. */
	if (ib) {
		if (from->slid != ah->dlid)
			return false;
		if (!ah->is_global || !from->global)
			return true;
	} else if (!ah->is_global || !from->global) {
		return false;
	}
	if (memcmp(from->sgid, ah->grh.dgid, 16))
		return false;
	port_gid(dst, ah->grh.sgid_index, own);
	return !memcmp(from->dgid, own, 16);
}

bool svd_xuser_path_ok(const struct svd_qp *dst,
		       const struct svd_xuser_addr *from)
{
	if (!is_connected(dst) || path_matches(dst, from))
		return true;
	refuse(dst);
	return false;
}

void svd_xuser_from(const struct svd_qp *src, struct svd_xuser_from *f)
{
	memset(f, 0, sizeof(*f));
	f->uid = qp_owner(src);
	f->qpn = src->qpn;
	f->ud = src->qp_type == SVD_QPT_UD;
	if (!f->ud)
		local_addr(src, &f->addr);
}

static bool from_check(const struct svd_qp *dst,
		       const struct svd_xuser_from *f)
{
	if (!allow_cross_user && f->uid != qp_owner(dst) &&
	    !connected_to(dst, f->qpn))
		return false;
	/* UD to a connected QP: its responder drops it (no such opcode). */
	if (f->ud)
		return true;
	return !is_connected(dst) || path_matches(dst, &f->addr);
}

/* The GID at idx on qp's port, or NULL (out of range or invalid). */
static const uint8_t *port_gid_ref(const struct svd_qp *qp, uint8_t idx)
{
	const struct svd_port *port = &qp->uctx->dev->port;

	return idx < SVD_MAX_GIDS && port->gids[idx].valid ?
		       port->gids[idx].gid :
		       NULL;
}

/* a (NULL: zeros) equals the 16 bytes at b. */
static bool gid_eq(const uint8_t *a, const uint8_t *b)
{
	static const uint8_t zero[16];

	return !memcmp(a ? a : zero, b, 16);
}

/*
 * path_matches(dst, the address local_addr(src) gives), compared in place:
 * this runs for every packet between two QPs of this daemon.
 */
static bool local_path_matches(const struct svd_qp *src,
			       const struct svd_qp *dst)
{
	const struct ib_uverbs_ah_attr *sah = &src->attr.ah_attr;
	const struct ib_uverbs_ah_attr *dah = &dst->attr.ah_attr;
	const uint8_t *own;

	if (dst->uctx->dev->port.attr.link_layer == SVD_LINK_IB) {
		if (src->uctx->dev->port.attr.lid != dah->dlid)
			return false;
		if (!dah->is_global || !sah->is_global)
			return true;
	} else if (!dah->is_global || !sah->is_global) {
		return false;
	}
	if (!gid_eq(port_gid_ref(src, sah->grh.sgid_index), dah->grh.dgid))
		return false;
	own = port_gid_ref(dst, dah->grh.sgid_index);
	return gid_eq(own, sah->grh.dgid);
}

/* from_check(dst, svd_xuser_from(src)), without building the record. */
bool svd_xuser_check(const struct svd_qp *src, const struct svd_qp *dst)
{
	if (!allow_cross_user && qp_owner(src) != qp_owner(dst) &&
	    !connected_to(dst, src->qpn))
		return false;
	if (src->qp_type == SVD_QPT_UD)
		return true;
	return !is_connected(dst) || local_path_matches(src, dst);
}

bool svd_xuser_from_allowed(const struct svd_qp *dst,
			    const struct svd_xuser_from *f)
{
	if (from_check(dst, f))
		return true;
	refuse(dst);
	return false;
}

bool svd_xuser_allowed(const struct svd_qp *src, const struct svd_qp *dst)
{
	if (svd_xuser_check(src, dst))
		return true;
	refuse(dst);
	return false;
}

unsigned long svd_xuser_refused(void)
{
	return atomic_load(&refused);
}

void svd_xuser_describe(struct svd_device *dev, char *buf, size_t len)
{
	struct svd_engine *e = eng_of(dev);
	unsigned long long drops = 0, req = 0, dup = 0;
	const struct eng_qp *eq;

	if (e) {
		pthread_mutex_lock(&e->lock);
		for (eq = e->qps; eq; eq = eq->next) {
			drops += eq->foreign_drops;
			req += eq->rc_req_psns;
			dup += eq->rc_dup_psns;
		}
		pthread_mutex_unlock(&e->lock);
	}
	snprintf(buf, len, "refused=%lu foreign_drops=%llu rc_req_psns=%llu "
		 "rc_dup_psns=%llu", atomic_load(&dev->pkts_refused), drops,
		 req, dup);
}
