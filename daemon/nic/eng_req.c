// SPDX-License-Identifier: MIT
/*
 * Requester: turns SQ WQEs into packets, one packet (or one local
 * operation) per step, as a state machine (one function per state):
 *
 *   FETCH  the WQE at sq_next, copied out of shared memory (untrusted)
 *   CHECK  opcode vs QP type, flags, SGE count, inline size
 *   GATE   send window, fence, READ/atomic depth, RNR wait, local ops
 *   LOCAL  LOCAL_INV / BIND_MW, executed here (no packet)
 *   BUILD  resolve the data, pick the opcode of this packet (ONLY, FIRST,
 *          MIDDLE, LAST at the path MTU; GSO: up to the transport's
 *          seg_max per packet) and its headers
 *   SEND   commit the progress (PSN, offset, slot), then send
 *   FAIL   a local error on the WQE: it completes, in order, with it
 *
 * Several WQEs are in flight (ENG_WIN); each one's first PSN and PSN
 * count are kept in its window slot. The WQE itself stays in the SQ ring
 * until it completes (the consumer index moves only then), so a
 * retransmission (eng_req_rewind: go back to a PSN) re-reads it from the
 * ring and validates it again.
 */
#include <string.h>

#include "engine.h"
#include "svd_direct.h"

enum req_state {
	REQ_FETCH,
	REQ_CHECK,
	REQ_GATE,
	REQ_LOCAL,
	REQ_BUILD,
	REQ_SEND,
	REQ_FAIL,
	REQ_DONE,
	REQ_IDLE,
};

/* One step's working set (on the stack: nothing here outlives a step). */
struct req_step {
	struct eng_scratch *s;
	const struct eng_wr_op *op;
	uint32_t mask, status;
	uint8_t kind;
	struct eng_packet pkt;
	uint64_t chunk; /* payload bytes of this packet */
	uint32_t span; /* PSNs this packet advances */
	struct ib_uverbs_ah_attr ah; /* UD: the address the WQE names */
};

static struct eng_slot *slot_of(struct eng_qp *eq, uint32_t idx)
{
	return &eq->win[idx % ENG_WIN];
}

static bool is_rc(const struct svd_qp *qp)
{
	return qp->qp_type == SVD_QPT_RC || qp->qp_type == SVD_QPT_XRC_INI;
}

/* ---- the WQE: read and validate (also used by the completer) ---- */

/* The SGEs' total: what a captured WQE carries after them. */
static uint64_t sge_total(const struct sv_send_wqe *w)
{
	const struct sv_sge *g = (const struct sv_sge *)(w + 1);
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < w->num_sge; i++)
		total += g[i].length;
	return total;
}

/*
 * SV_WQE_CAPTURED (post.c): the bytes the SGEs name follow them in the
 * slot. Only for data the requester sends, and all of it must fit.
 */
static int captured_check(const struct sv_send_wqe *w, uint32_t mask,
			  size_t room)
{
	size_t head = sizeof(*w) + w->num_sge * sizeof(struct sv_sge);

	if (!(mask & ENG_PAYLOAD) || (mask & (ENG_READ | ENG_ATOMIC |
					      ENG_ATOMIC_WRITE)) ||
	    sge_total(w) > room - head)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

/*
 * SV_WQE_STAGED (post.c, stage.c): one SGE more than num_sge, naming the
 * copy. Only for data the requester sends.
 */
static int staged_check(const struct sv_send_wqe *w, uint32_t mask,
			size_t room)
{
	if (!(mask & ENG_PAYLOAD) || (mask & (ENG_READ | ENG_ATOMIC |
					      ENG_ATOMIC_WRITE)) ||
	    (w->num_sge + 1) * sizeof(struct sv_sge) > room - sizeof(*w))
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

/* At most one of INLINE, CAPTURED and STAGED, and nothing else. */
static bool wqe_flags_ok(uint32_t f)
{
	uint32_t kind = f & (SV_WQE_INLINE | SV_WQE_CAPTURED | SV_WQE_STAGED);

	return !(f & ~kind) && !(kind & (kind - 1));
}

static int wqe_check(struct eng_qp *eq, struct eng_scratch *s)
{
	struct svd_qp *qp = eq->qp;
	struct sv_send_wqe *w = &s->w;
	size_t room = qp->sq_wqe_size < sizeof(s->raw) ? qp->sq_wqe_size :
							 sizeof(s->raw);
	const struct eng_wr_op *op = eng_wr_op(w->opcode, qp->qp_type);
	uint32_t mask;

	if (!op || !wqe_flags_ok(w->flags))
		return IBV_WC_LOC_QP_OP_ERR;
	if (op->local)
		return 0;
	if (eng_wr_to_opcode(w->opcode, qp->qp_type) < 0)
		return IBV_WC_LOC_QP_OP_ERR;
	mask = eng_opcode_info((uint8_t)op->base)->mask;
	if (w->flags & SV_WQE_INLINE) {
		/* Inline is only for data the requester sends. */
		if (!(mask & ENG_PAYLOAD) || (mask & ENG_READ) ||
		    w->num_sge > qp->max_inline_data ||
		    w->num_sge > room - sizeof(*w))
			return IBV_WC_LOC_LEN_ERR;
		return 0;
	}
	if (w->num_sge > qp->max_send_sge || w->num_sge > ENG_MAX_SGE ||
	    w->num_sge * sizeof(struct sv_sge) > room - sizeof(*w))
		return IBV_WC_LOC_LEN_ERR;
	if (w->flags & SV_WQE_CAPTURED)
		return captured_check(w, mask, room);
	if (w->flags & SV_WQE_STAGED)
		return staged_check(w, mask, room);
	return 0;
}

int eng_req_wqe(struct eng_qp *eq, uint32_t idx, struct eng_scratch *s)
{
	if (eng_sq_read_slot(eq, idx, s->raw))
		return IBV_WC_LOC_QP_OP_ERR;
	return wqe_check(eq, s);
}

/*
 * A captured WQE's SGEs were resolved (keys, ranges, rights: a bad one
 * fails the WQE as always); its data is the bytes after them, which
 * wqe_check() bounded by the slot.
 */
static void captured_sgl(struct eng_scratch *s)
{
	const struct sv_send_wqe *w = &s->w;

	s->sgl.n = s->sgl.total ? 1 : 0;
	s->sgl.seg[0] = (struct eng_seg){
		.buf = s->raw + sizeof(*w) + w->num_sge * sizeof(struct sv_sge),
		.len = (uint32_t)s->sgl.total
	};
}

/*
 * Tell the library from which size staging does not help now
 * (sv_dbrec.stage_skip): SVD_MEM_SPLIT_MIN while the engine shares large
 * copies with its helper, 0 while it does not.
 */
static void stage_hint(struct eng_qp *eq, bool split)
{
	uint32_t skip = split ? SVD_MEM_SPLIT_MIN : 0;

	if (eq->stage_skip == skip)
		return;
	eq->stage_skip = skip;
	svd_mem_store32(eq->qp->dbrec, offsetof(struct sv_dbrec, stage_skip),
			skip);
}

/*
 * A staged WQE's SGEs were resolved (a bad one fails the WQE as always);
 * its data is the copy the extra SGE names, which must be a region of
 * this PD, as long as they are. wqe_check() bounded it by the slot.
 *
 * The copy's SGE replaces the WQE's own, unless the engine would share a
 * copy from the application's buffers with its helper thread: two CPUs
 * making two copies each beat this one's single copy from the stage,
 * whose lines are still in the poster's cache (docs/datapath.md, "The
 * copy helper"). Large unstaged payloads say when staging pays again.
 */
static int staged_sgl(struct eng_qp *eq, struct eng_scratch *s)
{
	const struct sv_sge *g = (const struct sv_sge *)(&s->w + 1);
	const struct sv_sge *copy = &g[s->w.num_sge];
	struct eng_sgl one;
	int status;

	if (copy->length != s->sgl.total)
		return IBV_WC_LOC_LEN_ERR;
	if (svd_mem_split_ready(s->sgl.total)) {
		stage_hint(eq, true);
		if (!eq->req_off) /* once per WQE, not per piece */
			svd_mem_count_staged(false);
		return 0;
	}
	if (!eq->req_off)
		svd_mem_count_staged(true);
	if (s->sgl.total >= SVD_MEM_SPLIT_MIN)
		stage_hint(eq, false);
	status = eng_wqe_sgl(eq->qp, copy, 1, false, &one);
	if (status)
		return status;
	s->sgl.n = one.n;
	s->sgl.seg[0] = one.seg[0];
	return 0;
}

/* The data: inline bytes, or the SGEs (written to for READ/atomics). */
int eng_req_data(struct eng_qp *eq, struct eng_scratch *s)
{
	struct sv_send_wqe *w = &s->w;
	const struct eng_wr_op *op = eng_wr_op(w->opcode, eq->qp->qp_type);
	uint32_t mask = eng_opcode_info(op->base)->mask;
	int status;

	if (w->flags & SV_WQE_INLINE) {
		s->sgl.n = w->num_sge ? 1 : 0;
		s->sgl.seg[0] = (struct eng_seg){ .buf = s->raw + sizeof(*w),
						  .len = w->num_sge };
		s->sgl.total = w->num_sge;
		return 0;
	}
	status = eng_wqe_sgl(eq->qp, (const struct sv_sge *)(w + 1),
			     w->num_sge, mask & (ENG_READ | ENG_ATOMIC), &s->sgl);
	if (status)
		return status;
	if (w->flags & SV_WQE_CAPTURED)
		captured_sgl(s);
	if (w->flags & SV_WQE_STAGED) {
		status = staged_sgl(eq, s);
		if (status)
			return status;
	} else if (eq->stage_skip && s->sgl.total >= eq->stage_skip &&
		   !svd_mem_split_ready(s->sgl.total)) {
		stage_hint(eq, false); /* staging pays again */
	}
	if ((mask & (ENG_ATOMIC | ENG_ATOMIC_WRITE)) && s->sgl.total != 8)
		return IBV_WC_LOC_LEN_ERR;
	if (s->sgl.total > eq->qp->uctx->dev->port.attr.max_msg_sz)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

static uint8_t kind_of(uint32_t mask)
{
	if (mask & ENG_READ)
		return ENG_K_READ;
	if (mask & ENG_ATOMIC)
		return ENG_K_ATOMIC;
	return ENG_K_SEND;
}

/* ---- states ---- */

static enum req_state req_fetch(struct eng_qp *eq, struct req_step *r)
{
	uint32_t prod;
	int ret;

	if (eq->req_state == ENG_REQ_ERROR)
		return REQ_IDLE;
	ret = eng_sq_peek(eq, &prod);
	if (ret == -EFAULT) {
		/* The ring's memory is gone (truncated): the QP is dead. */
		eng_qp_error(eq);
		return REQ_DONE;
	}
	/* Nothing posted past what is already in flight. */
	if (ret || prod - eq->sq_cons <= eq->sq_next - eq->sq_cons)
		return REQ_IDLE;
	if (eng_sq_read_slot(eq, eq->sq_next, r->s->raw))
		return REQ_IDLE;
	return REQ_CHECK;
}

static enum req_state req_check(struct eng_qp *eq, struct req_step *r)
{
	r->status = (uint32_t)wqe_check(eq, r->s);
	if (r->status)
		return REQ_FAIL;
	r->op = eng_wr_op(r->s->w.opcode, eq->qp->qp_type);
	if (r->op->local)
		return REQ_GATE;
	r->mask = eng_opcode_info(r->op->base)->mask;
	r->kind = kind_of(r->mask);
	return REQ_GATE;
}

/* READ/atomic WQEs in flight (for the fence and max_rd_atomic). */
static unsigned int rd_in_flight(struct eng_qp *eq)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = eq->sq_cons; i != eq->sq_next; i++)
		if (slot_of(eq, i)->kind == ENG_K_READ ||
		    slot_of(eq, i)->kind == ENG_K_ATOMIC)
			n++;
	return n;
}

/*
 * The direct path left messages in the peer's receive ring: they were
 * sent first, so they are drained before this QP's daemon-path work; it
 * waits only while the peer's library is draining them (looked at again
 * every 10 us, no RNR retry spent).
 */
static bool direct_held(struct eng_qp *eq)
{
	if (!svd_direct_sq_hold(eq->qp))
		return false;
	eq->timer = ENG_T_RNR;
	eq->req_state = ENG_REQ_WAIT;
	eng_rnr_deadline(&eq->wait_until, 1);
	return true;
}

static enum req_state req_gate(struct svd_engine *e, struct eng_qp *eq,
			       struct req_step *r)
{
	uint32_t out = eq->sq_next - eq->sq_cons;
	uint32_t win = eq->qp->sq_entries < ENG_WIN ? eq->qp->sq_entries :
						      ENG_WIN;
	unsigned int depth = eq->qp->attr.max_rd_atomic ?
				     eq->qp->attr.max_rd_atomic : 1;

	if (eq->timer == ENG_T_RNR || out >= win)
		return REQ_IDLE;
	if (is_rc(eq->qp) && eng_cwnd_full(e, eq))
		return REQ_IDLE;
	if (!out && direct_held(eq))
		return REQ_IDLE;
	if (eq->req_off) /* resuming a message: its gates were passed */
		return REQ_BUILD;
	/* Local operations run in order: after everything before them. */
	if (r->op->local)
		return out ? REQ_IDLE : REQ_LOCAL;
	if ((r->s->w.send_flags & IBV_SEND_FENCE) && rd_in_flight(eq))
		return REQ_IDLE;
	if ((r->kind == ENG_K_READ || r->kind == ENG_K_ATOMIC) &&
	    rd_in_flight(eq) >= depth)
		return REQ_IDLE;
	return REQ_BUILD;
}

static int local_exec(struct eng_qp *eq, const struct sv_send_wqe *w)
{
	struct svd_qp *qp = eq->qp;

	if (w->opcode == IBV_WR_BIND_MW)
		return svd_mw_bind_wqe(qp, w->bind.mw_handle, w->bind.mr_lkey,
				       w->bind.addr, w->bind.length,
				       w->bind.access, w->bind.new_rkey) ?
			       IBV_WC_MW_BIND_ERR :
			       IBV_WC_SUCCESS;
	return svd_mw_invalidate_key(qp->uctx->dev, qp->pd, w->imm_data) ?
		       IBV_WC_LOC_QP_OP_ERR :
		       IBV_WC_SUCCESS;
}

/* Keep sq_sent at the end of everything sent so far. */
static void req_sent_mark(struct eng_qp *eq)
{
	uint32_t end = eq->sq_next + (eq->req_off ? 1 : 0);

	if (end - eq->sq_cons > eq->sq_sent - eq->sq_cons)
		eq->sq_sent = end;
}

/* A slot that completes as soon as it is the head (no packet answer). */
static void slot_finish(struct eng_qp *eq, uint8_t kind, uint32_t status)
{
	struct eng_slot *sl = slot_of(eq, eq->sq_next);

	if (!eq->req_off)
		memset(sl, 0, sizeof(*sl));
	sl->kind = eq->req_off ? sl->kind : kind;
	sl->status = status;
	sl->done = true;
	eq->sq_next++;
	eq->req_off = 0;
	req_sent_mark(eq);
	if (status != IBV_WC_SUCCESS)
		eq->req_state = ENG_REQ_ERROR; /* nothing after it goes */
}

/* The MW helpers take dev->lock themselves: run without it. */
static enum req_state req_local(struct svd_engine *e, struct eng_qp *eq,
				struct req_step *r)
{
	int status;

	pthread_mutex_unlock(&e->dev->lock);
	status = local_exec(eq, &r->s->w);
	pthread_mutex_lock(&e->dev->lock);
	slot_finish(eq, ENG_K_LOCAL, (uint32_t)status);
	eng_comp_done(eq);
	return REQ_DONE;
}

static enum req_state req_fail(struct eng_qp *eq, struct req_step *r)
{
	slot_finish(eq, ENG_K_LOCAL, r->status);
	eng_comp_done(eq);
	return REQ_DONE;
}

/* Header fields and route of a packet from qp to its connected peer. */
static void route_ah(const struct svd_qp *qp, struct eng_route *rt,
		     const struct ib_uverbs_ah_attr *ah)
{
	rt->src = qp;
	rt->src_qpn = qp->qpn;
	rt->slid = qp->uctx->dev->port.attr.lid;
	rt->dlid = ah->dlid;
	rt->global = ah->is_global;
	memcpy(rt->dgid, ah->grh.dgid, 16);
}

void eng_req_route(const struct svd_qp *qp, struct eng_packet *p)
{
	route_ah(qp, &p->route, &qp->attr.ah_attr);
}

/* UD: the GRH bytes a receiver gets (IB GRH, or RoCEv2's IP header). */
static void ud_grh(const struct svd_qp *qp, const struct ib_uverbs_ah_attr *ah,
		   struct eng_route *rt, uint64_t len)
{
	const struct svd_port *port = &qp->uctx->dev->port;
	uint8_t sgi = ah->grh.sgid_index < SVD_MAX_GIDS ? ah->grh.sgid_index : 0;
	uint16_t plen = (uint16_t)(len + 8 + 4); /* BTH+DETH-ish, like IB */
	uint8_t *g = rt->grh;

	memset(g, 0, sizeof(rt->grh));
	g[0] = 0x60 | (ah->grh.traffic_class >> 4);
	g[1] = (uint8_t)(ah->grh.traffic_class << 4);
	g[4] = (uint8_t)(plen >> 8);
	g[5] = (uint8_t)plen;
	g[6] = 0x1b; /* next header: IB BTH */
	g[7] = ah->grh.hop_limit;
	memcpy(g + 8, port->gids[sgi].gid, 16);
	memcpy(g + 24, ah->grh.dgid, 16);
	rt->sl = ah->sl;
	if (port->gids[sgi].gid_type == IB_UVERBS_GID_TYPE_ROCE_V2) {
		eng_grh_rocev2(g);
		rt->sl = eng_grh_l3_type(ah->grh.dgid);
	}
	rt->has_grh = true;
}

/*
 * The AH a UD WQE names: 0 and its attributes; -EBUSY while a command
 * destroys it (that command sends this WQE out first, reading the AH
 * from dying_ah: eng_qp.c); another error if there is none.
 */
static int ud_ah(struct svd_engine *e, const struct svd_qp *qp,
		 uint32_t handle, struct ib_uverbs_ah_attr *ah)
{
	struct svd_uobj *u;

	if (e->dying_ah.uctx == qp->uctx && e->dying_ah.handle == handle) {
		*ah = *e->dying_ah.attr;
		return 0;
	}
	u = svd_uobj_lookup(qp->uctx, &svd_type_ah, handle, SVD_LOOKUP_READ);
	if (svd_is_err(u))
		return svd_ptr_err(u);
	*ah = ((struct svd_ah *)u->object)->attr;
	svd_uobj_unlock(u, SVD_LOOKUP_READ);
	return 0;
}

/* UD: the address handle names the destination; qkey from WQE or QP. */
static int req_ud(struct eng_qp *eq, struct req_step *r, struct eng_fields *f)
{
	struct svd_qp *qp = eq->qp;
	const struct sv_send_wqe *w = &r->s->w;
	const struct ib_uverbs_ah_attr ah = r->ah;
	/* UD messages are one packet: at most the port MTU. */
	if (r->s->sgl.total > (128U << qp->uctx->dev->port.attr.active_mtu))
		return IBV_WC_LOC_LEN_ERR;
	f->dqpn = w->ud.remote_qpn & 0xffffff;
	/* A qkey with the high bit set means "use the QP's own". */
	f->qkey = (w->ud.remote_qkey & 0x80000000U) ? qp->attr.qkey :
						      w->ud.remote_qkey;
	f->src_qpn = qp->qpn;
	route_ah(qp, &r->pkt.route, &ah);
	r->pkt.route.sl = ah.sl;
	/* IB addresses without a GRH carry none (RoCE ones always do). */
	if (ah.is_global)
		ud_grh(qp, &ah, &r->pkt.route, r->s->sgl.total);
	return 0;
}

/* A message's ONLY opcode -> its FIRST, MIDDLE and LAST forms. */
static uint8_t seg_opcode(uint8_t only, bool first, bool last)
{
	static const uint8_t forms[][4] = {
		{ ENG_OP_SEND_ONLY, ENG_OP_SEND_FIRST, ENG_OP_SEND_MIDDLE,
		  ENG_OP_SEND_LAST },
		{ ENG_OP_SEND_ONLY_IMM, ENG_OP_SEND_FIRST, ENG_OP_SEND_MIDDLE,
		  ENG_OP_SEND_LAST_IMM },
		{ ENG_OP_SEND_ONLY_INV, ENG_OP_SEND_FIRST, ENG_OP_SEND_MIDDLE,
		  ENG_OP_SEND_LAST_INV },
		{ ENG_OP_WRITE_ONLY, ENG_OP_WRITE_FIRST, ENG_OP_WRITE_MIDDLE,
		  ENG_OP_WRITE_LAST },
		{ ENG_OP_WRITE_ONLY_IMM, ENG_OP_WRITE_FIRST,
		  ENG_OP_WRITE_MIDDLE, ENG_OP_WRITE_LAST_IMM },
	};
	unsigned int i;

	for (i = 0; i < SVD_ARRAY_SIZE(forms); i++)
		if (forms[i][0] == only)
			return forms[i][first && last ? 0 :
					 first	      ? 1 :
					 last	      ? 3 :
							2];
	return only; /* single-packet requests */
}

/* This packet's share of a SEND/WRITE: bytes, PSNs, opcode. */
static void build_seg(struct svd_engine *e, struct eng_qp *eq,
		      struct req_step *r, struct eng_fields *f)
{
	unsigned int mtu = eng_mtu(eq->qp);
	uint64_t total = r->s->sgl.total, left = total - eq->req_off;
	uint64_t seg = eng_xport_seg(e, &r->pkt.route, mtu);
	bool first = !eq->req_off, last;

	/* A data-direct region's DMA device takes bursts (eng_dd.c). */
	seg = eng_dd_seg(e, &r->pkt.route,
			 eng_dd_sgl_umem(&r->s->sgl, eq->req_off), seg);

	if (eq->qp->qp_type == SVD_QPT_UD)
		seg = (uint32_t)(left ? left : 1);
	r->chunk = left < seg ? left : seg;
	last = r->chunk == left;
	r->span = r->chunk ? (uint32_t)((r->chunk + mtu - 1) / mtu) : 1;
	f->opcode = (uint8_t)((f->opcode & 0xe0) |
			      seg_opcode(f->opcode & 0x1f, first, last));
	r->pkt.len = (uint32_t)r->chunk;
	r->pkt.sgl = &r->s->sgl;
	r->pkt.sgl_off = eq->req_off;
	if (eq->qp->qp_type == SVD_QPT_UD)
		r->span = 1; /* one packet, no sequence */
	r->pkt.npsn = r->span;
}

/* RETH / AtomicETH / ImmDt / IETH of this packet. */
static void build_ext(struct eng_qp *eq, struct req_step *r,
		      struct eng_fields *f)
{
	const struct sv_send_wqe *w = &r->s->w;
	uint32_t mask = eng_opcode_info(f->opcode)->mask;
	uint64_t total = r->s->sgl.total;

	f->se = (w->send_flags & IBV_SEND_SOLICITED) && (mask & ENG_LAST);
	f->imm = w->imm_data;
	f->xrc_srqn = w->xrc_srqn;
	if (mask & ENG_ATMETH) {
		f->va = w->atomic.remote_addr;
		f->rkey = w->atomic.rkey;
		f->swap_add = w->atomic.compare_add;
		f->compare = w->atomic.swap;
		if ((f->opcode & 0x1f) == ENG_OP_CMP_SWAP) {
			f->compare = w->atomic.compare_add;
			f->swap_add = w->atomic.swap;
		}
	} else if (mask & ENG_RETH) {
		/* A resumed READ asks for the rest only. */
		f->va = w->rdma.remote_addr + eq->req_off;
		f->rkey = w->rdma.rkey;
		f->dma_len = (uint32_t)(total - eq->req_off);
	}
}

static enum req_state req_build(struct svd_engine *e, struct eng_qp *eq,
				struct req_step *r)
{
	struct svd_qp *qp = eq->qp;
	struct eng_fields f = { 0 };
	unsigned int mtu = eng_mtu(qp);

	memset(&r->pkt, 0, sizeof(r->pkt));
	if (qp->qp_type == SVD_QPT_UD) {
		int ret = ud_ah(e, qp, r->s->w.ud.ah_handle, &r->ah);

		if (ret == -EBUSY)
			return REQ_IDLE;
		if (ret) {
			r->status = IBV_WC_LOC_QP_OP_ERR;
			return REQ_FAIL;
		}
	}
	r->status = (uint32_t)eng_req_data(eq, r->s);
	if (r->status)
		return REQ_FAIL;
	f.opcode = (uint8_t)eng_wr_to_opcode(r->s->w.opcode, qp->qp_type);
	f.dqpn = qp->attr.dest_qp_num & 0xffffff;
	eng_req_route(qp, &r->pkt);
	if (qp->qp_type == SVD_QPT_UD) {
		r->status = (uint32_t)req_ud(eq, r, &f);
		if (r->status)
			return REQ_FAIL;
	}
	if (r->kind == ENG_K_SEND) {
		build_seg(e, eq, r, &f);
	} else {
		/* READ: one request for the rest of the response PSNs. */
		r->chunk = r->s->sgl.total - eq->req_off;
		r->span = r->kind == ENG_K_READ && r->chunk ?
				  (uint32_t)((r->chunk + mtu - 1) / mtu) : 1;
		r->pkt.npsn = 1;
	}
	f.psn = eq->psn;
	build_ext(eq, r, &f);
	f.ackreq = is_rc(qp) && (eng_opcode_info(f.opcode)->mask & ENG_LAST ||
				 eng_psn_cmp(f.psn, eq->ack_mark) >=
					 ENG_ACK_EVERY);
	if (f.ackreq)
		eq->ack_mark = f.psn;
	return eng_pkt_build(&r->pkt, &f) ? REQ_FAIL : REQ_SEND;
}

/* Progress first (answers come back re-entrantly), then the packet. */
static void req_commit(struct eng_qp *eq, struct req_step *r)
{
	struct eng_slot *sl = slot_of(eq, eq->sq_next);
	bool last = r->kind != ENG_K_SEND ||
		    eq->req_off + r->chunk == r->s->sgl.total;

	if (!eq->req_off) {
		memset(sl, 0, sizeof(*sl));
		sl->first_psn = eq->psn;
		sl->npsn = eng_npsn(eq->qp, r->s->sgl.total);
		if (r->kind == ENG_K_ATOMIC)
			sl->npsn = 1;
		sl->len = r->s->sgl.total;
		sl->kind = r->kind;
		sl->fenced = r->s->w.send_flags & IBV_SEND_FENCE;
	}
	eq->psn = eng_psn_add(eq->psn, r->span);
	eq->req_off += r->chunk;
	if (last) {
		eq->sq_next++;
		eq->req_off = 0;
	}
	req_sent_mark(eq);
	if (!last)
		return;
	/* UC and UD are unacknowledged: done once sent. */
	if (!is_rc(eq->qp))
		sl->done = true;
}

static enum req_state req_send(struct svd_engine *e, struct eng_qp *eq,
			       struct req_step *r)
{
	uint32_t idx = eq->sq_next;
	int ret;

	req_commit(eq, r);
	if (is_rc(eq->qp))
		eq->rc_req_psns += r->span;
	if (eng_psn_cmp(eq->psn, eq->psn_end) > 0)
		eq->psn_end = eq->psn;
	if (r->chunk >= ENG_CHUNK / 2)
		eq->yield = true; /* a big packet: the other QPs' turn */
	ret = eng_xport_send(e, &r->pkt);
	if (ret == -EFAULT) {
		/* Our own memory could not be read: our local error. */
		slot_of(eq, idx)->done = true;
		slot_of(eq, idx)->status = IBV_WC_LOC_PROT_ERR;
		eq->req_state = ENG_REQ_ERROR;
	}
	eng_comp_done(eq);
	eng_comp_arm(eq);
	return REQ_DONE;
}

/* One packet or local operation; called with dev->lock held. */
bool eng_req_run(struct svd_engine *e, struct eng_qp *eq)
{
	/* r.pkt is cleared by req_build: most runs build no packet. */
	struct req_step r;
	enum req_state st = REQ_FETCH;

	r.s = &e->s_req;
	r.op = NULL;
	r.mask = r.status = 0;
	r.kind = 0;
	r.chunk = 0;
	r.span = 0;

	while (1) {
		switch (st) {
		case REQ_FETCH:
			st = req_fetch(eq, &r);
			break;
		case REQ_CHECK:
			st = req_check(eq, &r);
			break;
		case REQ_GATE:
			st = req_gate(e, eq, &r);
			break;
		case REQ_LOCAL:
			st = req_local(e, eq, &r);
			break;
		case REQ_BUILD:
			st = req_build(e, eq, &r);
			break;
		case REQ_SEND:
			st = req_send(e, eq, &r);
			break;
		case REQ_FAIL:
			st = req_fail(eq, &r);
			break;
		case REQ_DONE:
			return true;
		case REQ_IDLE:
		default:
			return false;
		}
	}
}

/* Go back to PSN psn: the WQE holding it is sent again from there. */
void eng_req_rewind(struct eng_qp *eq, uint32_t psn)
{
	uint32_t i;

	for (i = eq->sq_cons; i != eq->sq_sent; i++) {
		struct eng_slot *sl = slot_of(eq, i);
		int32_t d = eng_psn_cmp(psn, sl->first_psn);

		if (sl->kind == ENG_K_LOCAL || d < 0 || (uint32_t)d >= sl->npsn)
			continue;
		eq->sq_next = i;
		eq->req_off = (uint64_t)d * eng_mtu(eq->qp);
		if (sl->kind == ENG_K_ATOMIC)
			eq->req_off = 0;
		eq->psn = psn;
		/* Ask for an answer at once. */
		eq->ack_mark = (psn - ENG_ACK_EVERY) & 0xffffff;
		return;
	}
}
