/* SPDX-License-Identifier: MIT */
/*
 * Per-user resource limits (limits.c), as the kernel's rdma cgroup limits
 * hca_handle and hca_object: over the limit a create fails with EAGAIN.
 * Users are told apart by the uid the kernel vouches for on the command
 * socket (SO_PEERCRED at connect). Defaults are generous; the daemon's
 * --limit-* options change them (0 = unlimited).
 */
#ifndef SVD_LIMITS_H
#define SVD_LIMITS_H

#include <stdatomic.h>
#include <sys/types.h>

enum svd_limit_kind {
	SVD_LIM_CONNECTIONS, /* command FDs: each holds a daemon fd */
	SVD_LIM_CONTEXTS,
	SVD_LIM_QPS,
	SVD_LIM_MRS,
	SVD_LIM_DB_PAGES,
	SVD_LIM_NKINDS,
};

/* Set a limit (0 = none). */
void svd_limit_set(enum svd_limit_kind kind, unsigned int max);
/* Parse "--limit-contexts=N" and friends; 1 if arg was one, -1 if bad. */
int svd_limit_parse_arg(const char *arg);
/*
 * Charge one unit of kind to uid. Returns the counter to give back to
 * svd_limit_uncharge(), or NULL with errno EAGAIN (over the limit) or
 * ENOMEM.
 */
atomic_uint *svd_limit_charge(uid_t uid, enum svd_limit_kind kind);
void svd_limit_uncharge(atomic_uint *counter);

#endif
