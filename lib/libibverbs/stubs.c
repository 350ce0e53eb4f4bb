// SPDX-License-Identifier: MIT
/*
 * Exports softverbs does not offer, failing cleanly.
 *
 * lib/libibverbs/libibverbs.map exports exactly the symbol set of Debian's
 * libibverbs.so.1, and every consumer is linked with BIND_NOW, so each
 * listed name must be defined or the consumer fails to load. Every other
 * export has a real implementation elsewhere in lib/; the ones below have
 * none, so they are defined here, strong, and fail the way their prototype
 * allows:
 *   verbs returning an errno value: return EOPNOTSUPP (errno set too);
 *   void functions:                do nothing.
 * Implementing one of them elsewhere is a duplicate-symbol link error:
 * delete its definition here in the same change.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/verbs.h>


/* Exported, but not declared by the installed headers. */
int ibv_dofork_range(void *base, size_t size);
int ibv_dontfork_range(void *base, size_t size);

static inline int fail_errno(void)
{
	errno = EOPNOTSUPP;
	return EOPNOTSUPP;
}

int ibv_get_device_index(struct ibv_device *device)
{
	return -1;
}

int ibv_dofork_range(void *base, size_t size)
{
	return 0;
}

int ibv_dontfork_range(void *base, size_t size)
{
	return 0;
}

/* Returns 1 if in-order placement is guaranteed, 0 otherwise (no errno). */
int ibv_query_qp_data_in_order(struct ibv_qp *qp,
					enum ibv_wr_opcode op, uint32_t flags)
{
	return 0;
}

int ibv_set_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return fail_errno();
}

int ibv_query_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return fail_errno();
}

