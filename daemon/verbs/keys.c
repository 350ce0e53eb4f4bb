// SPDX-License-Identifier: MIT
/*
 * The key map: lkey/rkey -> MR (or MW), for the engine.
 *
 * One slot table serves every device (struct svd_device has no room for a
 * per-device map); each slot records its device, so keys stay unique per
 * device and a key of one device never resolves on another. Slot 0 is never
 * used so that a zero key is always invalid.
 *
 * A key is perm(index) << 8 | tag (svd_perm.h): the upper 24 bits are a
 * keyed permutation of the slot index and every slot's tag starts random,
 * so a key cannot be guessed from the slot allocation order or from one's
 * own keys. The low 8 bits stay the tag that ibv_inc_rkey() bumps.
 *
 * Lock order: dev->lock, then keys_lock. keys_lock guards the table itself
 * (growth, free slots); dev->lock is what the engine holds while it uses a
 * found MR, and it is taken around publish/unpublish so an MR never vanishes
 * under an engine thread.
 */
#include <stdlib.h>
#include <string.h>

#include "svd_direct.h"
#include "svd_keys.h"
#include "svd_perm.h"

#define KEYS_MIN 256
#define KEYS_MAX (1U << (32 - SVD_KEY_TAG_BITS))

struct key_slot {
	struct svd_device *dev; /* NULL = free */
	struct svd_mr *mr;
	uint8_t tag; /* last tag handed out for this slot */
};

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct key_slot *slots;
static uint32_t nslots;
static uint32_t next_free = 1; /* search start: a hint only */

static int keys_grow(void)
{
	uint32_t n = nslots ? nslots * 2 : KEYS_MIN;
	struct key_slot *s;

	if (n > KEYS_MAX)
		n = KEYS_MAX;
	if (n <= nslots)
		return -ENOMEM;
	s = realloc(slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + nslots, 0, (n - nslots) * sizeof(*s));
	for (uint32_t i = nslots; i < n; i++)
		s[i].tag = (uint8_t)svd_random32();
	slots = s;
	nslots = n;
	return 0;
}

/* Find a free slot index, growing the table if needed (keys_lock held). */
static bool slot_usable(uint32_t i)
{
	/* The one index whose image is 0 could make key 0: never use it. */
	return !slots[i].dev && svd_perm24(SVD_PERM_KEYS, i) != 0;
}

static int keys_find_free(uint32_t *out)
{
	uint32_t i;

	for (;;) {
		for (i = next_free; i < nslots; i++)
			if (slot_usable(i))
				goto found;
		for (i = 1; i < next_free && i < nslots; i++)
			if (slot_usable(i))
				goto found;
		if (keys_grow())
			return -ENOMEM;
	}
found:
	*out = i;
	next_free = i + 1;
	return 0;
}

int svd_keys_insert(struct svd_device *dev, struct svd_mr *mr, uint32_t *key)
{
	uint32_t idx;
	int ret;

	svd_dev_lock(dev);
	pthread_mutex_lock(&keys_lock);
	ret = keys_find_free(&idx);
	if (!ret) {
		struct key_slot *s = &slots[idx];

		/* A new tag per reuse: a stale key of the old region fails. */
		s->tag++;
		s->dev = dev;
		s->mr = mr;
		*key = svd_perm24(SVD_PERM_KEYS, idx) << SVD_KEY_TAG_BITS |
		       s->tag;
		svd_direct_key_added(dev, *key, mr);
	}
	pthread_mutex_unlock(&keys_lock);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

/*
 * The slot a key names (0, never used, if none). The inverse permutation
 * is twelve look-ups in 96 KiB of tables, mostly L2 misses: a tenth of the
 * engine's work on a small SEND, which resolves two keys. The permutation
 * never changes while the daemon runs, so each thread remembers recent
 * answers (a memo of a pure function: nothing in it can go stale).
 */
#define KEY_MEMO 256

static uint32_t key_slot(uint32_t key)
{
	static __thread struct {
		uint32_t y1; /* the index + 1; 0: empty */
		uint32_t x;
	} memo[KEY_MEMO];
	uint32_t y = SVD_KEY_INDEX(key), h = y % KEY_MEMO;

	if (memo[h].y1 != y + 1) {
		memo[h].x = svd_perm24_inv(SVD_PERM_KEYS, y);
		memo[h].y1 = y + 1;
	}
	return memo[h].x;
}

void svd_keys_remove(struct svd_device *dev, uint32_t key)
{
	uint32_t idx = key_slot(key);

	svd_dev_lock(dev);
	pthread_mutex_lock(&keys_lock);
	if (idx && idx < nslots && slots[idx].dev == dev) {
		svd_direct_key_removed(dev, key);
		slots[idx].dev = NULL;
		slots[idx].mr = NULL;
		if (idx < next_free)
			next_free = idx;
	}
	pthread_mutex_unlock(&keys_lock);
	pthread_mutex_unlock(&dev->lock);
}

/*
 * The engine's lookup. A key matches when its slot belongs to dev and it
 * equals the region's current lkey or rkey (an MW's rkey changes on bind).
 */
struct svd_mr *svd_dev_key_find(struct svd_device *dev, uint32_t key)
{
	uint32_t idx = key_slot(key);
	struct svd_mr *mr = NULL;

	pthread_mutex_lock(&keys_lock);
	if (idx && idx < nslots && slots[idx].dev == dev) {
		struct svd_mr *m = slots[idx].mr;

		if (m->lkey == key || m->rkey == key)
			mr = m;
	}
	pthread_mutex_unlock(&keys_lock);
	return mr;
}

void svd_keys_for_each(struct svd_device *dev,
		       void (*fn)(struct svd_mr *mr, void *arg), void *arg)
{
	uint32_t i;

	pthread_mutex_lock(&keys_lock);
	for (i = 1; i < nslots; i++)
		if (slots[i].dev == dev)
			fn(slots[i].mr, arg);
	pthread_mutex_unlock(&keys_lock);
}

unsigned int svd_keys_count(struct svd_device *dev)
{
	unsigned int n = 0;
	uint32_t i;

	pthread_mutex_lock(&keys_lock);
	for (i = 1; i < nslots; i++)
		if (slots[i].dev == dev)
			n++;
	pthread_mutex_unlock(&keys_lock);
	return n;
}
