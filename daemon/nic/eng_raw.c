// SPDX-License-Identifier: MIT
/*
 * Raw packet QPs: the NIC's Ethernet side. A send WQE is one frame, its
 * SGEs' (or inline) bytes in order, destination MAC first. There is no
 * wire: like a NIC's embedded switch between functions of one port, the
 * device loops each frame back to every raw QP (but the sender) that a
 * flow rule steers it to, and drops it when none does. Sending succeeds
 * either way, as on a real port; the device counts frames sent, received
 * and dropped (dev->raw_*).
 *
 * A receiver takes the head WQE of its own RQ (no SRQ: creation refuses
 * it) and completes it with IBV_WC_RECV and the frame's length; with no
 * receive posted, or in a state below RTR, the frame is dropped (an
 * Ethernet NIC has no RNR). Runs on the engine thread under dev->lock, so
 * rules and lkeys stay valid for the whole step; every WQE is copied out
 * of shared memory before it is trusted.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "eng_raw.h"
#include "svd_flow.h"
#include "svd_raw.h"
#include "svd_rss.h"

#define RAW_ETH_HLEN 14
#define RAW_VLAN_HLEN 4
#define RAW_IPV6_HLEN 40
#define RAW_PROTO_TCP 6
#define RAW_PROTO_UDP 17
/* Header bytes parsed for steering: Ethernet + VLAN + IPv6 + TCP fit. */
#define RAW_HDR_MAX 128
#define RAW_RWQE_MAX                                                           \
	(sizeof(struct sv_recv_wqe) + ENG_MAX_SGE * sizeof(struct sv_sge))
/* A source memory failure during delivery: the sender's fault. */
#define RAW_SRC_FAILED (-1)

struct raw_tx {
	union {
		struct sv_send_wqe w;
		uint8_t raw[ENG_WQE_MAX];
	};
	struct eng_sgl sgl; /* the frame */
	uint8_t hdr[RAW_HDR_MAX];
	uint32_t layers; /* enum svd_flow_layer found in hdr */
	struct svd_flow_key key;
	bool src_failed;
};

struct raw_rwqe {
	union {
		struct sv_recv_wqe w;
		uint8_t raw[RAW_RWQE_MAX];
	};
};

/* ---------------------------------------------------------------------- */
/* Steering                                                                */
/* ---------------------------------------------------------------------- */

static uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IPv4 at f[off]: its fields, and where L4 starts (0: none to parse). */
static size_t parse_ipv4(const uint8_t *f, size_t len, size_t off,
			 struct svd_flow_key *k, uint8_t *proto)
{
	const uint8_t *ip = f + off;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;

	if ((ip[0] >> 4) != 4 || ihl < 20 || len < off + ihl)
		return 0;
	memcpy(&k->ipv4.src_ip, ip + 12, 4);
	memcpy(&k->ipv4.dst_ip, ip + 16, 4);
	k->ipv4.proto = ip[9];
	k->ipv4.tos = ip[1];
	k->ipv4.ttl = ip[8];
	k->ipv4.flags = ip[6] >> 5;
	*proto = ip[9];
	/* Only a first fragment carries the L4 header. */
	return (be16_at(ip + 6) & 0x1fff) ? SIZE_MAX : off + ihl;
}

static size_t parse_ipv6(const uint8_t *f, size_t len, size_t off,
			 struct svd_flow_key *k, uint8_t *proto)
{
	const uint8_t *ip = f + off;
	uint32_t w0 = (uint32_t)be16_at(ip) << 16 | be16_at(ip + 2);

	if ((ip[0] >> 4) != 6 || len < off + RAW_IPV6_HLEN)
		return 0;
	memcpy(k->ipv6.src_ip, ip + 8, 16);
	memcpy(k->ipv6.dst_ip, ip + 24, 16);
	k->ipv6.flow_label = htobe32(w0 & 0xfffff);
	k->ipv6.traffic_class = (uint8_t)(w0 >> 20);
	k->ipv6.next_hdr = ip[6];
	k->ipv6.hop_limit = ip[7];
	*proto = ip[6];
	return off + RAW_IPV6_HLEN;
}

/* The layers a frame has (Ethernet, one VLAN tag, IPv4/6, TCP/UDP). */
static uint32_t raw_parse(const uint8_t *f, size_t len,
			  struct svd_flow_key *k)
{
	uint32_t layers = SVD_FLOW_ETH;
	size_t off = RAW_ETH_HLEN, l4 = 0;
	uint16_t type = be16_at(f + 12);
	uint8_t proto = 0;

	memset(k, 0, sizeof(*k));
	memcpy(k->eth.dst_mac, f, 6);
	memcpy(k->eth.src_mac, f + 6, 6);
	if (type == 0x8100 && len >= RAW_ETH_HLEN + RAW_VLAN_HLEN) {
		memcpy(&k->eth.vlan_tag, f + 14, 2);
		type = be16_at(f + 16);
		off += RAW_VLAN_HLEN;
	}
	k->eth.ether_type = htobe16(type);
	if (type == 0x0800 && len >= off + 20) {
		l4 = parse_ipv4(f, len, off, k, &proto);
		layers |= l4 ? SVD_FLOW_IPV4 : 0;
	} else if (type == 0x86dd && len >= off + RAW_IPV6_HLEN) {
		l4 = parse_ipv6(f, len, off, k, &proto);
		layers |= l4 ? SVD_FLOW_IPV6 : 0;
	}
	if (!l4 || l4 == SIZE_MAX || len < l4 + 4 ||
	    (proto != RAW_PROTO_TCP && proto != RAW_PROTO_UDP))
		return layers;
	memcpy(&k->l4.src_port, f + l4, 2);
	memcpy(&k->l4.dst_port, f + l4 + 2, 2);
	return layers | (proto == RAW_PROTO_TCP ? SVD_FLOW_TCP : SVD_FLOW_UDP);
}

static bool raw_match(const struct svd_flow *f, const struct raw_tx *t)
{
	const uint8_t *key = (const uint8_t *)&t->key;
	const uint8_t *val = (const uint8_t *)&f->val;
	const uint8_t *mask = (const uint8_t *)&f->mask;
	size_t i;

	if (f->layers & ~t->layers)
		return false;
	for (i = 0; i < sizeof(t->key); i++)
		if ((key[i] & mask[i]) != val[i])
			return false;
	return true;
}

/* Did an earlier rule than f already steer the frame to f's QP? */
static bool raw_seen(const struct svd_device *dev, const struct svd_flow *f,
		     const struct raw_tx *t)
{
	const struct svd_flow *g;

	for (g = dev->flows; g != f; g = g->next)
		if (g->qp == f->qp && raw_match(g, t))
			return true;
	return false;
}

/* ---------------------------------------------------------------------- */
/* Receive                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * Where a copy of a frame lands: a raw QP's own RQ, or one WQ of an RSS
 * QP. Both are rings of sv_recv_wqe with an sv_dbrec; the consumer index
 * is the NIC's (eng_qp or svd_wq), kept under dev->lock.
 */
struct raw_rq {
	const struct svd_umem *ring, *dbrec;
	uint64_t rec; /* offset of the ring's sv_dbrec in dbrec */
	uint32_t entries, stride, max_sge;
	uint32_t *cons;
	struct svd_cq *cq;
	uint32_t qpn; /* the CQE's qp_num */
	struct svd_pd *pd; /* the buffers' lkeys belong to it */
};

/* 0: a WQE; -EAGAIN: none posted; > 0: a malformed one (IBV_WC_*). */
static int raw_rq_take(const struct raw_rq *rq, struct raw_rwqe *rw)
{
	size_t len = rq->stride < sizeof(rw->raw) ? rq->stride :
						    sizeof(rw->raw);
	uint32_t prod, cons = *rq->cons;

	if (!rq->ring || !rq->dbrec || !svd_is_pow2(rq->entries) ||
	    len < sizeof(rw->w) ||
	    (uint64_t)rq->entries * rq->stride > rq->ring->length)
		return -EAGAIN;
	if (svd_mem_load32(rq->dbrec,
			   rq->rec + offsetof(struct sv_dbrec, prod), &prod) ||
	    prod == cons || prod - cons > rq->entries)
		return -EAGAIN;
	memset(rw, 0, sizeof(*rw));
	if (svd_mem_read(rq->ring,
			 (uint64_t)(cons & (rq->entries - 1)) * rq->stride,
			 rw->raw, len))
		return -EAGAIN;
	if (rw->w.num_sge > rq->max_sge || rw->w.num_sge > ENG_MAX_SGE ||
	    sizeof(rw->w) + rw->w.num_sge * sizeof(struct sv_sge) > len)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

static void raw_rq_pop(const struct raw_rq *rq)
{
	(*rq->cons)++;
	svd_mem_store32(rq->dbrec, rq->rec + offsetof(struct sv_dbrec, cons),
			*rq->cons);
}

/* The receive WQE's (copied, counted) SGEs in pd: IBV_WC_* or 0. */
static int raw_rx_sgl(struct svd_device *dev, struct svd_pd *pd,
		      const struct raw_rwqe *rw, struct eng_sgl *dst)
{
	const struct sv_sge *sge = (const struct sv_sge *)(&rw->w + 1);
	uint32_t i;
	int status;

	dst->n = 0;
	dst->total = 0;
	for (i = 0; i < rw->w.num_sge; i++) {
		if (!sge[i].length)
			continue;
		status = eng_lkey_seg(dev, pd, sge[i].lkey, sge[i].addr,
				      sge[i].length, true, &dst->seg[dst->n++]);
		if (status)
			return status;
		dst->total += sge[i].length;
	}
	return 0;
}

/* The frame into the receive WQE's buffers: IBV_WC_* or RAW_SRC_FAILED. */
static int raw_rx_copy(struct svd_device *dev, const struct raw_rq *rq,
		       const struct raw_rwqe *rw, const struct raw_tx *t)
{
	static __thread struct eng_sgl dst;
	int status = raw_rx_sgl(dev, rq->pd, rw, &dst);

	if (status)
		return status;
	if (dst.total < t->sgl.total)
		return IBV_WC_LOC_LEN_ERR;
	switch (eng_sgl_copy(&dst, 0, &t->sgl, t->sgl.total)) {
	case 0:
		return IBV_WC_SUCCESS;
	case ENG_COPY_ESRC:
		return RAW_SRC_FAILED;
	default:
		return IBV_WC_LOC_PROT_ERR;
	}
}

/* One copy of the frame into rq; false if it was dropped there. */
static bool raw_rx(struct svd_device *dev, const struct raw_rq *rq,
		   struct raw_tx *t)
{
	static __thread struct raw_rwqe rw;
	struct sv_cqe cqe = { .opcode = IBV_WC_RECV, .qp_num = rq->qpn };
	int status = raw_rq_take(rq, &rw);

	if (status < 0)
		return false; /* no buffer posted */
	if (!status)
		status = raw_rx_copy(dev, rq, &rw, t);
	if (status == RAW_SRC_FAILED) {
		t->src_failed = true; /* the WQE stays for the next frame */
		return false;
	}
	raw_rq_pop(rq);
	cqe.wr_id = rw.w.wr_id;
	cqe.status = (uint32_t)status;
	cqe.byte_len = status ? 0 : (uint32_t)t->sgl.total;
	eng_cqe_push(rq->cq, &cqe, false);
	return status == IBV_WC_SUCCESS;
}

/* A raw QP's own RQ, if it takes frames in its state. */
static bool raw_qp_rq(struct svd_qp *qp, struct raw_rq *rq)
{
	struct eng_qp *eq = qp->eng;

	if (!eq || (qp->state != SVD_QPS_RTR && qp->state != SVD_QPS_RTS &&
		    qp->state != SVD_QPS_SQD))
		return false;
	*rq = (struct raw_rq){ .ring = qp->rq, .dbrec = qp->dbrec,
			       .rec = sizeof(struct sv_dbrec),
			       .entries = qp->rq_entries,
			       .stride = qp->rq_wqe_size,
			       .max_sge = qp->max_recv_sge,
			       .cons = &eq->rq_cons, .cq = qp->recv_cq,
			       .qpn = qp->qpn, .pd = qp->pd };
	return true;
}

/* Toeplitz hash of n input bytes under key (Microsoft RSS). */
static uint32_t raw_toeplitz(const uint8_t *key, size_t klen,
			     const uint8_t *in, size_t n)
{
	uint32_t h = 0, win = 0;
	size_t i;
	int bit;

	for (i = 0; i < 4; i++)
		win = win << 8 | (i < klen ? key[i] : 0);
	for (i = 0; i < n; i++)
		for (bit = 7; bit >= 0; bit--) {
			if (in[i] >> bit & 1)
				h ^= win;
			win <<= 1;
			if (i + 4 < klen)
				win |= key[i + 4] >> bit & 1;
		}
	return h;
}

/* Append len bytes at p to the hash input if the field is hashed. */
static size_t raw_hash_add(uint8_t *in, size_t n, uint64_t fields,
			   uint64_t field, const void *p, size_t len)
{
	if (!(fields & field))
		return n;
	memcpy(in + n, p, len);
	return n + len;
}

/* The hash input of a frame: source then destination, address and port. */
static size_t raw_hash_input(const struct raw_tx *t, uint64_t f, uint8_t *in)
{
	const struct svd_flow_key *k = &t->key;
	size_t n = 0;

	if (t->layers & SVD_FLOW_IPV4) {
		n = raw_hash_add(in, n, f, IBV_RX_HASH_SRC_IPV4,
				 &k->ipv4.src_ip, 4);
		n = raw_hash_add(in, n, f, IBV_RX_HASH_DST_IPV4,
				 &k->ipv4.dst_ip, 4);
	} else if (t->layers & SVD_FLOW_IPV6) {
		n = raw_hash_add(in, n, f, IBV_RX_HASH_SRC_IPV6,
				 k->ipv6.src_ip, 16);
		n = raw_hash_add(in, n, f, IBV_RX_HASH_DST_IPV6,
				 k->ipv6.dst_ip, 16);
	}
	if (t->layers & SVD_FLOW_TCP) {
		n = raw_hash_add(in, n, f, IBV_RX_HASH_SRC_PORT_TCP,
				 &k->l4.src_port, 2);
		n = raw_hash_add(in, n, f, IBV_RX_HASH_DST_PORT_TCP,
				 &k->l4.dst_port, 2);
	} else if (t->layers & SVD_FLOW_UDP) {
		n = raw_hash_add(in, n, f, IBV_RX_HASH_SRC_PORT_UDP,
				 &k->l4.src_port, 2);
		n = raw_hash_add(in, n, f, IBV_RX_HASH_DST_PORT_UDP,
				 &k->l4.dst_port, 2);
	}
	return n;
}

/* An RSS QP: the hash picks a WQ of its table, which must be ready. */
static bool raw_rss_rq(struct svd_qp *qp, const struct raw_tx *t,
		       struct raw_rq *rq)
{
	const struct svd_rss *r = qp->rss;
	uint8_t in[2 * 16 + 2 * 2];
	size_t n = raw_hash_input(t, r->fields, in);
	uint32_t h = raw_toeplitz(r->key, r->key_len, in, n);
	struct svd_wq *wq = r->tbl->wqs[h & ((1U << r->tbl->log_size) - 1)];

	if (wq->state != SVD_WQS_RDY)
		return false;
	*rq = (struct raw_rq){ .ring = wq->ring, .dbrec = wq->dbrec,
			       .entries = wq->entries,
			       .stride = wq->wqe_size, .max_sge = wq->max_sge,
			       .cons = &wq->cons, .cq = wq->cq,
			       .qpn = wq->wqn, .pd = wq->pd };
	return true;
}

/* Where f's QP takes this frame, if anywhere. */
static bool raw_dest(struct svd_qp *qp, const struct raw_tx *t,
		     struct raw_rq *rq)
{
	return qp->rss ? raw_rss_rq(qp, t, rq) : raw_qp_rq(qp, rq);
}

/* Every raw QP (but the sender) a rule steers the frame to gets a copy. */
static void raw_switch(struct svd_device *dev, const struct svd_qp *src,
		       struct raw_tx *t)
{
	struct svd_flow *f;
	struct raw_rq rq;
	bool delivered = false;

	for (f = dev->flows; f && !t->src_failed; f = f->next) {
		if (f->qp == src || !raw_match(f, t) || raw_seen(dev, f, t) ||
		    !raw_dest(f->qp, t, &rq))
			continue;
		if (raw_rx(dev, &rq, t)) {
			dev->raw_rx_frames++;
			delivered = true;
		}
	}
	if (!delivered)
		dev->raw_rx_dropped++;
}

/* ---------------------------------------------------------------------- */
/* Send                                                                    */
/* ---------------------------------------------------------------------- */

static int raw_check(const struct svd_qp *qp, const struct sv_send_wqe *w)
{
	size_t wqe = qp->sq_wqe_size < ENG_WQE_MAX ? qp->sq_wqe_size :
						     ENG_WQE_MAX;
	size_t room = wqe - sizeof(*w);

	if (w->opcode != IBV_WR_SEND || (w->flags & ~SV_WQE_INLINE))
		return IBV_WC_LOC_QP_OP_ERR;
	if (w->flags & SV_WQE_INLINE)
		return (w->num_sge > qp->max_inline_data || w->num_sge > room) ?
			       IBV_WC_LOC_LEN_ERR :
			       0;
	if (w->num_sge > qp->max_send_sge || w->num_sge > ENG_MAX_SGE ||
	    w->num_sge * sizeof(struct sv_sge) > room)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

/* Largest frame: the port's MTU of payload plus the Ethernet header. */
static uint64_t raw_max_frame(const struct svd_device *dev)
{
	return (128U << dev->port.attr.active_mtu) + RAW_ETH_HLEN +
	       RAW_VLAN_HLEN;
}

/* The frame's scatter list and its parsed headers. */
static int raw_frame(struct svd_qp *qp, struct raw_tx *t)
{
	struct eng_sgl hdr = { .n = 1, .total = RAW_HDR_MAX };
	uint64_t n;
	int status = 0;

	if (t->w.flags & SV_WQE_INLINE) {
		t->sgl.n = 1;
		t->sgl.seg[0] = (struct eng_seg){ .buf = t->raw + sizeof(t->w),
						  .len = t->w.num_sge };
		t->sgl.total = t->w.num_sge;
	} else {
		status = eng_wqe_sgl(qp, (const struct sv_sge *)(&t->w + 1),
				     t->w.num_sge, false, &t->sgl);
	}
	if (status)
		return status;
	if (t->sgl.total < RAW_ETH_HLEN ||
	    t->sgl.total > raw_max_frame(qp->uctx->dev))
		return IBV_WC_LOC_LEN_ERR;
	n = t->sgl.total < RAW_HDR_MAX ? t->sgl.total : RAW_HDR_MAX;
	hdr.seg[0] = (struct eng_seg){ .buf = t->hdr, .len = RAW_HDR_MAX };
	if (eng_sgl_copy(&hdr, 0, &t->sgl, n))
		return IBV_WC_LOC_PROT_ERR;
	t->layers = raw_parse(t->hdr, n, &t->key);
	return 0;
}

/* Check, build and switch the head WQE's frame: its IBV_WC_* status. */
static int raw_send(struct svd_device *dev, struct eng_qp *eq,
		    struct raw_tx *t)
{
	int status = raw_check(eq->qp, &t->w);

	if (!status)
		status = raw_frame(eq->qp, t);
	if (status)
		return status;
	t->src_failed = false;
	dev->raw_tx_frames++;
	raw_switch(dev, eq->qp, t);
	return t->src_failed ? IBV_WC_LOC_PROT_ERR : IBV_WC_SUCCESS;
}

bool eng_raw_run(struct svd_engine *e, struct eng_qp *eq)
{
	static __thread struct raw_tx t;
	struct svd_device *dev = e->dev;
	uint32_t prod;
	int status = eng_sq_peek(eq, &prod);

	if (!status)
		status = eng_sq_read(eq, eq->sq_cons, t.raw, sizeof(t.raw));
	if (status && status != -EFAULT)
		return false; /* nothing posted */
	pthread_mutex_lock(&dev->lock);
	if (status) {
		/* The ring's memory is gone (truncated): the QP is dead. */
		eng_qp_error(eq);
	} else {
		status = raw_send(dev, eq, &t);
		eng_sq_consume(eq);
		eng_send_cqe(eq, &t.w, (uint32_t)status,
			     status ? 0 : t.sgl.total);
		if (status)
			eng_qp_error(eq);
	}
	pthread_mutex_unlock(&dev->lock);
	return true;
}

void svd_raw_describe(struct svd_device *dev, char *buf, size_t len)
{
	pthread_mutex_lock(&dev->lock);
	snprintf(buf, len, "raw_tx=%" PRIu64 " raw_rx=%" PRIu64
			   " raw_drop=%" PRIu64,
		 dev->raw_tx_frames, dev->raw_rx_frames, dev->raw_rx_dropped);
	pthread_mutex_unlock(&dev->lock);
}
