// SPDX-License-Identifier: MIT
/*
 * Large payloads staged at post time (SV_WQE_STAGED, docs/datapath.md).
 *
 * On the daemon path a WRITE or SEND between two private VA regions costs
 * the engine two cross-process copies (process_vm_readv into its buffer,
 * process_vm_writev out of it), both on the engine's CPU, while the
 * poster's CPU only spins in ibv_poll_cq. So ibv_post_send copies a large
 * payload from a private VA region into a stage: a memfd the library maps
 * and registers in the QP's PD, which the daemon maps too. The engine then
 * makes one copy, stage to target, and the two copies of a stream run in
 * parallel on two CPUs. The WQE keeps its own SGEs, which the engine still
 * judges (keys, ranges, rights), and names the copy with one SGE more.
 *
 * The stage is a byte ring of SVL_STAGE_SIZE, made at the first payload
 * that wants it (a QP that never sends one never pays the registration),
 * for at most SVL_STAGE_MAX QPs of a process at a time.
 * A message takes contiguous bytes (one that would wrap starts again at
 * the beginning); its bytes are free once the SQ's consumer index has
 * moved past its WQE: the daemon retires a WQE only after it completed,
 * retransmissions included. While the stage is full the poster waits for
 * the engine as long as the engine retires WQEs, then posts unstaged.
 *
 * Everything here runs under the SQ lock.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "direct.h"
#include "svl_mr.h"
#include "svl_qp.h"

/* Below this the engine's two copies cost less than the stage's memcpy. */
#define SVL_STAGE_MIN (64U * 1024)
#define SVL_STAGE_SIZE (8UL * 1024 * 1024)
/*
 * Stages per process: each may grow to SVL_STAGE_SIZE of shared memory,
 * so a process with thousands of QPs stages on the first few only.
 */
#define SVL_STAGE_MAX 16
static _Atomic int stages;

/* A full stage whose engine retired nothing for this long is given up. */
#define SVL_STAGE_WAIT_NS (2 * 1000 * 1000)
/* Spin this long, then yield: the engine may be queued on this CPU. */
#define SVL_STAGE_SPIN_NS (50 * 1000)

struct svl_stage_rec {
	uint32_t idx; /* the WQE's SQ index */
	uint64_t end; /* its bytes end here (free-running) */
};

struct svl_stage {
	uint8_t *base;
	struct ibv_mr *mr;
	uint64_t head; /* bytes handed out, free-running */
	uint64_t tail; /* bytes freed */
	struct svl_stage_rec *rec; /* staged WQEs in SQ order: sq.entries */
	uint32_t rec_head, rec_tail;
	bool stalled; /* a wait timed out at tail stalled_tail */
	uint64_t stalled_tail;
};

/*
 * The engine sends payloads this large from our buffers even when staged
 * (it shares their copy between two threads): staging them would only
 * cost this CPU a copy. The daemon's hint, read in the line of the SQ's
 * consumer index that stage_reclaim() reads anyway.
 */
static bool engine_skips(struct svl_qp *q, uint64_t total)
{
	uint32_t skip = __atomic_load_n(&q->sq.db->stage_skip,
					__ATOMIC_RELAXED);

	return skip && total >= skip;
}

static bool stage_wanted(struct svl_qp *q, const struct sv_send_wqe *w,
			 const struct ibv_send_wr *wr, uint64_t *total)
{
	size_t need = sizeof(*w) + ((size_t)wr->num_sge + 1) *
				   sizeof(struct sv_sge);
	int i;

	if (q->dq || q->stage_off || w->flags || wr->num_sge <= 0 ||
	    need > q->sq.stride)
		return false;
	if (wr->opcode != IBV_WR_SEND && wr->opcode != IBV_WR_SEND_WITH_IMM &&
	    wr->opcode != IBV_WR_SEND_WITH_INV &&
	    wr->opcode != IBV_WR_RDMA_WRITE &&
	    wr->opcode != IBV_WR_RDMA_WRITE_WITH_IMM)
		return false;
	if (q->qp.qp_type != IBV_QPT_RC && q->qp.qp_type != IBV_QPT_UC &&
	    q->qp.qp_type != IBV_QPT_XRC_SEND)
		return false;
	*total = 0;
	for (i = 0; i < wr->num_sge; i++)
		*total += wr->sg_list[i].length;
	return *total >= SVL_STAGE_MIN && *total <= SVL_STAGE_SIZE / 4 &&
	       !engine_skips(q, *total);
}

static void stage_destroy(struct svl_stage *st)
{
	if (st->mr)
		ibv_dereg_mr(st->mr);
	if (st->base)
		munmap(st->base, SVL_STAGE_SIZE);
	free(st->rec);
	free(st);
	atomic_fetch_sub(&stages, 1);
}

/*
 * The stage, registered as a file region (the daemon maps it). A failure
 * turns staging off for this QP: its WQEs go as they are.
 */
static struct svl_stage *stage_create(struct svl_qp *q)
{
	struct svl_stage *st = calloc(1, sizeof(*st));
	void *base = NULL;
	uint64_t off;
	int fd = -1, bfd;

	if (!st)
		return NULL;
	if (atomic_fetch_add(&stages, 1) >= SVL_STAGE_MAX) {
		atomic_fetch_sub(&stages, 1);
		free(st);
		return NULL;
	}
	st->rec = calloc(q->sq.entries, sizeof(*st->rec));
	if (!st->rec || svl_ring_alloc(SVL_STAGE_SIZE, &fd, &base))
		goto fail;
	st->base = base;
	/* A stage the daemon cannot map would only add a copy. */
	bfd = svl_mr_backing_file(base, SVL_STAGE_SIZE, true, &off);
	if (bfd < 0)
		goto fail;
	close(bfd);
	st->mr = ibv_reg_mr(q->qp.pd, base, SVL_STAGE_SIZE,
			    IBV_ACCESS_LOCAL_WRITE);
	if (!st->mr)
		goto fail;
	close(fd);
	return st;
fail:
	if (fd >= 0)
		close(fd);
	stage_destroy(st);
	return NULL;
}

/* Free the bytes of every staged WQE the engine retired. */
static void stage_reclaim(struct svl_qp *q, struct svl_stage *st)
{
	uint32_t cons = svl_load_acquire(&q->sq.db->cons);

	while (st->rec_tail != st->rec_head) {
		struct svl_stage_rec *r =
			&st->rec[st->rec_tail & (q->sq.entries - 1)];

		if ((int32_t)(cons - r->idx) <= 0)
			break;
		st->tail = r->end;
		st->rec_tail++;
	}
}

/*
 * Where len bytes go, starting at the target's offset in its cache line
 * (the kernel's copy runs several times slower when the two sides'
 * offsets differ); UINT64_MAX while the stage has no room.
 */
static uint64_t stage_fit(struct svl_stage *st, uint64_t len, uint64_t align)
{
	uint64_t at = (st->head + 63) & ~63ULL, pos;

	at += align & 63;
	pos = at & (SVL_STAGE_SIZE - 1);
	if (pos + len > SVL_STAGE_SIZE)
		at += SVL_STAGE_SIZE - pos + (align & 63);
	if (at + len - st->tail > SVL_STAGE_SIZE)
		return UINT64_MAX;
	return at;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/*
 * Room for len bytes. While there is none, wait as long as the engine
 * retires staged WQEs: the poster would otherwise spin in poll_cq while
 * the engine makes two copies of its next message instead of one. After
 * SVL_STAGE_SPIN_NS the wait yields (the engine may need this CPU); a
 * wait that timed out is not repeated until the engine frees something.
 */
static uint64_t stage_room(struct svl_qp *q, struct svl_stage *st,
			   uint64_t len, uint64_t align)
{
	uint64_t at, tail = st->tail, start = 0, since = 0, t;

	for (;;) {
		stage_reclaim(q, st);
		at = stage_fit(st, len, align);
		if (at != UINT64_MAX || st->rec_tail == st->rec_head ||
		    (st->stalled && st->tail == st->stalled_tail) ||
		    svl_ctx_dead(q->qp.context))
			return at;
		st->stalled = false;
		t = now_ns();
		if (!start)
			start = t;
		if (st->tail != tail || !since) {
			tail = st->tail;
			since = t;
		} else if (t - since > SVL_STAGE_WAIT_NS) {
			st->stalled = true;
			st->stalled_tail = st->tail;
			return UINT64_MAX;
		}
		if (t - start > SVL_STAGE_SPIN_NS)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
}

void svl_stage_wqe(struct svl_qp *q, uint32_t idx,
		   const struct ibv_send_wr *wr)
{
	struct sv_send_wqe *w = svl_sq_slot(q, idx);
	struct sv_sge *copy = (struct sv_sge *)(w + 1) + wr->num_sge;
	struct svl_stage *st;
	uint64_t total, at, align;

	if (!stage_wanted(q, w, wr, &total))
		return;
	if (!q->stage) {
		q->stage = stage_create(q);
		if (!q->stage) {
			q->stage_off = true;
			return;
		}
	}
	st = q->stage;
	align = wr->opcode == IBV_WR_RDMA_WRITE ||
				wr->opcode == IBV_WR_RDMA_WRITE_WITH_IMM ?
			wr->wr.rdma.remote_addr :
			wr->sg_list[0].addr;
	at = stage_room(q, st, total, align);
	if (at == UINT64_MAX || st->rec_head - st->rec_tail >= q->sq.entries)
		return;
	if (!svl_mr_keys_copy_safe(q->qp.context, wr->sg_list, wr->num_sge,
				   st->base + (at & (SVL_STAGE_SIZE - 1))))
		return; /* not all private VA regions of ours: as it is */
	*copy = (struct sv_sge){
		.addr = (uintptr_t)st->base + (at & (SVL_STAGE_SIZE - 1)),
		.length = (uint32_t)total,
		.lkey = st->mr->lkey,
	};
	w->flags |= SV_WQE_STAGED;
	st->head = at + total;
	st->rec[st->rec_head++ & (q->sq.entries - 1)] =
		(struct svl_stage_rec){ .idx = idx, .end = st->head };
}

/* RESET: the SQ starts again at index 0, so the records mean nothing. */
void svl_stage_reset(struct svl_qp *q)
{
	if (q->stage) {
		q->stage->head = q->stage->tail = 0;
		q->stage->rec_head = q->stage->rec_tail = 0;
		q->stage->stalled = false;
	}
}

/* After the daemon let go of the QP. */
void svl_stage_free(struct svl_qp *q)
{
	if (q->stage)
		stage_destroy(q->stage);
	q->stage = NULL;
}
