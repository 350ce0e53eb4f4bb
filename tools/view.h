/* SPDX-License-Identifier: MIT */
/*
 * The device view of "softverbs run": /dev/infiniband/uverbs_NAME and
 * /sys/class/infiniband{,_verbs,_mad} as the program sees them, mounted in
 * a private mount namespace (see view.c).
 */
#ifndef SOFTVERBS_TOOLS_VIEW_H
#define SOFTVERBS_TOOLS_VIEW_H

/* Set to 1 to skip the namespace: what a machine without one gets. */
#define SV_VIEW_DISABLE_ENV "SOFTVERBS_NO_NAMESPACE"
/* What "run" did, for the program and tests: "mounted" or "fallback: WHY". */
#define SV_VIEW_ENV "SOFTVERBS_VIEW"

/*
 * Enter a mount namespace (and a user namespace unless root) holding the
 * view of the daemon in 'rundir'. Returns 0 when the view is mounted, or
 * -errno when the program must run without it; the host is never changed.
 * Either way SV_VIEW_ENV is set for the program.
 */
int sv_view_enter(const char *rundir);

#endif
