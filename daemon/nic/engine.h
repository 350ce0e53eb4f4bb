/* SPDX-License-Identifier: MIT */
/*
 * The software NIC: one engine thread per device runs the requester
 * (eng_req.c), the responder (eng_resp.c) and the completer (eng_comp.c) of
 * every QP registered with it. They exchange IBTA packets (eng_pkt.h:
 * header bytes + payload) through the transport interface (eng_xport.h):
 * today the same-host transport, which delivers synchronously, so a
 * request's answer comes back re-entrantly (requester -> responder ->
 * completer), optionally wrapped by the lossy test transport.
 *
 * Locking: eng->lock is held for a whole polling pass, so the command
 * thread's hooks (QP modify/destroy, svd_engine_quiesce, doorbell page
 * free) wait for the pass to end and never free what the engine uses.
 * Order: eng->lock -> dev->lock -> srq->lock / cq->lock. Hooks and
 * svd_engine_quiesce must be called WITHOUT dev->lock held. One unit of
 * a QP's work (one packet of the requester, one chunk of a READ response,
 * with everything it triggers re-entrantly) runs under dev->lock: keys
 * resolved there stay valid (regions are unpublished under it); no unit
 * moves more than ENG_CHUNK bytes.
 *
 * Everything in shared memory is untrusted: WQEs are copied into the
 * engine before they are validated (and again whenever they are re-read
 * for a retransmission or a completion), and every access to client memory
 * goes through mem.c (svd_mem.h), which guards it.
 */
#ifndef SVD_ENGINE_H
#define SVD_ENGINE_H

#include <time.h>

#include <infiniband/verbs.h>

#include "svd.h"
#include "svd_objs.h"
#include "svd_cq.h"
#include "svd_keys.h"
#include "svd_mem.h"
#include "svd_qpn.h"
#include "eng_pkt.h"

#define ENG_MAX_SGE 32
/*
 * The most bytes one packet of the same-host transport carries (GSO: it
 * stands for several MTU packets of one message), hence the most one step
 * of a QP moves: no transfer holds the engine or dev->lock for longer
 * than one such copy (about 0.1-0.3 ms), and QPs interleave. 1 MiB: a VA
 * region's copy costs identity checks and two syscalls per piece
 * (nic/mem_va.c), which 64 KiB pieces paid 16 times per MiB; daemon CPU
 * per byte measured 224 ns/KiB at 1 MiB, 283 at 256 KiB.
 */
#define ENG_CHUNK (1024U * 1024)
#define ENG_GRH_LEN 40
struct eng_xport;
#define ENG_MAX_DB_PAGES_DEFAULT 256
/* Biggest WQE the engine copies in: header + 32 SGEs or 1 KiB inline. */
#define ENG_WQE_MAX (sizeof(struct sv_send_wqe) + 1024)

/* ---- hooks called by other modules (strong definitions in engine.c) ---- */
void svd_engine_qp_modified(struct svd_qp *qp, uint32_t old_state);
void svd_engine_qp_send_out(struct svd_qp *qp);
void svd_engine_ah_send_out(struct svd_ucontext *uctx, uint32_t handle,
			    const struct ib_uverbs_ah_attr *attr);
void svd_engine_qp_destroy(struct svd_qp *qp);
/* Wait until the engine is outside any pass (then it holds no pointer). */
void svd_engine_quiesce(struct svd_device *dev);
void svd_engine_drain(struct svd_device *dev);

void svd_engine_srq_destroy(struct svd_srq *srq);

/* ---- doorbell pages (std_db.c registers them with the engine) ---- */
struct eng_db_page {
	struct sv_db_page *page; /* daemon mapping, SV_DB_PAGE_SIZE */
	struct svd_ucontext *uctx;
	bool woken; /* its ringers wake a wake word (eng_wake.c) */
};

/* *wake_fd: a new fd of the owner's wake page, or -1 (ring the page). */
int svd_engine_db_add(struct svd_device *dev, struct sv_db_page *page,
		      struct svd_ucontext *uctx, uint32_t *index,
		      int *wake_fd);
void svd_engine_db_del(struct svd_device *dev, uint32_t index);

/* A scatter list: pieces of registered memory or engine bytes. */
struct eng_seg {
	const struct svd_umem *umem; /* NULL: 'buf' holds the bytes */
	uint64_t off;
	uint8_t *buf;
	uint32_t len;
};

struct eng_sgl {
	struct eng_seg seg[ENG_MAX_SGE + 1];
	unsigned int n;
	uint64_t total;
};

/*
 * One segment of len bytes at buf. Sets only what is read (seg[0], n,
 * total): an initializer would clear all 1 KiB of segments, which on the
 * daemon path's small SEND cost more than the copy it describes.
 */
static inline void eng_sgl_one(struct eng_sgl *s, void *buf, uint32_t len)
{
	s->seg[0] = (struct eng_seg){ .buf = buf, .len = len };
	s->n = 1;
	s->total = len;
}

/*
 * Copy len bytes from src (from its start) to dst starting at dst_skip:
 * 0, -EINVAL (lengths), or whose memory failed, so the blame lands on the
 * side that owns it.
 */
enum { ENG_COPY_ESRC = -1001, ENG_COPY_EDST = -1002 };
/* The same, from src_skip bytes into src. */
int eng_sgl_copy_off(const struct eng_sgl *dst, uint64_t dst_skip,
		     const struct eng_sgl *src, uint64_t src_skip,
		     uint64_t len);
int eng_sgl_copy(const struct eng_sgl *dst, uint64_t dst_skip,
		 const struct eng_sgl *src, uint64_t len);

/* ---- opcode table (eng_opcode.c) ---- */
enum eng_hdr {
	ENG_RETH = 1U << 0,
	ENG_AETH = 1U << 1,
	ENG_ATMETH = 1U << 2,
	ENG_ATMACK = 1U << 3,
	ENG_IMMDT = 1U << 4,
	ENG_IETH = 1U << 5,
	ENG_DETH = 1U << 6,
	ENG_PAYLOAD = 1U << 7,
	ENG_FIRST = 1U << 8,
	ENG_MIDDLE = 1U << 9,
	ENG_LAST = 1U << 10,
	ENG_SEND = 1U << 11, /* consumes a receive WQE */
	ENG_WRITE = 1U << 12,
	ENG_READ = 1U << 13,
	ENG_ATOMIC = 1U << 14,
	ENG_REQ = 1U << 15, /* a request (not a response) */
	ENG_ATOMIC_WRITE = 1U << 16,
	ENG_FETH = 1U << 17,
	ENG_XRCETH = 1U << 18,
	ENG_FLUSH = 1U << 19, /* FLUSH request (FETH + RETH) */
};

/* Transport bits of the BTH opcode. */
enum {
	ENG_TR_RC = 0x00,
	ENG_TR_UC = 0x20,
	ENG_TR_RD = 0x40,
	ENG_TR_UD = 0x60,
	ENG_TR_XRC = 0xa0,
};

/* IBTA base opcodes (low 5 bits). */
enum {
	ENG_OP_SEND_FIRST = 0x00,
	ENG_OP_SEND_MIDDLE = 0x01,
	ENG_OP_SEND_LAST = 0x02,
	ENG_OP_SEND_LAST_IMM = 0x03,
	ENG_OP_SEND_ONLY = 0x04,
	ENG_OP_SEND_ONLY_IMM = 0x05,
	ENG_OP_WRITE_FIRST = 0x06,
	ENG_OP_WRITE_MIDDLE = 0x07,
	ENG_OP_WRITE_LAST = 0x08,
	ENG_OP_WRITE_LAST_IMM = 0x09,
	ENG_OP_WRITE_ONLY = 0x0a,
	ENG_OP_WRITE_ONLY_IMM = 0x0b,
	ENG_OP_READ_REQ = 0x0c,
	ENG_OP_READ_RESP_FIRST = 0x0d,
	ENG_OP_READ_RESP_MIDDLE = 0x0e,
	ENG_OP_READ_RESP_LAST = 0x0f,
	ENG_OP_READ_RESP_ONLY = 0x10,
	ENG_OP_ACK = 0x11,
	ENG_OP_ATOMIC_ACK = 0x12,
	ENG_OP_CMP_SWAP = 0x13,
	ENG_OP_FETCH_ADD = 0x14,
	ENG_OP_SEND_LAST_INV = 0x16,
	ENG_OP_SEND_ONLY_INV = 0x17,
	ENG_OP_FLUSH = 0x1c,
	ENG_OP_ATOMIC_WRITE = 0x1d,
};

struct eng_opcode {
	const char *name;
	uint32_t mask; /* enum eng_hdr */
	uint8_t hdr_len; /* BTH and every extended header */
	uint8_t off[ENG_H_NUM]; /* byte offset of each header present */
};

const struct eng_opcode *eng_opcode_info(uint8_t opcode);
unsigned int eng_hdr_len(enum eng_hdr_id h);
uint32_t eng_hdr_bit(enum eng_hdr_id h);
uint8_t eng_transport_bits(uint32_t qp_type);
/* A work-request opcode as the engine executes it (eng_opcode.c). */
struct eng_wr_op {
	uint8_t base; /* IBTA base opcode of its (only) packet */
	uint32_t qp_types; /* 1 << SVD_QPT_* that may post it */
	bool local; /* LOCAL_INV, BIND_MW: no packet */
};

/* NULL if qp_type may not post wr_opcode. */
const struct eng_wr_op *eng_wr_op(uint32_t wr_opcode, uint32_t qp_type);
/* The request opcode for a send WQE on a QP type, or -1 if not allowed. */
int eng_wr_to_opcode(uint32_t wr_opcode, uint32_t qp_type);

/* ---- packets ---- */
/* AETH syndromes (bits 7..5 = type, 4..0 = value). */
enum {
	ENG_AETH_ACK = 0x1f, /* ACK, unlimited credits (as rxe sends) */
	ENG_AETH_RNR = 0x20, /* | timer */
	ENG_AETH_NAK_SEQ = 0x60,
	ENG_AETH_NAK_INV = 0x61,
	ENG_AETH_NAK_ACC = 0x62,
	ENG_AETH_NAK_OP = 0x63,
	ENG_AETH_NAK_INV_RD = 0x64,
};

/* The kind of message an SQ slot carries: what its answer must be. */
enum eng_kind {
	ENG_K_SEND, /* SEND, WRITE, ATOMIC_WRITE, FLUSH: an ACK */
	ENG_K_READ, /* READ responses */
	ENG_K_ATOMIC, /* an ATOMIC_ACK */
	ENG_K_LOCAL, /* LOCAL_INV, BIND_MW: no packet */
};

/* Per SQ slot in flight (requester window), indexed by WQE index. */
struct eng_slot {
	uint32_t first_psn, npsn; /* PSNs the message uses */
	uint64_t len; /* message bytes (the CQE's byte_len) */
	uint32_t status; /* IBV_WC_* once done */
	uint8_t kind; /* enum eng_kind */
	bool done; /* completes when it reaches the head */
	bool fenced; /* IBV_SEND_FENCE */
};

/* WQEs in flight per QP (the send window). */
#define ENG_WIN 64
/* Responses per request (ACKs, READ responses): every this many PSNs. */
#define ENG_ACK_EVERY 16
/*
 * Saved atomic results for duplicate atomics (responder): as many as a
 * requester may have outstanding (max_dest_rd_atomic, at most the device's
 * max_qp_rd_atom, 128), or a go-back-N resend over a lossy wire finds the
 * older ones gone, gets no answer and ends in RETRY_EXC_ERR.
 */
#define ENG_ATOMIC_SAVED 128
/* Requests held while a READ response is generated (responder). */
#define ENG_PEND_MAX 256

/* The requester's retransmit / RNR timer. */
enum eng_timer {
	ENG_T_NONE,
	ENG_T_ACK, /* no answer by wait_until: retry (retry_cnt) */
	ENG_T_RNR, /* RNR NAK: do not send before wait_until */
};

/* A READ response being generated (responder). */
struct eng_rd_job {
	bool active;
	uint64_t va, left;
	uint32_t rkey, psn; /* next response PSN */
	bool first; /* the next response is the message's first */
	bool fresh; /* not a duplicate: the request's MSN counts */
};

/* Atomic results kept for duplicates (responder). */
struct eng_atomic_saved {
	uint32_t psn;
	bool valid;
	uint64_t orig;
};

/* An intrusive doubly linked list (the scheduler's queues). */
struct eng_link {
	struct eng_link *prev, *next;
};

/* Where the scheduler keeps a QP (eng_sched.c). */
enum eng_where {
	ENG_IDLE, /* waits for a doorbell */
	ENG_ACTIVE, /* on the run queue */
	ENG_TIMER, /* on the timer queue until wait_until */
};

/* Kept for eng_sched.c: WAIT while a timer is armed. */
enum eng_req_state {
	ENG_REQ_IDLE,
	ENG_REQ_WAIT,
	ENG_REQ_ERROR,
};

/* What the SEND a QP is receiving is to a TM-SRQ (eng_tm.c). */
enum eng_tm_kind {
	ENG_TM_NONE, /* not a tag-matching receive */
	ENG_TM_MATCHED, /* eager data into a tagged buffer */
	ENG_TM_UNEXPECTED, /* EAGER / RNDV without a tag: an SRQ buffer */
	ENG_TM_NO_TAG, /* NO_TAG, FIN or no TMH: an SRQ buffer */
};

#define ENG_TM_FINS 8

/*
 * A rendezvous under way: the sender's buffer is read into the tagged one
 * ENG_CHUNK per step (re-resolved every time), then the FIN and the data
 * completion. One per QP: another RNDV meanwhile gets an RNR NAK.
 */
struct eng_tm_rndv {
	bool pending; /* its data completion is owed */
	bool started; /* its request was acknowledged: reading may go on */
	bool active; /* bytes are left to read */
	uint32_t status; /* IBV_WC_* so far */
	uint32_t src_qpn, rkey, num_sge;
	uint64_t va, len, done, wr_id;
	struct sv_sge sge[SV_TM_MAX_SGE]; /* the tagged buffer */
	uint8_t tmh[16]; /* struct ibv_tmh, for the FIN */
};

struct eng_tm_rx {
	uint8_t kind; /* enum eng_tm_kind */
	uint32_t priv; /* the TMH's app_ctx */
	uint64_t tag;
	struct eng_tm_rndv rd;
	/* FINs waiting for this QP's own sends to be answered, in order. */
	uint8_t nfin;
	uint8_t fin[ENG_TM_FINS][16];
};

#define ENG_RWQE_MAX \
	(sizeof(struct sv_recv_wqe) + ENG_MAX_SGE * sizeof(struct sv_sge))

struct eng_qp {
	struct svd_qp *qp;
	struct eng_qp *next; /* every QP of the engine */
	/*
	 * Transitions the engine has taken (svd_engine_qp_modified, under
	 * e->lock). The command thread publishes qp->state first, so a pass
	 * can see RTS before the requester's PSNs are set: without these
	 * gates it sent with PSN 0, the responder took the WQEs for
	 * duplicates and the requester waited for ever.
	 */
	bool rtr_seen; /* epsn is set: the responder may run */
	bool rts_seen; /* psn/una/retries are set: the requester may run */
	/* Scheduler */
	struct eng_link run; /* run or timer queue, per 'where' */
	enum eng_where where;
	struct eng_link poll; /* QPs without a doorbell slot: polled */
	bool polled;
	/* Doorbell slot (eng_db.c): chain of QPs sharing page/slot. */
	struct eng_qp *slot_next;
	int32_t db_page; /* -1: not bound to a page */
	/* Requester (eng_req.c) */
	enum eng_req_state req_state;
	uint32_t sq_cons; /* oldest WQE not completed */
	uint32_t stage_skip; /* what the SQ record's stage_skip says */
	uint32_t sq_next; /* next WQE to send */
	uint32_t sq_sent; /* end of what was ever sent (go-back-N keeps it) */
	uint64_t req_off; /* bytes of WQE sq_next already sent */
	uint32_t psn; /* next PSN to send */
	uint32_t psn_end; /* after the highest PSN ever sent (go-back-N keeps it) */
	uint32_t ack_mark; /* PSN of the last AckReq */
	struct eng_slot win[ENG_WIN];
	bool yield; /* a big packet went: other QPs' turn (eng_sched.c) */
	/* Completer (eng_comp.c) */
	uint32_t una; /* oldest PSN not acknowledged */
	unsigned int rnr_left, retry_left;
	enum eng_timer timer;
	struct timespec wait_until;
	bool retry_started; /* one go-back-N per loss, not per packet */
	/* Congestion window on a lossy route, in PSNs (eng_cwnd.c). */
	uint32_t cwnd, ssthresh, cwnd_acc, recover;
	/* Responder (eng_resp.c) */
	uint32_t epsn, msn;
	bool nak_sent; /* a NAK-seq for epsn went: silent until it arrives */
	bool ack_owed; /* a duplicate came behind a READ: ACK when idle */
	bool wr_open; /* a multi-packet WRITE is in progress */
	uint64_t wr_va, wr_left, wr_total;
	uint32_t wr_rkey;
	bool rcv_open; /* a multi-packet SEND holds a receive WQE */
	bool rcv_published; /* its consumer index has moved (SRQ) */
	uint64_t rcv_off;
	uint32_t rcv_cons;
	uint32_t rcv_srqn;
	union {
		struct sv_recv_wqe w;
		uint8_t raw[ENG_RWQE_MAX];
	} rcv;
	struct eng_tm_rx tm; /* the open SEND's tag matching (eng_tm.c) */
	bool uc_drop; /* UC: a packet was lost, drop to the next FIRST */
	struct eng_rd_job rd;
	struct eng_packet *pend, *pend_tail;
	unsigned int npend;
	struct eng_atomic_saved atomics[ENG_ATOMIC_SAVED];
	unsigned int atomic_next;
	uint32_t rq_cons;
	bool rq_always; /* want = SV_RQ_WANT_ALWAYS (eng_resp_rtr) */
	bool flushed_last_wqe;
	bool fatal_reported;
	/* Packets dropped: not from the connected peer, or a wrong Q_Key. */
	uint64_t foreign_drops;
	/*
	 * PSNs of RC requests put on a transport, first sends and resends
	 * alike (a READ request: its response PSNs), and PSNs the responder
	 * took for duplicates (behind epsn). PSNs, not packets: the same-host
	 * transport carries many PSNs in one packet.
	 */
	uint64_t rc_req_psns;
	uint64_t rc_dup_psns;
};

/*
 * Scratch of one engine role (the WQE being worked on, its scatter list):
 * rebuilt on every use, never progress state. One each for requester,
 * responder and completer, because delivery is re-entrant
 * (requester -> responder -> completer).
 */
struct eng_scratch {
	union {
		struct sv_send_wqe w;
		uint8_t raw[ENG_WQE_MAX];
	};
	struct eng_sgl sgl;
};

struct eng_db_slots; /* eng_db.c */

#define ENG_GHOSTS 16 /* recently destroyed wire RC QPs remembered */

/* Users with a wake page of their own; the others' pages are rung. */
#define ENG_MAX_WAKES 8

/* futex_waitv takes 128 words: the engine's pages plus its kick word. */
#define ENG_PAGES_PER_WAITER 127
#define ENG_MAX_WAITERS 64

struct svd_engine {
	struct svd_device *dev;
	pthread_t thread;
	pthread_mutex_t lock;
	atomic_bool stop;
	bool running;
	struct eng_qp *qps;
	struct eng_db_page *pages; /* dev->max_db_pages slots */
	/* 1 + the highest index holding a page: passes scan no further */
	uint32_t pages_hi;
	/* eng_db.c: the CPU of the last ring harvested (p->ring_cpu, a hint) */
	uint32_t ring_cpu;
	struct eng_db_slots **slots; /* per page: slot -> QP chain */
	struct eng_link runq, timerq, pollq;
	/*
	 * eng_qp.c: the AH a command is destroying while it sends out what
	 * its context's UD QPs posted (its uobject is locked for the destroy,
	 * so req_ud reads it from here). Under lock; uctx NULL: none.
	 */
	struct {
		const struct svd_ucontext *uctx;
		uint32_t handle;
		const struct ib_uverbs_ah_attr *attr;
	} dying_ah;
	/* eng_wait.c: waiter threads for pages past the engine's own. */
	_Atomic uint32_t kick, page_gen;
	/*
	 * The engine thread is asleep or about to be (set under lock before
	 * its last pass, cleared when it wakes): a command thread that gave
	 * it work must kick it, since it may sleep with no timeout.
	 */
	_Atomic bool asleep;
	pthread_t waiters[ENG_MAX_WAITERS];
	unsigned int nwaiters;
	/* eng_ghost.c: destroyed wire RC QPs that still re-ACK duplicates */
	struct eng_ghost {
		uint32_t qpn, dqpn, epsn, msn;
		int64_t until_ns; /* 0: unused */
		struct eng_route route;
	} ghosts[ENG_GHOSTS];
	unsigned int ghost_next;
	/*
	 * eng_wake.c: a wake page per user; entries below nwakes never change
	 * (read by eng_kick from any thread) until the engine is freed.
	 */
	struct eng_wake {
		uid_t uid;
		int fd;
		_Atomic uint32_t *word;
	} wakes[ENG_MAX_WAKES];
	_Atomic uint32_t nwakes;
	/* Transports (eng_xport.c): same host, the wire (netdev devices) and
	 * the switch between the daemon's IB ports (eng_switch.c). */
	struct eng_xport *local, *wire, *sw;
	struct eng_scratch s_req, s_resp, s_comp;
	struct eng_sgl s_dst; /* responder: receive buffers / rkey region */
};

/* CLOCK_MONOTONIC in ns: the engine's timers, deadlines and budgets. */
static inline int64_t eng_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline struct svd_engine *eng_of(struct svd_device *dev)
{
	return dev->engine;
}

static inline unsigned int eng_mtu(const struct svd_qp *qp)
{
	unsigned int m = qp->attr.path_mtu;

	if (m < IBV_MTU_256 || m > IBV_MTU_4096)
		m = IBV_MTU_1024;
	return 128U << m;
}

/* PSNs a message of len bytes uses (one per MTU, at least one). */
static inline uint32_t eng_npsn(const struct svd_qp *qp, uint64_t len)
{
	uint64_t mtu = eng_mtu(qp);

	return len ? (uint32_t)((len + mtu - 1) / mtu) : 1;
}

/* Requester (eng_req.c): one packet or local operation; true if work. */
bool eng_req_run(struct svd_engine *e, struct eng_qp *eq);
/* Go back to PSN psn (in the window): resend from there. */
void eng_req_rewind(struct eng_qp *eq, uint32_t psn);
/* The message's WQE at index idx, re-read and re-validated: 0 or IBV_WC_*. */
int eng_req_wqe(struct eng_qp *eq, uint32_t idx, struct eng_scratch *s);
/* Its data (inline bytes or resolved SGEs) into s->sgl: 0 or IBV_WC_*. */
int eng_req_data(struct eng_qp *eq, struct eng_scratch *s);
/* Header fields and route of a packet from eq's QP to its peer. */
void eng_req_route(const struct svd_qp *qp, struct eng_packet *p);

/* Receive dispatch (eng_xport.c): requests to the responder, responses to
 * the completer. Called with dev->lock held. 0, or -EFAULT when the
 * packet's payload (a reference to the sender's memory) cannot be read. */
int eng_recv(struct svd_engine *e, struct eng_packet *p);
/* Send a packet on the transport its route needs (dev->lock held). */
int eng_xport_send(struct svd_engine *e, struct eng_packet *p);
/* Bytes one packet to this route may carry (GSO), a multiple of mtu. */
uint32_t eng_xport_seg(struct svd_engine *e, const struct eng_route *r,
		       unsigned int mtu);
/* The plain same-host transport carries this route (payloads by reference). */
bool eng_xport_is_sync(const struct svd_engine *e, const struct eng_route *r);
/* Packets on this route may be lost (the wire, the lossy test transport). */
bool eng_xport_may_lose(const struct svd_engine *e, const struct eng_route *r);
bool eng_xport_plain(const struct svd_engine *e);
/*
 * Data direct (eng_dd.c): the bytes one step may move when u, the step's
 * local memory, is a data-direct region (seg: the transport's size), and
 * the region holding byte off of a scatter list.
 */
uint64_t eng_dd_seg(struct svd_engine *e, const struct eng_route *r,
		    const struct svd_umem *u, uint64_t seg);
const struct svd_umem *eng_dd_sgl_umem(const struct eng_sgl *sgl,
				       uint64_t off);
/* Poll the transports (releases held packets); may lower *deadline_ns. */
void eng_xport_poll(struct svd_engine *e, int64_t *deadline_ns);
void eng_xport_flush(struct svd_engine *e);
int eng_xport_init(struct svd_engine *e);
void eng_xport_fini(struct svd_engine *e);

/* Responder (eng_resp.c). */
int eng_resp_recv(struct svd_engine *e, struct eng_qp *eq,
		  struct eng_packet *p);
/* One bounded step of READ response generation / held requests. */
bool eng_resp_run(struct svd_engine *e, struct eng_qp *eq);
void eng_resp_reset(struct eng_qp *eq);
/* The QP reached RTR: which receive posts must ring (the RQ's 'want'). */
void eng_resp_rtr(struct svd_engine *e, struct eng_qp *eq);
/* ERROR: the receive WQE a message held, and held requests, go. */
bool eng_resp_flush(struct eng_qp *eq);
bool eng_mcast_addr(const struct eng_packet *p);
int eng_mcast_deliver(struct svd_engine *e, struct eng_packet *p);

/*
 * Tag matching (eng_tm.c), for the responder. eng_tm_rwqe looks at the
 * first packet of a SEND to a TM-SRQ: ENG_TM_TAGGED, a tagged buffer took
 * it (eq->rcv holds the buffer, the TMH is stripped from p); ENG_TM_DONE,
 * a rendezvous matched (nothing more to place; eng_tm_finish starts its
 * read once the request is acknowledged); ENG_TM_BUSY, a rendezvous
 * matched earlier is still being read (RNR NAK); ENG_TM_SRQ, an
 * ordinary SRQ buffer takes it. eng_tm_cqe turns its receive completion
 * into the tag-matching one.
 */
enum { ENG_TM_SRQ, ENG_TM_TAGGED, ENG_TM_DONE, ENG_TM_BUSY };
int eng_tm_rwqe(struct svd_engine *e, struct eng_qp *eq, struct svd_srq *srq,
		struct eng_packet *p);
void eng_tm_cqe(struct eng_qp *eq, struct svd_srq *srq, struct sv_cqe *cqe);
/* After a request's answer: the FIN and last completion of a rendezvous. */
void eng_tm_finish(struct svd_engine *e, struct eng_qp *eq);
/* A scheduler step: a rendezvous' next chunk, the FINs that waited. */
bool eng_tm_run(struct svd_engine *e, struct eng_qp *eq);
/* ERROR: an unfinished rendezvous completes flushed; FINs are dropped. */
bool eng_tm_flush(struct eng_qp *eq);

/* Completer (eng_comp.c). */
int eng_comp_recv(struct svd_engine *e, struct eng_qp *eq,
		  struct eng_packet *p);
/* Copy p's payload into dst at dst_off: 0 or ENG_COPY_ESRC/EDST. */
int eng_pkt_copy_out(const struct eng_packet *p, const struct eng_sgl *dst,
		     uint64_t dst_off);
/* Complete the done slots at the head of the window. */
bool eng_comp_done(struct eng_qp *eq);
/* The timer expired: retry or end the RNR wait. */
bool eng_comp_timer(struct eng_qp *eq);
void eng_comp_arm(struct eng_qp *eq);
/* The RC requester's congestion window (eng_cwnd.c). */
void eng_cwnd_init(struct eng_qp *eq);
bool eng_cwnd_full(struct svd_engine *e, struct eng_qp *eq);
void eng_cwnd_acked(struct eng_qp *eq, uint32_t n);
void eng_cwnd_loss(struct eng_qp *eq);
void eng_cwnd_timeout(struct eng_qp *eq);
void eng_cqe_push(struct svd_cq *cq, const struct sv_cqe *cqe, bool solicited);
void eng_send_cqe(struct eng_qp *eq, const struct sv_send_wqe *w,
		  uint32_t status, uint64_t byte_len);
void eng_qp_error(struct eng_qp *eq);
bool eng_flush(struct eng_qp *eq);
void eng_rnr_deadline(struct timespec *ts, unsigned int timer);
void eng_timeout_deadline(struct timespec *ts, unsigned int timeout);

/* eng_qp.c: one unit of a QP's work (scheduler step), its timer. */
bool eng_qp_work(struct svd_engine *e, struct eng_qp *eq);
bool eng_qp_timer_armed(const struct eng_qp *eq);

/* Scheduler (eng_sched.c): called with e->lock held. */
void eng_activate(struct svd_engine *e, struct eng_qp *eq);
void eng_sched_forget(struct svd_engine *e, struct eng_qp *eq);
void eng_list_init(struct eng_link *l);

/* Doorbells (eng_db.c): called with e->lock held. */
void eng_db_bind(struct svd_engine *e, struct eng_qp *eq);
void eng_db_unbind(struct svd_engine *e, struct eng_qp *eq);
/* Take the rung slots of every page and activate their QPs. */
void eng_db_harvest(struct svd_engine *e);
void eng_db_set_sleeping(struct svd_engine *e, uint32_t v);
bool eng_db_rung(struct svd_engine *e);
int eng_db_init(struct svd_engine *e);
void eng_db_fini(struct svd_engine *e);

/* Waiters (eng_wait.c). */
void eng_kick(struct svd_engine *e);
/* Ghosts (eng_ghost.c). */
void eng_ghost_keep(struct svd_engine *e, struct eng_qp *eq);
/* from: the sender's GID when the transport knows it (the wire), or NULL */
void eng_ghost_answer(struct svd_engine *e, const struct eng_packet *p,
		      const uint8_t *from);
/* Wake pages (eng_wake.c). */
int eng_wake_of(struct svd_engine *e, uid_t uid);
void eng_wake_all(struct svd_engine *e);
void eng_wake_fini(struct svd_engine *e);
void eng_poke(struct svd_engine *e);
void eng_pages_changed(struct svd_engine *e);
void eng_waiters_cover(struct svd_engine *e, uint32_t idx);
void eng_waiters_stop(struct svd_engine *e);

/* Ring helpers (eng_ring.c), scatter lists (eng_sgl.c, engine.c). */
int eng_sq_peek(struct eng_qp *eq, uint32_t *prod);
int eng_sq_read(struct eng_qp *eq, uint32_t idx, void *buf, size_t len);
/* A whole slot into an ENG_WQE_MAX buffer (the requester's reads). */
int eng_sq_read_slot(struct eng_qp *eq, uint32_t idx, void *buf);
void eng_sq_consume(struct eng_qp *eq);
int eng_wqe_sgl(struct svd_qp *qp, const struct sv_sge *sge,
		unsigned int n, bool write, struct eng_sgl *sgl);
/* Resolve an lkey range to a segment: IBV_WC_* status or 0. */
int eng_lkey_seg(struct svd_device *dev, struct svd_pd *pd, uint32_t lkey,
		 uint64_t addr, uint32_t len, bool write, struct eng_seg *seg);

/* RoCEv2 ports: the GRH bytes become the IP header rxe reports (eng_grh.c). */
void eng_grh_rocev2(uint8_t *grh);
/*
 * What a RoCE NIC reports in a UD completion's sl: the RoCEv2 packet type
 * (mlx5: 0x9 UDP+IPv6, 0xa UDP+IPv4). UCX's ud_verbs reads it to find the
 * destination address in the GRH bytes; without it, it takes every packet
 * for IPv6 and drops the IPv4 ones.
 */
uint8_t eng_grh_l3_type(const uint8_t *dgid);

#endif /* SVD_ENGINE_H */
