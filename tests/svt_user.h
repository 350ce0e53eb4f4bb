/* SPDX-License-Identifier: MIT */
/*
 * A second user for the cross-user tests ("svtest-peer", made with
 * useradd if missing). NULL when it cannot be had: the caller skips (77).
 * svt_xuser_start() is the whole set-up (include after svtest.h).
 */
#ifndef SVT_USER_H
#define SVT_USER_H

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#define SVT_PEER_USER "svtest-peer"

static inline struct passwd *svt_peer_user(void)
{
	struct passwd *pw = getpwnam(SVT_PEER_USER);

	if (!pw && !system("useradd --system --no-create-home "
			   "--shell /usr/sbin/nologin " SVT_PEER_USER
			   " 2>/dev/null"))
		pw = getpwnam(SVT_PEER_USER);
	return pw;
}

/* Become that user for good (the test's forked child). */
static inline int svt_become(const struct passwd *pw)
{
	if (setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
		return -1;
	return getuid() == pw->pw_uid ? 0 : -1;
}

/*
 * Root, the second user and a private daemon (extra: its arguments, or
 * NULL) that user may reach (the rundir 0755, as root's /run/softverbs
 * is): the set-up of every cross-user test. Exits 77 where the machine
 * cannot give a second user.
 */
static inline struct passwd *svt_xuser_start(struct svt_daemon *d,
					     const char *const *extra)
{
	struct passwd *pw;

	if (geteuid() != 0)
		svt_skip("needs root (to make and become a second user)");
	pw = svt_peer_user();
	if (!pw)
		svt_skip("no useradd: cannot make the second user");
	SVT_CHECK(!svt_daemon_start_args(d, extra));
	SVT_CHECK(!chmod(d->rundir, 0755));
	return pw;
}

#endif
