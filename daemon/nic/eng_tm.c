// SPDX-License-Identifier: MIT
/*
 * Tag matching in the responder (docs/tag-matching.md). A SEND that
 * reaches a TM-SRQ starts with a TMH (opcode, app_ctx, tag; struct ibv_tmh,
 * big-endian):
 *
 *   EAGER   matched against the SRQ's armed tags, oldest first, with each
 *           tag's mask: the payload after the TMH lands in the tagged
 *           buffer, and completes as IBV_WC_TM_RECV with TM_MATCH and
 *           TM_DATA_VALID. Unmatched, the whole message lands in an
 *           ordinary SRQ buffer as an unexpected IBV_WC_TM_RECV (no
 *           flags), and the NIC's unexpected count moves.
 *   RNDV    (TMH + RVH in one packet) matched: a TM_MATCH completion, the
 *           sender's buffer (RVH va/rkey/len) is read into the tagged
 *           buffer, a FIN (a TMH-only SEND) goes back to the sender, and a
 *           TM_DATA_VALID completion ends it. Unmatched: as an unexpected
 *           EAGER.
 *   NO_TAG, FIN, anything else: an ordinary SRQ buffer, IBV_WC_TM_NO_TAG.
 *
 * The rendezvous READ reaches the sender's memory the way the same-host
 * transport does, through the device's keys under dev->lock, with the
 * checks the sender's responder would make (QP access, rkey, PD, range).
 * A sender that is not a QP of this device (another daemon, a held
 * packet) cannot be read that way: the tagged buffer then gets the
 * rendezvous headers and IBV_WC_TM_RNDV_INCOMPLETE, and software finishes
 * the transfer, as the verbs allow.
 */
#include <endian.h>
#include <string.h>

#include <infiniband/tm_types.h>

#include "engine.h"
#include "svd_tm.h"

#define TMH_LEN ((uint32_t)sizeof(struct ibv_tmh))
#define RNDV_LEN ((uint32_t)(sizeof(struct ibv_tmh) + sizeof(struct ibv_rvh)))

/* The first n bytes of p's payload (n <= p->len). */
static int pkt_peek(const struct eng_packet *p, void *buf, uint32_t n)
{
	struct eng_sgl dst;

	eng_sgl_one(&dst, buf, n);
	if (p->owned) {
		memcpy(buf, p->owned, n);
		return 0;
	}
	return p->sgl ? eng_sgl_copy_off(&dst, 0, p->sgl, p->sgl_off, n) :
			-EINVAL;
}

/* Drop the TMH from the payload: the tagged buffer gets what follows. */
static void pkt_pull(struct eng_packet *p, uint32_t n)
{
	if (p->owned)
		memmove(p->owned, p->owned + n, p->len - n);
	else
		p->sgl_off += n;
	p->len -= n;
}

static void tm_set(struct eng_qp *eq, uint8_t kind, const struct ibv_tmh *h)
{
	eq->tm.kind = kind;
	eq->tm.tag = h ? be64toh(h->tag) : 0;
	eq->tm.priv = h ? be32toh(h->app_ctx) : 0;
}

/* The tagged buffer as the receive WQE the responder fills. */
static void tm_load_rwqe(struct eng_qp *eq, const struct svd_tm_entry *t)
{
	memset(eq->rcv.raw, 0, sizeof(eq->rcv.raw));
	eq->rcv.w.wr_id = t->recv_wr_id;
	eq->rcv.w.num_sge = t->num_sge;
	memcpy(&eq->rcv.w + 1, t->sge, t->num_sge * sizeof(t->sge[0]));
}

static bool tm_take(struct svd_srq *srq, uint64_t tag, struct svd_tm_entry *t)
{
	bool found;

	pthread_mutex_lock(&srq->lock);
	found = svd_tm_take(srq->tm, tag, t);
	pthread_mutex_unlock(&srq->lock);
	return found;
}

static void tm_push(struct eng_qp *eq, struct svd_srq *srq, uint64_t wr_id,
		    uint32_t status, uint32_t flags, uint64_t len)
{
	struct sv_cqe cqe = {
		.wr_id = wr_id,
		.status = status,
		.opcode = IBV_WC_TM_RECV,
		.byte_len = (uint32_t)len,
		.qp_num = eq->qp->qpn,
		.src_qp = eq->qp->attr.dest_qp_num & 0xffffff,
		.wc_flags = status ? 0 : flags,
	};

	if (flags & IBV_WC_TM_MATCH) {
		cqe.tm_tag = eq->tm.tag;
		cqe.tm_priv = eq->tm.priv;
	}
	eng_cqe_push(srq->cq, &cqe, false);
}

/*
 * The next piece of the sender's buffer, resolved as the sender's
 * responder would a READ: the sender is a QP of this device connected to
 * us, its QP allows remote reads, and the rkey covers the range.
 */
static uint32_t rndv_source(struct eng_qp *eq, const struct eng_tm_rndv *rd,
			    uint32_t n, struct eng_sgl *src)
{
	struct svd_device *dev = eq->qp->uctx->dev;
	struct svd_qp *from = svd_dev_qp_find(dev, rd->src_qpn);
	const struct svd_umem *umem;
	uint64_t off;

	if (!from || (from->attr.dest_qp_num & 0xffffff) != eq->qp->qpn ||
	    !(from->attr.qp_access_flags & IBV_ACCESS_REMOTE_READ) ||
	    svd_mem_resolve(dev, from->pd, rd->rkey, true, rd->va + rd->done,
			    n, IBV_ACCESS_REMOTE_READ, &umem, &off))
		return IBV_WC_REM_ACCESS_ERR;
	src->n = 1;
	src->total = n;
	src->seg[0] = (struct eng_seg){ .umem = umem, .off = off, .len = n };
	return 0;
}

/*
 * The FIN: a TMH-only SEND from this QP's requester to the sender, on the
 * next PSN. Sent only while nothing of ours awaits an answer, so that its
 * ACK finds nothing to complete; 0 or -EAGAIN. It has no SQ slot, hence
 * no retry: a sender that answers it with an RNR NAK never gets it.
 */
static int rndv_fin(struct svd_engine *e, struct eng_qp *eq,
		    const struct ibv_tmh *h)
{
	struct ibv_tmh fin = *h;
	struct eng_sgl pay = { .n = 1, .total = TMH_LEN };
	struct eng_packet a = { .npsn = 1, .len = TMH_LEN, .sgl = &pay };
	struct eng_fields f = {
		.opcode = (uint8_t)(eng_transport_bits(eq->qp->qp_type) |
				    ENG_OP_SEND_ONLY),
		.dqpn = eq->qp->attr.dest_qp_num & 0xffffff,
		.psn = eq->psn,
		.ackreq = true,
	};

	if (eq->qp->state != SVD_QPS_RTS || eq->sq_cons != eq->sq_sent ||
	    eq->una != eq->psn)
		return -EAGAIN;
	fin.opcode = IBV_TMH_FIN;
	pay.seg[0] = (struct eng_seg){ .buf = (uint8_t *)&fin, .len = TMH_LEN };
	eng_req_route(eq->qp, &a);
	if (eng_pkt_build(&a, &f))
		return -EAGAIN;
	eq->psn = eng_psn_add(eq->psn, 1);
	eq->una = eq->psn; /* its ACK is then a stale one */
	eng_xport_send(e, &a);
	return 0;
}

/*
 * Send the FIN now, or queue it behind the QP's own sends still awaiting
 * answers (eng_tm_fin_run, in order); false if it can be neither.
 */
static bool fin_send_or_queue(struct svd_engine *e, struct eng_qp *eq,
			      const uint8_t *tmh)
{
	struct eng_tm_rx *tm = &eq->tm;
	struct ibv_tmh h;

	memcpy(&h, tmh, sizeof(h));
	if (!tm->nfin && !rndv_fin(e, eq, &h))
		return true;
	if (eq->qp->state != SVD_QPS_RTS || tm->nfin == ENG_TM_FINS)
		return false;
	/* The last answer activates the QP: eng_qp_work sends it then. */
	memcpy(tm->fin[tm->nfin++], tmh, sizeof(tm->fin[0]));
	return true;
}

static bool fin_run(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_tm_rx *tm = &eq->tm;
	struct ibv_tmh h;
	bool sent = false;

	while (tm->nfin) {
		memcpy(&h, tm->fin[0], sizeof(h));
		if (rndv_fin(e, eq, &h))
			break;
		memmove(tm->fin[0], tm->fin[1], --tm->nfin * sizeof(tm->fin[0]));
		sent = true;
	}
	return sent;
}

/* One chunk of the read into the tagged buffer; an IBV_WC_* status. */
static uint32_t rndv_chunk(struct svd_engine *e, struct eng_qp *eq,
			   struct eng_tm_rndv *rd)
{
	uint64_t left = rd->len - rd->done;
	uint32_t n = left < ENG_CHUNK ? (uint32_t)left : ENG_CHUNK;
	struct eng_sgl *dst = &e->s_dst, src;
	uint32_t status = rndv_source(eq, rd, n, &src);
	int ret;

	if (status)
		return status;
	if (eng_wqe_sgl(eq->qp, rd->sge, rd->num_sge, true, dst))
		return IBV_WC_LOC_PROT_ERR;
	ret = eng_sgl_copy_off(dst, rd->done, &src, 0, n);
	if (ret)
		return ret == ENG_COPY_ESRC ? IBV_WC_REM_ACCESS_ERR :
					      IBV_WC_LOC_PROT_ERR;
	rd->done += n;
	return IBV_WC_SUCCESS;
}

/* Read a chunk; once all is read (or it failed): the FIN, the completion. */
static void rndv_step(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_tm_rndv *rd = &eq->tm.rd;

	if (rd->active) {
		rd->status = rndv_chunk(e, eq, rd);
		rd->active = !rd->status && rd->done < rd->len;
	}
	if (rd->active) {
		eng_activate(e, eq); /* the rest: later steps of this QP */
		return;
	}
	rd->pending = false;
	if (rd->status == IBV_WC_SUCCESS && !fin_send_or_queue(e, eq, rd->tmh))
		rd->status = IBV_WC_TM_RNDV_INCOMPLETE;
	if (eq->qp->srq)
		tm_push(eq, eq->qp->srq, rd->wr_id, rd->status,
			IBV_WC_TM_DATA_VALID, rd->done);
}

void eng_tm_finish(struct svd_engine *e, struct eng_qp *eq)
{
	struct eng_tm_rndv *rd = &eq->tm.rd;

	if (!rd->pending || rd->started)
		return;
	rd->started = true;
	rndv_step(e, eq);
}

bool eng_tm_flush(struct eng_qp *eq)
{
	struct eng_tm_rndv *rd = &eq->tm.rd;
	bool owed = rd->pending;

	eq->tm.nfin = 0;
	rd->pending = false;
	rd->active = false;
	if (owed && eq->qp->srq)
		tm_push(eq, eq->qp->srq, rd->wr_id, IBV_WC_WR_FLUSH_ERR, 0,
			rd->done);
	return owed;
}

bool eng_tm_run(struct svd_engine *e, struct eng_qp *eq)
{
	bool work = eq->tm.rd.pending && eq->tm.rd.started;

	if (work)
		rndv_step(e, eq);
	return fin_run(e, eq) || work;
}

/*
 * The sender is not a QP of this device (another daemon, or a packet a
 * transport held): the tagged buffer gets the rendezvous headers, and
 * software finishes the transfer (IBV_WC_TM_RNDV_INCOMPLETE).
 */
static uint32_t rndv_headers(struct svd_engine *e, struct eng_qp *eq,
			     const struct eng_packet *p)
{
	struct eng_tm_rndv *rd = &eq->tm.rd;
	struct eng_sgl *dst = &e->s_dst;

	if (eng_wqe_sgl(eq->qp, rd->sge, rd->num_sge, true, dst))
		return IBV_WC_LOC_PROT_ERR;
	if (p->len > dst->total)
		return IBV_WC_LOC_LEN_ERR;
	if (eng_pkt_copy_out(p, dst, 0))
		return IBV_WC_LOC_PROT_ERR;
	rd->done = p->len;
	return IBV_WC_TM_RNDV_INCOMPLETE;
}

/* Where the data goes, and whether it fits: the status to start with. */
static uint32_t rndv_start(struct svd_engine *e, struct eng_qp *eq,
			   const struct eng_packet *p)
{
	struct eng_tm_rndv *rd = &eq->tm.rd;
	const struct svd_qp *from = p->route.src;

	if (!from || from->uctx->dev != eq->qp->uctx->dev)
		return rndv_headers(e, eq, p);
	if (eng_wqe_sgl(eq->qp, rd->sge, rd->num_sge, true, &e->s_dst))
		return IBV_WC_LOC_PROT_ERR;
	return rd->len > e->s_dst.total ? IBV_WC_LOC_LEN_ERR : IBV_WC_SUCCESS;
}

/*
 * A matched RNDV: the match completes at once; the read starts once the
 * request is acknowledged (eng_tm_finish), so that the sender sees its
 * SEND complete before the FIN arrives, and goes on ENG_CHUNK per step.
 */
static int tm_rndv(struct svd_engine *e, struct eng_qp *eq,
		   struct svd_srq *srq, const struct eng_packet *p,
		   const uint8_t *hdr, const struct svd_tm_entry *t)
{
	struct eng_tm_rndv *rd = &eq->tm.rd;
	struct ibv_rvh rvh;

	memcpy(&rvh, hdr + TMH_LEN, sizeof(rvh));
	memset(rd, 0, sizeof(*rd));
	memcpy(rd->tmh, hdr, TMH_LEN);
	rd->wr_id = t->recv_wr_id;
	rd->num_sge = t->num_sge;
	memcpy(rd->sge, t->sge, t->num_sge * sizeof(t->sge[0]));
	rd->src_qpn = p->route.src_qpn;
	rd->va = be64toh(rvh.va);
	rd->rkey = be32toh(rvh.rkey);
	rd->len = be32toh(rvh.len);
	tm_push(eq, srq, rd->wr_id, IBV_WC_SUCCESS, IBV_WC_TM_MATCH, 0);
	rd->status = rndv_start(e, eq, p);
	rd->active = !rd->status && rd->len;
	rd->pending = true;
	eq->tm.kind = ENG_TM_NONE;
	return ENG_TM_DONE;
}

/* An EAGER or RNDV header: a tagged buffer, or an unexpected message. */
static int tm_match(struct svd_engine *e, struct eng_qp *eq,
		    struct svd_srq *srq, struct eng_packet *p,
		    const uint8_t *hdr)
{
	const struct ibv_tmh *h = (const void *)hdr;
	bool rndv = h->opcode == IBV_TMH_RNDV;
	struct svd_tm_entry t;

	tm_set(eq, ENG_TM_UNEXPECTED, h);
	/* A rendezvous request fits one packet, as max_rndv_hdr_size says. */
	if (rndv && (!(p->mask & ENG_LAST) || p->len < RNDV_LEN))
		return ENG_TM_SRQ;
	/* One rendezvous at a time per QP: the sender retries this one. */
	if (rndv && eq->tm.rd.pending) {
		eq->tm.kind = ENG_TM_NONE;
		return ENG_TM_BUSY;
	}
	if (!tm_take(srq, be64toh(h->tag), &t))
		return ENG_TM_SRQ;
	eq->tm.kind = ENG_TM_MATCHED;
	if (rndv)
		return tm_rndv(e, eq, srq, p, hdr, &t);
	tm_load_rwqe(eq, &t);
	pkt_pull(p, TMH_LEN);
	return ENG_TM_TAGGED;
}

int eng_tm_rwqe(struct svd_engine *e, struct eng_qp *eq, struct svd_srq *srq,
		struct eng_packet *p)
{
	uint8_t hdr[RNDV_LEN];
	const struct ibv_tmh *h = (const void *)hdr;

	eq->tm.kind = ENG_TM_NONE;
	/* WRITE_WITH_IMM takes SRQ buffers too, untouched by matching. */
	if (!srq || !srq->tm || (p->mask & ENG_WRITE))
		return ENG_TM_SRQ;
	if (p->len < TMH_LEN ||
	    pkt_peek(p, hdr, p->len < RNDV_LEN ? TMH_LEN : RNDV_LEN)) {
		tm_set(eq, ENG_TM_NO_TAG, NULL);
		return ENG_TM_SRQ;
	}
	if (h->opcode == IBV_TMH_EAGER || h->opcode == IBV_TMH_RNDV)
		return tm_match(e, eq, srq, p, hdr);
	tm_set(eq, ENG_TM_NO_TAG, h);
	return ENG_TM_SRQ;
}

void eng_tm_cqe(struct eng_qp *eq, struct svd_srq *srq, struct sv_cqe *cqe)
{
	uint8_t kind = eq->tm.kind;

	eq->tm.kind = ENG_TM_NONE;
	if (kind == ENG_TM_NONE || !srq || !srq->tm)
		return;
	cqe->opcode = kind == ENG_TM_NO_TAG ? IBV_WC_TM_NO_TAG : IBV_WC_TM_RECV;
	if (kind == ENG_TM_MATCHED && cqe->status == IBV_WC_SUCCESS) {
		cqe->wc_flags |= IBV_WC_TM_MATCH | IBV_WC_TM_DATA_VALID;
		cqe->tm_tag = eq->tm.tag;
		cqe->tm_priv = eq->tm.priv;
	}
	/* Software sees it now: matching waits for its SYNC. */
	if (kind == ENG_TM_UNEXPECTED && cqe->status == IBV_WC_SUCCESS) {
		pthread_mutex_lock(&srq->lock);
		srq->tm->unexp_hw++;
		pthread_mutex_unlock(&srq->lock);
	}
}
