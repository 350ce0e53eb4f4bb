// SPDX-License-Identifier: MIT
/*
 * Per-user limits (svd_limits.h). One record per uid that ever created
 * something, kept for the daemon's life (a few bytes each): a charge is a
 * pointer to the counter it bumped, so giving it back needs no lookup and
 * works from any thread, even after the context that made it is gone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "svd_limits.h"

struct user_use {
	uid_t uid;
	atomic_uint n[SVD_LIM_NKINDS];
	struct user_use *next;
};

/* Generous: far above what one user's jobs need, far below exhaustion. */
static unsigned int limit[SVD_LIM_NKINDS] = {
	[SVD_LIM_CONNECTIONS] = 1024,
	[SVD_LIM_CONTEXTS] = 1024,
	[SVD_LIM_QPS] = 16384,
	[SVD_LIM_MRS] = 65536,
	[SVD_LIM_DB_PAGES] = 128, /* of the device's 256: half per user */
};

static const char *const names[SVD_LIM_NKINDS] = {
	[SVD_LIM_CONNECTIONS] = "connections",
	[SVD_LIM_CONTEXTS] = "contexts",
	[SVD_LIM_QPS] = "qps",
	[SVD_LIM_MRS] = "mrs",
	[SVD_LIM_DB_PAGES] = "db-pages",
};

static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;
static struct user_use *users;

void svd_limit_set(enum svd_limit_kind kind, unsigned int max)
{
	if (kind < SVD_LIM_NKINDS)
		limit[kind] = max;
}

int svd_limit_parse_arg(const char *arg)
{
	static const char prefix[] = "--limit-";
	char *end;
	int k;

	if (strncmp(arg, prefix, sizeof(prefix) - 1))
		return 0;
	arg += sizeof(prefix) - 1;
	for (k = 0; k < SVD_LIM_NKINDS; k++) {
		size_t n = strlen(names[k]);
		unsigned long v;

		if (strncmp(arg, names[k], n) || arg[n] != '=')
			continue;
		v = strtoul(arg + n + 1, &end, 10);
		if (*end || end == arg + n + 1 || v > 1U << 30)
			return -1;
		svd_limit_set(k, (unsigned int)v);
		return 1;
	}
	return -1;
}

static struct user_use *user_get(uid_t uid)
{
	struct user_use *u;

	pthread_mutex_lock(&users_lock);
	for (u = users; u && u->uid != uid; u = u->next)
		;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (u) {
			u->uid = uid;
			u->next = users;
			users = u;
		}
	}
	pthread_mutex_unlock(&users_lock);
	return u;
}

atomic_uint *svd_limit_charge(uid_t uid, enum svd_limit_kind kind)
{
	struct user_use *u = user_get(uid);
	unsigned int cur;

	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	cur = atomic_load(&u->n[kind]);
	do {
		if (limit[kind] && cur >= limit[kind]) {
			errno = EAGAIN;
			return NULL;
		}
	} while (!atomic_compare_exchange_weak(&u->n[kind], &cur, cur + 1));
	return &u->n[kind];
}

void svd_limit_uncharge(atomic_uint *counter)
{
	if (counter)
		atomic_fetch_sub(counter, 1);
}
