// SPDX-License-Identifier: MIT
/*
 * Small WRITEs to VA regions, applied by the receiver's helper
 * (docs/direct-path.md, "Small WRITEs to VA regions").
 *
 * A direct WRITE into another process's private memory is a system call
 * (pwrite on its /proc/PID/mem: 1.5 us here for 8 bytes), so a stream of
 * small WRITEs ran at 0.5 M/s. The receiver's helper thread (sv-assist,
 * direct_assist.c) can write its own memory with a plain store. So the
 * initiator appends each small WRITE (at most SV_DIRECT_WAR_MAX bytes,
 * from the hot path) as a record to the receiver QP's ring
 * (struct sv_direct_war_rec, after the message slots) and returns; the
 * helper takes records in batches and applies them in order. A record is
 * one 32-byte slot (up to 8 bytes: two records share a cache line, the
 * unit a record costs) or two (up to 40, a whole line); record numbers
 * count slots.
 *
 * Who owns a record. The helper takes a batch by moving war_claim with a
 * compare-and-swap, applies it, then publishes war_cons. The initiator
 * takes the rest back by setting SV_DIRECT_WAR_REVOKED in war_claim:
 * records below the claim are the helper's (the initiator waits until
 * war_cons reaches it, or the receiver is gone), those above it the
 * initiator's, which it hands to the daemon as ordinary work requests
 * (svl_post_handover). A record is never applied by both.
 *
 * Nothing in a record is trusted: the helper checks each one as the
 * daemon's responder would (the rkey's entry in the daemon's table: our
 * device, the receiver QP's PD, REMOTE_WRITE, the range, a VA region of
 * this very process) and writes with its own busy record naming the
 * entry (war_busy, which svd_direct_quiesce waits for), so a region is
 * never written after ibv_dereg_mr returned. A record that fails the
 * check stops the helper (war_err); the initiator hands that work
 * request and every later one to the daemon, which gives the daemon
 * path's exact error and flushes the rest.
 *
 * Order and completions. A signaled WRITE completes when a poll (or a
 * post's wait) finds its record applied. Before anything else of the QP runs (another direct
 * operation, work for the daemon, a modify), its records are waited for
 * (svl_dwar_fence). A helper that makes no progress for WAR_STALL_NS
 * (the receiver stopped, or starved of CPU) has the rest taken back: the
 * daemon does them. An application that posts only unsignaled small
 * WRITEs and then only polls learns of a record that failed at a poll.
 *
 * SOFTVERBS_DIRECT_WAR=0 turns it off (each small WRITE is one system
 * call again).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/procstat.h>

#include "direct.h"
#include "direct_op.h"
#include "svl_prov.h"

/*
 * No progress this long: the daemon takes the rest. Longer than a helper's
 * wake-up ever takes: on a VM whose idle vCPU the host must schedule,
 * waking it took up to 3.5 ms, and at 2 ms a stream of 8 B WRITEs handed
 * its records over in 4-5 of 30 runs, which then ran on the daemon path
 * at a tenth of the rate until the stream paused (0.9-11 Mmsg/s against
 * 21); at 20 ms, none in 30.
 */
#define WAR_STALL_NS 20000000LL
#define WAR_YIELD_NS 20000LL /* waiting longer: yield the CPU */
#define WAR_BACKOFF_NS 10000000LL /* then the system call, this long */
#define WAR_BATCH 64U /* records the helper takes at once */
#define WAR_LOOK_EVERY 16U /* helper passes between looks at the records */
#define WAR_PUB 32U /* slots between two war_prod publications */
#define WAR_QUIET_LOOKS 4U /* looks with war_prod still: read the seqs */
#define WAR_PREFETCH 4U /* slots ahead (two lines): see war_push() */
#define WAR_POLL_EVERY 64U /* polls between looks at applied records */
#define WAR_WAIT_LOOKS 1024U /* ...but a waiting poller's first ones look */
/* Both overridable at build time: an instruction count under valgrind
 * (whose posts are 50x slower) needs streams to form. */
#ifndef WAR_STREAM_TSC
#define WAR_STREAM_TSC 2000U /* cycles between WRITEs of a stream */
#endif
/* ...and to start one (war_streaming()); code built with ASan runs 2-3
 * times slower between two posts, and no stream of its ever started. */
#if defined(WAR_ENTER_TSC)
#elif defined(__SANITIZE_ADDRESS__)
#define WAR_ENTER_TSC 2000U
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WAR_ENTER_TSC 2000U
#endif
#endif
#ifndef WAR_ENTER_TSC
#define WAR_ENTER_TSC 1000U
#endif
#define WAR_STREAM_RUN 4U /* that many in a row make a stream */
#define WAR_CLOCK_EVERY 4U /* in a stream, posts per TSC read */
#define WAR_CAP 512U /* slots in flight per QP (a power of two) */
#define WAR_REBASE (2 * SV_DIRECT_WAR_SLOTS) /* past any stale record */

#define A32(p) ((_Atomic uint32_t *)(p))

/* What the daemon needs to redo a record's work request (per slot;
 * wr false: the slot is a pad or a two-slot record's second half). */
struct war_pend {
	uint64_t wr_id, raddr, laddr;
	uint32_t rkey, lkey, len;
	bool wr, signaled, inl;
	uint8_t data[SV_DIRECT_WAR_MAX];
};

/* A two-slot record, as the helper reads it. */
struct war_long {
	struct sv_direct_war_rec head;
	uint8_t more[SV_DIRECT_WAR_MAX - SV_DIRECT_WAR_SHORT];
};
_Static_assert(sizeof(struct war_long) == 2 * sizeof(struct sv_direct_war_rec),
	       "a two-slot record is a line");

/* Slots a record of len takes (a pad: one). */
static uint32_t war_slots(uint32_t len)
{
	return len > SV_DIRECT_WAR_SHORT && len != SV_DIRECT_WAR_PAD ? 2 : 1;
}

struct svl_dwar {
	struct sv_direct_rx_hdr *h; /* NULL: no window open */
	struct sv_direct_war_rec *recs;
	uint32_t gen; /* the peer ring's generation */
	uint32_t cseq; /* the connection record's seq when gen was checked */
	/* Record numbers: window, pushed, applied, completed (reaped <=
	 * done: a slot's pend is reused only once reaped). */
	uint32_t base, prod, done, reaped;
	uint32_t cap;
	/*
	 * Signaled records not completed yet (written under the SQ lock,
	 * read by a poll as a hint), and the send CQ's list they put us on
	 * (struct svl_dcq: under its war_lock).
	 */
	_Atomic uint32_t sigs;
	/* Records not completed yet (prod != reaped), for a poll's look:
	 * one that failed or stalled must reach a poll that only polls. */
	_Atomic bool busy;
	struct svl_qp *q;
	struct svl_dwar *next;
	bool linked;
	int64_t poll_since; /* a poll found nothing new since then, 0: no */
	int mem; /* the receiver's /proc/PID/mem (its mm), -1: none */
	uint64_t probe; /* an address of it */
	int64_t off_until; /* after a hand-over: the system call until then */
	struct war_pend pend[WAR_CAP];
};

static bool war_enabled(void)
{
	static int on = -1;

	if (on < 0) {
		const char *v = getenv("SOFTVERBS_DIRECT_WAR");

		on = !(v && v[0] == '0');
	}
	return on;
}

static struct sv_direct_war_rec *war_recs(uint8_t *map, uint32_t entries,
					  uint32_t stride)
{
	return (void *)(map + sv_direct_rx_war_off(entries, stride));
}

static struct sv_direct_war_rec *war_rec(struct sv_direct_war_rec *recs,
					 uint32_t n)
{
	return &recs[n & (SV_DIRECT_WAR_SLOTS - 1)];
}

/* ---------------------------------------------------------------------- */
/* The receiver's helper (under alock, direct_assist.c)                    */
/* ---------------------------------------------------------------------- */

static uint64_t self_start(void)
{
	static pid_t pid;
	static uint64_t start;
	pid_t me = svl_self_pid();

	if (__atomic_load_n(&pid, __ATOMIC_ACQUIRE) != me) {
		start = sv_proc_start_time(me);
		__atomic_store_n(&pid, me, __ATOMIC_RELEASE);
	}
	return start;
}

/* The helper's busy record names the entry; false if it moved. */
static bool busy_enter(struct sv_direct_rx_hdr *h, const uint8_t *table,
		       uint32_t key, uint32_t seq)
{
	atomic_store_explicit(A32(&h->war_busy.seq), seq,
			      memory_order_relaxed);
	atomic_store_explicit(A32(&h->war_busy.slot1),
			      sv_direct_key_slot(key) + 1,
			      memory_order_seq_cst);
	if (svl_dload32(svl_dkey_seq(table, key), memory_order_seq_cst) ==
	    seq)
		return true;
	atomic_store_explicit(A32(&h->war_busy.slot1), 0,
			      memory_order_release);
	return false;
}

static void busy_leave(struct sv_direct_rx_hdr *h)
{
	atomic_store_explicit(A32(&h->war_busy.slot1), 0,
			      memory_order_release);
}

void svl_dwar_release(struct svl_drx *x)
{
	if (x->war_held)
		busy_leave(x->h);
	x->war_held = false;
}

/*
 * The entry records write through: checked as the responder checks a
 * WRITE's rkey (our device, the receiver QP's PD, REMOTE_WRITE, a VA
 * region of this very process), then named by the busy record, kept from
 * batch to batch while the key stays and records keep coming (cleared
 * when a look finds none, before the helper sleeps, when the ring goes).
 * The record has been visible since it was set, so while it is held one
 * load of the entry's seq says whether the daemon unpublished it since.
 */
static bool key_take(struct svl_drx *x, uint32_t rkey)
{
	struct sv_direct_key *e = &x->war_key;

	if (x->war_held && e->key == rkey &&
	    svl_dload32(svl_dkey_seq(x->table, rkey), memory_order_seq_cst) ==
		    e->seq)
		return true;
	svl_dwar_release(x);
	if (!svl_direct_key_read(x->table, rkey, e) || e->dev != x->dev ||
	    e->pd != x->pd || !(e->access & IBV_ACCESS_REMOTE_WRITE) ||
	    (pid_t)e->pid != svl_self_pid() || e->start != self_start() ||
	    !e->va || (e->flags & SV_DIRECT_KEY_MAPPED))
		return false;
	x->war_held = busy_enter(x->h, x->table, rkey, e->seq);
	return x->war_held;
}

/*
 * Record n, checked as the responder checks a WRITE: the slots it took,
 * 0 if it failed. Read once (the initiator may write meanwhile); a
 * two-slot record must be a whole line, so it never runs past the ring.
 */
static uint32_t war_apply(struct svl_drx *x, struct sv_direct_war_rec *recs,
			  uint32_t n)
{
	const struct sv_direct_key *e = &x->war_key;
	const struct sv_direct_war_rec *src = war_rec(recs, n);
	struct war_long r;
	uint64_t off;

	memcpy(&r.head, src, sizeof(r.head));
	if (r.head.len == SV_DIRECT_WAR_PAD)
		return 1;
	if (war_slots(r.head.len) == 2) {
		if ((n & 1) || r.head.len > SV_DIRECT_WAR_MAX)
			return 0;
		memcpy(&r, src, sizeof(r));
	}
	if (r.head.len > SV_DIRECT_WAR_MAX || !key_take(x, r.head.rkey))
		return 0;
	off = r.head.raddr - e->iova;
	if (r.head.raddr < e->iova || off > e->length ||
	    r.head.len > e->length - off)
		return 0;
	svl_dcopy((void *)(uintptr_t)(e->va + off), r.head.data, r.head.len);
	return war_slots(r.head.len);
}

/*
 * How far this look reads the records from claim c: up to what the
 * initiator published (war_prod). Reading a record line the initiator is
 * still writing (the first record not written yet) takes the line from
 * it, and its next store there waits for the line to come back: with
 * the helper reading up to that record at every look, a record cost
 * such a wait whatever the records per line. Only after WAR_QUIET_LOOKS
 * looks with nothing published (the initiator stopped posting between
 * two publications) are the seqs read past it, so those records land.
 */
static uint32_t war_limit(struct svl_drx *x, uint32_t c)
{
	uint32_t p = svl_load_acquire(&x->h->war_prod);

	if (p - c - 1 < SV_DIRECT_WAR_SLOTS) { /* published past c */
		x->war_quiet = 0;
		return p - c < WAR_BATCH ? p - c : WAR_BATCH;
	}
	if (++x->war_quiet < WAR_QUIET_LOOKS)
		return 0;
	x->war_quiet = 0;
	return WAR_BATCH;
}

/* Take the records that are there (at most WAR_BATCH): how many. */
static uint32_t war_take(struct svl_drx *x, struct sv_direct_war_rec *recs,
			 uint32_t *c)
{
	struct sv_direct_rx_hdr *h = x->h;
	uint32_t n = 0, lim;

	*c = atomic_load_explicit(A32(&h->war_claim), memory_order_acquire);
	if ((*c & SV_DIRECT_WAR_REVOKED) ||
	    atomic_load_explicit(A32(&h->war_err), memory_order_relaxed))
		return 0;
	lim = war_limit(x, *c);
	while (n < lim &&
	       svl_load_acquire(&war_rec(recs, *c + n)->seq) == *c + n + 1)
		n += war_slots(war_rec(recs, *c + n)->len);
	if (n && !atomic_compare_exchange_strong(A32(&h->war_claim), c, *c + n))
		return 0; /* taken back meanwhile */
	return n;
}

/* Slots [c, c + n): how many were applied before a record failed. */
static uint32_t war_batch(struct svl_drx *x, struct sv_direct_war_rec *recs,
			  uint32_t c, uint32_t n)
{
	int st = x->q->qp.state;
	uint32_t i = 0, k = 1;

	if (st == IBV_QPS_RTR || st == IBV_QPS_RTS)
		while (i < n && (k = war_apply(x, recs, c + i)))
			i += k;
	if (i < n)
		svl_dwar_release(x);
	return i < n ? i : n;
}

/*
 * Look at the records this pass? A helper polling the record line the
 * initiator writes next turns every record into a cache line ping-pong
 * (the initiator's store waits for the line each time: 5-10 M/s). So it
 * looks every WAR_LOOK_EVERY passes, letting records gather into a batch,
 * and at once when the initiator says it waits (war_want: a line written
 * only then).
 */
static bool war_look(struct svl_drx *x)
{
	uint32_t want = atomic_load_explicit(A32(&x->h->war_want),
					     memory_order_relaxed);
	uint32_t prod = atomic_load_explicit(A32(&x->h->war_prod),
					     memory_order_relaxed);

	if (want != x->war_want || prod != x->war_prod) {
		x->war_want = want;
		x->war_prod = prod;
		return true;
	}
	if (x->war_skip) {
		x->war_skip--;
		return false;
	}
	return true;
}

void svl_dwar_last_look(struct svl_drx *x)
{
	x->war_skip = 0;
	x->war_quiet = WAR_QUIET_LOOKS - 1; /* past war_prod too */
}

bool svl_dwar_serve(struct svl_drx *x)
{
	struct sv_direct_war_rec *recs =
		war_recs(x->map, x->entries, x->stride);
	uint32_t c, n, i;

	if (!war_look(x))
		return false;
	n = war_take(x, recs, &c);
	x->war_skip = n == WAR_BATCH ? 0 : WAR_LOOK_EVERY;
	if (!n) {
		svl_dwar_release(x); /* nothing flows: the daemon must not wait */
		return false;
	}
	i = war_batch(x, recs, c, n);
	if (i < n)
		atomic_store(A32(&x->h->war_err), c + i + 1);
	atomic_store_explicit(A32(&x->h->war_cons), c + i,
			      memory_order_release);
	return true;
}

/*
 * The receiver QP went to RESET (under alock: the helper is not in a
 * batch): a new window far past every record an old initiator may still
 * write, so none of them is ever applied.
 */
void svl_dwar_rx_reset(struct svl_drx *x)
{
	uint32_t c = atomic_load(A32(&x->h->war_claim)) &
		     ~SV_DIRECT_WAR_REVOKED;
	uint32_t base = (c + WAR_REBASE) & ~SV_DIRECT_WAR_REVOKED;

	svl_dwar_release(x);
	atomic_store(A32(&x->h->war_err), 0);
	atomic_store(A32(&x->h->war_cons), base);
	atomic_store_explicit(A32(&x->h->war_claim), base,
			      memory_order_release);
}

/* ---------------------------------------------------------------------- */
/* The initiator: taking records back                                      */
/* ---------------------------------------------------------------------- */

/* The receiver's mm is still there (an exited process has none, even
 * before it is reaped). */
static bool receiver_alive(const struct svl_dwar *w)
{
	uint8_t b;

	return w->mem >= 0 && pread(w->mem, &b, 1, (off_t)w->probe) == 1;
}

static void war_close(struct svl_dwar *w)
{
	w->h = NULL;
	if (w->mem >= 0)
		close(w->mem);
	w->mem = -1;
}

/* Records written so far, for the helper's looks (war_limit). */
static void war_publish(struct svl_dwar *w)
{
	svl_store_release(&w->h->war_prod, w->prod);
}

/* Is record number c inside our window [base, prod]? */
static bool in_window(const struct svl_dwar *w, uint32_t c)
{
	return c - w->base <= w->prod - w->base;
}

/* Records the helper has applied, as far as war_cons in our window says. */
static void war_refresh(struct svl_dwar *w, uint32_t cons)
{
	if (in_window(w, cons) && cons - w->base >= w->done - w->base)
		w->done = cons;
}

/*
 * Set SV_DIRECT_WAR_REVOKED in war_claim: true and *c the claim before
 * it (records below are the helper's), false if the receiver reset its
 * ring (the claim is not in our window) or it was revoked already.
 */
static bool war_take_back(struct svl_dwar *w, uint32_t *c)
{
	_Atomic uint32_t *claim = A32(&w->h->war_claim);

	*c = atomic_load(claim);
	do {
		if ((*c & SV_DIRECT_WAR_REVOKED) || !in_window(w, *c))
			return false;
	} while (!atomic_compare_exchange_weak(claim, c,
					       *c | SV_DIRECT_WAR_REVOKED));
	return true;
}

/* Revoke: the first record the helper will never apply. */
static uint32_t war_revoke(struct svl_dwar *w)
{
	struct sv_direct_rx_hdr *h = w->h;
	uint32_t c, err, cons;

	if (!war_take_back(w, &c))
		return w->done;
	/* Records below c are the helper's: wait for them. */
	for (;;) {
		err = atomic_load(A32(&h->war_err));
		cons = svl_load_acquire(&h->war_cons);
		if (err && in_window(w, err - 1))
			return err - 1;
		if (cons == c || !receiver_alive(w))
			return in_window(w, cons) ? cons : w->done;
		sched_yield();
	}
}

static struct svl_dcq *war_dcq(struct svl_qp *q)
{
	return to_svl_cq(q->qp.send_cq)->dcq;
}

/*
 * n more signaled records pending (negative: completed or dropped).
 * Under the SQ lock, so no locked instruction: one would wait for the
 * record lines still in the store buffer (docs/direct-path.md).
 */
static void war_sigs_add(struct svl_dwar *w, int n)
{
	atomic_store_explicit(&w->sigs,
			      atomic_load_explicit(&w->sigs,
						   memory_order_relaxed) +
				      (uint32_t)n,
			      memory_order_relaxed);
}

/*
 * The completions of the signaled records applied so far, in order
 * (under the SQ lock; the CQ lock is taken per completion). Their room
 * in the CQ was reserved when they were pushed.
 */
static void war_reap(struct svl_qp *q, struct svl_dwar *w)
{
	struct svl_cq *cq;
	uint32_t n = 0;

	if (!atomic_load_explicit(&w->sigs, memory_order_relaxed)) {
		w->reaped = w->done; /* nothing to complete */
	} else {
		cq = to_svl_cq(q->qp.send_cq);
		for (; w->reaped != w->done; w->reaped++) {
			const struct war_pend *p =
				&w->pend[w->reaped & (w->cap - 1)];

			if (!p->wr || !p->signaled)
				continue;
			svl_direct_complete_id(q, p->wr_id, cq,
					       IBV_WC_RDMA_WRITE, p->len);
			n++;
		}
		war_sigs_add(w, -(int)n);
	}
	if (w->reaped == w->prod)
		atomic_store_explicit(&w->busy, false, memory_order_relaxed);
}

/*
 * Records [from, prod) will never complete here: the daemon has them, or
 * nobody (a destroyed QP's). Their completions' room goes back.
 */
static void war_unreap(struct svl_qp *q, struct svl_dwar *w, uint32_t from)
{
	uint32_t n = 0;

	if (!atomic_load_explicit(&w->sigs, memory_order_relaxed))
		from = w->prod;
	for (; from != w->prod; from++) {
		const struct war_pend *p = &w->pend[from & (w->cap - 1)];

		if (p->wr && p->signaled) {
			svl_direct_cq_unroom(to_svl_cq(q->qp.send_cq), true);
			n++;
		}
	}
	war_sigs_add(w, -(int)n);
	w->done = w->reaped = w->prod;
	atomic_store_explicit(&w->busy, false, memory_order_relaxed);
}

/* Records [from, prod) to the daemon; the window closes. Those before
 * from were applied: they complete first. */
static void war_hand_over(struct svl_qp *q, struct svl_dwar *w, uint32_t from)
{
	uint32_t at = from;

	struct ibv_send_wr wr[WAR_BATCH];
	struct ibv_sge sge[WAR_BATCH];
	uint32_t n = 0;

	if (in_window(w, from) && from - w->base > w->done - w->base)
		w->done = from;
	war_reap(q, w);
	for (; from != w->prod; from++) {
		const struct war_pend *p = &w->pend[from & (w->cap - 1)];

		if (!p->wr)
			continue;
		sge[n] = (struct ibv_sge){ .addr = p->inl ? (uintptr_t)p->data :
							    p->laddr,
					   .length = p->len, .lkey = p->lkey };
		wr[n] = (struct ibv_send_wr){
			.wr_id = p->wr_id, .sg_list = &sge[n], .num_sge = 1,
			.opcode = IBV_WR_RDMA_WRITE,
			.send_flags = (p->signaled ? IBV_SEND_SIGNALED : 0) |
				      (p->inl ? IBV_SEND_INLINE : 0),
			.wr.rdma = { .remote_addr = p->raddr,
				     .rkey = p->rkey } };
		if (++n == WAR_BATCH) {
			svl_post_handover(q, wr, n);
			n = 0;
		}
	}
	if (n)
		svl_post_handover(q, wr, n);
	war_unreap(q, w, at);
	war_close(w);
	w->off_until = svl_now_ns() + WAR_BACKOFF_NS;
}

/* How a wait for records ended. */
enum war_end {
	WAR_APPLIED, /* all applied; the window stays open */
	/* Something went wrong (a record failed, the helper stalled, the
	 * receiver is gone): every record not applied went to the daemon and
	 * the window closed. The ones waited for were applied all the same
	 * (the helper had taken them before they were taken back) ... */
	WAR_CLOSED_APPLIED,
	WAR_CLOSED, /* ... or some of them went to the daemon */
};

/*
 * Take the rest back and hand it to the daemon. A helper that stalled
 * may still have applied records it had taken, those waited for among
 * them: a signaled one must then complete here, not wait for the daemon
 * (it was never handed over: its completion was lost, and the poller
 * waited forever, 1 run in 5 of test_direct_war with two busy loops).
 */
static enum war_end war_close_at(struct svl_qp *q, struct svl_dwar *w,
				 uint32_t upto)
{
	uint32_t from = war_revoke(w);
	bool applied = from - w->base >= upto - w->base;

	war_hand_over(q, w, from);
	return applied ? WAR_CLOSED_APPLIED : WAR_CLOSED;
}

static enum war_end war_wait(struct svl_qp *q, struct svl_dwar *w,
			     uint32_t upto)
{
	struct sv_direct_rx_hdr *h = w->h;
	int64_t since = 0, t;
	uint32_t cons, last = w->done, spins = 0;

	war_publish(w);
	atomic_fetch_add_explicit(A32(&h->war_want), 1, memory_order_release);
	for (;;) {
		cons = svl_load_acquire(&h->war_cons);
		war_refresh(w, cons);
		if (w->done - w->base >= upto - w->base)
			return WAR_APPLIED;
		if (atomic_load(A32(&h->war_err)) ||
		    !in_window(w, cons))
			break;
		if (++spins & 63) {
			__builtin_ia32_pause();
			continue;
		}
		svl_dassist_kick(h);
		if (w->done != last || !since) {
			last = w->done;
			since = svl_now_ns();
			continue;
		}
		t = svl_now_ns() - since;
		if (t > WAR_STALL_NS)
			break;
		/* The helper may share our CPU (a futex wake places it next
		 * to its waker): let it run. */
		if (t > WAR_YIELD_NS)
			sched_yield();
	}
	return war_close_at(q, w, upto);
}

bool svl_dwar_fence(struct svl_qp *q)
{
	struct svl_dwar *w = q->dq ? q->dq->war : NULL;

	if (!w)
		return true;
	/* All applied (even if the window closed): nothing is left for the
	 * daemon, which the caller would have to follow. */
	if (w->h && w->prod != w->done && war_wait(q, w, w->prod) == WAR_CLOSED)
		return false;
	war_reap(q, w); /* their completions come before the caller's */
	return true;
}

/* ---------------------------------------------------------------------- */
/* The initiator: completions found by a poll                              */
/* ---------------------------------------------------------------------- */

/*
 * A poll of the send CQ found records of q not completed (under q's SQ
 * lock): complete what the helper applied; if it applied nothing since
 * the last look, wake it and (a completion being due) ask it to look now;
 * after WAR_STALL_NS of that, or at once if a record failed, take the
 * rest back for the daemon, as a post's wait would. So an application
 * that posted unsignaled small WRITEs and then only polls still gets the
 * daemon's error completion for one that failed, or for a dead target.
 */
static void war_poll_one(struct svl_qp *q, struct svl_dwar *w)
{
	uint32_t cons;
	int64_t now;

	if (!w->h)
		return;
	cons = svl_load_acquire(&w->h->war_cons);
	if (atomic_load(A32(&w->h->war_err)) || !in_window(w, cons)) {
		(void)war_close_at(q, w, w->prod);
		return;
	}
	war_refresh(w, cons);
	if (w->reaped != w->done || w->done == w->prod) {
		war_reap(q, w); /* progress (or nothing left) */
		w->poll_since = 0;
		return;
	}
	now = svl_now_ns();
	svl_dassist_kick(w->h); /* if it sleeps */
	if (!w->poll_since) {
		w->poll_since = now;
		/* A completion is due: the helper looks at its next pass. */
		war_publish(w);
		if (atomic_load_explicit(&w->sigs, memory_order_relaxed))
			atomic_fetch_add_explicit(A32(&w->h->war_want), 1,
						  memory_order_release);
	} else if (now - w->poll_since > WAR_STALL_NS) {
		w->poll_since = 0;
		(void)war_close_at(q, w, w->prod);
	}
}

/*
 * A look costs the war_cons line, which the helper writes after each
 * batch: a cross-core miss, and the locks. A poller that polls after
 * every post (as verbs_bench does) looks at every WAR_POLL_EVERY-th poll;
 * one that waits (a second poll with no post since, as perftest polls
 * once its window is full) looks at every poll, so a completion the
 * helper has made is found at once, not up to WAR_POLL_EVERY polls later
 * (ib_write_bw -s 8 posts 128, then waits for the 100th) if it posts
 * to that QP itself; after WAR_WAIT_LOOKS polls with no post it is idle,
 * and looks as rarely as the first kind. war_polls
 * counts polls since the last post (a count that may lose increments
 * when threads poll at once: it only spaces the looks).
 */
static __attribute__((noinline)) void war_poll_look(struct svl_dcq *d,
						    bool every)
{
	struct svl_dwar *w;

	pthread_mutex_lock(&d->war_lock);
	for (w = atomic_load_explicit(&d->wars, memory_order_relaxed); w;
	     w = w->next) {
		if (!atomic_load_explicit(&w->busy, memory_order_relaxed))
			continue;
		/* Between those looks, only QPs this thread posts to: a
		 * poller thread of its own would take their SQ locks at
		 * every poll, against the poster (bias_lock.h). */
		if (!every && !svl_ring_mine(&w->q->sq))
			continue;
		svl_ring_lock(&w->q->sq);
		war_poll_one(w->q, w);
		svl_ring_unlock(&w->q->sq);
	}
	pthread_mutex_unlock(&d->war_lock);
}

/* Most polls end here (every poll of a stream): kept apart from the
 * look, whose loop made every poll save and restore registers. */
void svl_dwar_poll(struct svl_cq *cq)
{
	struct svl_dcq *d = __atomic_load_n(&cq->dcq, __ATOMIC_ACQUIRE);
	uint32_t n;
	bool every;

	if (!d || !atomic_load_explicit(&d->wars, memory_order_relaxed))
		return;
	n = atomic_load_explicit(&d->war_polls, memory_order_relaxed) + 1;
	atomic_store_explicit(&d->war_polls, n, memory_order_relaxed);
	every = !(n % WAR_POLL_EVERY);
	if (n < 2 || (n > WAR_WAIT_LOOKS && !every))
		return;
	war_poll_look(d, every);
}

/*
 * On the send CQ's list, for its polls (under the SQ lock: a trylock of
 * war_lock, which a poll takes before an SQ lock; false: not now, and
 * this WRITE is not a record).
 */
static bool war_link(struct svl_qp *q, struct svl_dwar *w)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	struct svl_dcq *d;

	if (w->linked)
		return true;
	svl_cq_lock(cq);
	d = svl_dcq_get(cq);
	svl_cq_unlock(cq);
	if (!d || pthread_mutex_trylock(&d->war_lock))
		return false;
	w->q = q;
	w->next = atomic_load_explicit(&d->wars, memory_order_relaxed);
	atomic_store_explicit(&d->wars, w, memory_order_relaxed);
	w->linked = true;
	pthread_mutex_unlock(&d->war_lock);
	return true;
}

void svl_dwar_unlink(struct svl_qp *q)
{
	struct svl_dwar *w = q->dq ? q->dq->war : NULL, *p;
	struct svl_dcq *d;

	if (!w || !w->linked)
		return;
	d = war_dcq(q);
	pthread_mutex_lock(&d->war_lock);
	p = atomic_load_explicit(&d->wars, memory_order_relaxed);
	if (p == w)
		atomic_store_explicit(&d->wars, w->next, memory_order_relaxed);
	for (; p; p = p->next) {
		if (p->next == w) {
			p->next = w->next;
			break;
		}
	}
	w->linked = false;
	pthread_mutex_unlock(&d->war_lock);
}

/* ---------------------------------------------------------------------- */
/* The initiator: pushing                                                  */
/* ---------------------------------------------------------------------- */

/* A quiet ring (nothing claimed and not applied): ours from its claim. */
static bool war_open(struct svl_qp *q, struct svl_dwar *w)
{
	struct svl_dqp *d = q->dq;
	struct sv_direct_rx_hdr *h = svl_direct_peer_hdr(q);
	uint32_t c, cons;

	if (!h || atomic_load(A32(&h->as_state)) == SV_ASSIST_NONE)
		return false;
	c = atomic_load_explicit(A32(&h->war_claim), memory_order_acquire);
	cons = atomic_load(A32(&h->war_cons));
	if (cons != (c & ~SV_DIRECT_WAR_REVOKED) &&
	    !atomic_load(A32(&h->war_err)))
		return false; /* the helper is in a batch */
	if (c & SV_DIRECT_WAR_REVOKED || atomic_load(A32(&h->war_err))) {
		/* Ours, taken back earlier: a new window past it. */
		c = ((c & ~SV_DIRECT_WAR_REVOKED) + WAR_REBASE) &
		    ~SV_DIRECT_WAR_REVOKED;
		atomic_store(A32(&h->war_err), 0);
		atomic_store(A32(&h->war_cons), c);
		atomic_store_explicit(A32(&h->war_claim), c,
				      memory_order_release);
	}
	w->h = h;
	w->recs = war_recs(d->rx.map, d->rx.entries, d->rx.stride);
	w->gen = d->rx.gen;
	w->cseq = d->cache.hot.cseq - 1; /* checked at the first push */
	w->base = w->prod = w->done = w->reaped = c;
	war_publish(w);
	w->mem = d->cache.map ? dup(((struct rmap *)d->cache.map)->fd) : -1;
	w->probe = d->cache.hot.rva;
	if (w->mem < 0) {
		w->h = NULL; /* no way to tell a stopped receiver from a dead one */
		return false;
	}
	return true;
}

/* The window we have is still the peer ring's: if not, its records
 * went with that ring (the receiver was reset): the daemon fails them. */
static bool war_current(struct svl_qp *q, struct svl_dwar *w)
{
	struct sv_direct_conn c;

	/* The hot path checked that the record has not moved since. */
	if (w->cseq == q->dq->cache.hot.cseq)
		return true;
	if (svl_direct_conn(q->dq, &c) && c.peer_rx == w->gen) {
		w->cseq = c.seq;
		return true;
	}
	war_hand_over(q, w, w->done);
	return false;
}

static struct svl_dwar *war_get(struct svl_qp *q)
{
	struct svl_dqp *d = q->dq;
	struct svl_dwar *w = d->war;

	if (!w) {
		if (!war_enabled() || q->sq.entries < 2 ||
		    !(w = svl_lines_zalloc(sizeof(*w))))
			return NULL;
		w->cap = q->sq.entries < WAR_CAP ? q->sq.entries : WAR_CAP;
		w->mem = -1;
		d->war = w;
	}
	if (w->off_until && svl_now_ns() < w->off_until)
		return NULL;
	w->off_until = 0;
	if (w->h && !war_current(q, w))
		return NULL;
	if (!w->h && !war_open(q, w))
		return NULL;
	return w;
}

/* The slots a record of k slots takes at w->prod, with its pad. */
static uint32_t war_need(const struct svl_dwar *w, uint32_t k)
{
	return k == 2 ? k + (w->prod & 1) : k;
}

/* Room for need more slots; false if a hand-over happened instead (or
 * the SQ is too short for them). */
static bool war_room(struct svl_qp *q, struct svl_dwar *w, uint32_t need)
{
	if (need > w->cap)
		return false;
	if (w->prod - w->reaped <= w->cap - need)
		return true;
	war_refresh(w, svl_load_acquire(&w->h->war_cons));
	if (w->prod - w->done > w->cap - need &&
	    war_wait(q, w, w->prod + need - w->cap) != WAR_APPLIED)
		return false;
	war_reap(q, w); /* their slots' pend is ours again */
	return true;
}

/* Slot w->prod's record: the fields, then the seq (release). */
static void war_put(struct svl_dwar *w, uint32_t len, uint32_t rkey,
		    uint64_t raddr, const void *data, uint32_t k)
{
	struct sv_direct_war_rec *rec = war_rec(w->recs, w->prod);

	rec->len = len;
	rec->rkey = rkey;
	rec->raddr = raddr;
	/* A two-slot record is a whole line: its bytes go on into the
	 * next slot. */
	if (data)
		memcpy((uint8_t *)rec + offsetof(struct sv_direct_war_rec,
						 data),
		       data, len);
	svl_store_release(&rec->seq, w->prod + 1);
	w->prod += k;
	/* Records start at slots of their size's alignment: a boundary
	 * crossed is one reached. */
	if (!(w->prod & (WAR_PUB - 1)))
		war_publish(w);
}

/* Slot w->prod's pending work request (the daemon's if taken back). */
static void war_pend_set(struct svl_dwar *w, const struct svl_dwar_req *r,
			 uint32_t k)
{
	struct war_pend *p = &w->pend[w->prod & (w->cap - 1)];

	/* Field by field: a compound literal cleared data[] each time. */
	p->wr_id = r->wr_id;
	p->raddr = r->raddr;
	p->laddr = r->laddr;
	p->rkey = r->rkey;
	p->lkey = r->lkey;
	p->len = (uint32_t)r->len;
	p->wr = true;
	p->signaled = r->signaled;
	p->inl = r->inl;
	if (r->inl) /* the application may reuse its bytes at once */
		memcpy(p->data, r->local, r->len);
	if (k == 2)
		w->pend[(w->prod + 1) & (w->cap - 1)].wr = false;
}

/* r as a record of k slots (war_slots). */
static void war_push(struct svl_dwar *w, const struct svl_dwar_req *r,
		     uint32_t k)
{
	if (k == 2 && (w->prod & 1)) {
		w->pend[w->prod & (w->cap - 1)].wr = false;
		war_put(w, SV_DIRECT_WAR_PAD, 0, 0, NULL, 1);
	}
	war_pend_set(w, r, k);
	war_put(w, (uint32_t)r->len, r->rkey, r->raddr, r->local, k);
	/*
	 * Own the line of a record a few ahead before we write it: the
	 * helper read it last time round, and waiting for it here, at the
	 * store, is what a record costs. Only two lines ahead: the helper,
	 * reading up to the first record not yet written, pulls the lines
	 * after it into its cache too (its hardware prefetcher), and a line
	 * taken further ahead is taken from us again before we write it
	 * (AMD EPYC VM: 32 slots ahead 7.7 Mmsg/s at 8 B, 4 slots 20).
	 */
	svl_prefetchw(war_rec(w->recs, w->prod + WAR_PREFETCH));
	/* A helper asleep (no core was free for it to poll): wake it. */
	if (atomic_load_explicit(A32(&w->h->as_state),
				 memory_order_relaxed) == SV_ASSIST_ASLEEP)
		svl_dassist_kick(w->h);
}

/*
 * Records only for a stream: a WRITE posted alone (a ping-pong whose peer
 * polls the bytes, as ib_write_lat) would wait for the helper, which
 * shares its CPU with that polling thread when both are pinned to one:
 * milliseconds instead of the system call's 1.5 us. So a WRITE makes a
 * record while records are in flight or the last WAR_STREAM_RUN small
 * WRITEs each came less than WAR_STREAM_TSC cycles (about 800 ns) after
 * the previous one's post returned (a record's post is short: its start
 * stands for its end). In a ping-pong that gap holds the peer's system
 * call (1.2 us), so a run of short gaps never forms there; measured start
 * to start it would hold our own system call too, and a stream of them
 * would never turn into records (docs/direct-path.md, "Only for streams").
 *
 * Reading the TSC costs a post 10 ns, and far more in this VM's slow
 * phases (half of a record post's samples in one profile), so inside a
 * stream it is read every WAR_CLOCK_EVERY-th post, and the posts since
 * must have come within WAR_STREAM_TSC each on average: a ping-pong that
 * follows a stream makes at most WAR_CLOCK_EVERY - 1 more records. *now
 * is the TSC read, 0 if none was.
 */
static bool war_streaming(struct svl_dqp *d, uint64_t *now)
{
	struct svl_dwar *w = d->war;
	uint32_t n = ++d->war_posts;
	uint64_t gap;

	if (d->war_run >= WAR_STREAM_RUN && n < WAR_CLOCK_EVERY)
		return true;
	*now = __builtin_ia32_rdtsc();
	d->war_posts = 0;
	gap = *now - d->war_tsc;
	if (gap >= (uint64_t)WAR_STREAM_TSC * n ||
	    (d->war_run < WAR_STREAM_RUN && gap >= (uint64_t)WAR_ENTER_TSC * n))
		d->war_run = 0;
	else if (d->war_run < WAR_STREAM_RUN)
		d->war_run++;
	if (d->war_run >= WAR_STREAM_RUN)
		return true;
	if (!w || !w->h || w->prod == w->done)
		return false;
	/* Records were in flight at the last look: still? */
	war_refresh(w, svl_load_acquire(&w->h->war_cons));
	return w->prod != w->done;
}

int svl_dwar_write(struct svl_qp *q, const struct svl_dwar_req *r)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	uint32_t k = war_slots((uint32_t)r->len);
	uint64_t now = 0;
	struct svl_dwar *w;

	if (r->len > SV_DIRECT_WAR_MAX || !war_streaming(q->dq, &now) ||
	    !(w = war_get(q)) || !war_room(q, w, war_need(w, k)) ||
	    !war_link(q, w) ||
	    !svl_direct_cq_room(cq, r->signaled))
		return -1;
	war_push(w, r, k);
	/* A poll that follows is not a wait (svl_dwar_poll). */
	atomic_store_explicit(&war_dcq(q)->war_polls, 0, memory_order_relaxed);
	if (!atomic_load_explicit(&w->busy, memory_order_relaxed))
		atomic_store_explicit(&w->busy, true, memory_order_relaxed);
	if (now)
		q->dq->war_tsc = now;
	/*
	 * A signaled one completes once applied, not here: found by the
	 * next wait of this QP (room, a fence) or a poll of its send CQ
	 * (svl_dwar_poll). Waiting here for the helper cost a cross-core
	 * round trip per signaled WRITE.
	 */
	if (r->signaled)
		war_sigs_add(w, 1);
	return 0;
}

/*
 * The peer ring goes (the QP is modified or destroyed): records not yet
 * taken are taken back and dropped (a modify waited for them first,
 * svl_dwar_fence; a destroyed QP's work may land or not, as in IB).
 */
void svl_dwar_forget(struct svl_dqp *d)
{
	struct svl_dwar *w = d->war;
	uint32_t c;

	if (!w || !w->h)
		return;
	if (w->prod != w->done && war_take_back(w, &c))
		war_refresh(w, svl_load_acquire(&w->h->war_cons));
	if (w->q) {
		war_reap(w->q, w);
		war_unreap(w->q, w, w->done);
	}
	w->done = w->reaped = w->prod;
	atomic_store_explicit(&w->busy, false, memory_order_relaxed);
	war_close(w);
}

void svl_dwar_free(struct svl_dqp *d)
{
	if (d->war)
		war_close(d->war);
	free(d->war);
	d->war = NULL;
}
