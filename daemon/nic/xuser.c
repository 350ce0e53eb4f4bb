// SPDX-License-Identifier: MIT
/* Cross-user delivery policy: see svd_xuser.h. */
#include <stdatomic.h>
#include <string.h>

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

/* The uid the kernel reported for the command FD that made qp. */
static uid_t qp_owner(const struct svd_qp *qp)
{
	return qp->uctx && qp->uctx->ufile ? qp->uctx->ufile->uid : 0;
}

/* Its owner connected dst to src: that is the owner asking for it. */
static bool connected_to(const struct svd_qp *dst, const struct svd_qp *src)
{
	switch (dst->qp_type) {
	case IB_UVERBS_QPT_RC:
	case IB_UVERBS_QPT_UC:
	case IB_UVERBS_QPT_XRC_TGT:
		return dst->attr.dest_qp_num == src->qpn;
	default:
		return false;
	}
}

bool svd_xuser_allowed(const struct svd_qp *src, const struct svd_qp *dst)
{
	if (allow_cross_user || qp_owner(src) == qp_owner(dst) ||
	    connected_to(dst, src))
		return true;
	atomic_fetch_add(&refused, 1);
	return false;
}

unsigned long svd_xuser_refused(void)
{
	return atomic_load(&refused);
}
