/* SPDX-License-Identifier: MIT */
/*
 * The rules of ibv_modify_qp: the IBTA state machine (which attributes a
 * transition takes) and the value checks, as the kernel applies them.
 *
 * The daemon enforces them (daemon/verbs/std_qp.c). The library runs the
 * very same checks before a modify it would like to post without waiting
 * for the reply (lib/providers/softverbs/qp.c): a modify these rules
 * accept cannot be refused by the daemon, unless the device changed
 * meanwhile (its GID table: see sv_reply_hdr.dev_gen in abi.h). One copy
 * of the rules, so the two can never disagree.
 */
#ifndef SOFTVERBS_QP_RULES_H
#define SOFTVERBS_QP_RULES_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <rdma/ib_user_verbs.h>
#include <rdma/ib_user_ioctl_verbs.h>

/* Kernel enums the uapi headers leave out (values are the ABI). */
enum sv_qp_state {
	SV_QPS_RESET, SV_QPS_INIT, SV_QPS_RTR, SV_QPS_RTS, SV_QPS_SQD,
	SV_QPS_SQE, SV_QPS_ERR,
};

/* enum ib_qp_attr_mask (the same bits as enum ibv_qp_attr_mask) */
enum sv_qp_attr_mask {
	SV_QPA_STATE = 1 << 0,
	SV_QPA_CUR_STATE = 1 << 1,
	SV_QPA_EN_SQD_ASYNC_NOTIFY = 1 << 2,
	SV_QPA_ACCESS_FLAGS = 1 << 3,
	SV_QPA_PKEY_INDEX = 1 << 4,
	SV_QPA_PORT = 1 << 5,
	SV_QPA_QKEY = 1 << 6,
	SV_QPA_AV = 1 << 7,
	SV_QPA_PATH_MTU = 1 << 8,
	SV_QPA_TIMEOUT = 1 << 9,
	SV_QPA_RETRY_CNT = 1 << 10,
	SV_QPA_RNR_RETRY = 1 << 11,
	SV_QPA_RQ_PSN = 1 << 12,
	SV_QPA_MAX_QP_RD_ATOMIC = 1 << 13,
	SV_QPA_ALT_PATH = 1 << 14,
	SV_QPA_MIN_RNR_TIMER = 1 << 15,
	SV_QPA_SQ_PSN = 1 << 16,
	SV_QPA_MAX_DEST_RD_ATOMIC = 1 << 17,
	SV_QPA_PATH_MIG_STATE = 1 << 18,
	SV_QPA_CAP = 1 << 19,
	SV_QPA_DEST_QPN = 1 << 20,
	SV_QPA_RATE_LIMIT = 1 << 25,
};

#define SV_QP_MTU_256 1
#define SV_QP_MIG_ARMED 2
#define SV_QP_LINK_LAYER_ETHERNET 2
#define SV_QP_MAX_GIDS 16
/* Numbers are 24 bits on the wire. */
#define SV_QP_NUM_MASK 0xffffffU

enum {
	SV_T_UD, SV_T_UC, SV_T_RC, SV_T_XI, SV_T_XT, SV_T_RAW, SV_T_NR
};

struct sv_qp_trans {
	bool valid;
	uint32_t req[SV_T_NR];
	uint32_t opt[SV_T_NR];
};

#define M(x) SV_QPA_##x
#define RC_RTR_REQ (M(AV) | M(PATH_MTU) | M(DEST_QPN) | M(RQ_PSN) |           \
		    M(MAX_DEST_RD_ATOMIC) | M(MIN_RNR_TIMER))
#define UC_RTR_REQ (M(AV) | M(PATH_MTU) | M(DEST_QPN) | M(RQ_PSN))
#define RC_RTS_REQ (M(TIMEOUT) | M(RETRY_CNT) | M(RNR_RETRY) | M(SQ_PSN) |     \
		    M(MAX_QP_RD_ATOMIC))
#define CONN_INIT (M(PKEY_INDEX) | M(PORT) | M(ACCESS_FLAGS))
#define UD_INIT (M(PKEY_INDEX) | M(PORT) | M(QKEY))
#define UC_RTS_OPT (M(CUR_STATE) | M(ALT_PATH) | M(ACCESS_FLAGS) |             \
		    M(PATH_MIG_STATE))
#define RC_RTS_OPT (UC_RTS_OPT | M(MIN_RNR_TIMER))
#define UD_RTS_OPT (M(CUR_STATE) | M(QKEY))
#define RTR_OPT (M(ALT_PATH) | M(ACCESS_FLAGS) | M(PKEY_INDEX))

/* Per type: UD, UC, RC, XRC_INI, XRC_TGT (kernel ib_modify_qp_is_ok). */
static const struct sv_qp_trans sv_qp_table[SV_QPS_ERR + 1][SV_QPS_ERR + 1] = {
	[SV_QPS_RESET] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_INIT] = { .valid = true,
			.req = { UD_INIT, CONN_INIT, CONN_INIT, CONN_INIT,
				 CONN_INIT, M(PORT) } },
	},
	[SV_QPS_INIT] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_ERR] = { .valid = true },
		[SV_QPS_INIT] = { .valid = true,
			.opt = { UD_INIT, CONN_INIT, CONN_INIT, CONN_INIT,
				 CONN_INIT } },
		[SV_QPS_RTR] = { .valid = true,
			.req = { 0, UC_RTR_REQ, RC_RTR_REQ, UC_RTR_REQ,
				 RC_RTR_REQ },
			.opt = { M(PKEY_INDEX) | M(QKEY), RTR_OPT, RTR_OPT,
				 RTR_OPT, RTR_OPT } },
	},
	[SV_QPS_RTR] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_ERR] = { .valid = true },
		[SV_QPS_RTS] = { .valid = true,
			.req = { M(SQ_PSN), M(SQ_PSN), RC_RTS_REQ, RC_RTS_REQ,
				 M(TIMEOUT) | M(SQ_PSN) },
			.opt = { UD_RTS_OPT, UC_RTS_OPT, RC_RTS_OPT,
				 UC_RTS_OPT, RC_RTS_OPT, M(RATE_LIMIT) } },
	},
	[SV_QPS_RTS] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_ERR] = { .valid = true },
		[SV_QPS_RTS] = { .valid = true,
			.opt = { UD_RTS_OPT, UC_RTS_OPT, RC_RTS_OPT,
				 UC_RTS_OPT, RC_RTS_OPT, M(RATE_LIMIT) } },
		[SV_QPS_SQD] = { .valid = true,
			.opt = { M(EN_SQD_ASYNC_NOTIFY), M(EN_SQD_ASYNC_NOTIFY),
				 M(EN_SQD_ASYNC_NOTIFY), M(EN_SQD_ASYNC_NOTIFY),
				 M(EN_SQD_ASYNC_NOTIFY) } },
	},
	[SV_QPS_SQD] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_ERR] = { .valid = true },
		[SV_QPS_RTS] = { .valid = true,
			.opt = { UD_RTS_OPT, UC_RTS_OPT, RC_RTS_OPT,
				 UC_RTS_OPT, RC_RTS_OPT } },
		[SV_QPS_SQD] = { .valid = true,
			.opt = { M(PKEY_INDEX) | M(QKEY),
				 M(AV) | M(ALT_PATH) | M(ACCESS_FLAGS) |
					 M(PKEY_INDEX) | M(PATH_MIG_STATE),
				 M(PORT) | M(AV) | M(TIMEOUT) | M(RETRY_CNT) |
					 M(RNR_RETRY) | M(MAX_QP_RD_ATOMIC) |
					 M(MAX_DEST_RD_ATOMIC) | M(ALT_PATH) |
					 M(ACCESS_FLAGS) | M(PKEY_INDEX) |
					 M(MIN_RNR_TIMER) | M(PATH_MIG_STATE),
				 M(PORT) | M(AV) | M(TIMEOUT) | M(RETRY_CNT) |
					 M(RNR_RETRY) | M(MAX_QP_RD_ATOMIC) |
					 M(ALT_PATH) | M(ACCESS_FLAGS) |
					 M(PKEY_INDEX) | M(PATH_MIG_STATE),
				 M(PORT) | M(AV) | M(TIMEOUT) |
					 M(MAX_DEST_RD_ATOMIC) | M(ALT_PATH) |
					 M(ACCESS_FLAGS) | M(PKEY_INDEX) |
					 M(MIN_RNR_TIMER) | M(PATH_MIG_STATE) } },
	},
	[SV_QPS_SQE] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_ERR] = { .valid = true },
		[SV_QPS_RTS] = { .valid = true,
			.opt = { UD_RTS_OPT, M(CUR_STATE) | M(ACCESS_FLAGS),
				 0, 0, 0 } },
	},
	[SV_QPS_ERR] = {
		[SV_QPS_RESET] = { .valid = true },
		[SV_QPS_ERR] = { .valid = true },
	},
};

static inline int sv_qp_type_index(uint32_t qp_type)
{
	switch (qp_type) {
	case IB_UVERBS_QPT_UD:
		return SV_T_UD;
	case IB_UVERBS_QPT_UC:
		return SV_T_UC;
	case IB_UVERBS_QPT_RC:
		return SV_T_RC;
	case IB_UVERBS_QPT_XRC_INI:
		return SV_T_XI;
	case IB_UVERBS_QPT_XRC_TGT:
		return SV_T_XT;
	case IB_UVERBS_QPT_RAW_PACKET:
		return SV_T_RAW;
	default:
		return -1;
	}
}

/* Is cur -> next with this mask allowed for the type? (IBTA 11.2.4.2) */
static inline bool sv_qp_transition_ok(uint32_t cur, uint32_t next,
				       uint32_t type, uint32_t mask)
{
	const struct sv_qp_trans *t;
	int ti = sv_qp_type_index(type);

	if (ti < 0 || cur > SV_QPS_ERR || next > SV_QPS_ERR)
		return false;
	if ((mask & M(CUR_STATE)) && cur != SV_QPS_RTR && cur != SV_QPS_RTS &&
	    cur != SV_QPS_SQD && cur != SV_QPS_SQE)
		return false;
	t = &sv_qp_table[cur][next];
	if (!t->valid)
		return false;
	if ((mask & t->req[ti]) != t->req[ti])
		return false;
	return !(mask & ~(t->req[ti] | t->opt[ti] | M(STATE)));
}

/* What the value checks need to know of the device and its port. */
struct sv_qp_limits {
	uint32_t max_qp_init_rd_atom, max_qp_rd_atom; /* query_device */
	uint32_t gid_tbl_len; /* query_port, and: */
	uint16_t pkey_tbl_len;
	uint8_t max_mtu, link_layer;
	uint32_t gid_valid; /* bit i: GID index i holds an address */
};

static inline int sv_qp_check_dest(const struct sv_qp_limits *l,
				   const struct ib_uverbs_qp_dest *d)
{
	if (d->port_num != 1)
		return -EINVAL;
	/* RoCE addresses are always global (rdma_check_ah_attr). */
	if (l->link_layer == SV_QP_LINK_LAYER_ETHERNET && !d->is_global)
		return -EINVAL;
	if (d->is_global && (d->sgid_index >= SV_QP_MAX_GIDS ||
			     d->sgid_index >= l->gid_tbl_len ||
			     !(l->gid_valid & (1U << d->sgid_index))))
		return -EINVAL;
	return 0;
}

/* Value checks that do not depend on the state table. */
static inline int sv_qp_check_values(const struct sv_qp_limits *l,
				     const struct ib_uverbs_modify_qp *c)
{
	uint32_t m = c->attr_mask;

	if ((m & M(PORT)) && c->port_num != 1)
		return -EINVAL;
	if ((m & M(PKEY_INDEX)) && c->pkey_index >= l->pkey_tbl_len)
		return -EINVAL;
	if ((m & M(PATH_MTU)) &&
	    (c->path_mtu < SV_QP_MTU_256 || c->path_mtu > l->max_mtu))
		return -EINVAL;
	if ((m & M(AV)) && sv_qp_check_dest(l, &c->dest))
		return -EINVAL;
	if ((m & M(ALT_PATH)) &&
	    (c->alt_port_num != 1 || c->alt_pkey_index >= l->pkey_tbl_len ||
	     sv_qp_check_dest(l, &c->alt_dest)))
		return -EINVAL;
	if ((m & M(DEST_QPN)) && c->dest_qp_num > SV_QP_NUM_MASK)
		return -EINVAL;
	if ((m & M(MAX_QP_RD_ATOMIC)) &&
	    c->max_rd_atomic > l->max_qp_init_rd_atom)
		return -EINVAL;
	if ((m & M(MAX_DEST_RD_ATOMIC)) &&
	    c->max_dest_rd_atomic > l->max_qp_rd_atom)
		return -EINVAL;
	if ((m & M(PATH_MIG_STATE)) && c->path_mig_state > SV_QP_MIG_ARMED)
		return -EINVAL;
	return 0;
}

/*
 * The whole check of a modify of a QP of this type in state cur: 0, or
 * the kernel's errno (negative). Only the state and type fields of the
 * command are range-checked by the caller.
 */
static inline int sv_qp_modify_check(const struct sv_qp_limits *l,
				     uint32_t cur_state, uint32_t qp_type,
				     const struct ib_uverbs_modify_qp *c)
{
	uint32_t cur, next;

	if ((c->attr_mask & M(CUR_STATE)) && c->cur_qp_state > SV_QPS_ERR)
		return -EINVAL;
	if ((c->attr_mask & M(STATE)) && c->qp_state > SV_QPS_ERR)
		return -EINVAL;
	cur = (c->attr_mask & M(CUR_STATE)) ? c->cur_qp_state : cur_state;
	next = (c->attr_mask & M(STATE)) ? c->qp_state : cur;
	if (!sv_qp_transition_ok(cur, next, qp_type, c->attr_mask))
		return -EINVAL;
	return sv_qp_check_values(l, c);
}

#undef M

#endif /* SOFTVERBS_QP_RULES_H */
