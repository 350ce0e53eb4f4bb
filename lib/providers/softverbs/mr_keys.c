// SPDX-License-Identifier: MIT
/*
 * The one registry of this process's own VA regions by lkey: where in our
 * memory an SGE's [iova, iova + length) lies. Two kinds of entry use it:
 *
 * - Capture (svl_mr_keys_*): private VA regions, for the copy of small
 *   payloads at post time (post.c). The daemon reaches a VA region with a
 *   system call per access (its /proc/PID/mem handle or
 *   process_vm_readv: about 1.7 us on the CI VM), which for an 8-byte
 *   SEND was a third of a hop. So ibv_post_send copies up to a few dozen
 *   bytes of such a work request into the WQE itself, as a NIC copies
 *   inline data, and the engine still checks the SGEs' keys, ranges and
 *   rights and fails the request exactly as before; it only takes the
 *   bytes from the WQE instead of reading them.
 * - ODP (svl_mr_odp_*, mr_odp.c): regions registered with
 *   IBV_ACCESS_ON_DEMAND, for ibv_advise_mr's PREFETCH_WRITE.
 *
 * The library reads (or write-faults) the application's memory here, so
 * it must know the bytes are there: only a range inside a region this
 * process registered under that lkey on that context, still registered,
 * is used; an SGE with a bad key or a wild address is left to the engine,
 * which fails it. SGEs name the region's iova (ibv_reg_mr_iova2), so the
 * bytes are at addr + (sge.addr - iova). A forked child does not use its
 * parent's entries: the daemon reaches the registrar's memory, not the
 * child's copy of it. Deregistration takes the key out under the write
 * lock before the daemon hears of it, so a capture in progress finishes
 * before ibv_dereg_mr returns and the application may unmap. A region
 * unmapped while still registered faults in the poster, as with
 * IBV_SEND_INLINE or the direct path's SEND; mapped (file) regions are
 * never captured: the daemon reaches them through its own mapping without
 * a system call, and their file may be truncated under us.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "svl_mr.h"
#include "svl_prov.h"

#define KEY_BUCKETS 1024

struct key_ent {
	const struct ibv_context *ctx;
	uint32_t lkey;
	bool odp; /* an ODP entry, else a capture one */
	unsigned int gen; /* the fork generation that added it */
	uint64_t iova; /* what SGEs name at addr */
	uintptr_t addr;
	size_t len;
	const struct svl_mr *mr;
	struct key_ent *next;
};

static struct key_ent *buckets[KEY_BUCKETS];
static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Capture entries: posts look only when there are some. */
static unsigned long ncapture;
/* Bumped in a forked child: its parent's entries are not its own. */
static unsigned int fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void keys_forked(void)
{
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

static void keys_watch_fork(void)
{
	pthread_atfork(NULL, NULL, keys_forked);
}

static struct key_ent **bucket(uint32_t lkey)
{
	return &buckets[(lkey * 0x9E3779B1U) >> 22];
}

static void key_add(const struct svl_mr *mr, bool odp)
{
	struct key_ent *k = malloc(sizeof(*k));

	if (!k)
		return; /* the region is then simply not captured or populated */
	pthread_once(&fork_once, keys_watch_fork);
	k->ctx = mr->ibmr.context;
	k->lkey = mr->ibmr.lkey;
	k->odp = odp;
	k->gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	k->iova = mr->iova;
	k->addr = (uintptr_t)mr->ibmr.addr;
	k->len = mr->ibmr.length;
	k->mr = mr;
	pthread_rwlock_wrlock(&keys_lock);
	k->next = *bucket(k->lkey);
	*bucket(k->lkey) = k;
	if (!odp)
		__atomic_add_fetch(&ncapture, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&keys_lock);
}

/* Take mr's entry of that kind out; true if there was one. */
static bool key_del(const struct svl_mr *mr, bool odp)
{
	struct key_ent **pp, *k;
	bool found = false;

	pthread_rwlock_wrlock(&keys_lock);
	for (pp = bucket(mr->ibmr.lkey); (k = *pp); pp = &k->next) {
		if (k->mr == mr && k->odp == odp) {
			*pp = k->next;
			if (!odp)
				__atomic_sub_fetch(&ncapture, 1,
						   __ATOMIC_RELAXED);
			free(k);
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&keys_lock);
	return found;
}

static bool covers(const struct key_ent *k, const struct ibv_context *ctx,
		   bool odp, const struct ibv_sge *s)
{
	return k->lkey == s->lkey && k->ctx == ctx && k->odp == odp &&
	       k->gen == __atomic_load_n(&fork_gen, __ATOMIC_RELAXED) &&
	       s->addr >= k->iova && s->length <= k->len &&
	       s->addr - k->iova <= k->len - s->length;
}

/*
 * Where s's bytes are in this process, if an entry of that kind covers
 * them; under keys_lock (read). The registry's one lookup.
 */
static void *key_lookup(const struct ibv_context *ctx, bool odp,
			const struct ibv_sge *s)
{
	const struct key_ent *k;

	for (k = *bucket(s->lkey); k; k = k->next)
		if (covers(k, ctx, odp, s))
			return (void *)(k->addr + (uintptr_t)(s->addr - k->iova));
	return NULL;
}

void svl_mr_keys_add(const struct svl_mr *mr)
{
	key_add(mr, false);
}

bool svl_mr_keys_del(const struct svl_mr *mr)
{
	if (!__atomic_load_n(&ncapture, __ATOMIC_RELAXED))
		return false;
	return key_del(mr, false);
}

/*
 * Is [p, p + len) mapped? mincore() fails with ENOMEM on a hole. A page
 * mapped PROT_NONE still passes, and faults the copy as it would an
 * IBV_SEND_INLINE copy.
 */
static bool mapped(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095;
	uintptr_t hi = ((uintptr_t)p + len + 4095) & ~(uintptr_t)4095;
	unsigned char vec[512];

	while (lo < hi) {
		size_t n = hi - lo < sizeof(vec) * 4096 ? hi - lo :
							    sizeof(vec) * 4096;

		if (mincore((void *)lo, n, vec))
			return false;
		lo += n;
	}
	return true;
}

/*
 * Copy the bytes of sg[0..n) to dst if every non-empty SGE lies in a VA
 * region of ctx registered under its lkey; false if not (what dst then
 * holds means nothing: the WQE is not marked captured or staged). check:
 * also that every page is mapped (mapped()), for a large payload (stage.c)
 * where the check costs about 1 us per MiB: a page of the region unmapped
 * while registered then fails the copy instead of faulting the poster,
 * and the engine, reading it itself, ends the WQE in LOC_PROT_ERR as it
 * would have (memcpy is 2.4x faster than a process_vm_readv of our own
 * memory, which would also refuse a hole).
 */
static bool keys_copy(const struct ibv_context *ctx, const struct ibv_sge *sg,
		      int n, uint8_t *dst, bool check)
{
	const void *src = dst;
	int i;

	if (!__atomic_load_n(&ncapture, __ATOMIC_RELAXED))
		return false;
	pthread_rwlock_rdlock(&keys_lock);
	for (i = 0; i < n && src; i++) {
		if (!sg[i].length)
			continue;
		src = key_lookup(ctx, false, &sg[i]);
		if (src && check && !mapped(src, sg[i].length))
			src = NULL;
		if (src)
			memcpy(dst, src, sg[i].length);
		dst += sg[i].length;
	}
	pthread_rwlock_unlock(&keys_lock);
	return src != NULL;
}

bool svl_mr_keys_copy(const struct ibv_context *ctx, const struct ibv_sge *sg,
		      int n, uint8_t *dst)
{
	return keys_copy(ctx, sg, n, dst, false);
}

bool svl_mr_keys_copy_safe(const struct ibv_context *ctx,
			   const struct ibv_sge *sg, int n, uint8_t *dst)
{
	return keys_copy(ctx, sg, n, dst, true);
}

void svl_mr_odp_add(struct svl_mr *mr, uint64_t iova)
{
	mr->iova = iova;
	key_add(mr, true);
}

void svl_mr_odp_del(struct svl_mr *mr)
{
	key_del(mr, true);
}

bool svl_mr_odp_find(const struct ibv_context *ctx, const struct ibv_sge *s,
		     uintptr_t *addr)
{
	void *p;

	pthread_rwlock_rdlock(&keys_lock);
	p = key_lookup(ctx, true, s);
	pthread_rwlock_unlock(&keys_lock);
	*addr = (uintptr_t)p;
	return p != NULL;
}
