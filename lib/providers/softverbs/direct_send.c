// SPDX-License-Identifier: MIT
/*
 * Direct SEND, initiator side (docs/direct-path.md, "SEND").
 *
 * A SEND or SEND_WITH_IMM of up to SV_DIRECT_RX_EAGER bytes on a granted
 * connection is pushed into the peer's receive ring (a memfd the daemon
 * made for the peer QP) and completed at once; the peer's library drains
 * the ring in poll_cq into its receive WQEs. Before pushing, the receive
 * the message will take is checked in the ring's copy of the peer's
 * receive queue: posted (else the daemon path gives RNR exactly as
 * before), keys of the peer's PD with LOCAL_WRITE, room for the message
 * (else the daemon path gives the length or protection error).
 *
 * Before the engine runs this QP's next daemon-path work it drains what
 * is left in the ring itself, so a SEND that goes to the daemon never
 * overtakes a direct one, and never waits for the peer's poll_cq.
 * A peer whose CQ is armed (the ring's armed word) gets its event from
 * the daemon (SV_METHOD_DIRECT_NOTIFY).
 *
 * An RDMA WRITE_WITH_IMM is the WRITE (direct_op.c) followed by a
 * message without payload (SV_DIRECT_RX_WRITE) that only takes the
 * receive and carries the immediate: the receive is checked posted
 * before anything is written, as the responder asks for it first (RNR
 * otherwise), and the message is pushed after the copy, so the receiver
 * never sees the completion before the data.
 *
 * A SEND larger than a ring slot (up to 8 MiB) whose receive holds it in
 * its first SGE is written straight into that buffer (one pwrite or
 * process_vm_writev on the receiver's mm, with the checks of a WRITE
 * against the receive key: the peer QP's PD, LOCAL_WRITE, a VA region),
 * then announced by a message without payload (SV_DIRECT_RX_PLACED) that
 * takes the receive.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "direct.h"
#include "svl_prov.h"

#define MAX_IOV 64

/* ---------------------------------------------------------------------- */
/* The peer's ring                                                         */
/* ---------------------------------------------------------------------- */

static int peer_cmd(struct svl_qp *q, struct sv_direct_recv_resp *r, int *fd)
{
	struct ib_uverbs_attr *f;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_DIRECT_PEER_RECV);
	svl_attr_idr(&c, SV_ATTR_DIRECT_PEER_QP, q->qp.handle);
	svl_attr_out(&c, SV_ATTR_DIRECT_PEER_RESP, r, sizeof(*r));
	f = svl_attr_fd_new(&c, SV_ATTR_DIRECT_PEER_FD);
	ret = svl_exec(q->qp.context, &c);
	*fd = ret ? -1 : (int)f->data_s64;
	return ret;
}

void svl_direct_peer_drop(struct svl_dqp *d)
{
	svl_dwar_forget(d); /* its window is in that ring */
	if (d->rx.map)
		munmap(d->rx.map, d->rx.len);
	memset(&d->rx, 0, sizeof(d->rx));
	d->rx_tried = 0;
}

/* The geometry the daemon gave, and a file that big. */
static bool geometry_ok(const struct sv_direct_recv_resp *r, int fd)
{
	struct stat st;

	if (!r->rq_entries || (r->rq_entries & (r->rq_entries - 1)) ||
	    r->rq_stride < sizeof(struct sv_recv_wqe) ||
	    r->size != sv_direct_rx_size(r->rq_entries, r->rq_stride))
		return false;
	return !fstat(fd, &st) && (uint64_t)st.st_size >= r->size;
}

static void peer_map(struct svl_qp *q)
{
	struct svl_dqp *d = q->dq;
	struct sv_direct_recv_resp r = {};
	void *p = MAP_FAILED;
	int fd = -1;

	if (peer_cmd(q, &r, &fd) || fd < 0)
		return;
	if (geometry_ok(&r, fd))
		p = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
	close(fd);
	if (p == MAP_FAILED)
		return;
	d->rx = (struct svl_dpeer){ .map = p, .len = r.size, .gen = r.gen,
				    .entries = r.rq_entries,
				    .stride = r.rq_stride };
	d->rx_tried = r.gen;
}

/* The ring the connection record names, mapped (once per generation). */
static bool peer_ring(struct svl_qp *q, const struct sv_direct_conn *c)
{
	struct svl_dqp *d = q->dq;

	if (!c->peer_rx)
		return false;
	if (d->rx.map && d->rx.gen == c->peer_rx)
		return true;
	if (d->rx_tried == c->peer_rx)
		return false;
	svl_direct_peer_drop(d);
	d->rx_tried = c->peer_rx;
	peer_map(q);
	return d->rx.map && d->rx.gen == c->peer_rx;
}

struct sv_direct_rx_hdr *svl_direct_peer_hdr(struct svl_qp *q)
{
	struct sv_direct_conn c;

	if (!svl_direct_conn(q->dq, &c) || !peer_ring(q, &c))
		return NULL;
	return (struct sv_direct_rx_hdr *)q->dq->rx.map;
}

/* ---------------------------------------------------------------------- */
/* One message                                                             */
/* ---------------------------------------------------------------------- */

struct dsend {
	struct iovec iov[MAX_IOV];
	int n;
	uint64_t len; /* payload bytes; WRITE_WITH_IMM: bytes written */
	bool write; /* WRITE_WITH_IMM: no payload, the receive not written */
	bool placed; /* the payload was written into the receive's buffer */
	struct sv_sge g0; /* the first SGE of the receive it takes */
	uint64_t peer_pd;
	uint32_t prod; /* the slot it takes */
};

static struct sv_direct_rx_hdr *hdr(const struct svl_dpeer *p)
{
	return (struct sv_direct_rx_hdr *)p->map;
}

/* The receive WQE idx of the peer takes len bytes, as the engine checks. */
static bool recv_fits(const struct svl_dqp *d, struct dsend *s,
		      uint32_t idx)
{
	const struct svl_dpeer *p = &d->rx;
	const uint8_t *slot = p->map + SV_DIRECT_RX_MIRROR_OFF +
			      (size_t)(idx & (p->entries - 1)) * p->stride;
	struct sv_recv_wqe w;
	struct sv_direct_key e;
	struct sv_sge g;
	uint64_t room = 0;
	uint32_t i;

	memcpy(&w, slot, sizeof(w));
	if (w.num_sge > (p->stride - sizeof(w)) / sizeof(g))
		return false;
	if (s->write)
		return true; /* its buffers are not written */
	memset(&s->g0, 0, sizeof(s->g0));
	for (i = 0; i < w.num_sge && room < s->len; i++) {
		memcpy(&g, slot + sizeof(w) + i * sizeof(g), sizeof(g));
		if (!i)
			s->g0 = g;
		/* A mapped receive buffer may be truncated under its owner:
		 * the daemon path knows that error (REM_OP_ERR here). */
		if (g.length &&
		    (!svl_direct_key_ok(d->table, d->dev, g.lkey, s->peer_pd,
					g.addr, g.length,
					IBV_ACCESS_LOCAL_WRITE, &e) ||
		     (e.flags & SV_DIRECT_KEY_MAPPED) || !e.va))
			return false;
		room += g.length;
	}
	return room >= s->len;
}

enum { RING_READY, RING_WAIT, RING_NO };

/* The receiver's cons pair and rq_prod, read now (one consistent pair). */
static void ring_reread(struct svl_dpeer *p)
{
	struct sv_direct_rx_hdr *h = hdr(p);
	uint64_t cons = atomic_load_explicit((_Atomic uint64_t *)&h->cons,
					     memory_order_acquire);

	p->taken = (uint32_t)cons;
	p->rq_cons = (uint32_t)(cons >> 32);
	p->rq_prod = svl_load_acquire(&h->rq_prod);
	p->known = true;
}

/*
 * A free slot, and a posted receive that takes the message: RING_READY;
 * RING_WAIT if the slots are full or no receive is posted yet (the
 * receiver may be about to drain or post); RING_NO if the receive will
 * not take it.
 *
 * The receiver's words are lines another CPU writes: each read costs a
 * cache-line transfer. So the last values read are used while they say
 * "room" (a stale taken only under-counts free slots, a stale rq_prod
 * posted receives) and read again only when they do not. The receive
 * message prod takes is rq_cons + (prod - taken) with any consistent
 * pair: each message the receiver (or the engine) takes moves both
 * halves; only the engine taking receives for our daemon-path SENDs
 * moves rq_cons alone, and that forgets the pair (known = false).
 */
static int ring_state(struct svl_dqp *d, struct dsend *s)
{
	struct svl_dpeer *p = &d->rx;
	uint32_t pending, posted;
	bool fresh = !p->known;

	s->prod = svl_load_relaxed(&hdr(p)->prod);
	for (;; fresh = true) {
		if (fresh)
			ring_reread(p);
		pending = s->prod - p->taken;
		posted = p->rq_prod - p->rq_cons;
		if (pending < SV_DIRECT_RX_SLOTS && posted > pending &&
		    posted <= p->entries)
			break;
		if (!fresh)
			continue;
		if (pending >= SV_DIRECT_RX_SLOTS || posted <= pending)
			return RING_WAIT; /* full, or nothing posted (yet) */
		return RING_NO;
	}
	return recv_fits(d, s, p->rq_cons + pending) ? RING_READY : RING_NO;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/*
 * The ring ready, waiting up to RING_WAIT_NS while it is full or the
 * receive is not posted yet. A receiver that polls drains the ring and
 * posts again within microseconds; the daemon path instead costs the
 * message an RNR wait, and the QP's later work a detour through the
 * engine until it caught up (a stream of SENDs stays there). A receiver
 * that does not come in time gets the daemon path's answer as before.
 */
#define RING_WAIT_NS 500000
static bool ring_ready(struct svl_dqp *d, struct dsend *s)
{
	uint64_t end = 0;
	unsigned int i;
	int st;

	for (i = 0;; i++) {
		st = ring_state(d, s);
		if (st != RING_WAIT)
			return st == RING_READY;
		if (!end)
			end = now_ns() + RING_WAIT_NS;
		else if (now_ns() > end)
			return false;
		/* On one CPU the receiver needs ours to drain. */
		if (!(i & 63))
			sched_yield();
	}
}

static void gather(uint8_t *dst, const struct dsend *s)
{
	int i;

	for (i = 0; i < s->n; i++) { /* none for WRITE_WITH_IMM */
		memcpy(dst, s->iov[i].iov_base, s->iov[i].iov_len);
		dst += s->iov[i].iov_len;
	}
}

/* Receive WQE idx of the mirror, fetched ahead for the next message. */
static void mirror_prefetch(const struct svl_dpeer *p, uint32_t idx)
{
	__builtin_prefetch(p->map + SV_DIRECT_RX_MIRROR_OFF +
			   (size_t)(idx & (p->entries - 1)) * p->stride);
}

/*
 * The slot, then prod (the engine reads prod), then the slot's seq: the
 * receiver's library polls seq, so it sees the message in one cache
 * line, and never takes one that prod does not count yet.
 */
static void push(const struct svl_dqp *d, const struct sv_send_wqe *w,
		 const struct dsend *s)
{
	struct sv_direct_rx_hdr *h = hdr(&d->rx);
	struct sv_direct_rx_msg *m =
		(void *)(d->rx.map +
			 sv_direct_rx_slots_off(d->rx.entries, d->rx.stride) +
			 (size_t)(s->prod % SV_DIRECT_RX_SLOTS) *
				 SV_DIRECT_RX_SLOT);

	m->len = (uint32_t)s->len;
	m->flags = w->opcode == IBV_WR_SEND_WITH_IMM ? SV_DIRECT_RX_IMM :
		   w->opcode == IBV_WR_SEND_WITH_INV ? SV_DIRECT_RX_INV : 0;
	if (s->write)
		m->flags = SV_DIRECT_RX_IMM | SV_DIRECT_RX_WRITE;
	if (s->placed)
		m->flags |= SV_DIRECT_RX_PLACED;
	if (w->send_flags & IBV_SEND_SOLICITED)
		m->flags |= SV_DIRECT_RX_SOLICITED;
	m->imm = w->imm_data;
	m->src_qp = d->qpn;
	m->slid = d->slid;
	gather((uint8_t *)(m + 1), s);
	svl_store_release(&h->prod, s->prod + 1);
	svl_store_release(&m->seq, s->prod + 1);
	mirror_prefetch(&d->rx, d->rx.rq_cons + (s->prod + 1 - d->rx.taken));
}

/* A direct-path command about q's connection with one u32 argument. */
static int conn_cmd(struct svl_qp *q, uint32_t method, uint32_t attr_qp,
		    uint32_t attr_v, uint32_t v)
{
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, method);
	svl_attr_idr(&c, attr_qp, q->qp.handle);
	svl_attr_in(&c, attr_v, &v, sizeof(v));
	return svl_exec(q->qp.context, &c);
}

static void notify_cmd(struct svl_qp *q, uint32_t se)
{
	conn_cmd(q, SV_METHOD_DIRECT_NOTIFY, SV_ATTR_DIRECT_NOTIFY_QP,
		 SV_ATTR_DIRECT_NOTIFY_SE, se);
}

/*
 * SEND_WITH_INV: the daemon invalidates the peer's rkey (its checks are
 * the responder's) before the message is pushed, so the receiver never
 * sees the completion of a window still valid. Refused: nothing changed,
 * and the daemon path gives its errors. Other SENDs: nothing to do.
 */
static bool send_inv(struct svl_qp *q, const struct sv_send_wqe *w)
{
	return w->opcode != IBV_WR_SEND_WITH_INV ||
	       !conn_cmd(q, SV_METHOD_DIRECT_INV, SV_ATTR_DIRECT_INV_QP,
			 SV_ATTR_DIRECT_INV_RKEY, w->imm_data);
}

/*
 * A peer sleeping on its CQ's channel: the daemon raises the event (the
 * CQ's arm decides). The receiver sets armed before it sleeps, we push
 * before we look (seq_cst on both sides), so one of us sees the other.
 */
static void wake_peer(struct svl_qp *q, const struct sv_send_wqe *w)
{
	_Atomic uint32_t *armed =
		(_Atomic uint32_t *)&hdr(&q->dq->rx)->armed;
	bool se = w->send_flags & IBV_SEND_SOLICITED;
	uint32_t a;

	/* No channel on its CQ: nobody sleeps there (the daemon said). */
	if (svl_load_relaxed(&hdr(&q->dq->rx)->nochan) == 1)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	a = atomic_load_explicit(armed, memory_order_relaxed);
	if (!a || (!(a & SV_CQ_ARM_NEXT) && !se))
		return;
	if (atomic_compare_exchange_strong(armed, &a, 0))
		notify_cmd(q, se);
}

/* The connection is live and its peer has a ring: s->peer_pd set. */
static bool peer_ready(struct svl_qp *q, struct dsend *s)
{
	struct sv_direct_conn c;

	if (!svl_direct_conn(q->dq, &c) || !peer_ring(q, &c))
		return false;
	/* A record rewritten (either QP modified): read the ring again. */
	if (c.seq != q->dq->rx.conn_seq) {
		q->dq->rx.known = false;
		q->dq->rx.conn_seq = c.seq;
	}
	s->peer_pd = c.peer_pd;
	return true;
}

int svl_direct_write_imm(struct svl_qp *q, const struct sv_send_wqe *w)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	struct dsend s; /* no initializer: iov[] is large and unused here */
	uint64_t len;

	s.n = 0;
	s.len = 0;
	s.write = true;
	s.placed = false;
	/* The receive first (nothing written without it), then the WRITE. */
	if (!peer_ready(q, &s) || !ring_ready(q->dq, &s) ||
	    svl_direct_write_part(q, w, &len))
		return -1;
	s.len = len;
	push(q->dq, w, &s);
	wake_peer(q, w);
	if (w->send_flags & IBV_SEND_SIGNALED)
		svl_direct_complete(q, w, cq, IBV_WC_RDMA_WRITE, len);
	return 0;
}

/*
 * A SEND too large for a slot: its receive (checked as for an eager one)
 * must hold it in its first SGE; the payload is written there, then a
 * message without payload takes the receive.
 */
static int send_placed(struct svl_qp *q, const struct sv_send_wqe *w,
		       struct dsend *s)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	uint64_t len;

	bool signaled = w->send_flags & IBV_SEND_SIGNALED;

	if (!ring_ready(q->dq, s) || s->g0.length < s->len ||
	    svl_direct_place(q, w, s->g0.lkey, s->g0.addr, &len))
		return -1;
	/* Written, room taken: the daemon path does it again if need be. */
	if (len != s->len || !send_inv(q, w)) {
		svl_direct_cq_unroom(cq, signaled);
		return -1;
	}
	s->n = 0; /* nothing left to carry */
	s->placed = true;
	push(q->dq, w, s);
	wake_peer(q, w);
	if (w->send_flags & IBV_SEND_SIGNALED)
		svl_direct_complete(q, w, cq, IBV_WC_SEND, len);
	return 0;
}

/*
 * An eager SEND: for a signaled one, room for its completion, the message
 * and the completion under one hold of the send CQ's lock (a ping-pong
 * signals every SEND: two lock round trips were a tenth of its half RTT).
 * A send CQ with a completion channel takes it only while not armed: an
 * armed one wants the daemon's event (daemon path); ibv_req_notify_cq
 * takes the same lock, so an arm comes before (seen here) or after the
 * completion (which then needs no event: an arm is for completions to
 * come). Going direct and asking the daemon for the event (as a WRITE
 * does when an arm comes during its copy, direct_op.c) made ib_send_lat
 * -s 8 -e three times slower, 69 against 23 us typical: with the peer's
 * wake, two control commands per message. False, nothing pushed: no
 * room, or armed.
 */
static bool push_completed(struct svl_qp *q, const struct sv_send_wqe *w,
			   const struct dsend *s)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	struct sv_cqe e = { .wr_id = w->wr_id, .status = IBV_WC_SUCCESS,
			    .opcode = IBV_WC_SEND, .byte_len = (uint32_t)s->len,
			    .qp_num = q->qp.qp_num };

	if (!(w->send_flags & IBV_SEND_SIGNALED)) {
		push(q->dq, w, s);
		return true;
	}
	svl_cq_lock(cq);
	if ((cq->cq.channel && svl_direct_cq_arm_pending(cq)) ||
	    svl_dcq_reserve(cq)) {
		svl_cq_unlock(cq);
		return false;
	}
	push(q->dq, w, s);
	svl_dcq_push(cq, &e);
	svl_cq_unlock(cq);
	return true;
}

/* SEND_WITH_INV: room first, then the (irreversible) invalidation. */
static bool push_inv(struct svl_qp *q, const struct sv_send_wqe *w,
		     const struct dsend *s)
{
	bool signaled = w->send_flags & IBV_SEND_SIGNALED;
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);

	if (!svl_direct_cq_room(cq, signaled))
		return false;
	if (!send_inv(q, w)) {
		svl_direct_cq_unroom(cq, signaled);
		return false;
	}
	push(q->dq, w, s);
	if (signaled)
		svl_direct_complete(q, w, cq, IBV_WC_SEND, s->len);
	return true;
}

int svl_direct_send(struct svl_qp *q, const struct sv_send_wqe *w)
{
	struct dsend s;

	s.write = false;
	s.placed = false;
	s.n = svl_direct_local(q, w, s.iov, MAX_IOV, &s.len);
	if (s.n < 0 || !peer_ready(q, &s))
		return -1;
	if (s.len > SV_DIRECT_RX_EAGER)
		return send_placed(q, w, &s);
	if (!ring_ready(q->dq, &s))
		return -1;
	if (!(w->opcode == IBV_WR_SEND_WITH_INV ? push_inv(q, w, &s) :
						   push_completed(q, w, &s)))
		return -1;
	wake_peer(q, w);
	return 0;
}
