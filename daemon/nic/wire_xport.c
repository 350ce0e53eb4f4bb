// SPDX-License-Identifier: MIT
/*
 * The wire as an engine transport (eng_xport.h): packets the engine routes
 * to an address that is not this device's go out through the device's
 * wire as RoCEv2; packets the wire receives (already validated by
 * wire_pkt.c) are queued by its receive thread, the engine is kicked, and
 * its next pass hands them to eng_recv() (poll(), dev->lock held).
 *
 * Before eng_recv() the packet passes the checks that need the QP: it
 * exists, its state takes this kind of packet, a UD QP's Q_Key matches,
 * and a connected QP's peer address is the packet's source (rxe's
 * check_addr). Each failure is counted under its own reason.
 *
 * seg_max is 1: the engine then cuts messages at the path MTU, one packet
 * per PSN, as the wire carries them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "svd_xuser.h"
#include "eng_xport.h"
#include "wire.h"

/* Packets received and not yet taken by the engine: beyond, drop. */
#define WIRE_RXQ_MAX 8192
/*
 * Beyond this many waiting, a packet counts as CE-marked (answered with a
 * CNP): this daemon is then the congested hop, as a switch's queue past
 * its marking threshold is (DCQCN's K_min, DCTCP's K). Without it a
 * sender outpacing a busy receiver filled the queue until requests waited
 * longer than the QP's timeout, and spurious retransmissions followed.
 */
#define WIRE_RXQ_MARK 256
/* QPs whose PSNs the counters follow (a hash; a collision only blurs). */
#define WIRE_PSN_SLOTS 4096
/* CNPs to one QP at most this often (DCQCN's N, 50 us). */
#define WIRE_CNP_GAP_NS (50LL * 1000)

/*
 * What hw_counters count is seen on the wire, as on a NIC: a request sent
 * again with a PSN already sent is a retransmission; one received before
 * the next expected PSN is a duplicate, one after it is out of sequence.
 */
struct psn_track {
	uint32_t qpn; /* 0: unused */
	uint32_t next; /* next new PSN */
};

struct wire_xport {
	struct eng_xport x;
	struct wire *w;
	pthread_mutex_t qlock;
	struct wire_rx *head, **tail;
	unsigned int qlen;
	uint8_t buf[WIRE_PKT_MAX]; /* the engine thread's send buffer */
	/* Engine thread only (send and poll): no lock. */
	struct psn_track tx[WIRE_PSN_SLOTS], rx[WIRE_PSN_SLOTS];
	struct cnp_slot {
		uint32_t qpn;
		int64_t last_ns;
	} cnp[WIRE_PSN_SLOTS]; /* when each QP last got a CNP from us */
};

static struct wire_xport *wx_of(struct eng_xport *x)
{
	return (struct wire_xport *)x;
}

/* The receive thread: queue and wake the engine. */
static int wx_rx(void *ctx, struct wire_rx *rx)
{
	struct wire_xport *wx = ctx;

	unsigned int was;

	pthread_mutex_lock(&wx->qlock);
	if (wx->qlen >= WIRE_RXQ_MAX) {
		pthread_mutex_unlock(&wx->qlock);
		return WIRE_DROP_QUEUE;
	}
	rx->next = NULL;
	rx->queue_ce = wx->qlen >= WIRE_RXQ_MARK;
	*wx->tail = rx;
	wx->tail = &rx->next;
	was = wx->qlen++;
	pthread_mutex_unlock(&wx->qlock);
	/*
	 * One kick per batch: while packets wait, the kick that queued the
	 * first one has not been answered, and the pass it wakes takes them
	 * all (wx_poll empties the queue at once).
	 */
	if (!was)
		eng_kick(wx->x.e);
	return 0;
}

/* PSNs a request packet takes: a READ one per response packet. */
static uint32_t req_npsn(const struct eng_packet *p, unsigned int mtu)
{
	if (!(p->mask & ENG_READ) || !p->f.dma_len)
		return 1;
	return (p->f.dma_len + mtu - 1) / mtu;
}

/* A request of qpn with PSN psn: -1 old, 0 the next one, 1 after a gap. */
static int psn_see(struct psn_track *t, uint32_t qpn, uint32_t psn,
		   uint32_t n)
{
	struct psn_track *s = &t[qpn % WIRE_PSN_SLOTS];
	int32_t d;

	if (s->qpn != qpn) {
		s->qpn = qpn;
		s->next = eng_psn_add(psn, n);
		return 0;
	}
	d = eng_psn_cmp(psn, s->next);
	if (d < 0)
		return -1;
	s->next = eng_psn_add(psn, n);
	return d > 0;
}

/* The checks that need the destination QP: 0 or a drop reason. */
static int wx_check(const struct svd_qp *qp, const struct eng_packet *p,
		    const struct wire_rx *rx)
{
	bool req = p->mask & ENG_REQ;
	struct svd_xuser_addr from = { .global = true };

	if (req && qp->state != SVD_QPS_RTR && qp->state != SVD_QPS_RTS &&
	    qp->state != SVD_QPS_SQD)
		return WIRE_DROP_QP_STATE;
	if (!req && qp->state != SVD_QPS_RTS && qp->state != SVD_QPS_SQD)
		return WIRE_DROP_QP_STATE;
	if ((p->f.opcode & 0xe0) != eng_transport_bits(qp->qp_type) &&
	    !(qp->qp_type == SVD_QPT_XRC_TGT &&
	      (p->f.opcode & 0xe0) == ENG_TR_XRC))
		return WIRE_DROP_OPCODE;
	if (qp->qp_type == SVD_QPT_UD)
		return p->f.qkey == qp->attr.qkey ? 0 : WIRE_DROP_QKEY;
	/*
	 * A connection takes packets only from its peer's address, to the
	 * address its path names: the same decision (and refusal count) as
	 * for packets of this daemon's own QPs (xuser.c).
	 */
	memcpy(from.sgid, rx->ends.sgid, 16);
	memcpy(from.dgid, rx->ends.dgid, 16);
	return svd_xuser_path_ok(qp, &from) ? 0 : WIRE_DROP_QPN;
}

/* UD: the 40 bytes a receiver gets in front (the IP header, eng_grh.c). */
static void wx_grh(struct eng_route *rt, const struct wire_rx *rx)
{
	uint16_t plen = (uint16_t)(rx->len + WIRE_ICRC_LEN + 8);
	uint8_t *g = rt->grh;

	memset(g, 0, sizeof(rt->grh));
	g[0] = 0x60;
	g[4] = (uint8_t)(plen >> 8);
	g[5] = (uint8_t)plen;
	g[7] = 64;
	memcpy(g + 8, rx->ends.sgid, 16);
	memcpy(g + 24, rx->ends.dgid, 16);
	eng_grh_rocev2(g);
	rt->has_grh = true;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * A packet for qp arrived CE-marked, or met a long queue here: congestion
 * on the way from src_qpn.
 * Tell that QP with a CNP, at most once per WIRE_CNP_GAP_NS per our QP
 * (DCQCN's notification point).
 */
static void wx_ce(struct wire_xport *wx, const struct svd_qp *qp,
		  uint32_t src_qpn, const struct wire_rx *rx)
{
	struct cnp_slot *s = &wx->cnp[qp->qpn % WIRE_PSN_SLOTS];
	int64_t t = mono_ns();
	uint8_t b[WIRE_CNP_LEN] = { WIRE_OP_CNP, 0, 0xff, 0xff, 0x40 };

	if (rx->ecn == 3)
		atomic_fetch_add(&wire_counters(wx->w)->ecn_marked, 1);
	else
		atomic_fetch_add(&wire_counters(wx->w)->queue_marked, 1);
	if (s->qpn == qp->qpn && t - s->last_ns < WIRE_CNP_GAP_NS)
		return;
	s->qpn = qp->qpn;
	s->last_ns = t;
	b[5] = (uint8_t)(src_qpn >> 16); /* byte 4: BECN */
	b[6] = (uint8_t)(src_qpn >> 8);
	b[7] = (uint8_t)src_qpn;
	if (!wire_send_batch(wx->w, rx->ends.dgid, rx->ends.sgid, qp->qpn, b,
			     sizeof(b)))
		atomic_fetch_add(&wire_counters(wx->w)->cnp_sent, 1);
}

/* A CNP for one of our QPs (from its peer): slow down. */
static int wx_cnp_in(struct wire_xport *wx, const struct wire_rx *rx)
{
	struct svd_qp *qp = svd_dev_qp_find(wx->x.e->dev, rx->bth.dest_qpn);
	struct svd_xuser_addr from = { .global = true };

	if (!qp || !qp->eng)
		return WIRE_DROP_QPN;
	/*
	 * RTR sends too (READ responses, ACKs): a perftest ib_read_bw server
	 * never leaves RTR, and the CNPs its responses earned were dropped.
	 */
	if (qp->state != SVD_QPS_RTR && qp->state != SVD_QPS_RTS &&
	    qp->state != SVD_QPS_SQD)
		return WIRE_DROP_QP_STATE;
	memcpy(from.sgid, rx->ends.sgid, 16);
	memcpy(from.dgid, rx->ends.dgid, 16);
	if (qp->qp_type != SVD_QPT_UD && !svd_xuser_path_ok(qp, &from))
		return WIRE_DROP_QPN;
	wire_count(wx->w, WIRE_EV_CNP);
	return 0;
}

static int wx_deliver(struct wire_xport *wx, struct wire_rx *rx)
{
	struct svd_engine *e = wx->x.e;
	struct eng_packet p = { .npsn = 1 };
	struct svd_qp *qp;
	int drop;

	if (rx->bth.opcode == WIRE_OP_CNP)
		return wx_cnp_in(wx, rx);
	memcpy(p.hdr, rx->ib, rx->bth.hdr_len);
	p.hdr_len = (uint8_t)rx->bth.hdr_len;
	p.len = rx->bth.payload_len;
	p.owned = p.len ? rx->ib + rx->bth.hdr_len : NULL;
	if (eng_pkt_parse(&p))
		return WIRE_DROP_LENGTH;
	qp = svd_dev_qp_find(e->dev, p.f.dqpn);
	if (!qp)
		eng_ghost_answer(e, &p, rx->ends.sgid); /* a lost last ACK */
	if (!qp || !qp->eng)
		return WIRE_DROP_QPN;
	drop = wx_check(qp, &p, rx);
	if (drop)
		return drop;
	p.route.src_qpn = qp->qp_type == SVD_QPT_UD ?
				  p.f.src_qpn :
				  qp->attr.dest_qp_num & 0xffffff;
	p.route.global = true;
	if (rx->ecn == 3 || rx->queue_ce)
		wx_ce(wx, qp, p.route.src_qpn, rx);
	memcpy(p.route.dgid, rx->ends.dgid, 16);
	p.route.sl = eng_grh_l3_type(rx->ends.sgid);
	if (qp->qp_type == SVD_QPT_UD)
		wx_grh(&p.route, rx);
	else if (p.mask & ENG_REQ)
		switch (psn_see(wx->rx, qp->qpn, p.f.psn,
				req_npsn(&p, eng_mtu(qp)))) {
		case -1:
			wire_count(wx->w, WIRE_EV_DUPLICATE);
			break;
		case 1:
			wire_count(wx->w, WIRE_EV_OUT_OF_SEQ);
			break;
		}
	eng_recv(e, &p); /* it copies what it keeps */
	return 0;
}

/* Engine pass, dev->lock held: everything queued so far. */
static void wx_poll(struct eng_xport *x, int64_t *deadline_ns)
{
	struct wire_xport *wx = wx_of(x);
	struct wire_rx *rx, *next;
	int drop;

	(void)deadline_ns;
	pthread_mutex_lock(&wx->qlock);
	rx = wx->head;
	wx->head = NULL;
	wx->tail = &wx->head;
	wx->qlen = 0;
	pthread_mutex_unlock(&wx->qlock);
	for (; rx; rx = next) {
		next = rx->next;
		drop = wx_deliver(wx, rx);
		if (drop)
			atomic_fetch_add(&wire_counters(wx->w)->dropped[drop], 1);
		wire_rx_free(rx);
	}
}

/* The source GID of a packet: the UD GRH's, else its QP's path's. */
static bool wx_sgid(struct svd_engine *e, const struct eng_packet *p,
		    uint8_t *sgid)
{
	const struct eng_route *rt = &p->route;
	const struct svd_qp *qp = rt->src;
	uint8_t idx;

	if (rt->has_sgid) {
		memcpy(sgid, rt->sgid, 16);
		return true;
	}
	if (rt->has_grh && rt->grh[20] == 0x45) {
		memset(sgid, 0, 10);
		sgid[10] = sgid[11] = 0xff;
		memcpy(sgid + 12, rt->grh + 32, 4);
		return true;
	}
	if (rt->has_grh) {
		memcpy(sgid, rt->grh + 8, 16);
		return true;
	}
	if (!qp)
		qp = svd_dev_qp_find(e->dev, rt->src_qpn);
	if (!qp)
		return false;
	idx = qp->attr.ah_attr.grh.sgid_index;
	if (idx >= SVD_MAX_GIDS || !e->dev->port.gids[idx].valid)
		return false;
	memcpy(sgid, e->dev->port.gids[idx].gid, 16);
	return true;
}

/* Headers, payload and pad into the send buffer: its length, or < 0. */
static int wx_linear(struct wire_xport *wx, const struct eng_packet *p)
{
	struct eng_sgl dst = { .n = 1, .total = p->len };
	uint8_t pad = eng_pad(p->len);
	size_t len = p->hdr_len + p->len + pad;

	if (len + WIRE_ICRC_LEN > sizeof(wx->buf) || p->npsn != 1)
		return -EINVAL;
	memcpy(wx->buf, p->hdr, p->hdr_len);
	/* The port's one partition: the default P_Key (pkey table index 0). */
	wx->buf[2] = wx->buf[3] = 0xff;
	dst.seg[0] = (struct eng_seg){ .buf = wx->buf + p->hdr_len,
				       .len = p->len };
	if (p->len && eng_pkt_copy_out(p, &dst, 0))
		return -EFAULT;
	memset(wx->buf + p->hdr_len + p->len, 0, pad);
	return (int)len;
}

/* A request whose PSN went out before is a retransmission. */
static void tx_count(struct wire_xport *wx, const struct eng_packet *p)
{
	struct eng_packet h = { .npsn = 1, .hdr_len = p->hdr_len,
				.len = p->len };
	const struct svd_qp *qp = p->route.src;

	memcpy(h.hdr, p->hdr, p->hdr_len);
	if (eng_pkt_parse(&h) || !(h.mask & ENG_REQ) ||
	    (h.f.opcode & 0xe0) == ENG_TR_UD)
		return;
	if (psn_see(wx->tx, p->route.src_qpn, h.f.psn,
		    req_npsn(&h, qp ? eng_mtu(qp) : 4096)) < 0)
		wire_count(wx->w, WIRE_EV_RETRANSMIT);
}

static int wx_send(struct eng_xport *x, struct eng_packet *p)
{
	struct wire_xport *wx = wx_of(x);
	uint8_t sgid[16];
	int len = wx_linear(wx, p);

	if (len == -EFAULT)
		return -EFAULT; /* the sender's memory: its local error */
	if (len < 0 || !p->route.global || !wx_sgid(x->e, p, sgid)) {
		atomic_fetch_add(&wire_counters(wx->w)->send_err, 1);
		return 0; /* unroutable: lost, as on a wire */
	}
	tx_count(wx, p);
	wire_send_batch(wx->w, sgid, p->route.dgid, p->route.src_qpn, wx->buf,
			(size_t)len);
	return 0;
}

static void wx_flush(struct eng_xport *x)
{
	wire_flush(wx_of(x)->w);
}

static uint32_t wx_seg_max(const struct eng_xport *x)
{
	(void)x;
	return 1; /* rounded up to one path MTU by eng_xport_seg() */
}

static void wx_destroy(struct eng_xport *x)
{
	struct wire_xport *wx = wx_of(x);
	struct wire_rx *rx, *next;

	wire_set_receiver(wx->w, NULL, NULL);
	for (rx = wx->head; rx; rx = next) {
		next = rx->next;
		wire_rx_free(rx);
	}
	pthread_mutex_destroy(&wx->qlock);
	free(wx);
}

static const struct eng_xport_ops wire_xport_ops = {
	.name = "wire",
	.send = wx_send,
	.poll = wx_poll,
	.seg_max = wx_seg_max,
	.destroy = wx_destroy,
	.flush = wx_flush,
};

/*
 * Test knob: SOFTVERBS_WIRE_LOSS (SOFTVERBS_LOSS's syntax) puts the lossy
 * test transport in front of the wire where the kernel has no netem. It
 * does not poll what it wraps, so a shim polls both.
 */
struct wire_lossy {
	struct eng_xport x;
	struct eng_xport *loss; /* owns the wire transport */
	struct eng_xport *wire;
};

static int lossy_send(struct eng_xport *x, struct eng_packet *p)
{
	struct wire_lossy *l = (struct wire_lossy *)x;

	/* Its address now: a held packet outlives its sender QP. */
	if (!p->route.has_sgid && wx_sgid(l->wire->e, p, p->route.sgid))
		p->route.has_sgid = true;
	return l->loss->ops->send(l->loss, p);
}

static void lossy_poll(struct eng_xport *x, int64_t *deadline_ns)
{
	struct wire_lossy *l = (struct wire_lossy *)x;

	l->loss->ops->poll(l->loss, deadline_ns);
	l->wire->ops->poll(l->wire, deadline_ns);
}

static void lossy_flush(struct eng_xport *x)
{
	struct wire_lossy *l = (struct wire_lossy *)x;

	l->wire->ops->flush(l->wire);
}

static void lossy_destroy(struct eng_xport *x)
{
	struct wire_lossy *l = (struct wire_lossy *)x;

	l->loss->ops->destroy(l->loss);
	free(l);
}

static const struct eng_xport_ops wire_lossy_ops = {
	.name = "wire+loss",
	.send = lossy_send,
	.poll = lossy_poll,
	.seg_max = wx_seg_max,
	.destroy = lossy_destroy,
	.flush = lossy_flush,
};

/*
 * "ce=PCT" is the wire's own (wire_set_ce()): taken out of the spec, the
 * rest is the lossy transport's. *spec is what is left (static storage).
 */
static const char *ce_knob(struct wire *w, const char *env)
{
	static char rest[256];
	char buf[256], *save = NULL, *tok;
	size_t n = 0;

	rest[0] = '\0';
	if (!env || strlen(env) >= sizeof(buf))
		return env;
	strcpy(buf, env);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "ce=", 3)) {
			wire_set_ce(w, strtod(tok + 3, NULL));
			continue;
		}
		n += (size_t)snprintf(rest + n, sizeof(rest) - n, "%s%s",
				      n ? "," : "", tok);
	}
	return rest;
}

static struct eng_xport *lossy_wrap(struct svd_engine *e,
				    struct eng_xport *wire, struct wire *w)
{
	const char *spec = ce_knob(w, getenv("SOFTVERBS_WIRE_LOSS"));
	struct eng_loss_cfg cfg;
	struct wire_lossy *l;

	if (!spec || !*spec || eng_loss_parse(spec, &cfg))
		return wire;
	l = calloc(1, sizeof(*l));
	if (l)
		l->loss = eng_xport_loss_new(e, wire, &cfg);
	if (!l || !l->loss) {
		free(l);
		return wire;
	}
	l->x.ops = &wire_lossy_ops;
	l->x.e = e;
	l->wire = wire;
	return &l->x;
}

/* Make the device's engine send and receive through w (once). */
int wire_xport_attach(struct svd_device *dev, struct wire *w)
{
	struct svd_engine *e = eng_of(dev);
	struct wire_xport *wx;
	struct eng_xport *x;

	if (!e || e->wire)
		return 0;
	wx = calloc(1, sizeof(*wx));
	if (!wx)
		return -ENOMEM;
	wx->x.ops = &wire_xport_ops;
	wx->x.e = e;
	wx->w = w;
	wx->tail = &wx->head;
	pthread_mutex_init(&wx->qlock, NULL);
	x = lossy_wrap(e, &wx->x, w);
	pthread_mutex_lock(&e->lock);
	e->wire = x;
	pthread_mutex_unlock(&e->lock);
	wire_set_receiver(w, wx_rx, wx);
	return 0;
}
