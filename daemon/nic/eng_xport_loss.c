// SPDX-License-Identifier: MIT
/*
 * The lossy test transport: wraps another transport (the same-host one)
 * and drops, duplicates, delays and reorders packets by a seeded PRNG, so
 * retry, duplicate handling and go-back-N are exercised without a wire.
 * Configured by the daemon's SOFTVERBS_LOSS environment variable:
 * "drop=PCT,dup=PCT,reorder=PCT,delay_us=N,seed=N", any subset, PCT a
 * percentage that may be fractional (drop=100 loses every packet).
 *
 * A delayed or reordered packet is cloned with an owned payload and kept
 * on a queue; poll() (every engine pass, dev->lock held) delivers those
 * whose time has come. A reordered packet waits a random 0..200 us more
 * (plus delay_us), so packets sent after it overtake it. Every packet is
 * one MTU (seg_max), so per-MTU behaviour is what gets tested.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "eng_xport.h"

#define REORDER_NS 200000ULL

struct loss {
	struct eng_xport x;
	struct eng_xport *inner;
	struct eng_loss_cfg cfg;
	uint64_t rng;
	struct eng_packet *held, *held_tail;
};

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* xorshift64*: small, seeded, good enough to pick packets. */
static uint64_t loss_rand(struct loss *l)
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 0x2545f4914f6cdd1dULL;
}

static bool loss_chance(struct loss *l, double pct)
{
	return pct > 0 && (double)(loss_rand(l) % 1000000) < pct * 10000.0;
}

static int parse_pct(const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end || d < 0 || d > 100)
		return -EINVAL;
	*out = d;
	return 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (end == v || *end || *v == '-')
		return -EINVAL;
	*out = n;
	return 0;
}

static int parse_one(char *kv, struct eng_loss_cfg *cfg)
{
	char *v = strchr(kv, '=');

	if (!v)
		return -EINVAL;
	*v++ = 0;
	if (!strcmp(kv, "drop"))
		return parse_pct(v, &cfg->drop);
	if (!strcmp(kv, "dup"))
		return parse_pct(v, &cfg->dup);
	if (!strcmp(kv, "reorder"))
		return parse_pct(v, &cfg->reorder);
	if (!strcmp(kv, "seed"))
		return parse_u64(v, &cfg->seed);
	if (!strcmp(kv, "delay_us")) {
		int ret = parse_u64(v, &cfg->delay_ns);

		if (!ret && cfg->delay_ns > 10000000ULL)
			return -EINVAL; /* 10 s at most */
		cfg->delay_ns *= 1000;
		return ret;
	}
	return -EINVAL;
}

int eng_loss_parse(const char *spec, struct eng_loss_cfg *cfg)
{
	char buf[256], *save = NULL, *kv;

	memset(cfg, 0, sizeof(*cfg));
	cfg->seed = 1;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	for (kv = strtok_r(buf, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save))
		if (parse_one(kv, cfg))
			return -EINVAL;
	return 0;
}

/* Keep a copy of p until due_ns. */
static int loss_hold(struct loss *l, const struct eng_packet *p,
		     uint64_t due_ns)
{
	struct eng_packet *c = eng_pkt_clone(p);

	if (!c)
		return p->sgl ? -EFAULT : 0; /* unreadable source, or no memory */
	c->route.held = true;
	c->route.src = NULL;
	c->due_ns = due_ns;
	if (l->held_tail)
		l->held_tail->next = c;
	else
		l->held = c;
	l->held_tail = c;
	return 0;
}

static int loss_one(struct loss *l, struct eng_packet *p)
{
	uint64_t extra = l->cfg.delay_ns;

	if (loss_chance(l, l->cfg.reorder))
		extra += 1 + loss_rand(l) % REORDER_NS;
	if (!extra)
		return l->inner->ops->send(l->inner, p);
	return loss_hold(l, p, (uint64_t)mono_ns() + extra);
}

static int loss_send(struct eng_xport *x, struct eng_packet *p)
{
	struct loss *l = (struct loss *)x;
	int ret;

	if (loss_chance(l, l->cfg.drop))
		return 0;
	if (loss_chance(l, l->cfg.dup)) {
		ret = loss_hold(l, p, (uint64_t)mono_ns() + l->cfg.delay_ns +
					      loss_rand(l) % REORDER_NS);
		if (ret)
			return ret;
	}
	return loss_one(l, p);
}

static void loss_poll(struct eng_xport *x, int64_t *deadline_ns)
{
	struct loss *l = (struct loss *)x;
	struct eng_packet **pp = &l->held, *p, *prev = NULL;
	uint64_t now = (uint64_t)mono_ns();

	while ((p = *pp)) {
		if (p->due_ns > now) {
			if ((int64_t)p->due_ns < *deadline_ns)
				*deadline_ns = (int64_t)p->due_ns;
			prev = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (l->held_tail == p)
			l->held_tail = prev;
		p->next = NULL;
		l->inner->ops->send(l->inner, p);
		eng_pkt_free(p);
	}
}

static uint32_t loss_seg_max(const struct eng_xport *x)
{
	(void)x;
	return 1; /* rounded up to one MTU: no GSO on a lossy link */
}

static void loss_destroy(struct eng_xport *x)
{
	struct loss *l = (struct loss *)x;
	struct eng_packet *p;

	while ((p = l->held)) {
		l->held = p->next;
		eng_pkt_free(p);
	}
	l->inner->ops->destroy(l->inner);
	free(l);
}

static const struct eng_xport_ops loss_ops = {
	.name = "loss",
	.send = loss_send,
	.poll = loss_poll,
	.seg_max = loss_seg_max,
	.destroy = loss_destroy,
};

struct eng_xport *eng_xport_loss_new(struct svd_engine *e,
				     struct eng_xport *inner,
				     const struct eng_loss_cfg *cfg)
{
	struct loss *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->x.ops = &loss_ops;
	l->x.e = e;
	l->inner = inner;
	l->cfg = *cfg;
	l->rng = cfg->seed ? cfg->seed : 1;
	return &l->x;
}
