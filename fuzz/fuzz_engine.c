// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the engine fed hostile ring contents. The real
 * daemon loop (serve.c) and engine run on threads of this process; the
 * real library opens the device and sets up, through the public verbs
 * API, two connected RC QPs (A -> B), a UD QP (C) and registered memory.
 * Each input is then written as raw WQE images into a ring of one of them,
 * published, and the doorbell rung, exactly as a client that bypasses the
 * library's checks would. The engine must turn anything into completions
 * (or QP errors), never crash or touch memory it should not.
 *
 * Input: byte 0 bits 0-1 pick the ring: 0 A's SQ, 1 B's RQ (then a valid
 * SEND from A consumes it), 2 C's SQ (UD), 3 A's SQ without relocation.
 * The rest is up to 4 WQEs, each a length byte and that many bytes (cut to
 * the ring's stride, the rest of the slot zeroed).
 *
 * Relocation, so that seeds stay meaningful across runs (addresses and
 * keys are random in every process): an address field below BUF_LEN is an
 * offset into the local (SGE) or remote (RDMA, atomic) buffer; a key field
 * below 4 selects one of: local MR lkey, remote MR rkey, a read-only MR's
 * key, an invalid key; a UD remote_qpn below 4 selects A, B, C or 1.
 * Only the public ABI (include/softverbs/abi.h), the library's ring
 * bookkeeping and its doorbell (svl_qp.h) are used, so the engine can
 * change underneath.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "svl.h"
#include "svl_qp.h"

#include "svd_main.h"
#include "svd_mem.h"

#define BUF_LEN 65536
#define MAX_WQES 4

static struct {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *a, *b, *c;
	struct ibv_ah *ah;
	struct ibv_mr *mr, *ro;
	uint8_t *buf, *rbuf;
	union ibv_gid gid;
	int gid_index;
	uint32_t keys[4];
} F;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_engine: setup: %s\n", what);
	abort();
}

static void *serve_thread(void *arg)
{
	(void)arg;
	svd_serve_loop();
	return NULL;
}

static char rundir[] = "/tmp/fuzz_engine.XXXXXX";

static void rundir_remove(void)
{
	char cmd[64];

	/* mkdtemp's name has no shell metacharacters. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rundir);
	if (system(cmd))
		fprintf(stderr, "fuzz_engine: could not remove %s\n", rundir);
}

static void daemon_start(void)
{
	char *dir = rundir;
	pthread_t t;

	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(rundir_remove);
	setenv("SOFTVERBS_RUNDIR", dir, 1);
	svd_mem_guard_init();
	if (svd_serve_init() || svd_daemon_dev_add("softverbs0", NULL, false))
		die("daemon");
	if (pthread_create(&t, NULL, serve_thread, NULL))
		die("thread");
}

static void find_gid(void)
{
	for (int i = 0; i < 16; i++) {
		if (ibv_query_gid(F.ctx, 1, i, &F.gid))
			break;
		if (F.gid.global.interface_id && F.gid.raw[10] == 0xff) {
			F.gid_index = i;
			return;
		}
	}
	die("gid");
}

static struct ibv_qp *qp_new(enum ibv_qp_type t)
{
	struct ibv_qp_init_attr a = {
		.send_cq = F.cq, .recv_cq = F.cq, .qp_type = t,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 4, .max_recv_sge = 4,
			 .max_inline_data = 64 },
	};
	struct ibv_qp *qp = ibv_create_qp(F.pd, &a);

	if (!qp)
		die("qp");
	return qp;
}

static int to_init(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .port_num = 1, .qkey = 0x11111111,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_REMOTE_ATOMIC,
	};
	int mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT;

	mask |= qp->qp_type == IBV_QPT_UD ? IBV_QP_QKEY : IBV_QP_ACCESS_FLAGS;
	return ibv_modify_qp(qp, &a, mask);
}

static int rc_rtr_rts(struct ibv_qp *qp, uint32_t dqpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR, .path_mtu = IBV_MTU_1024,
		.dest_qp_num = dqpn, .max_dest_rd_atomic = 4,
		.min_rnr_timer = 1,
		.ah_attr = { .is_global = 1, .port_num = 1,
			     .grh = { .dgid = F.gid, .hop_limit = 1,
				      .sgid_index = (uint8_t)F.gid_index } },
	};

	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
			  IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		return -1;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 1;
	a.max_rd_atomic = 4;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			     IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static int ud_rtr_rts(struct ibv_qp *qp)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTR };

	if (ibv_modify_qp(qp, &a, IBV_QP_STATE))
		return -1;
	a.qp_state = IBV_QPS_RTS;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
}

/* (Re)connect everything: after an error the QPs go RESET -> RTS. */
static void qps_reset(void)
{
	struct ibv_qp_attr r = { .qp_state = IBV_QPS_RESET };
	struct ibv_qp *qps[3] = { F.a, F.b, F.c };
	struct ibv_wc wc[16];

	for (int i = 0; i < 3; i++)
		if (ibv_modify_qp(qps[i], &r, IBV_QP_STATE) ||
		    to_init(qps[i]))
			die("reset");
	if (rc_rtr_rts(F.a, F.b->qp_num) || rc_rtr_rts(F.b, F.a->qp_num) ||
	    ud_rtr_rts(F.c))
		die("connect");
	while (ibv_poll_cq(F.cq, 16, wc) > 0)
		;
}

static void setup(void)
{
	struct ibv_device **list;
	struct ibv_ah_attr ah = { .is_global = 1, .port_num = 1 };
	int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		  IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC;

	daemon_start();
	list = ibv_get_device_list(NULL);
	if (!list || !list[0] || !(F.ctx = ibv_open_device(list[0])))
		die("open");
	ibv_free_device_list(list);
	find_gid();
	F.pd = ibv_alloc_pd(F.ctx);
	F.cq = ibv_create_cq(F.ctx, 256, NULL, NULL, 0);
	F.buf = aligned_alloc(4096, BUF_LEN);
	F.rbuf = aligned_alloc(4096, BUF_LEN);
	if (!F.pd || !F.cq || !F.buf || !F.rbuf)
		die("objects");
	F.mr = ibv_reg_mr(F.pd, F.buf, BUF_LEN, acc);
	F.ro = ibv_reg_mr(F.pd, F.rbuf, BUF_LEN, acc);
	if (!F.mr || !F.ro)
		die("mr");
	F.keys[0] = F.mr->lkey;
	F.keys[1] = F.ro->rkey;
	F.keys[2] = F.mr->rkey ^ 0x100; /* a neighbour: no such key */
	F.keys[3] = 0;
	F.a = qp_new(IBV_QPT_RC);
	F.b = qp_new(IBV_QPT_RC);
	F.c = qp_new(IBV_QPT_UD);
	ah.grh.dgid = F.gid;
	ah.grh.sgid_index = (uint8_t)F.gid_index;
	ah.grh.hop_limit = 1;
	F.ah = ibv_create_ah(F.pd, &ah);
	if (!F.ah)
		die("ah");
	qps_reset();
}

static void reloc_addr(__u64 *addr, const uint8_t *base)
{
	if (*addr < BUF_LEN)
		*addr += (uintptr_t)base;
}

static void reloc_key(uint32_t *key)
{
	if (*key < 4)
		*key = F.keys[*key];
}

static void reloc_sges(struct sv_sge *s, uint32_t n, size_t room)
{
	for (uint32_t i = 0; i < n && (i + 1) * sizeof(*s) <= room; i++) {
		reloc_addr(&s[i].addr, F.buf);
		reloc_key(&s[i].lkey);
	}
}

static void reloc_send(struct sv_send_wqe *w, size_t stride, bool ud)
{
	if (ud) {
		static const uint32_t special = 1;

		if (w->ud.remote_qpn < 4)
			w->ud.remote_qpn = w->ud.remote_qpn == 3 ? special :
			    (uint32_t[]){ F.a->qp_num, F.b->qp_num,
					  F.c->qp_num }[w->ud.remote_qpn];
		if (w->ud.ah_handle < 4)
			w->ud.ah_handle = F.ah->handle;
	} else if (w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
		   w->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		reloc_addr(&w->atomic.remote_addr, F.rbuf);
		reloc_key(&w->atomic.rkey);
	} else if (w->opcode == IBV_WR_BIND_MW) {
		reloc_addr(&w->bind.addr, F.buf);
		reloc_key(&w->bind.mr_lkey);
	} else {
		reloc_addr(&w->rdma.remote_addr, F.rbuf);
		reloc_key(&w->rdma.rkey);
	}
	if (w->opcode == IBV_WR_SEND_WITH_INV || w->opcode == IBV_WR_LOCAL_INV)
		reloc_key(&w->imm_data);
	if (!(w->flags & SV_WQE_INLINE))
		reloc_sges((struct sv_sge *)(w + 1), w->num_sge,
			   stride - sizeof(*w));
}

/* Write n raw WQEs into r and publish them; returns how many went in. */
static int ring_put(struct ibv_qp *qp, struct svl_ring *r, const uint8_t *d,
		    size_t len, int mode, bool ud)
{
	int n = 0;

	svl_ring_lock_post(r);
	while (len && n < MAX_WQES &&
	       r->prod - atomic_load((_Atomic uint32_t *)&r->db->cons) <
		       r->entries) {
		uint8_t *w = r->buf + (size_t)(r->prod & (r->entries - 1)) *
					      r->stride;
		size_t k = *d < len - 1 ? *d : len - 1;

		d++;
		len--;
		memset(w, 0, r->stride);
		memcpy(w, d, k < r->stride ? k : r->stride);
		if (mode == 1)
			reloc_sges((struct sv_sge *)((struct sv_recv_wqe *)w + 1),
				   ((struct sv_recv_wqe *)w)->num_sge,
				   r->stride - sizeof(struct sv_recv_wqe));
		else if (mode != 3)
			reloc_send((struct sv_send_wqe *)w, r->stride, ud);
		d += k;
		len -= k;
		r->prod++;
		n++;
	}
	atomic_store_explicit((_Atomic uint32_t *)&r->db->prod, r->prod,
			      memory_order_release);
	svl_ring_unlock(r);
	svl_qp_kick(to_svl_qp(qp)); /* the library's own doorbell */
	return n;
}

static void post_valid_recv(void)
{
	struct svl_ring *r = &to_svl_qp(F.b)->rq;
	struct ibv_sge s = { (uintptr_t)F.buf, 256, F.mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = 7, .sg_list = &s, .num_sge = 1 },
			   *bad;

	if (r->prod - atomic_load((_Atomic uint32_t *)&r->db->cons) < 4)
		ibv_post_recv(F.b, &wr, &bad);
}

static void post_valid_send(void)
{
	struct ibv_sge s = { (uintptr_t)F.buf, 64, F.mr->lkey };
	struct ibv_send_wr wr = { .wr_id = 8, .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	ibv_post_send(F.a, &wr, &bad);
}

/* Wait (bounded) for the engine to consume r, then collect completions. */
static bool settle(struct svl_ring *r)
{
	struct ibv_wc wc[16];
	bool bad = false;
	int i, n;

	for (i = 0; i < 20000; i++) {
		if (atomic_load((_Atomic uint32_t *)&r->db->cons) == r->prod)
			break;
		if (i > 100)
			usleep(1);
	}
	bad = i == 20000;
	while ((n = ibv_poll_cq(F.cq, 16, wc)) > 0)
		for (i = 0; i < n; i++)
			bad |= wc[i].status != IBV_WC_SUCCESS;
	return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned int runs;
	struct svl_ring *r;
	int mode;
	bool bad;

	if (!F.ctx)
		setup();
	if (size < 2)
		return 0;
	mode = data[0] & 3;
	if (mode == 1) {
		r = &to_svl_qp(F.b)->rq;
		ring_put(F.b, r, data + 1, size - 1, mode, false);
		post_valid_send();
		bad = settle(&to_svl_qp(F.a)->sq);
	} else {
		struct ibv_qp *qp = mode == 2 ? F.c : F.a;

		post_valid_recv();
		r = &to_svl_qp(qp)->sq;
		ring_put(qp, r, data + 1, size - 1, mode, mode == 2);
		bad = settle(r);
	}
	/* Any error leaves a QP in ERROR: start clean for the next input. */
	if (bad || ++runs % 1024 == 0)
		qps_reset();
	return 0;
}
