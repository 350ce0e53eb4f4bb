// SPDX-License-Identifier: MIT
/*
 * Knowing that a modify_qp will succeed before the daemon says so.
 *
 * A modify the daemon cannot refuse need not be waited for: the library
 * posts it (transport.c) and the application's next command, which the
 * daemon runs after it, sees its effect. Whether the daemon can refuse it
 * is decided by the very rules the daemon enforces
 * (softverbs/qp_rules.h), run here against
 *  - the floor: what every softverbs device offers (port 1, P_Key index
 *    0, no atomic depth). A modify that passes on the floor passes on any
 *    device; RESET to INIT usually does.
 *  - or the device's own limits, cached per context: device and port
 *    attributes (fixed for a device's life) and which GID indices hold an
 *    address, as of a GID table generation. Every reply carries the
 *    daemon's current generation (sv_reply_hdr.dev_gen); a cache of an
 *    older one is not used.
 *
 * The cache costs three commands; it is filled once a context has sent a
 * few modifies that it would have let us post, so an application with a
 * connection or two never pays for it.
 */
#include <string.h>

#include "svl_prov.h"
#include "svl_qp.h"

/* Postable modifies sent waiting before the cache is worth filling. */
#define LIM_FILL_AFTER 4

static const struct sv_qp_limits lim_floor = {
	.pkey_tbl_len = 1,
	/* The strictest link: an address must be global, and no GID index
	 * is known to hold one. */
	.link_layer = SV_QP_LINK_LAYER_ETHERNET,
};

static uint32_t dev_gen(struct svl_context *ctx)
{
	return atomic_load_explicit(&ctx->dev_gen, memory_order_relaxed);
}

/* Bit i set for each GID index i with an address (one command). */
static int gid_bits(struct ibv_context *ic, uint32_t *bits)
{
	struct ibv_gid_entry e[SV_QP_MAX_GIDS];
	ssize_t n = _ibv_query_gid_table(ic, e, SV_QP_MAX_GIDS, 0, sizeof(e[0]));
	ssize_t i;

	if (n < 0)
		return (int)-n;
	*bits = 0;
	for (i = 0; i < n; i++)
		if (e[i].port_num == 1 && e[i].gid_index < SV_QP_MAX_GIDS)
			*bits |= 1U << e[i].gid_index;
	return 0;
}

/*
 * The device's limits, and the generation they hold for: the GID table
 * read between two equal generations is the one of that generation
 * (replies come in order, and the daemon's generation only grows).
 */
static int lim_fetch(struct ibv_context *ic, struct sv_qp_limits *l,
		     uint32_t *gen)
{
	struct svl_context *ctx = to_svl_ctx(ic);
	struct ibv_device_attr_ex da;
	struct ibv_port_attr pa;
	uint32_t before;
	int ret;

	ret = svl_query_device_ex(ic, NULL, &da, sizeof(da));
	if (!ret)
		ret = svl_query_port_ex(ic, 1, &pa, sizeof(pa));
	if (ret)
		return ret;
	before = dev_gen(ctx);
	ret = gid_bits(ic, &l->gid_valid);
	if (ret)
		return ret;
	if (dev_gen(ctx) != before)
		return EAGAIN; /* the table changed meanwhile: next time */
	l->max_qp_init_rd_atom = (uint32_t)da.orig_attr.max_qp_init_rd_atom;
	l->max_qp_rd_atom = (uint32_t)da.orig_attr.max_qp_rd_atom;
	l->gid_tbl_len = (uint32_t)pa.gid_tbl_len;
	l->pkey_tbl_len = pa.pkey_tbl_len;
	l->max_mtu = (uint8_t)pa.max_mtu;
	l->link_layer = pa.link_layer;
	*gen = before;
	return 0;
}

/* Fill ctx's cache now if it is due; true if it holds for dev_gen. */
static bool lim_ready(struct ibv_context *ic)
{
	struct svl_context *ctx = to_svl_ctx(ic);
	struct sv_qp_limits l;
	uint32_t gen;
	bool due;

	pthread_mutex_lock(&ctx->lim_lock);
	if (ctx->lim_ok && ctx->lim_gen == dev_gen(ctx)) {
		pthread_mutex_unlock(&ctx->lim_lock);
		return true;
	}
	due = ++ctx->lim_misses >= LIM_FILL_AFTER;
	pthread_mutex_unlock(&ctx->lim_lock);
	/* Two threads may fetch at once: both results are right. */
	if (!due || lim_fetch(ic, &l, &gen))
		return false;
	pthread_mutex_lock(&ctx->lim_lock);
	ctx->lim = l;
	ctx->lim_gen = gen;
	ctx->lim_ok = true;
	pthread_mutex_unlock(&ctx->lim_lock);
	return gen == dev_gen(ctx);
}

bool svl_qp_modify_sure(struct ibv_context *ic, uint32_t state,
			uint32_t qp_type, const struct ib_uverbs_modify_qp *c)
{
	struct svl_context *ctx = to_svl_ctx(ic);
	bool sure;

	if (!sv_qp_modify_check(&lim_floor, state, qp_type, c))
		return true;
	if (!lim_ready(ic))
		return false;
	pthread_mutex_lock(&ctx->lim_lock);
	sure = !sv_qp_modify_check(&ctx->lim, state, qp_type, c);
	pthread_mutex_unlock(&ctx->lim_lock);
	return sure;
}
