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

/* The GID at idx on qp's port, or NULL (out of range or invalid). */
static const uint8_t *port_gid_ref(const struct svd_qp *qp, uint8_t idx)
{
	const struct svd_port *port = &qp->uctx->dev->port;

	return idx < SVD_MAX_GIDS && port->gids[idx].valid ?
		       port->gids[idx].gid :
		       NULL;
}

/* The same, copied (zeros when out of range or invalid). */
static void port_gid(const struct svd_qp *qp, uint8_t idx, uint8_t *gid)
{
	const uint8_t *g = port_gid_ref(qp, idx);

	if (g)
		memcpy(gid, g, 16);
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

/* a (NULL: zeros) equals the 16 bytes at b. */
static bool gid_eq(const uint8_t *a, const uint8_t *b)
{
	static const uint8_t zero[16];

	return !memcmp(a ? a : zero, b, 16);
}

/*
 * Does a packet from (slid, global, sgid, dgid) come along dst's path?
 * sgid NULL: zeros. The wire passes a received packet's addresses, a local
 * sender its own QP's (svd_xuser_check): one rule for both.
 */
static bool path_matches_at(const struct svd_qp *dst, uint16_t slid,
			    bool global, const uint8_t *sgid,
			    const uint8_t *dgid)
{
	const struct ib_uverbs_ah_attr *ah = &dst->attr.ah_attr;
	bool ib = dst->uctx->dev->port.attr.link_layer == SVD_LINK_IB;

	/* On IB the LRH always counts; RoCE has no LIDs, only the GRH. */
	if (ib) {
		if (slid != ah->dlid)
			return false;
		if (!ah->is_global || !global)
			return true;
	} else if (!ah->is_global || !global) {
		return false;
	}
	return gid_eq(sgid, ah->grh.dgid) &&
	       gid_eq(port_gid_ref(dst, ah->grh.sgid_index), dgid);
}

static bool path_matches(const struct svd_qp *dst,
			 const struct svd_xuser_addr *from)
{
	return path_matches_at(dst, from->slid, from->global, from->sgid,
			       from->dgid);
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

/*
 * The user rule: 0 refused, 1 allowed, -1 the path decides (a connected
 * dst). UD to a connected QP is let through: its responder drops it (no
 * such opcode).
 */
static int user_rule(const struct svd_qp *dst, uid_t uid, uint32_t qpn,
		     bool ud)
{
	if (!allow_cross_user && uid != qp_owner(dst) && !connected_to(dst, qpn))
		return 0;
	return ud || !is_connected(dst) ? 1 : -1;
}

static bool from_check(const struct svd_qp *dst,
		       const struct svd_xuser_from *f)
{
	int r = user_rule(dst, f->uid, f->qpn, f->ud);

	return r >= 0 ? r : path_matches(dst, &f->addr);
}

/*
 * from_check(dst, svd_xuser_from(src)) without building the record
 * (local_addr's fields read in place): this runs for every packet between
 * two QPs of this daemon.
 */
bool svd_xuser_check(const struct svd_qp *src, const struct svd_qp *dst)
{
	const struct ib_uverbs_ah_attr *sah = &src->attr.ah_attr;
	int r = user_rule(dst, qp_owner(src), src->qpn,
			  src->qp_type == SVD_QPT_UD);

	if (r >= 0)
		return r;
	return path_matches_at(dst, src->uctx->dev->port.attr.lid,
			       sah->is_global,
			       port_gid_ref(src, sah->grh.sgid_index),
			       sah->grh.dgid);
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
