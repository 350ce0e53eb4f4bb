// SPDX-License-Identifier: MIT
/*
 * ibv_open_qp: XRC target QPs shared between processes through an XRC
 * domain named by a file (ibv_open_xrcd with an fd).
 *
 * A creates the XRC SRQ, an XRC target T1 and an XRC initiator; B opens
 * T1 by number and moves it to RTR through its own handle; A destroys its
 * handle; traffic from A's initiator still arrives through T1 in the XRC
 * SRQ. A remote access error puts T1 in ERROR and only B, its last
 * holder, gets the QP_FATAL event. B's destroy ends T1 (it no longer
 * opens). A target delivers into no XRC SRQ of another domain. The errors the kernel gives: wrong type, unknown QP, a QP that
 * is not an XRC target, a domain other than the QP's, bad comp_mask, and
 * EBUSY closing an XRCD a handle holds. Then C opens a second target T2
 * and is killed with SIGKILL: T2 lives on for A and B, and once both
 * destroyed their handles it is gone, so C's handle was reclaimed.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_fork.h"

#define NMSG 8
#define MSG_LEN 512

static char xrcd_path[] = "/tmp/svt_open_qp_XXXXXX";
static pid_t path_owner;

/* The domain's file goes with the test process, failed or not. */
static void path_remove(void)
{
	if (getpid() == path_owner)
		unlink(xrcd_path);
}

/* ---- pipes between the processes ---- */

static void put(int fd, uint32_t v)
{
	SVT_CHECK(write(fd, &v, sizeof(v)) == sizeof(v));
}

static uint32_t get(int fd)
{
	uint32_t v;

	SVT_CHECK(read(fd, &v, sizeof(v)) == sizeof(v));
	return v;
}

/* ---- verbs helpers ---- */

static struct ibv_xrcd *xrcd_open(struct ibv_context *ctx, bool shared)
{
	struct ibv_xrcd_init_attr xa = {
		.comp_mask = IBV_XRCD_INIT_ATTR_FD | IBV_XRCD_INIT_ATTR_OFLAGS,
		.fd = -1, .oflags = O_CREAT,
	};
	struct ibv_xrcd *x;

	if (shared)
		xa.fd = open(xrcd_path, O_RDWR);
	SVT_CHECK(!shared || xa.fd >= 0);
	x = ibv_open_xrcd(ctx, &xa);
	SVT_CHECK(x);
	if (shared)
		close(xa.fd); /* the daemon named the domain by its inode */
	return x;
}

static struct ibv_qp *tgt_create(struct ibv_context *ctx, struct ibv_xrcd *x)
{
	struct ibv_qp_init_attr_ex a = {
		.qp_type = IBV_QPT_XRC_RECV,
		.comp_mask = IBV_QP_INIT_ATTR_XRCD,
		.xrcd = x,
	};
	struct ibv_qp *qp = ibv_create_qp_ex(ctx, &a);

	SVT_CHECK(qp);
	return qp;
}

/* Open qpn through x: the QP, or NULL with errno. */
static struct ibv_qp *tgt_open(struct ibv_context *ctx, struct ibv_xrcd *x,
			       uint32_t qpn)
{
	struct ibv_qp_open_attr oa = {
		.comp_mask = IBV_QP_OPEN_ATTR_NUM | IBV_QP_OPEN_ATTR_XRCD |
			     IBV_QP_OPEN_ATTR_TYPE | IBV_QP_OPEN_ATTR_CONTEXT,
		.qp_num = qpn, .xrcd = x, .qp_type = IBV_QPT_XRC_RECV,
		.qp_context = &oa,
	};

	return ibv_open_qp(ctx, &oa);
}

static int open_errno(struct ibv_context *ctx, struct ibv_qp_open_attr *oa)
{
	struct ibv_qp *qp;

	errno = 0;
	qp = ibv_open_qp(ctx, oa);
	if (qp) {
		ibv_destroy_qp(qp);
		return 0;
	}
	return errno;
}

static enum ibv_qp_state qp_state(struct ibv_qp *qp, uint32_t *dqpn)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;

	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE | IBV_QP_DEST_QPN, &init));
	if (dqpn)
		*dqpn = a.dest_qp_num;
	return a.qp_state;
}

static void to_init(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE,
	};

	SVT_CHECK(!ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					 IBV_QP_PORT | IBV_QP_ACCESS_FLAGS));
}

/* INIT then RTR towards dqpn: what both XRC sides need to receive. */
static void to_rtr(struct ibv_qp *qp, uint32_t dqpn, bool target)
{
	struct svt_ep e = { .ctx = qp->context };
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR, .path_mtu = IBV_MTU_1024,
		.dest_qp_num = dqpn, .max_dest_rd_atomic = 1,
		.min_rnr_timer = 1,
	};
	int mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
		   IBV_QP_DEST_QPN | IBV_QP_RQ_PSN;

	svt_ep_find_gid(&e);
	to_init(qp);
	a.ah_attr.dlid = e.lid;
	a.ah_attr.is_global = e.gid_index >= 0;
	a.ah_attr.grh.dgid = e.gid;
	a.ah_attr.grh.sgid_index = (uint8_t)e.gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	if (target)
		mask |= IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
	SVT_CHECK(!ibv_modify_qp(qp, &a, mask));
}

static void ini_connect(struct ibv_qp *ini, uint32_t tgt_qpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTS, .timeout = 8, .retry_cnt = 1,
		.rnr_retry = 7, .max_rd_atomic = 1,
	};

	to_rtr(ini, tgt_qpn, false);
	SVT_CHECK(!ibv_modify_qp(ini, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					  IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					  IBV_QP_SQ_PSN |
					  IBV_QP_MAX_QP_RD_ATOMIC));
}

/* ---- A: the creator ---- */

struct side_a {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *scq, *rcq;
	struct ibv_xrcd *x;
	struct ibv_srq *srq;
	uint32_t srqn;
	struct ibv_qp *ini;
	struct ibv_mr *mr;
	uint8_t buf[2 * NMSG * MSG_LEN];
};

/* An XRC SRQ on domain x, its number in *srqn, NMSG receives posted. */
static struct ibv_srq *a_srq(struct side_a *s, struct ibv_xrcd *x,
			     uint32_t *srqn)
{
	struct ibv_srq_init_attr_ex sa = {
		.attr = { .max_wr = 2 * NMSG, .max_sge = 1 },
		.comp_mask = IBV_SRQ_INIT_ATTR_TYPE | IBV_SRQ_INIT_ATTR_XRCD |
			     IBV_SRQ_INIT_ATTR_CQ | IBV_SRQ_INIT_ATTR_PD,
		.srq_type = IBV_SRQT_XRC, .xrcd = x, .cq = s->rcq,
		.pd = s->pd,
	};
	struct ibv_srq *srq = ibv_create_srq_ex(s->ctx, &sa);
	unsigned int i;

	SVT_CHECK(srq);
	SVT_CHECK(!ibv_get_srq_num(srq, srqn));
	for (i = 0; i < NMSG; i++) {
		struct ibv_sge sge = {
			.addr = (uintptr_t)s->buf + (NMSG + i) * MSG_LEN,
			.length = MSG_LEN, .lkey = s->mr->lkey,
		};
		struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge,
					  .num_sge = 1 },
				   *bad;

		SVT_CHECK(!ibv_post_srq_recv(srq, &wr, &bad));
	}
	return srq;
}

static struct ibv_qp *a_ini(struct side_a *s)
{
	struct ibv_qp_init_attr_ex ia = {
		.qp_type = IBV_QPT_XRC_SEND,
		.comp_mask = IBV_QP_INIT_ATTR_PD,
		.cap = { .max_send_wr = 2 * NMSG, .max_send_sge = 1 },
		.pd = s->pd, .send_cq = s->scq, .recv_cq = s->scq,
	};
	struct ibv_qp *qp = ibv_create_qp_ex(s->ctx, &ia);

	SVT_CHECK(qp);
	return qp;
}

static void a_setup(struct side_a *s)
{
	s->ctx = svt_open_dev("softverbs0");
	s->pd = ibv_alloc_pd(s->ctx);
	s->scq = ibv_create_cq(s->ctx, 4 * NMSG, NULL, NULL, 0);
	s->rcq = ibv_create_cq(s->ctx, 4 * NMSG, NULL, NULL, 0);
	SVT_CHECK(s->pd && s->scq && s->rcq);
	s->mr = ibv_reg_mr(s->pd, s->buf, sizeof(s->buf),
			   IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(s->mr);
	s->x = xrcd_open(s->ctx, true);
	s->srq = a_srq(s, s->x, &s->srqn);
	s->ini = a_ini(s);
}

static void a_post(struct side_a *s, struct ibv_qp *qp, enum ibv_wr_opcode op,
		   unsigned int i, uint32_t srqn)
{
	struct ibv_sge sge = { .addr = (uintptr_t)s->buf + i * MSG_LEN,
			       .length = MSG_LEN, .lkey = s->mr->lkey };
	struct ibv_send_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1,
				  .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED },
			   *bad;

	wr.qp_type.xrc.remote_srqn = srqn;
	wr.wr.rdma.remote_addr = 4096;
	wr.wr.rdma.rkey = 0x7badbe; /* no such key: remote access error */
	SVT_CHECK(!ibv_post_send(qp, &wr, &bad));
}

/* NMSG SENDs reach the XRC SRQ through T1, whose creator let go of it. */
static void a_traffic(struct side_a *s, uint32_t tgt_qpn)
{
	struct ibv_wc wc;
	unsigned int i;

	for (i = 0; i < NMSG * MSG_LEN; i++)
		s->buf[i] = (uint8_t)(i * 7 + i / MSG_LEN);
	for (i = 0; i < NMSG; i++)
		a_post(s, s->ini, IBV_WR_SEND, i, s->srqn);
	for (i = 0; i < NMSG; i++) {
		wc = svt_poll1(s->scq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS);
		wc = svt_poll1(s->rcq);
		SVT_CHECK(wc.status == IBV_WC_SUCCESS &&
			  wc.opcode == IBV_WC_RECV && wc.byte_len == MSG_LEN);
		SVT_CHECK(wc.qp_num == tgt_qpn);
		SVT_CHECK(!memcmp(s->buf + wc.wr_id * MSG_LEN,
				  s->buf + (NMSG + wc.wr_id) * MSG_LEN,
				  MSG_LEN));
	}
	/* A WRITE with a key nobody has: T1 goes to ERROR (QP_FATAL). */
	a_post(s, s->ini, IBV_WR_RDMA_WRITE, 0, s->srqn);
	wc = svt_poll1(s->scq);
	SVT_CHECK(wc.status == IBV_WC_REM_ACCESS_ERR);
}

static void a_teardown(struct side_a *s)
{
	SVT_CHECK(!ibv_destroy_qp(s->ini));
	SVT_CHECK(!ibv_destroy_srq(s->srq));
	SVT_CHECK(!ibv_close_xrcd(s->x));
	SVT_CHECK(!ibv_dereg_mr(s->mr));
	SVT_CHECK(!ibv_destroy_cq(s->scq) && !ibv_destroy_cq(s->rcq));
	SVT_CHECK(!ibv_dealloc_pd(s->pd));
	SVT_CHECK(!ibv_close_device(s->ctx));
}

/*
 * A target delivers only into SRQs of its own domain: a SEND through T3
 * naming an XRC SRQ of another domain is an invalid request.
 */
static void a_other_domain(struct side_a *s)
{
	struct ibv_xrcd *x2 = xrcd_open(s->ctx, false);
	struct ibv_qp *t3 = tgt_create(s->ctx, s->x), *ini = a_ini(s);
	uint32_t srqn2;
	struct ibv_srq *srq2 = a_srq(s, x2, &srqn2);

	to_rtr(t3, ini->qp_num, true);
	ini_connect(ini, t3->qp_num);
	a_post(s, ini, IBV_WR_SEND, 0, srqn2);
	SVT_CHECK(svt_poll1(s->scq).status == IBV_WC_REM_INV_REQ_ERR);
	SVT_CHECK(ibv_poll_cq(s->rcq, 1, &(struct ibv_wc){ 0 }) == 0);
	SVT_CHECK(!ibv_destroy_qp(ini) && !ibv_destroy_qp(t3));
	SVT_CHECK(!ibv_destroy_srq(srq2) && !ibv_close_xrcd(x2));
}

/* T2: C opens it and dies; it must live on, then go with A's and B's. */
static void a_kill_phase(struct side_a *s, int bo, int bi, int co, int ci,
			 pid_t c)
{
	struct ibv_qp *t2 = tgt_create(s->ctx, s->x);
	int status;

	SVT_CHECK(ibv_close_xrcd(s->x) == EBUSY);
	put(co, t2->qp_num);
	SVT_CHECK(get(ci) == 1); /* C holds it */
	SVT_CHECK(!kill(c, SIGKILL));
	SVT_CHECK(waitpid(c, &status, 0) == c && WIFSIGNALED(status));
	put(bo, t2->qp_num);
	SVT_CHECK(get(bi) == 1); /* B opened it after C died */
	SVT_CHECK(qp_state(t2, NULL) == IBV_QPS_RESET);
	SVT_CHECK(!ibv_destroy_qp(t2));
	put(bo, 0);
	SVT_CHECK(get(bi) == 1); /* B saw it go */
}

static void side_a(int bo, int bi, int co, int ci, pid_t c)
{
	static struct side_a s;
	struct ibv_qp *t1;
	uint32_t qpn, dqpn;

	a_setup(&s);
	t1 = tgt_create(s.ctx, s.x);
	qpn = t1->qp_num;
	put(bo, qpn);
	put(bo, s.ini->qp_num);
	SVT_CHECK(get(bi) == 1); /* B opened T1 and moved it to RTR */
	SVT_CHECK(qp_state(t1, &dqpn) == IBV_QPS_RTR);
	SVT_CHECK(dqpn == s.ini->qp_num);
	SVT_CHECK(!ibv_destroy_qp(t1)); /* B's handle keeps T1 */
	put(bo, 1);
	SVT_CHECK(get(bi) == 1); /* B still sees it in RTR */
	ini_connect(s.ini, qpn);
	a_traffic(&s, qpn);
	put(bo, 1);
	SVT_CHECK(get(bi) == 1); /* B got the event, destroyed, saw it go */
	a_other_domain(&s);
	a_kill_phase(&s, bo, bi, co, ci, c);
	a_teardown(&s);
}

/* ---- B: the opener ---- */

/* The errors of ibv_open_qp, as the kernel gives them. */
static void b_errors(struct ibv_context *ctx, struct ibv_xrcd *x,
		     uint32_t tgt, uint32_t not_tgt)
{
	struct ibv_xrcd *other = xrcd_open(ctx, false);
	struct ibv_qp_open_attr oa = {
		.comp_mask = IBV_QP_OPEN_ATTR_NUM | IBV_QP_OPEN_ATTR_XRCD |
			     IBV_QP_OPEN_ATTR_TYPE,
		.qp_num = tgt, .xrcd = other, .qp_type = IBV_QPT_XRC_RECV,
	};

	/* A domain that is not T1's: as good as none. */
	SVT_CHECK(open_errno(ctx, &oa) == EINVAL);
	oa.xrcd = x;
	oa.qp_type = IBV_QPT_RC;
	SVT_CHECK(open_errno(ctx, &oa) == EINVAL);
	oa.qp_type = IBV_QPT_XRC_RECV;
	oa.qp_num = 0xfffff0; /* no such QP */
	SVT_CHECK(open_errno(ctx, &oa) == EINVAL);
	oa.qp_num = not_tgt; /* an XRC initiator */
	SVT_CHECK(open_errno(ctx, &oa) == EINVAL);
	oa.qp_num = tgt;
	oa.comp_mask &= ~IBV_QP_OPEN_ATTR_TYPE;
	SVT_CHECK(open_errno(ctx, &oa) == EINVAL);
	oa.comp_mask |= IBV_QP_OPEN_ATTR_TYPE | IBV_QP_OPEN_ATTR_RESERVED;
	SVT_CHECK(open_errno(ctx, &oa) == EOPNOTSUPP);
	SVT_CHECK(!ibv_close_xrcd(other));
}

/* Wait up to 10 s for one async event; return its type and element. */
static enum ibv_event_type b_event(struct ibv_context *ctx, void **elem)
{
	struct pollfd p = { .fd = ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;
	enum ibv_event_type t;

	SVT_CHECK(poll(&p, 1, 10000) == 1);
	SVT_CHECK(!ibv_get_async_event(ctx, &ev));
	t = ev.event_type;
	*elem = ev.element.qp;
	ibv_ack_async_event(&ev);
	return t;
}

/* T1 through B's handle: opened, moved to RTR, outliving A's handle. */
static void b_t1(struct ibv_context *ctx, struct ibv_xrcd *x, int out,
		 int in)
{
	uint32_t tgt = get(in), ini = get(in), dqpn;
	struct ibv_qp *qp;
	void *elem;

	b_errors(ctx, x, tgt, ini);
	qp = tgt_open(ctx, x, tgt);
	SVT_CHECK(qp && qp->qp_num == tgt && qp->qp_type == IBV_QPT_XRC_RECV);
	SVT_CHECK(qp_state(qp, NULL) == IBV_QPS_RESET);
	to_rtr(qp, ini, true);
	SVT_CHECK(ibv_close_xrcd(x) == EBUSY); /* the handle holds it */
	put(out, 1);
	SVT_CHECK(get(in) == 1); /* A destroyed its handle */
	SVT_CHECK(qp_state(qp, &dqpn) == IBV_QPS_RTR && dqpn == ini);
	put(out, 1);
	SVT_CHECK(get(in) == 1); /* A's traffic went through, then the error */
	SVT_CHECK(b_event(ctx, &elem) == IBV_EVENT_QP_FATAL && elem == qp);
	SVT_CHECK(qp_state(qp, NULL) == IBV_QPS_ERR);
	SVT_CHECK(!ibv_destroy_qp(qp)); /* the last handle: T1 is gone */
	SVT_CHECK(!tgt_open(ctx, x, tgt) && errno == EINVAL);
	put(out, 1);
}

/* T2 opens after C died; gone once A and B let go (C's was reclaimed). */
static void b_t2(struct ibv_context *ctx, struct ibv_xrcd *x, int out,
		 int in)
{
	uint32_t t2 = get(in);
	struct ibv_qp *qp = tgt_open(ctx, x, t2);
	int i;

	SVT_CHECK(qp);
	put(out, 1);
	SVT_CHECK(get(in) == 0); /* A destroyed its handle */
	SVT_CHECK(qp_state(qp, NULL) == IBV_QPS_RESET);
	SVT_CHECK(!ibv_destroy_qp(qp));
	/* The daemon sees C's death on its own time: give it a moment. */
	for (i = 0; i < 500 && (qp = tgt_open(ctx, x, t2)); i++) {
		SVT_CHECK(!ibv_destroy_qp(qp));
		usleep(10000);
	}
	SVT_CHECK(!qp && errno == EINVAL);
	put(out, 1);
}

static void side_b(int out, int in)
{
	struct ibv_context *ctx = svt_open_dev("softverbs0");
	struct ibv_xrcd *x = xrcd_open(ctx, true);

	b_t1(ctx, x, out, in);
	b_t2(ctx, x, out, in);
	SVT_CHECK(!ibv_close_xrcd(x));
	SVT_CHECK(!ibv_close_device(ctx));
	exit(SVT_PASS);
}

/* ---- C: opens T2 and is killed holding it ---- */

static void side_c(int out, int in)
{
	struct ibv_context *ctx = svt_open_dev("softverbs0");
	struct ibv_xrcd *x = xrcd_open(ctx, true);
	struct ibv_qp *qp = tgt_open(ctx, x, get(in));

	SVT_CHECK(qp);
	put(out, 1);
	get(in); /* killed here */
	exit(SVT_FAIL);
}

int main(void)
{
	struct svt_daemon d;
	int bo, bi, co, ci, fd;
	pid_t b, c;

	fd = mkstemp(xrcd_path);
	if (fd < 0)
		svt_skip("no writable /tmp for the XRC domain's file");
	close(fd);
	path_owner = getpid();
	atexit(path_remove);
	svt_daemon_start(&d);
	b = svt_fork_pipes(&bo, &bi);
	if (b == 0)
		side_b(bo, bi);
	c = svt_fork_pipes(&co, &ci);
	if (c == 0) {
		close(bo);
		close(bi);
		side_c(co, ci);
	}
	side_a(bo, bi, co, ci, c);
	svt_wait_pass(b);
	printf("PASS: XRC target opened by number in another process: "
	       "modified, queried, outlives its creator's handle, carries "
	       "traffic, events to the opener, gone with the last handle; "
	       "kernel errnos; a killed opener's handle reclaimed\n");
	svt_daemon_stop(&d);
	return SVT_PASS;
}
