// SPDX-License-Identifier: MIT
/*
 * Multicast attach/detach: legacy write commands ATTACH_MCAST and
 * DETACH_MCAST, with the kernel's ib_attach_mcast() checks. The group table
 * is daemon-wide, each entry tagged with its device, and guarded by
 * dev->lock (the engine delivers under it too).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svd_mcast.h"
#include "svd_objs.h"
#include "svd_qpn.h"

struct mc_group {
	struct svd_device *dev;
	uint8_t mgid[16];
	uint16_t mlid;
	unsigned int nqps;
	uint32_t qpns[SVD_MCAST_MAX_QP_ATTACH];
	struct mc_group *next;
};

static struct mc_group *groups;

bool svd_gid_is_mcast(const uint8_t *gid)
{
	static const uint8_t v4map[12] = { [10] = 0xff, [11] = 0xff };

	if (gid[0] == 0xff)
		return true;
	return !memcmp(gid, v4map, sizeof(v4map)) && (gid[12] & 0xf0) == 0xe0;
}

/* RoCE ports have no LIDs: their groups are keyed by MGID alone. */
static uint16_t group_lid(const struct svd_device *dev, uint16_t lid)
{
	return dev->port.attr.link_layer == SVD_LINK_IB ? lid : 0;
}

static bool group_matches(const struct mc_group *g, const uint8_t *gid,
			  uint16_t lid)
{
	return g->mlid == lid && (!gid || !memcmp(g->mgid, gid, 16));
}

static struct mc_group **group_slot(struct svd_device *dev,
				    const uint8_t *gid, uint16_t lid)
{
	struct mc_group **g;

	lid = group_lid(dev, lid);
	for (g = &groups; *g; g = &(*g)->next)
		if ((*g)->dev == dev && group_matches(*g, gid, lid))
			return g;
	return g;
}

static unsigned int group_count(struct svd_device *dev)
{
	unsigned int n = 0;

	for (struct mc_group *g = groups; g; g = g->next)
		n += g->dev == dev;
	return n;
}

static int member_index(const struct mc_group *g, uint32_t qpn)
{
	for (unsigned int i = 0; i < g->nqps; i++)
		if (g->qpns[i] == qpn)
			return (int)i;
	return -1;
}

unsigned int svd_mcast_members(struct svd_device *dev, const uint8_t *gid,
			       uint16_t lid, uint32_t *qpns)
{
	lid = group_lid(dev, lid);
	for (struct mc_group *g = groups; g; g = g->next) {
		if (g->dev != dev || !group_matches(g, gid, lid))
			continue;
		memcpy(qpns, g->qpns, g->nqps * sizeof(*qpns));
		return g->nqps;
	}
	return 0;
}

/* Removes member i; frees the group when it empties. */
static void group_drop(struct mc_group **slot, unsigned int i)
{
	struct mc_group *g = *slot;

	g->qpns[i] = g->qpns[--g->nqps];
	if (g->nqps)
		return;
	*slot = g->next;
	free(g);
}

void svd_mcast_qp_gone(struct svd_device *dev, uint32_t qpn)
{
	struct mc_group **slot = &groups;

	while (*slot) {
		struct mc_group *g = *slot;
		int i = g->dev == dev ? member_index(g, qpn) : -1;

		if (i >= 0 && g->nqps == 1) {
			group_drop(slot, (unsigned int)i);
			continue; /* *slot is now the next group */
		}
		if (i >= 0)
			group_drop(slot, (unsigned int)i);
		slot = &g->next;
	}
}

static int group_attach(struct svd_device *dev, const uint8_t *gid,
			uint16_t lid, uint32_t qpn)
{
	struct mc_group **slot = group_slot(dev, gid, lid);
	struct mc_group *g = *slot;

	if (g && member_index(g, qpn) >= 0)
		return 0; /* already attached: the kernel says 0 too */
	if (g && g->nqps == SVD_MCAST_MAX_QP_ATTACH)
		return -ENOMEM;
	if (!g) {
		if (group_count(dev) >= SVD_MCAST_MAX_GRP)
			return -ENOMEM;
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		g->dev = dev;
		memcpy(g->mgid, gid, 16);
		g->mlid = group_lid(dev, lid);
		*slot = g;
	}
	g->qpns[g->nqps++] = qpn;
	return 0;
}

static int group_detach(struct svd_device *dev, const uint8_t *gid,
			uint16_t lid, uint32_t qpn)
{
	struct mc_group **slot = group_slot(dev, gid, lid);
	int i;

	if (!*slot)
		return -EINVAL;
	i = member_index(*slot, qpn);
	if (i < 0)
		return -EINVAL;
	group_drop(slot, (unsigned int)i);
	return 0;
}

/*
 * The kernel's checks: a UD QP, a multicast GID, and on IB ports a LID in
 * the multicast range (RoCE ignores the LID).
 */
static int mcast_valid(const struct svd_qp *qp, const uint8_t *gid,
		       uint16_t lid)
{
	const struct svd_device *dev = qp->uctx->dev;

	if (qp->qp_type != SVD_QPT_UD || !svd_gid_is_mcast(gid))
		return -EINVAL;
	if (dev->port.attr.link_layer == SVD_LINK_IB &&
	    (lid < 0xc000 || lid == 0xffff))
		return -EINVAL;
	return 0;
}

static int mcast_cmd(struct svd_bundle *b, bool attach)
{
	const struct ib_uverbs_attach_mcast *c = svd_write_req(b, NULL);
	struct svd_device *dev = b->uctx->dev;
	struct svd_uobj *u;
	struct svd_qp *qp;
	int ret;

	u = svd_uobj_lookup(b->uctx, &svd_type_qp, c->qp_handle,
			    SVD_LOOKUP_READ);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	qp = u->object;
	ret = mcast_valid(qp, c->gid, c->mlid);
	if (!ret) {
		pthread_mutex_lock(&dev->lock);
		ret = attach ? group_attach(dev, c->gid, c->mlid, qp->qpn) :
			       group_detach(dev, c->gid, c->mlid, qp->qpn);
		pthread_mutex_unlock(&dev->lock);
	}
	svd_uobj_unlock(u, SVD_LOOKUP_READ);
	return ret;
}

/* write(): IB_USER_VERBS_CMD_ATTACH_MCAST */
static int write_attach_mcast(struct svd_bundle *b)
{
	return mcast_cmd(b, true);
}

/* write(): IB_USER_VERBS_CMD_DETACH_MCAST (same layout as attach) */
static int write_detach_mcast(struct svd_bundle *b)
{
	return mcast_cmd(b, false);
}

const struct svd_module svd_mod_mcast = {
    .name = "mcast",
    SVD_WRITE_CMDS(SVD_WRITE_NO_RESP(IB_USER_VERBS_CMD_ATTACH_MCAST,
				     write_attach_mcast,
				     struct ib_uverbs_attach_mcast),
		   SVD_WRITE_NO_RESP(IB_USER_VERBS_CMD_DETACH_MCAST,
				     write_detach_mcast,
				     struct ib_uverbs_detach_mcast)),
};
