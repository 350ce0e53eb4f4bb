// SPDX-License-Identifier: MIT
/*
 * Runs of VA WRITEs or READs (direct_op.h).
 *
 * A direct WRITE or READ to a VA region (malloc, stack, private mappings)
 * is a system call on the registrar's address space, about 1.7-1.9 us of
 * CPU here whatever the size up to a few KiB: that call, not the checks,
 * is the cost of a small VA work request. So when a post (an
 * ibv_post_send list, an ibv_wr_* batch) starts with several work
 * requests to one VA region in one direction, they are checked one by one
 * as always and then moved by one call:
 *
 * - remote ranges that follow each other from local ranges that follow
 *   each other (a stream from one buffer into another): one pwrite/pread
 *   on the registrar's mm handle (that file copies each iovec of a
 *   pwritev in a call of its own, so only one range is worth it);
 * - anything else (at least RUN_SCATTERED work requests): the handle is
 *   read (1 byte: still the registrar's mm, as for large transfers in
 *   direct_op.c), then one process_vm_writev/readv over all the ranges
 *   (adjacent ones merged), which the kernel copies in order.
 *
 * Nothing is deferred past the post: the run has landed before
 * ibv_post_send or ibv_wr_complete returns. A call that moved less than
 * the whole run tells us nothing we can count on, so then the run's work
 * requests go one at a time (WRITE and READ may be repeated). The busy
 * record names the run's one remote entry for the whole call.
 */
#define _GNU_SOURCE
#include <sys/uio.h>
#include <unistd.h>

#include "direct.h"
#include "direct_op.h"
#include "svl_prov.h"

#define RUN_MAX 64 /* work requests */
#define RUN_IOV 256 /* local iovecs, under IOV_MAX */
#define RUN_SCATTERED 3 /* two calls beat one per WR from here */

struct run {
	/* Ranges, adjacent ones merged; the length of each work request. */
	struct iovec local[RUN_IOV], remote[RUN_MAX];
	uint32_t nlocal, nremote, n, len_of[RUN_MAX];
	uint64_t len;
	bool read;
	int fd; /* the registrar's mm */
	pid_t pid;
	uint32_t rkey, rseq, rslot;
	const uint32_t *rseq_p;
};

/* The first work request sets what the others must share. */
static void run_start(struct run *r, const struct dop *op, uint32_t rkey)
{
	r->rkey = rkey;
	r->read = op->read;
	r->fd = op->map->fd;
	r->pid = (pid_t)op->re->pid;
	r->rseq = op->rseq;
	r->rseq_p = op->rseq_p;
	r->rslot = op->rslot;
}

static bool run_fits(const struct run *r, const struct dop *op,
		     uint32_t rkey)
{
	if (op->map->base || op->atomic || op->len > SMALL_IO ||
	    r->nlocal + op->nlocal > RUN_IOV)
		return false;
	return !r->n || (rkey == r->rkey && op->read == r->read &&
			 op->rseq == r->rseq && op->map->fd == r->fd);
}

/* x appended to the n ranges of v, merged with the last if adjacent. */
static void iov_push(struct iovec *v, uint32_t *n, const struct iovec *x)
{
	struct iovec *last = *n ? &v[*n - 1] : NULL;

	if (last && (uintptr_t)last->iov_base + last->iov_len ==
			    (uintptr_t)x->iov_base)
		last->iov_len += x->iov_len;
	else
		v[(*n)++] = *x;
}

static void run_append(struct run *r, const struct dop *op)
{
	uint32_t i;

	for (i = 0; i < op->nlocal; i++)
		iov_push(r->local, &r->nlocal, &op->local[i]);
	iov_push(r->remote, &r->nremote, &op->remote);
	r->len_of[r->n++] = (uint32_t)op->len;
	r->len += op->len;
}

/* w checked like any direct work request; false: it ends the run. */
static bool run_add(struct svl_qp *q, const struct sv_send_wqe *w,
		    struct run *r, struct svl_cq *cq)
{
	bool sig = w->send_flags & IBV_SEND_SIGNALED, ok;
	uint64_t raddr;
	uint32_t rkey;
	struct dop op;

	if ((w->opcode != IBV_WR_RDMA_WRITE &&
	     w->opcode != IBV_WR_RDMA_READ) ||
	    r->n == RUN_MAX || !svl_dop_init(w, &op, &rkey, &raddr))
		return false;
	ok = svl_dop_ready(q, w, &op, rkey, raddr) && run_fits(r, &op, rkey) &&
	     svl_direct_cq_room(cq, sig);
	if (ok) {
		if (!r->n)
			run_start(r, &op, rkey);
		run_append(r, &op);
	}
	svl_dop_put(&op);
	return ok;
}

static ssize_t run_io(const struct run *r)
{
	off_t at = (off_t)(uintptr_t)r->remote[0].iov_base;

	if (r->nremote == 1 && r->nlocal == 1)
		return r->read ? preadv(r->fd, r->local, 1, at) :
				 pwritev(r->fd, r->local, 1, at);
	return svl_dva_vm(r->fd, r->pid, r->read, r->local, r->nlocal,
			  r->remote, r->nremote);
}

/* Is the run worth a call of its own (else one per work request)? */
static bool run_worth(const struct run *r)
{
	if (r->nremote == 1 && r->nlocal == 1)
		return r->n >= 2;
	return r->n >= RUN_SCATTERED;
}

static bool run_copy(const struct svl_dqp *d, const struct run *r)
{
	ssize_t n;

	if (!svl_dbusy_enter(d, r->rseq_p, r->rseq, r->rslot))
		return false;
	n = run_io(r);
	svl_dbusy_leave(d);
	return n >= 0 && (uint64_t)n == r->len;
}

/* The run's completions, or (done false) the room kept for them back. */
static void run_end(struct svl_qp *q, uint32_t first, const struct run *r,
		    struct svl_cq *cq, bool done)
{
	uint32_t i;

	for (i = 0; i < r->n; i++) {
		const struct sv_send_wqe *w = svl_sq_slot(q, first + i);
		bool sig = w->send_flags & IBV_SEND_SIGNALED;

		if (!done)
			svl_direct_cq_unroom(cq, sig);
		else if (sig)
			svl_direct_complete(q, w, cq,
					    r->read ? IBV_WC_RDMA_READ :
						      IBV_WC_RDMA_WRITE,
					    r->len_of[i]);
	}
}

uint32_t svl_direct_va_run(struct svl_qp *q, uint32_t first, uint32_t count)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	struct run r;
	bool done;

	if (count < 2 || q->dstate != SVL_DIRECT_GRANTED ||
	    q->qp.state != IBV_QPS_RTS || !svl_direct_idle(q))
		return 0;
	r.n = r.nlocal = r.nremote = 0;
	r.len = 0;
	q->dq->cache.hot.rkey = 0; /* the full path may move the map */
	while (r.n < count && run_add(q, svl_sq_slot(q, first + r.n), &r, cq))
		;
	done = run_worth(&r) && run_copy(q->dq, &r);
	run_end(q, first, &r, cq, done);
	return done ? r.n : 0;
}
