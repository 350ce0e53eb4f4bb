// SPDX-License-Identifier: MIT
/*
 * The lkeys of this process's private VA regions, for the capture of small
 * payloads at post time (post.c).
 *
 * The daemon reaches a VA region with a system call per access (its
 * /proc/PID/mem handle or process_vm_readv: about 1.7 us on the CI VM),
 * which for an 8-byte SEND was a third of a hop. So ibv_post_send copies
 * up to a few dozen bytes of such a work request into the WQE itself, as
 * a NIC copies inline data, and the engine still checks the SGEs' keys,
 * ranges and rights and fails the request exactly as before; it only
 * takes the bytes from the WQE instead of reading them.
 *
 * The library reads the application's memory here, so it must know the
 * bytes are there: only a range inside a region this process registered
 * under that lkey, still registered, is read (an SGE with a bad key or a
 * wild address is left to the engine, which fails it). Deregistration
 * takes the key out under the write lock before the daemon hears of it,
 * so a capture in progress finishes before ibv_dereg_mr returns and the
 * application may unmap. A region unmapped while still registered faults
 * in the poster, as with IBV_SEND_INLINE or the direct path's SEND;
 * mapped (file) regions are never captured: the daemon reaches them
 * through its own mapping without a system call, and their file may be
 * truncated under us.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "svl_mr.h"
#include "svl_prov.h"

#define KEY_BUCKETS 1024

struct key_ent {
	const struct ibv_context *ctx;
	uint32_t lkey;
	uintptr_t addr;
	size_t len;
	const struct svl_mr *mr;
	struct key_ent *next;
};

static struct key_ent *buckets[KEY_BUCKETS];
static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Registered entries: posts look only when there are some. */
static unsigned long nkeys;

static struct key_ent **bucket(uint32_t lkey)
{
	return &buckets[(lkey * 0x9E3779B1U) >> 22];
}

void svl_mr_keys_add(const struct svl_mr *mr)
{
	struct key_ent *k = malloc(sizeof(*k));

	if (!k)
		return; /* the region is then simply not captured */
	k->ctx = mr->ibmr.context;
	k->lkey = mr->ibmr.lkey;
	k->addr = (uintptr_t)mr->ibmr.addr;
	k->len = mr->ibmr.length;
	k->mr = mr;
	pthread_rwlock_wrlock(&keys_lock);
	k->next = *bucket(k->lkey);
	*bucket(k->lkey) = k;
	__atomic_add_fetch(&nkeys, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&keys_lock);
}

bool svl_mr_keys_del(const struct svl_mr *mr)
{
	struct key_ent **pp, *k;
	bool found = false;

	if (!__atomic_load_n(&nkeys, __ATOMIC_RELAXED))
		return false;
	pthread_rwlock_wrlock(&keys_lock);
	for (pp = bucket(mr->ibmr.lkey); (k = *pp); pp = &k->next) {
		if (k->mr == mr) {
			*pp = k->next;
			__atomic_sub_fetch(&nkeys, 1, __ATOMIC_RELAXED);
			free(k);
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&keys_lock);
	return found;
}

static bool covers(const struct key_ent *k, const struct ibv_context *ctx,
		   const struct ibv_sge *s)
{
	return k->ctx == ctx && k->lkey == s->lkey && s->addr >= k->addr &&
	       s->length <= k->len && s->addr - k->addr <= k->len - s->length;
}

static bool sge_known(const struct ibv_context *ctx, const struct ibv_sge *s)
{
	const struct key_ent *k;

	for (k = *bucket(s->lkey); k; k = k->next)
		if (covers(k, ctx, s))
			return true;
	return false;
}

/*
 * Copy the bytes of sg[0..n) to dst if every non-empty SGE lies in a VA
 * region of ctx registered under its lkey; false (nothing copied) if not.
 */
bool svl_mr_keys_copy(const struct ibv_context *ctx, const struct ibv_sge *sg,
		      int n, uint8_t *dst)
{
	bool ok = true;
	int i;

	if (!__atomic_load_n(&nkeys, __ATOMIC_RELAXED))
		return false;
	pthread_rwlock_rdlock(&keys_lock);
	for (i = 0; i < n && ok; i++)
		ok = !sg[i].length || sge_known(ctx, &sg[i]);
	for (i = 0; i < n && ok; i++) {
		memcpy(dst, (const void *)(uintptr_t)sg[i].addr,
		       sg[i].length);
		dst += sg[i].length;
	}
	pthread_rwlock_unlock(&keys_lock);
	return ok;
}
