/* SPDX-License-Identifier: MIT */
/*
 * Connected QP pairs of every transport (RC, UC, UD, XRC) in one process,
 * for the operation and error tests: side a is the requester, side b the
 * responder. Each side has its own CQ and a buffer registered for every
 * access. XRC: a's QP is an XRC_SEND (initiator) QP, b's an XRC_RECV
 * (target) QP whose receives come from b's XRC SRQ. UD: a has an address
 * handle to the port itself. Include after svtest.h.
 */
#ifndef SVT_PAIR_H
#define SVT_PAIR_H

#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stdint.h>

#define SVT_ACC_ALL                                                        \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |                \
	 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC |               \
	 IBV_ACCESS_MW_BIND)
#define SVT_QKEY 0x11111111u

struct svt_world {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_xrcd *xrcd;
	union ibv_gid gid;
	int gid_index; /* -1: InfiniBand, address by LID */
	uint16_t lid;
	bool atomic_write; /* ibv_wr_atomic_write allowed on RC QPs */
};

struct svt_side {
	struct ibv_comp_channel *ch; /* the CQ's: solicited events */
	struct ibv_qp *qp;
	struct ibv_qp_ex *qpx; /* RC: for ibv_wr_atomic_write */
	struct ibv_cq *cq;
	struct ibv_srq *srq; /* XRC target */
	struct ibv_mr *mr;
	uint8_t *buf;
	size_t len;
};

struct svt_pair {
	enum ibv_qp_type type;
	enum ibv_mtu mtu;
	struct svt_side a, b;
	struct ibv_ah *ah; /* UD: a -> b */
	uint8_t retry_cnt, rnr_retry, timeout;
};

static inline const char *svt_qpt_name(enum ibv_qp_type t)
{
	switch (t) {
	case IBV_QPT_RC: return "RC";
	case IBV_QPT_UC: return "UC";
	case IBV_QPT_UD: return "UD";
	case IBV_QPT_XRC_SEND: return "XRC";
	default: return "?";
	}
}

static inline void svt_world_open(struct svt_world *w, struct ibv_context *ctx)
{
	struct ibv_xrcd_init_attr xa = {
		.comp_mask = IBV_XRCD_INIT_ATTR_FD | IBV_XRCD_INIT_ATTR_OFLAGS,
		.fd = -1, .oflags = O_CREAT,
	};
	struct ibv_port_attr pa;
	int i;

	memset(w, 0, sizeof(*w));
	w->ctx = ctx;
	w->pd = ibv_alloc_pd(ctx);
	SVT_CHECK(w->pd);
	w->xrcd = ibv_open_xrcd(ctx, &xa);
	SVT_CHECK(w->xrcd);
	SVT_CHECK(!ibv_query_port(ctx, 1, &pa));
	w->lid = pa.lid;
	w->gid_index = -1;
	if (pa.link_layer == IBV_LINK_LAYER_INFINIBAND)
		return;
	for (i = 0; i < 16 && !ibv_query_gid(ctx, 1, i, &w->gid); i++)
		if (w->gid.global.interface_id && w->gid.raw[10] == 0xff) {
			w->gid_index = i;
			return;
		}
	fprintf(stderr, "svt_pair: no usable GID\n");
	exit(SVT_FAIL);
}

static inline void svt_side_mem(struct svt_world *w, struct svt_side *s,
				size_t len)
{
	s->len = len;
	s->buf = calloc(1, len);
	SVT_CHECK(s->buf);
	s->mr = ibv_reg_mr(w->pd, s->buf, len, SVT_ACC_ALL);
	SVT_CHECK(s->mr);
	s->ch = ibv_create_comp_channel(w->ctx);
	SVT_CHECK(s->ch);
	s->cq = ibv_create_cq(w->ctx, 512, NULL, s->ch, 0);
	SVT_CHECK(s->cq);
}

static inline struct ibv_qp *svt_qp_make(struct svt_world *w,
					 struct svt_side *s,
					 enum ibv_qp_type type)
{
	struct ibv_qp_init_attr_ex a = {
		.send_cq = s->cq, .recv_cq = s->cq, .qp_type = type,
		.cap = { .max_send_wr = 128, .max_recv_wr = 128,
			 .max_send_sge = 4, .max_recv_sge = 4,
			 .max_inline_data = 128 },
		.comp_mask = IBV_QP_INIT_ATTR_PD, .pd = w->pd,
	};

	if (type == IBV_QPT_XRC_RECV) {
		a.comp_mask = IBV_QP_INIT_ATTR_XRCD;
		a.xrcd = w->xrcd;
		a.send_cq = a.recv_cq = NULL;
		memset(&a.cap, 0, sizeof(a.cap));
	} else if (type == IBV_QPT_XRC_SEND) {
		a.recv_cq = NULL;
		a.cap.max_recv_wr = a.cap.max_recv_sge = 0;
	} else if (type == IBV_QPT_RC && w->atomic_write) {
		a.comp_mask |= IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
		a.send_ops_flags = IBV_QP_EX_WITH_ATOMIC_WRITE |
				   IBV_QP_EX_WITH_SEND;
	}
	return ibv_create_qp_ex(w->ctx, &a);
}

static inline void svt_xrc_srq(struct svt_world *w, struct svt_side *s)
{
	struct ibv_srq_init_attr_ex a = {
		.attr = { .max_wr = 128, .max_sge = 4 },
		.comp_mask = IBV_SRQ_INIT_ATTR_TYPE | IBV_SRQ_INIT_ATTR_PD |
			     IBV_SRQ_INIT_ATTR_XRCD | IBV_SRQ_INIT_ATTR_CQ,
		.srq_type = IBV_SRQT_XRC, .pd = w->pd, .xrcd = w->xrcd,
		.cq = s->cq,
	};

	s->srq = ibv_create_srq_ex(w->ctx, &a);
	SVT_CHECK(s->srq);
}

static inline int svt_to_init(struct svt_world *w, struct svt_pair *p,
			      struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1 };
	int mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT;

	(void)w;
	if (p->type == IBV_QPT_UD) {
		a.qkey = SVT_QKEY;
		return ibv_modify_qp(qp, &a, mask | IBV_QP_QKEY);
	}
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
			    IBV_ACCESS_REMOTE_ATOMIC;
	return ibv_modify_qp(qp, &a, mask | IBV_QP_ACCESS_FLAGS);
}

static inline void svt_av(struct svt_world *w, struct ibv_ah_attr *ah)
{
	memset(ah, 0, sizeof(*ah));
	ah->dlid = w->lid;
	ah->port_num = 1;
	ah->is_global = w->gid_index >= 0;
	ah->grh.dgid = w->gid;
	ah->grh.sgid_index = (uint8_t)(w->gid_index < 0 ? 0 : w->gid_index);
	ah->grh.hop_limit = 1;
}

static inline int svt_to_rtr(struct svt_world *w, struct svt_pair *p,
			     struct ibv_qp *qp, uint32_t dqpn)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTR, .path_mtu = p->mtu,
				 .dest_qp_num = dqpn, .rq_psn = 100,
				 .max_dest_rd_atomic = 16,
				 .min_rnr_timer = 1 };
	int mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
		   IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;

	if (p->type == IBV_QPT_UD)
		return ibv_modify_qp(qp, &a, IBV_QP_STATE);
	svt_av(w, &a.ah_attr);
	/* Only a responder (RC, XRC target) has these. */
	if (qp->qp_type == IBV_QPT_RC || qp->qp_type == IBV_QPT_XRC_RECV)
		mask |= IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
	return ibv_modify_qp(qp, &a, mask);
}

static inline int svt_to_rts(struct svt_pair *p, struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTS, .sq_psn = 100,
				 .timeout = p->timeout,
				 .retry_cnt = p->retry_cnt,
				 .rnr_retry = p->rnr_retry,
				 .max_rd_atomic = 16 };
	int mask = IBV_QP_STATE | IBV_QP_SQ_PSN;

	if (p->type == IBV_QPT_RC || p->type == IBV_QPT_XRC_SEND)
		mask |= IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			IBV_QP_MAX_QP_RD_ATOMIC;
	return ibv_modify_qp(qp, &a, mask);
}

static inline void svt_pair_step(const char *state, int err)
{
	if (!err)
		return;
	fprintf(stderr, "svt_pair: modify to %s: %s\n", state,
		strerror(errno));
	exit(SVT_FAIL);
}

/* Both QPs to RTS (the XRC target stays in RTR, which is all it needs). */
static inline void svt_pair_connect(struct svt_world *w, struct svt_pair *p)
{
	struct ibv_qp *a = p->a.qp, *b = p->b.qp;

	svt_pair_step("INIT", svt_to_init(w, p, a) || svt_to_init(w, p, b));
	svt_pair_step("RTR (a)", svt_to_rtr(w, p, a, b->qp_num));
	svt_pair_step("RTR (b)", svt_to_rtr(w, p, b, a->qp_num));
	svt_pair_step("RTS", svt_to_rts(p, a) ||
				     (p->type != IBV_QPT_XRC_SEND &&
				      svt_to_rts(p, b)));
	if (p->type == IBV_QPT_UD) {
		struct ibv_ah_attr ah;

		svt_av(w, &ah);
		p->ah = ibv_create_ah(w->pd, &ah);
		SVT_CHECK(p->ah);
	}
}

/* QPs of p->type with p->mtu on the sides' CQs and memory. */
static inline void svt_pair_qps(struct svt_world *w, struct svt_pair *p)
{
	bool xrc = p->type == IBV_QPT_XRC_SEND;

	p->a.qp = svt_qp_make(w, &p->a, p->type);
	p->b.qp = svt_qp_make(w, &p->b, xrc ? IBV_QPT_XRC_RECV : p->type);
	SVT_CHECK(p->a.qp && p->b.qp);
	if (p->type == IBV_QPT_RC && w->atomic_write)
		p->a.qpx = ibv_qp_to_qp_ex(p->a.qp);
	svt_pair_connect(w, p);
}

/* Memory, CQs, defaults (timeout 8: 1 ms, retry_cnt 3, rnr_retry 7). */
static inline void svt_pair_alloc(struct svt_world *w, struct svt_pair *p,
				  enum ibv_qp_type type, enum ibv_mtu mtu,
				  size_t len)
{
	memset(p, 0, sizeof(*p));
	p->type = type;
	p->mtu = mtu;
	p->timeout = 8;
	p->retry_cnt = 3;
	p->rnr_retry = 7;
	svt_side_mem(w, &p->a, len);
	svt_side_mem(w, &p->b, len);
	if (type == IBV_QPT_XRC_SEND)
		svt_xrc_srq(w, &p->b);
}

static inline void svt_pair_make(struct svt_world *w, struct svt_pair *p,
				 enum ibv_qp_type type, enum ibv_mtu mtu,
				 size_t len)
{
	svt_pair_alloc(w, p, type, mtu, len);
	svt_pair_qps(w, p);
}

/* Everything svt_pair_make made (the QPs may be gone already). */
static inline void svt_pair_free(struct svt_pair *p)
{
	struct svt_side *s[2] = { &p->a, &p->b };
	int i;

	if (p->ah)
		ibv_destroy_ah(p->ah);
	for (i = 0; i < 2; i++) {
		if (s[i]->qp)
			ibv_destroy_qp(s[i]->qp);
		if (s[i]->srq)
			ibv_destroy_srq(s[i]->srq);
		ibv_destroy_cq(s[i]->cq);
		ibv_destroy_comp_channel(s[i]->ch);
		ibv_dereg_mr(s[i]->mr);
		free(s[i]->buf);
	}
	memset(p, 0, sizeof(*p));
}

/* New QPs on the same memory and CQs (after a QP went to ERROR). */
static inline void svt_pair_renew(struct svt_world *w, struct svt_pair *p)
{
	struct ibv_wc wc;

	if (p->ah)
		ibv_destroy_ah(p->ah);
	p->ah = NULL;
	ibv_destroy_qp(p->a.qp);
	ibv_destroy_qp(p->b.qp);
	while (ibv_poll_cq(p->a.cq, 1, &wc) > 0 ||
	       ibv_poll_cq(p->b.cq, 1, &wc) > 0)
		;
	svt_pair_qps(w, p);
}

/* Wait up to ms for one completion: 1 got it, 0 timed out, -1 error. */
static inline int svt_wait_wc(struct ibv_cq *cq, struct ibv_wc *wc, int ms)
{
	struct timespec t0, t, nap = { 0, 20000 };
	long i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0;; i++) {
		int n = ibv_poll_cq(cq, 1, wc);

		if (n)
			return n < 0 ? -1 : 1;
		if (i < 2000)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
			    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return 0;
		nanosleep(&nap, NULL);
	}
}

static inline enum ibv_qp_state svt_qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr a;
	struct ibv_qp_init_attr ia;

	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE, &ia));
	return a.qp_state;
}

#endif
