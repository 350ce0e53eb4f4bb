// SPDX-License-Identifier: MIT
/*
 * Requester: turns the head SQ WQE into a packet and hands it to the
 * transport. One function per step:
 *   fetch   copy the WQE out of shared memory (it is untrusted),
 *   check   opcode vs QP type, SGE count, inline size, lengths,
 *   build   resolve lkeys into a scatter list, fill the packet,
 *   xmit    deliver it and let the completer judge the answer.
 * The head WQE stays in place while an RNR/retry timer runs (state WAIT).
 */
#include <string.h>

#include "eng_raw.h"
#include "engine.h"

/* The WQE being processed: a private copy. */
struct req_ctx {
	union {
		struct sv_send_wqe w;
		uint8_t raw[ENG_WQE_MAX];
	};
	struct eng_sgl sgl;
	struct eng_pkt pkt;
	uint64_t len;
};

/* Local error on the head WQE: error CQE, QP to ERROR (flushes the rest). */
static bool req_fail(struct eng_qp *eq, struct req_ctx *r, uint32_t status)
{
	/* The slot is free before the completion says so (see req_xmit). */
	eng_sq_consume(eq);
	eng_send_cqe(eq, &r->w, status, 0);
	eng_qp_error(eq);
	return true;
}

static int req_fetch(struct eng_qp *eq, struct req_ctx *r)
{
	uint32_t prod;
	int ret = eng_sq_peek(eq, &prod);

	if (ret)
		return ret;
	return eng_sq_read(eq, eq->sq_cons, r->raw, sizeof(r->raw));
}

static int req_check(struct eng_qp *eq, struct req_ctx *r)
{
	struct svd_qp *qp = eq->qp;
	struct sv_send_wqe *w = &r->w;
	size_t room = qp->sq_wqe_size < sizeof(r->raw) ? qp->sq_wqe_size :
							 sizeof(r->raw);
	int op;

	op = eng_wr_to_opcode(w->opcode, qp->qp_type);
	if (op < 0)
		return IBV_WC_LOC_QP_OP_ERR;
	r->pkt.opcode = (uint8_t)op;
	r->pkt.mask = eng_opcode_info((uint8_t)op)->mask;
	if (w->flags & ~SV_WQE_INLINE)
		return IBV_WC_LOC_QP_OP_ERR;
	if (w->flags & SV_WQE_INLINE) {
		/* Inline is only for data the requester sends. */
		if (!(r->pkt.mask & ENG_PAYLOAD) || (r->pkt.mask & ENG_READ) ||
		    w->num_sge > qp->max_inline_data ||
		    w->num_sge > room - sizeof(*w))
			return IBV_WC_LOC_LEN_ERR;
		return 0;
	}
	if (w->num_sge > qp->max_send_sge || w->num_sge > ENG_MAX_SGE ||
	    w->num_sge * sizeof(struct sv_sge) > room - sizeof(*w))
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

/* The data: inline bytes, or the SGEs (written to for READ/atomics). */
static int req_data(struct eng_qp *eq, struct req_ctx *r)
{
	struct sv_send_wqe *w = &r->w;
	bool write = r->pkt.mask & (ENG_READ | ENG_ATOMIC);
	int status;

	if (w->flags & SV_WQE_INLINE) {
		r->sgl.n = w->num_sge ? 1 : 0;
		r->sgl.seg[0] = (struct eng_seg){ .buf = r->raw + sizeof(*w),
						  .len = w->num_sge };
		r->sgl.total = w->num_sge;
		return 0;
	}
	status = eng_wqe_sgl(eq->qp, (const struct sv_sge *)(w + 1),
			     w->num_sge, write, &r->sgl);
	if (status)
		return status;
	if ((r->pkt.mask & (ENG_ATOMIC | ENG_ATOMIC_WRITE)) &&
	    r->sgl.total != 8)
		return IBV_WC_LOC_LEN_ERR;
	if (r->sgl.total > eq->qp->uctx->dev->port.attr.max_msg_sz)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

static void req_grh(struct svd_qp *qp, const struct ib_uverbs_ah_attr *ah,
		    struct eng_pkt *p, uint64_t len)
{
	const struct svd_port *port = &qp->uctx->dev->port;
	uint8_t sgi = ah->grh.sgid_index < SVD_MAX_GIDS ? ah->grh.sgid_index : 0;
	uint16_t plen = (uint16_t)(len + 8 + 4); /* BTH+DETH-ish, like IB */

	memset(p->grh, 0, sizeof(p->grh));
	p->grh[0] = 0x60 | (ah->grh.traffic_class >> 4);
	p->grh[1] = (uint8_t)(ah->grh.traffic_class << 4);
	p->grh[4] = (uint8_t)(plen >> 8);
	p->grh[5] = (uint8_t)plen;
	p->grh[6] = 0x1b; /* next header: IB BTH */
	p->grh[7] = ah->grh.hop_limit;
	memcpy(p->grh + 8, port->gids[sgi].gid, 16);
	memcpy(p->grh + 24, ah->grh.dgid, 16);
	p->sl = ah->sl;
	if (port->gids[sgi].gid_type == IB_UVERBS_GID_TYPE_ROCE_V2) {
		eng_grh_rocev2(p->grh);
		p->sl = eng_grh_l3_type(ah->grh.dgid);
	}
	p->has_grh = true;
}

/* The address the transport resolves: LIDs, and the GID with a GRH. */
static void req_addr(struct eng_pkt *p, const struct svd_qp *qp,
		     const struct ib_uverbs_ah_attr *ah)
{
	p->slid = qp->uctx->dev->port.attr.lid;
	p->dlid = ah->dlid;
	p->global = ah->is_global;
	memcpy(p->dgid, ah->grh.dgid, 16);
}

/* UD: the address handle names the destination; qkey from WQE or QP. */
static int req_ud(struct eng_qp *eq, struct req_ctx *r)
{
	struct svd_qp *qp = eq->qp;
	struct ib_uverbs_ah_attr ah;
	struct svd_uobj *u;

	u = svd_uobj_lookup(qp->uctx, &svd_type_ah, r->w.ud.ah_handle,
			    SVD_LOOKUP_READ);
	if (svd_is_err(u))
		return IBV_WC_LOC_QP_OP_ERR;
	ah = ((struct svd_ah *)u->object)->attr;
	svd_uobj_unlock(u, SVD_LOOKUP_READ);
	/* UD messages are one packet: at most the port MTU. */
	if (r->sgl.total > (128U << qp->uctx->dev->port.attr.active_mtu))
		return IBV_WC_LOC_LEN_ERR;
	r->pkt.dest_qpn = r->w.ud.remote_qpn & 0xffffff;
	/* A qkey with the high bit set means "use the QP's own". */
	r->pkt.qkey = (r->w.ud.remote_qkey & 0x80000000U) ? qp->attr.qkey :
							    r->w.ud.remote_qkey;
	req_addr(&r->pkt, qp, &ah);
	/* IB addresses without a GRH carry none (RoCE ones always do). */
	if (ah.is_global)
		req_grh(qp, &ah, &r->pkt, r->sgl.total);
	return 0;
}

/* IBTA WRITE opcodes by position: FIRST, MIDDLE, LAST (+1: with imm). */
enum { OP_WRITE_FIRST = 0x06, OP_WRITE_MIDDLE = 0x07, OP_WRITE_LAST = 0x08 };

/*
 * An RDMA WRITE longer than ENG_CHUNK goes one piece per step, from
 * req_off on: FIRST (with RETH), MIDDLE..., LAST (with ImmDt if any).
 */
static void req_piece(struct eng_qp *eq, struct req_ctx *r)
{
	struct eng_pkt *p = &r->pkt;
	uint64_t left = p->length - eq->req_off;
	bool imm = p->mask & ENG_IMMDT;
	uint8_t base;

	if (!(p->mask & ENG_WRITE) || p->length <= ENG_CHUNK)
		return;
	p->data_off = eq->req_off;
	p->length = left < ENG_CHUNK ? left : ENG_CHUNK;
	if (!eq->req_off)
		base = OP_WRITE_FIRST;
	else if (p->length < left)
		base = OP_WRITE_MIDDLE;
	else
		base = OP_WRITE_LAST + imm;
	p->opcode = (uint8_t)((p->opcode & 0xe0) | base);
	p->mask = eng_opcode_info(p->opcode)->mask;
	r->len = p->length;
}

static int req_build(struct eng_qp *eq, struct req_ctx *r)
{
	struct sv_send_wqe *w = &r->w;
	struct eng_pkt *p = &r->pkt;
	int status = req_data(eq, r);

	if (status)
		return status;
	p->src = eq->qp;
	p->src_qpn = eq->qp->qpn;
	p->dest_qpn = eq->qp->attr.dest_qp_num & 0xffffff;
	req_addr(p, eq->qp, &eq->qp->attr.ah_attr);
	p->psn = eq->psn;
	p->solicited = w->send_flags & IBV_SEND_SOLICITED;
	p->data = &r->sgl;
	p->length = r->sgl.total;
	p->total = p->length;
	p->imm = w->imm_data;
	p->xrc_srqn = w->xrc_srqn;
	if (p->mask & (ENG_RETH | ENG_ATMETH)) {
		p->va = (p->mask & ENG_ATMETH) ? w->atomic.remote_addr :
						 w->rdma.remote_addr;
		p->rkey = (p->mask & ENG_ATMETH) ? w->atomic.rkey :
						   w->rdma.rkey;
	}
	if (p->mask & ENG_ATMETH) {
		p->compare_add = w->atomic.compare_add;
		p->swap = w->atomic.swap;
	}
	r->len = p->length;
	if (eq->qp->qp_type == SVD_QPT_UD)
		return req_ud(eq, r);
	req_piece(eq, r);
	return 0;
}

static bool req_xmit(struct svd_engine *e, struct eng_qp *eq,
		     struct req_ctx *r)
{
	struct eng_ack ack = { 0 };
	int status;

	eng_xmit(e, &r->pkt, &ack);
	status = eng_comp_handle(eq, &ack);
	if (status < 0)
		return true; /* waiting: the WQE stays at the head */
	eq->psn = (eq->psn + eng_npsn(eq->qp, r->len)) & 0xffffff;
	if (status == IBV_WC_SUCCESS && !(r->pkt.mask & ENG_LAST)) {
		eq->req_off += r->len; /* a piece: the WQE goes on */
		eq->yield = true;
		return true;
	}
	eq->req_off = 0;
	/*
	 * The consumer index moves before the CQE is visible: an application
	 * that polled the completion of its last WQE may post at once.
	 */
	eng_sq_consume(eq);
	eng_send_cqe(eq, &r->w, (uint32_t)status, r->pkt.total);
	if (status != IBV_WC_SUCCESS)
		eng_qp_error(eq);
	return true;
}

/*
 * LOCAL_INV and BIND_MW: executed here, no packet and no PSN. The MW
 * helpers take dev->lock themselves; the WQE completes in order because
 * every earlier WQE has completed (the transport is synchronous).
 */
static int req_local_exec(struct eng_qp *eq, const struct sv_send_wqe *w)
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

static bool req_local(struct svd_engine *e, struct eng_qp *eq,
		      struct req_ctx *r)
{
	int status = req_local_exec(eq, &r->w);

	pthread_mutex_lock(&e->dev->lock);
	eng_sq_consume(eq);
	eng_send_cqe(eq, &r->w, (uint32_t)status, 0);
	if (status != IBV_WC_SUCCESS)
		eng_qp_error(eq);
	pthread_mutex_unlock(&e->dev->lock);
	return true;
}

static bool req_is_local(const struct eng_qp *eq, const struct req_ctx *r)
{
	const struct eng_wr_op *op = eng_wr_op(r->w.opcode, eq->qp->qp_type);

	return op && op->local;
}

bool eng_req_run(struct svd_engine *e, struct eng_qp *eq)
{
	static __thread struct req_ctx r;
	struct svd_device *dev = e->dev;
	int status;

	if (eq->req_state == ENG_REQ_ERROR)
		return false;
	if (eq->qp->qp_type == SVD_QPT_RAW_PACKET)
		return eng_raw_run(e, eq); /* Ethernet frames, no transport */
	status = req_fetch(eq, &r);
	if (status == -EFAULT) {
		/* The ring's memory is gone (truncated): the QP is dead. */
		pthread_mutex_lock(&dev->lock);
		eng_qp_error(eq);
		pthread_mutex_unlock(&dev->lock);
		return true;
	}
	if (status)
		return false;
	if (req_is_local(eq, &r))
		return req_local(e, eq, &r);
	memset(&r.pkt, 0, sizeof(r.pkt));
	/* Keys resolved below stay valid while dev->lock is held. */
	pthread_mutex_lock(&dev->lock);
	status = req_check(eq, &r);
	if (!status)
		status = req_build(eq, &r);
	if (status)
		req_fail(eq, &r, (uint32_t)status);
	else
		req_xmit(e, eq, &r);
	pthread_mutex_unlock(&dev->lock);
	return true;
}
