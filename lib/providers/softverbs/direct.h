/* SPDX-License-Identifier: MIT */
/*
 * The same-host direct path, library side (docs/direct-path.md).
 *
 * When the daemon granted an RC QP's connection the direct path, the
 * library performs RDMA WRITE and READ to the peer's VA regions itself
 * inside ibv_post_send (one process_vm_writev/readv per work request),
 * after checking the rkey, bounds, access rights and both QPs' state in
 * the table the daemon publishes read-only. A work request it is not sure
 * of -- another opcode, a key it does not find, a failing copy -- goes to
 * the daemon's engine instead, which gives the daemon path's exact result
 * (errors, NAKs, QP states). On by default; SOFTVERBS_DIRECT=0 turns
 * it off.
 *
 * Order: a QP goes direct only when nothing of its is left in the daemon
 * (consumer index caught up and every daemon completion polled), and its
 * direct completions go to a per-CQ ring that poll_cq merges with the
 * daemon's (direct_cq.c) so that each QP's completions stay in order.
 */
#ifndef SVL_DIRECT_H
#define SVL_DIRECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "svl_cq.h"
#include "svl_qp.h"

enum svl_dstate {
	SVL_DIRECT_UNTRIED = 0, /* ask the daemon at the next post */
	SVL_DIRECT_GRANTED,
	SVL_DIRECT_REFUSED, /* daemon path until the QP is modified */
};

/* The peer's receive ring, as an initiator maps it (direct_send.c). */
struct svl_dpeer {
	uint8_t *map; /* NULL until fetched */
	size_t len;
	uint32_t gen, entries, stride;
	uint64_t pd; /* the peer's PD tag (its receive buffers' keys) */
	/*
	 * The receiver's words as last read (direct_send.c ring_state):
	 * stale ones only under-count free slots and posted receives, so
	 * they are read again only when they say "full" or "no receive".
	 * Forgotten (known false) when the connection record changes or
	 * work of ours goes to the daemon (whose receives shift rq_cons).
	 */
	bool known;
	uint32_t taken, rq_cons, rq_prod, conn_seq;
};

/*
 * Per QP: the last entries the direct path read, kept while their seqs
 * hold, so a stream of work requests to one region reads the table once
 * (direct_op.c).
 */
/*
 * The hot path (direct_hot.c): the last WRITE/READ to a region (mapped,
 * or VA up to 64 KiB), from one local SGE or inline bytes, as checked: while the seqs of the
 * three entries it was checked against hold (our key, the remote key, the
 * connection), a work request with the same keys inside the same ranges
 * and an allowed direction needs no more than those three loads.
 */
struct svl_dhot {
	uint32_t rkey, lkey; /* rkey 0: empty; lkey 0: inline bytes only */
	uint32_t rseq, lseq, cseq;
	uint32_t rslot; /* the remote entry's table slot */
	uint32_t ops; /* HOT_WRITE, HOT_READ: what both keys and the peer allow */
	const uint32_t *rseq_p, *lseq_p, *cseq_p;
	uint64_t riova, rlen, liova, llen;
	uint8_t *rbase; /* the remote byte riova, mapped here; NULL: VA */
	uint64_t rva; /* VA: its address in the registrar */
	uintptr_t lbase; /* the local byte liova */
};

struct svl_dcache {
	struct sv_direct_key local, remote;
	struct sv_direct_conn conn;
	void *map; /* the remote mapped region's file (struct rmap), a ref */
	bool conn_ok, remote_target;
	struct svl_dhot hot; /* valid only with map, while rkey is set */
};

/* Per QP, once granted (direct.c). */
struct svl_dqp {
	const uint8_t *table; /* the daemon's table, mapped read-only */
	uint32_t conn, dev, peer_qpn, qpn;
	uint64_t pd; /* our PD's tag: local keys must carry it */
	struct sv_direct_busy *busy; /* in our SQ doorbell record */
	bool asym; /* busy store, seq load: the daemon fences (direct_op.h) */
	/* Work of ours in the daemon (under the SQ lock and the CQ lock). */
	bool dmn; /* posted to the daemon, not yet seen complete */
	bool failed; /* a daemon completion was an error */
	bool watching; /* on the send CQ's watch list */
	uint32_t sig, seen; /* daemon completions expected / polled */
	/* Daemon completions of an earlier stay, written but not polled
	 * when the QP went direct: the next ones of ours a poll takes. */
	uint32_t stale;
	struct svl_dqp *wnext;
	uint32_t slid; /* what the peer's receive completions name */
	struct svl_dpeer rx;
	uint32_t rx_tried; /* generation fetched (or failed) last */
	bool assist_off; /* the peer's helper failed once (direct_assist.c) */
	struct svl_dwar *war; /* small WRITEs the peer's helper applies */
	uint64_t war_tsc; /* when the last small WRITE was posted */
	uint32_t war_run; /* small WRITEs in a row that came that soon */
	uint32_t war_posts; /* small WRITEs since war_tsc was read */
	uint32_t drain_skip; /* posts before the next wait for the daemon */
	struct svl_dcache cache;
};

/*
 * The receive ring of one of our RC QPs (direct_rx.c): the daemon made
 * it, a granted initiator pushes messages, poll_cq on the QP's receive CQ
 * drains them into the QP's receive WQEs.
 */
struct svl_drx {
	struct svl_qp *q;
	uint8_t *map;
	size_t len;
	struct sv_direct_rx_hdr *h;
	uint8_t *mirror, *slots;
	uint32_t entries, stride;
	const uint8_t *table; /* to check our own receive buffers' keys */
	uint32_t dev;
	uint64_t pd;
	bool used; /* a message taken since the ring was made or reset */
	/* direct_war.c, the helper's: war_want and war_prod as last seen;
	 * passes until it looks at the records again; looks since war_prod
	 * last moved. */
	uint32_t war_want, war_prod, war_skip, war_quiet;
	/* The entry the helper writes through, named by its busy record
	 * (war_held) from one batch to the next while records keep coming. */
	struct sv_direct_key war_key;
	bool war_held;
	struct svl_drx *next; /* on the receive CQ's list */
};

/* Per CQ: completions the direct path produced (direct_cq.c). */
/*
 * Fetch a line we are about to write, owned (PREFETCHW: AMD since K8,
 * Intel since Broadwell, a no-op on older ones). __builtin_prefetch(p, 1)
 * emits PREFETCHT0, a read, unless the build targets PRFCHW: a store
 * into a line another core read then still waits for its ownership.
 */
static inline void svl_prefetchw(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

struct svl_dcq {
	struct sv_cqe *ring;
	uint32_t *stamp; /* the daemon ring's prod when each was pushed */
	uint32_t entries, prod, cons, reserved;
	bool cur_direct; /* what svl_cq_peek() returned */
	struct svl_dqp *watch; /* QPs waiting for their daemon completions */
	struct svl_drx *rxs; /* receive rings this CQ drains */
	/*
	 * direct_war.c: QPs whose signaled small WRITEs complete when their
	 * records are applied, found by a poll (under war_lock, taken before
	 * a QP's SQ lock, never after one but with a trylock; the head is
	 * read without it as a hint), and polls since the last look.
	 */
	pthread_mutex_t war_lock;
	struct svl_dwar *_Atomic wars;
	_Atomic uint32_t war_polls;
};

/* post.c, qp_ex.c: before taking the SQ lock (asks for the grant). */
void svl_direct_prepare(struct svl_qp *q);
/* direct_early.c, qp.c: ask at RTS, in the background (direct.c asks). */
void svl_direct_early(struct svl_qp *q);
void svl_direct_early_cancel(struct svl_qp *q);
void svl_direct_ask_early(struct svl_qp *q);
void svl_direct_rx_early(struct svl_qp *q);
void svl_direct_early_rtr(struct svl_qp *q);
/* Under the SQ lock: 0 = the WQE was executed and completed directly. */
int svl_direct_exec(struct svl_qp *q, const struct sv_send_wqe *w);
/* post.c, under the SQ lock, before building a WQE: 0 = wr was a WRITE
 * or READ the hot path did (direct_hot.c); -1 = nothing happened. */
int svl_direct_hot_wr(struct svl_qp *q, const struct ibv_send_wr *wr);
/* Under the SQ lock: nothing of ours left in the daemon (direct.c). */
bool svl_direct_idle(struct svl_qp *q);
/* Under the SQ lock: the WQE goes to the daemon. */
void svl_direct_daemon_posted(struct svl_qp *q, const struct sv_send_wqe *w);
/* qp_ex.c wr_complete: execute the batch's leading WQEs directly. */
void svl_direct_batch(struct svl_qp *q);
/*
 * post.c, direct.c: the WQEs built at [sq.prod, end) run directly while
 * they can (a run of VA ones by one system call); the rest move down to
 * sq.prod and go to the daemon. Returns their new end.
 */
uint32_t svl_direct_run(struct svl_qp *q, uint32_t end);

/* The SQ's WQE at index i. */
static inline struct sv_send_wqe *svl_sq_slot(struct svl_qp *q, uint32_t i)
{
	return (void *)(q->sq.buf + (size_t)(i & (q->sq.entries - 1)) *
				    q->sq.stride);
}
/* qp.c: the QP was modified / is destroyed. */
void svl_direct_qp_modified(struct svl_qp *q);
void svl_direct_qp_free(struct svl_qp *q);

/* direct_op.c: getpid(), cached (reset in a forked child). */
pid_t svl_self_pid(void);

/* CLOCK_MONOTONIC in ns: the direct path's waits and stalls. */
static inline int64_t svl_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
/* direct.c: the path is on (SOFTVERBS_DIRECT=0 turns it off). */
bool svl_direct_on(void);
/* direct_cq.c, under cq->lock: the CQ's direct part, made on first use. */
struct svl_dcq *svl_dcq_get(struct svl_cq *cq);

/* direct.c: the daemon's table behind fd (closed), mapped once. */
const uint8_t *svl_direct_table_map(int fd);

/* direct_op.c, for SEND too. */
bool svl_direct_key_ok(const uint8_t *table, uint32_t dev, uint32_t key,
		       uint64_t pd, uint64_t addr, uint64_t len, uint32_t need,
		       struct sv_direct_key *e);
/* key's entry, read consistently (a seqlock); false if none or moving. */
bool svl_direct_key_read(const uint8_t *table, uint32_t key,
			 struct sv_direct_key *e);
bool svl_direct_conn(const struct svl_dqp *d, struct sv_direct_conn *c);
/* The WQE's local bytes (inline or our SGEs): iov count, or -1. */
int svl_direct_local(const struct svl_qp *q, const struct sv_send_wqe *w,
		     struct iovec *iov, unsigned int max, uint64_t *len);
bool svl_direct_cq_room(struct svl_cq *cq, bool signaled);
void svl_direct_cache_drop(struct svl_dqp *d); /* QP modified, freed */
void svl_direct_cq_unroom(struct svl_cq *cq, bool signaled);
void svl_direct_complete(struct svl_qp *q, const struct sv_send_wqe *w,
			 struct svl_cq *cq, uint32_t opcode, uint64_t len);
void svl_direct_complete_id(struct svl_qp *q, uint64_t wr_id,
			    struct svl_cq *cq, uint32_t opcode, uint64_t len);

/*
 * direct_op.c: the RDMA WRITE part of a WRITE_WITH_IMM (checked, room for
 * its send completion taken, copied): 0 and its length; -1 if nothing
 * happened.
 */
int svl_direct_write_part(struct svl_qp *q, const struct sv_send_wqe *w,
			  uint64_t *len);
/*
 * direct_op.c: a SEND's payload (w's local side) written straight into
 * the peer's receive buffer [addr, +len) of key (checked: the peer QP's
 * PD, LOCAL_WRITE, a VA region), room for the send completion taken: 0
 * and its length; -1 if nothing happened.
 */
int svl_direct_place(struct svl_qp *q, const struct sv_send_wqe *w,
		     uint32_t key, uint64_t addr, uint64_t *len);
/* direct_send.c: SEND / SEND_WITH_IMM into the peer's receive ring;
 * WRITE_WITH_IMM: the WRITE, then its immediate through the ring. */
int svl_direct_send(struct svl_qp *q, const struct sv_send_wqe *w);
int svl_direct_write_imm(struct svl_qp *q, const struct sv_send_wqe *w);
void svl_direct_peer_drop(struct svl_dqp *d);

/* direct_rx.c: the receiver's side. */
/* post.c, after a post: true if the QP's SENDs come through its ring
 * (the engine then needs no wake for the new receives). */
bool svl_direct_recv_posted(struct svl_qp *q);
/* direct_assist.c: the receive rings our helper serves; its end. */
void svl_dassist_add(struct svl_drx *x);
void svl_dassist_del(struct svl_drx *x);
void svl_dassist_stop(void);
/* Wake the helper serving h if it sleeps. */
void svl_dassist_kick(struct sv_direct_rx_hdr *h);

/*
 * A WRITE or READ as the hot path (direct_hot.c) sees it; then, for a
 * small WRITE to a VA region, as direct_war.c takes it (local: its bytes
 * here, once the hot path checked them). One struct for both, passed by
 * pointer: a copy read back in 16-byte loads what was just stored in
 * 8-byte ones stalled on store forwarding (perf: 15 % of a post).
 */
struct svl_dwar_req {
	uint64_t wr_id, raddr, laddr, len;
	uint32_t rkey, lkey;
	bool read, signaled;
	bool inl; /* laddr is the bytes themselves (no lkey) */
	const void *local;
};
/* Under the SQ lock: 0 = pushed (a signaled one also completed) or
 * handed to the daemon; -1 = not taken (then if q->dq->dmn, records went
 * to the daemon: the work request must follow them there). */
int svl_dwar_write(struct svl_qp *q, const struct svl_dwar_req *r);
/* Under the SQ lock: the QP's records applied (true), or handed over. */
bool svl_dwar_fence(struct svl_qp *q);
/* ibv_poll_cq, start_poll: before the CQ lock (direct_war.c). */
void svl_dwar_poll(struct svl_cq *cq);
/* QP destroy, before the peer ring goes: off its send CQ's list. */
void svl_dwar_unlink(struct svl_qp *q);
void svl_dwar_forget(struct svl_dqp *d); /* the peer ring goes */
void svl_dwar_free(struct svl_dqp *d);
/* The helper (under alock): apply x's records; whether there were any. */
bool svl_dwar_serve(struct svl_drx *x);
void svl_dwar_rx_reset(struct svl_drx *x); /* under alock */
/* Under alock: the next pass reads every record written (it sleeps). */
void svl_dwar_last_look(struct svl_drx *x);
/* Under alock: the helper's busy record cleared (it sleeps, x goes). */
void svl_dwar_release(struct svl_drx *x);
/* direct_assist.c: hold the helper out of its passes around fn(x). */
void svl_dassist_quiet(void (*fn)(struct svl_drx *), struct svl_drx *x);
/* post.c, under the SQ lock: wr[0..n) built and given to the daemon. */
void svl_post_handover(struct svl_qp *q, struct ibv_send_wr *wr,
		       uint32_t n);
/* direct_send.c: the peer's receive ring header, mapped, or NULL. */
struct sv_direct_rx_hdr *svl_direct_peer_hdr(struct svl_qp *q);
void svl_direct_rx_drain(struct svl_cq *cq); /* under cq->lock */
void svl_direct_cq_armed(struct svl_cq *cq, int solicited); /* cq.c */
/* Under cq->lock: SV_CQ_ARM_* of an arm the daemon has not taken, or 0. */
uint32_t svl_direct_cq_arm_pending(const struct svl_cq *cq);
void svl_direct_rx_reset(struct svl_qp *q); /* qp.c: modify to RESET */
void svl_direct_rx_free(struct svl_qp *q);

/*
 * direct_guard.c: SIGBUS on a truncated mapped region fails the copy.
 * [lo, lo + len) is guarded: *word is 0 until a SIGBUS there, which
 * replaces the range with private memory. A slot, or -1 (none free).
 */
int svl_direct_guard_add(void *lo, size_t len, uint32_t *word);
void svl_direct_guard_del(int slot);

/* direct_cq.c, without cq->lock: nothing to poll (a hint). */
bool svl_cq_seems_empty(struct svl_cq *cq);
/* direct_cq.c, under cq->lock. */
const struct sv_cqe *svl_cq_peek(struct svl_cq *cq);
void svl_cq_pop(struct svl_cq *cq);
void svl_dcq_clean(struct svl_cq *cq, uint32_t qpn);
void svl_dcq_free(struct svl_cq *cq);
/* Room for one direct completion (taken under cq->lock), then push it. */
int svl_dcq_reserve(struct svl_cq *cq);
void svl_dcq_push(struct svl_cq *cq, const struct sv_cqe *e);
void svl_dcq_unreserve(struct svl_cq *cq);
/* Watch list: d waits until its daemon completions are polled. */
int svl_dcq_watch(struct svl_cq *cq, struct svl_dqp *d);
bool svl_dcq_all_written(struct svl_cq *cq, struct svl_dqp *d);
void svl_dcq_unwatch(struct svl_cq *cq, struct svl_dqp *d);

#endif
