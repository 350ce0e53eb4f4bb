// SPDX-License-Identifier: MIT
/*
 * The direct path's work requests: RDMA WRITE and READ between VA regions
 * of two processes, one process_vm_writev/readv each (direct.h).
 *
 * Before the copy, against the daemon's read-only table (seqlocks): the
 * connection is live and ours, the peer QP allows the operation, the rkey
 * names a region of the peer QP's PD with the access and the range, and
 * every lkey names a region of our PD in this process. The busy record
 * then names the remote entry and its seq is checked again, so a daemon
 * that unpublishes the region waits for the copy to end (and a copy that
 * starts after the unpublish sees the new seq and does not happen).
 *
 * The remote bytes are reached through the daemon's own handle on the
 * registrar's mm (a /proc/PID/mem fd, SV_METHOD_DIRECT_MEM), never through
 * the pid alone: after the registrar exits or execs the handle reads 0
 * bytes, so a process that reuses the pid is never touched. Small copies
 * go through the handle; large ones check it (one byte) and then use
 * process_vm_writev/readv, which copies faster.
 *
 * Whatever fails -- a check, the copy, room for the completion -- returns
 * non-zero and the WQE goes to the daemon, which does it again (WRITE and
 * READ may be repeated) or fails it exactly as the daemon path does.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <softverbs/procstat.h>

#include "direct.h"
#include "svl_prov.h"

#define MAX_IOV 64
/* Larger transfers go to the engine, which cuts them into pieces: a post
 * never holds its caller for long (tests/test_dp_fair.c). */
#define DIRECT_MAX (8ULL << 20)
/* Up to this size the copy goes through the mm handle itself. */
#define SMALL_IO (64 * 1024)
/* Remote regions whose mm handle is kept, by table slot. */
#define REGIONS 256

/* ---------------------------------------------------------------------- */
/* Reading the table                                                       */
/* ---------------------------------------------------------------------- */

static uint32_t load32(const uint32_t *p, memory_order o)
{
	return atomic_load_explicit((const _Atomic uint32_t *)p, o);
}

/* Copy one seqlocked entry of size bytes; false if it was being changed. */
static bool seq_read(const void *src, void *dst, size_t size)
{
	const uint32_t *seq = src;
	uint32_t s = load32(seq, memory_order_acquire);

	if (s & 1)
		return false;
	memcpy(dst, src, size);
	atomic_thread_fence(memory_order_acquire);
	*(uint32_t *)dst = s;
	return load32(seq, memory_order_relaxed) == s;
}

static const struct sv_direct_key *key_src(const struct svl_dqp *d,
					   uint32_t key)
{
	return (const struct sv_direct_key *)d->table +
	       sv_direct_key_slot(key);
}

/* The region key of PD pd covers [addr, addr + len) with access need. */
static bool key_ok(const struct svl_dqp *d, uint32_t key, uint64_t pd,
		   uint64_t addr, uint64_t len, uint32_t need,
		   struct sv_direct_key *e)
{
	if (!key || !seq_read(key_src(d, key), e, sizeof(*e)))
		return false;
	return e->key == key && e->dev == d->dev && e->pd == pd &&
	       (e->access & need) == need && addr >= e->iova &&
	       addr - e->iova <= e->length &&
	       len <= e->length - (addr - e->iova);
}

static bool conn_ok(const struct svl_dqp *d, uint32_t need,
		    struct sv_direct_conn *c)
{
	const struct sv_direct_conn *src =
		(const void *)(d->table + SV_DIRECT_CONN_OFF);

	if (!seq_read(src + d->conn, c, sizeof(*c)))
		return false;
	return c->live && c->qpn == d->qpn && c->peer_qpn == d->peer_qpn &&
	       (c->peer_access & need) == need;
}

/* ---------------------------------------------------------------------- */
/* Target processes                                                        */
/* ---------------------------------------------------------------------- */

/*
 * May this process reach the target's memory itself? The kernel says so
 * when we can open its /proc/PID/mem for writing (the ptrace access check
 * with our own credentials); the start time says the pid is still the
 * registrar. Cached per (pid, start); the fd is kept as the proof.
 */
struct target {
	pid_t pid;
	uint64_t start;
	bool ok;
	int fd;
	struct target *next;
};

static pthread_mutex_t targets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct target *targets;
static unsigned int ntargets;

static struct target *target_probe(pid_t pid, uint64_t start)
{
	struct target *t = calloc(1, sizeof(*t));
	char path[64];

	if (!t)
		return NULL;
	t->pid = pid;
	t->start = start;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	t->fd = open(path, O_RDWR | O_CLOEXEC);
	t->ok = t->fd >= 0 && start && sv_proc_start_time(pid) == start;
	return t;
}

static void targets_trim(void)
{
	struct target *t;

	/* A bounded cache: start over rather than grow without end. */
	while (ntargets > 256 && (t = targets)) {
		targets = t->next;
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		ntargets--;
	}
}

static bool target_ok(pid_t pid, uint64_t start)
{
	struct target *t;
	bool ok = false;

	pthread_mutex_lock(&targets_lock);
	for (t = targets; t; t = t->next)
		if (t->pid == pid && t->start == start)
			break;
	if (!t && (t = target_probe(pid, start))) {
		targets_trim();
		t->next = targets;
		targets = t;
		ntargets++;
	}
	if (t)
		ok = t->ok;
	pthread_mutex_unlock(&targets_lock);
	return ok;
}

struct region {
	const uint8_t *table;
	uint32_t slot, seq;
	int fd; /* the registrar's mm, or -1 */
};

static struct region regions[REGIONS];

static int mem_cmd(struct svl_qp *q, uint32_t rkey)
{
	struct ib_uverbs_attr *f;
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_DIRECT_MEM);
	svl_attr_idr(&c, SV_ATTR_DIRECT_MEM_QP, q->qp.handle);
	svl_attr_in(&c, SV_ATTR_DIRECT_MEM_KEY, &rkey, sizeof(rkey));
	f = svl_attr_fd_new(&c, SV_ATTR_DIRECT_MEM_FD);
	if (svl_exec(q->qp.context, &c))
		return -1;
	return (int)f->data_s64;
}

/* The registrar's mm handle for entry e (slot of rkey); -1 if none. */
static int region_fd(struct svl_qp *q, uint32_t rkey,
		     const struct sv_direct_key *e)
{
	uint32_t slot = sv_direct_key_slot(rkey);
	struct region *r = &regions[slot % REGIONS];
	int fd;

	pthread_mutex_lock(&targets_lock);
	if (r->table != q->dq->table || r->slot != slot || r->seq != e->seq) {
		if (r->table && r->fd >= 0)
			close(r->fd);
		*r = (struct region){ q->dq->table, slot, e->seq, -1 };
		r->fd = mem_cmd(q, rkey);
	}
	fd = r->fd;
	pthread_mutex_unlock(&targets_lock);
	return fd;
}

/* ---------------------------------------------------------------------- */
/* One work request                                                        */
/* ---------------------------------------------------------------------- */

struct dop {
	struct iovec local[MAX_IOV], remote;
	unsigned int nlocal;
	uint64_t len;
	struct sv_direct_key rkey;
	int fd; /* the registrar's mm */
	bool read;
};

static pid_t self;

static void self_forget(void)
{
	self = 0;
}

static void self_init(void)
{
	pthread_atfork(NULL, NULL, self_forget);
}

/* getpid() without a system call per SGE (reset in a forked child). */
static pid_t self_pid(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, self_init);
	if (!self)
		self = getpid();
	return self;
}

/* The local side: inline bytes, or SGEs whose lkeys are ours. */
static bool local_iov(const struct svl_qp *q, const struct sv_send_wqe *w,
		      struct dop *op)
{
	const struct sv_sge *s = (const void *)(w + 1);
	uint32_t need = op->read ? IBV_ACCESS_LOCAL_WRITE : 0;
	struct sv_direct_key e;
	uint32_t i;

	if (w->flags & SV_WQE_INLINE) {
		if (op->read || w->num_sge > q->max_inline)
			return false;
		op->local[0] = (struct iovec){ (void *)(w + 1), w->num_sge };
		op->nlocal = 1;
		op->len = w->num_sge;
		return true;
	}
	if (w->num_sge > MAX_IOV || w->num_sge > q->max_send_sge)
		return false;
	for (i = 0, op->len = 0; i < w->num_sge; i++) {
		if (!key_ok(q->dq, s[i].lkey, q->dq->pd, s[i].addr,
			    s[i].length, need, &e) ||
		    (pid_t)e.pid != self_pid())
			return false;
		op->local[i].iov_base =
			(void *)(uintptr_t)(e.va + (s[i].addr - e.iova));
		op->local[i].iov_len = s[i].length;
		op->len += s[i].length;
	}
	op->nlocal = w->num_sge;
	return true;
}

static bool remote_iov(const struct svl_qp *q, const struct sv_send_wqe *w,
		       struct dop *op)
{
	uint32_t need = op->read ? IBV_ACCESS_REMOTE_READ :
				   IBV_ACCESS_REMOTE_WRITE;
	struct sv_direct_conn c;
	struct sv_direct_key *e = &op->rkey;

	if (!conn_ok(q->dq, need, &c) ||
	    !key_ok(q->dq, w->rdma.rkey, c.peer_pd, w->rdma.remote_addr,
		    op->len, need, e) ||
	    !target_ok((pid_t)e->pid, e->start))
		return false;
	op->fd = region_fd((struct svl_qp *)q, w->rdma.rkey, e);
	if (op->fd < 0)
		return false;
	op->remote.iov_base =
		(void *)(uintptr_t)(e->va + (w->rdma.remote_addr - e->iova));
	op->remote.iov_len = op->len;
	return true;
}

static ssize_t dop_io(struct dop *op)
{
	off_t at = (off_t)(uintptr_t)op->remote.iov_base;
	pid_t pid = (pid_t)op->rkey.pid;
	char b;

	if (op->len <= SMALL_IO)
		return op->read ? preadv(op->fd, op->local, (int)op->nlocal, at) :
				  pwritev(op->fd, op->local, (int)op->nlocal, at);
	/* Still the registrar's mm (not exited, not exec'd)? Then its pid. */
	if (pread(op->fd, &b, 1, at) != 1)
		return -1;
	if (op->read)
		return process_vm_readv(pid, op->local, op->nlocal,
					&op->remote, 1, 0);
	return process_vm_writev(pid, op->local, op->nlocal, &op->remote, 1,
				 0);
}

/* The copy, with the busy record naming the remote entry around it. */
static bool dop_copy(const struct svl_dqp *d, uint32_t rkey, struct dop *op)
{
	_Atomic uint32_t *slot1 = (_Atomic uint32_t *)&d->busy->slot1;
	ssize_t n;

	atomic_store_explicit((_Atomic uint32_t *)&d->busy->seq, op->rkey.seq,
			      memory_order_relaxed);
	atomic_store_explicit(slot1, sv_direct_key_slot(rkey) + 1,
			      memory_order_seq_cst);
	if (load32(&key_src(d, rkey)->seq, memory_order_seq_cst) !=
	    op->rkey.seq) {
		atomic_store_explicit(slot1, 0, memory_order_release);
		return false;
	}
	n = dop_io(op);
	atomic_store_explicit(slot1, 0, memory_order_release);
	return n >= 0 && (uint64_t)n == op->len;
}

static void direct_cqe(struct svl_qp *q, const struct sv_send_wqe *w,
		       const struct dop *op, struct svl_cq *cq)
{
	struct sv_cqe e = {
		.wr_id = w->wr_id,
		.status = IBV_WC_SUCCESS,
		.opcode = op->read ? IBV_WC_RDMA_READ : IBV_WC_RDMA_WRITE,
		.byte_len = (uint32_t)op->len,
		.qp_num = q->qp.qp_num,
	};

	svl_cq_lock(cq);
	svl_dcq_push(cq, &e);
	svl_cq_unlock(cq);
}

/* Room for the completion first: once copied, it must complete. */
static bool cq_room(struct svl_cq *cq, bool signaled)
{
	int ret;

	if (!signaled)
		return true;
	/* A completion channel wants the daemon's event: daemon path. */
	if (cq->cq.channel)
		return false;
	svl_cq_lock(cq);
	ret = svl_dcq_reserve(cq);
	svl_cq_unlock(cq);
	return !ret;
}

static void cq_unroom(struct svl_cq *cq, bool signaled)
{
	if (!signaled)
		return;
	svl_cq_lock(cq);
	svl_dcq_unreserve(cq);
	svl_cq_unlock(cq);
}

int svl_direct_exec(struct svl_qp *q, const struct sv_send_wqe *w)
{
	bool signaled = w->send_flags & IBV_SEND_SIGNALED;
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	struct dop op;

	if (q->dstate != SVL_DIRECT_GRANTED ||
	    (w->opcode != IBV_WR_RDMA_WRITE && w->opcode != IBV_WR_RDMA_READ) ||
	    q->qp.state != IBV_QPS_RTS || !svl_direct_idle(q))
		return -1;
	op.read = w->opcode == IBV_WR_RDMA_READ;
	/* A zero-length transfer checks no key: the daemon knows the rules. */
	if (!local_iov(q, w, &op) || !op.len || op.len > DIRECT_MAX ||
	    !remote_iov(q, w, &op) || !cq_room(cq, signaled))
		return -1;
	if (!dop_copy(q->dq, w->rdma.rkey, &op)) {
		cq_unroom(cq, signaled);
		return -1;
	}
	if (signaled)
		direct_cqe(q, w, &op, cq);
	return 0;
}
