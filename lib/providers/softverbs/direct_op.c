// SPDX-License-Identifier: MIT
/*
 * The direct path's work requests (direct.h): RDMA WRITE and READ, one
 * process_vm_writev/readv (or /proc/PID/mem access) each to a VA region,
 * memcpy to a mapped one (memfd, shm, dma-buf: the file is mapped here
 * too); CMP_AND_SWP and FETCH_AND_ADD on mapped regions only, with the
 * CPU atomics the daemon uses on mapped memory (VA atomics take a lock
 * inside the daemon, so they stay there).
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <softverbs/procstat.h>

#include "direct.h"
#include "direct_op.h"
#include "svl_prov.h"

/* Remote regions whose mm handle is kept, by table slot. */
#define REGIONS 256

/* ---------------------------------------------------------------------- */
/* Reading the table                                                       */
/* ---------------------------------------------------------------------- */


/* Copy one seqlocked entry of size bytes; false if it was being changed. */
static bool seq_read(const void *src, void *dst, size_t size)
{
	const uint32_t *seq = src;
	uint32_t s = svl_dload32(seq, memory_order_acquire);

	if (s & 1)
		return false;
	memcpy(dst, src, size);
	atomic_thread_fence(memory_order_acquire);
	*(uint32_t *)dst = s;
	return svl_dload32(seq, memory_order_relaxed) == s;
}

static const struct sv_direct_key *key_src(const struct svl_dqp *d,
					   uint32_t key)
{
	return (const struct sv_direct_key *)d->table +
	       sv_direct_key_slot(key);
}

/* An entry read earlier still holds while its seq has not moved. */
static bool seq_same(const void *src, uint32_t seq)
{
	return svl_dload32(src, memory_order_acquire) == seq;
}

/* e (from the cache or read now) names key, on our device, with pd,
 * the access and the range. */
static bool key_fits(uint32_t dev, const struct sv_direct_key *e,
		     uint32_t key, uint64_t pd, uint64_t addr, uint64_t len,
		     uint32_t need)
{
	return e->key == key && e->dev == dev && e->pd == pd &&
	       (e->access & need) == need && addr >= e->iova &&
	       addr - e->iova <= e->length &&
	       len <= e->length - (addr - e->iova);
}

/* The region key of PD pd covers [addr, addr + len) with access need. */
bool svl_direct_key_ok(const uint8_t *table, uint32_t dev, uint32_t key,
		       uint64_t pd, uint64_t addr, uint64_t len, uint32_t need,
		       struct sv_direct_key *e)
{
	const struct sv_direct_key *src =
		(const struct sv_direct_key *)table + sv_direct_key_slot(key);

	return key && seq_read(src, e, sizeof(*e)) &&
	       key_fits(dev, e, key, pd, addr, len, need);
}

bool svl_direct_key_read(const uint8_t *table, uint32_t key,
			 struct sv_direct_key *e)
{
	const struct sv_direct_key *src =
		(const struct sv_direct_key *)table + sv_direct_key_slot(key);

	return key && seq_read(src, e, sizeof(*e)) && e->key == key;
}

/*
 * The key's entry into *c: kept from the last call while its seq holds
 * (*fresh false), read again otherwise. False if it cannot be read.
 */
static bool key_cached(const struct svl_dqp *d, uint32_t key,
		       struct sv_direct_key *c, bool *fresh)
{
	const struct sv_direct_key *src = key_src(d, key);

	*fresh = false;
	if (key && c->key == key && seq_same(src, c->seq))
		return true;
	*fresh = true;
	if (key && seq_read(src, c, sizeof(*c)))
		return true;
	c->key = 0;
	return false;
}

/* The connection record is live and names this QP and its peer. */
bool svl_direct_conn(const struct svl_dqp *d, struct sv_direct_conn *c)
{
	const struct sv_direct_conn *src =
		(const void *)(d->table + SV_DIRECT_CONN_OFF);

	if (!seq_read(src + d->conn, c, sizeof(*c)))
		return false;
	return c->live && c->qpn == d->qpn && c->peer_qpn == d->peer_qpn;
}

/* The connection record, kept from the last work request while its seq
 * holds. */
static bool conn_ok(struct svl_dqp *d, uint32_t need)
{
	const struct sv_direct_conn *src =
		(const void *)(d->table + SV_DIRECT_CONN_OFF);
	struct sv_direct_conn *c = &d->cache.conn;

	if (!(d->cache.conn_ok && seq_same(src + d->conn, c->seq))) {
		d->cache.conn_ok = svl_direct_conn(d, c);
		if (!d->cache.conn_ok)
			return false;
	}
	return (c->peer_access & need) == need;
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
	struct rmap *map; /* NULL if it cannot be reached */
};

static struct region regions[REGIONS];

static void rmap_drop(struct rmap *m)
{
	if (m && m->retired && !m->refs) {
		if (m->base) {
			svl_direct_guard_del(m->guard);
			munmap(m->base, m->len);
		}
		if (m->fd >= 0)
			close(m->fd);
		free(m);
	}
}

/* The file's page size (a hugetlbfs file's is its huge page's). */
static size_t file_page(int fd)
{
	struct stat st;

	if (fstat(fd, &st) || st.st_blksize < 4096 ||
	    (st.st_blksize & (st.st_blksize - 1)) ||
	    st.st_blksize > (1L << 30))
		return 4096;
	return (size_t)st.st_blksize;
}

/* The file behind fd, from the page holding e's first byte (fd closed). */
static struct rmap *rmap_new(int fd, const struct sv_direct_key *e)
{
	uint64_t off = e->file_off & ~(uint64_t)4095;
	struct rmap *m = calloc(1, sizeof(*m));
	void *p = MAP_FAILED;
	size_t pg = file_page(fd);

	if (m && e->length < (1ULL << 46)) {
		/* Whole pages: the guard replaces the mapping as it is. */
		m->len = (size_t)(e->file_off - off + e->length + pg - 1) &
			 ~(pg - 1);
		p = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)off);
	}
	close(fd);
	if (p == MAP_FAILED) {
		free(m);
		return NULL;
	}
	m->base = p;
	m->off = off;
	m->fd = -1;
	m->guard = svl_direct_guard_add(p, m->len, &m->faulted);
	if (m->guard < 0) {
		munmap(p, m->len);
		free(m);
		return NULL;
	}
	return m;
}

/* A VA region: the registrar's mm handle fd (closed with the rmap). */
static struct rmap *rmap_fd(int fd)
{
	struct rmap *m = calloc(1, sizeof(*m));

	if (!m) {
		close(fd);
		return NULL;
	}
	m->fd = fd;
	m->guard = -1;
	return m;
}

static void region_retire(struct region *r)
{
	if (r->map) {
		r->map->retired = true;
		rmap_drop(r->map);
	}
}

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

/*
 * How to reach entry e (slot of rkey), with a reference for the caller:
 * the registrar's mm handle (VA) or the file mapped here (mapped). False
 * if neither can be had.
 */
static bool region_get(struct svl_qp *q, uint32_t rkey,
		       const struct sv_direct_key *e, struct rmap **map)
{
	uint32_t slot = sv_direct_key_slot(rkey);
	struct region *r = &regions[slot % REGIONS];
	int fd;

	pthread_mutex_lock(&targets_lock);
	if (r->table != q->dq->table || r->slot != slot || r->seq != e->seq) {
		region_retire(r);
		*r = (struct region){ q->dq->table, slot, e->seq, NULL };
		fd = mem_cmd(q, rkey);
		if (fd >= 0)
			r->map = e->flags & SV_DIRECT_KEY_MAPPED ?
					 rmap_new(fd, e) : rmap_fd(fd);
	}
	*map = r->map;
	if (r->map)
		r->map->refs++;
	pthread_mutex_unlock(&targets_lock);
	return *map;
}

static void region_put(struct rmap *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&targets_lock);
	m->refs--;
	rmap_drop(m);
	pthread_mutex_unlock(&targets_lock);
}

/* ---------------------------------------------------------------------- */
/* One work request                                                        */
/* ---------------------------------------------------------------------- */

static pid_t self;

static void self_forget(void)
{
	__atomic_store_n(&self, 0, __ATOMIC_RELAXED);
}

/* getpid() without a system call per SGE (reset in a forked child). */
pid_t svl_self_pid(void)
{
	pid_t p = __atomic_load_n(&self, __ATOMIC_RELAXED);

	if (p)
		return p;
	/* Two threads may both get here: registering twice is harmless
	 * but wasteful, so only the one that stores first registers. */
	p = getpid();
	if (__atomic_exchange_n(&self, p, __ATOMIC_RELAXED) == 0) {
		static bool registered;

		if (!__atomic_exchange_n(&registered, true, __ATOMIC_RELAXED))
			pthread_atfork(NULL, NULL, self_forget);
	}
	return p;
}

/* The local side: inline bytes, or SGEs whose lkeys are ours. */
static bool local_iov(const struct svl_qp *q, const struct sv_send_wqe *w,
		      struct dop *op)
{
	const struct sv_sge *s = (const void *)(w + 1);
	uint32_t need = op->read || op->atomic ? IBV_ACCESS_LOCAL_WRITE : 0;
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
		/* The last local key is kept while its seq holds. */
		struct sv_direct_key *k = &q->dq->cache.local;
		bool fresh;

		if (!key_cached(q->dq, s[i].lkey, k, &fresh) ||
		    !key_fits(q->dq->dev, k, s[i].lkey, q->dq->pd, s[i].addr,
			      s[i].length, need) ||
		    (pid_t)k->pid != svl_self_pid() || !k->va)
			return false;
		op->local[i].iov_base =
			(void *)(uintptr_t)(k->va + (s[i].addr - k->iova));
		op->local[i].iov_len = s[i].length;
		op->len += s[i].length;
	}
	op->nlocal = w->num_sge;
	return true;
}

int svl_direct_local(const struct svl_qp *q, const struct sv_send_wqe *w,
		     struct iovec *iov, unsigned int max, uint64_t *len)
{
	struct dop op = { .read = false };

	if (!(w->flags & SV_WQE_INLINE) && w->num_sge > max)
		return -1;
	if (!local_iov(q, w, &op))
		return -1;
	memcpy(iov, op.local, op.nlocal * sizeof(*iov));
	*len = op.len;
	return (int)op.nlocal;
}

static uint32_t remote_need(const struct dop *op)
{
	if (op->recv)
		return IBV_ACCESS_LOCAL_WRITE;
	if (op->atomic)
		return IBV_ACCESS_REMOTE_ATOMIC;
	return op->read ? IBV_ACCESS_REMOTE_READ : IBV_ACCESS_REMOTE_WRITE;
}

void svl_direct_cache_drop(struct svl_dqp *d)
{
	region_put(d->cache.map);
	memset(&d->cache, 0, sizeof(d->cache));
}

/*
 * The last remote entry is kept with what was learnt of it (its target
 * may be reached, its mapped file, with a reference) while its seq holds.
 */
static bool remote_entry(struct svl_qp *q, uint32_t rkey, struct dop *op)
{
	struct svl_dcache *ch = &q->dq->cache;
	const struct sv_direct_key *e = &ch->remote;
	bool fresh;

	if (!key_cached(q->dq, rkey, &ch->remote, &fresh))
		return false;
	if (fresh) {
		region_put(ch->map);
		ch->map = NULL;
		ch->remote_target = target_ok((pid_t)e->pid, e->start);
	}
	op->re = e;
	if (!ch->remote_target || (op->atomic && !(e->flags & SV_DIRECT_KEY_MAPPED)))
		return false;
	if (!ch->map && region_get(q, rkey, e, &op->map))
		ch->map = op->map; /* the reference is the cache's */
	if (!ch->map)
		return false;
	op->map = ch->map;
	op->map_cached = true;
	return true;
}

static bool remote_iov(struct svl_qp *q, uint32_t rkey, uint64_t raddr,
		       struct dop *op)
{
	uint32_t need = remote_need(op);
	const struct sv_direct_key *e;

	/* A SEND asks nothing of the peer QP's access flags. */
	if (!conn_ok(q->dq, op->recv ? 0 : need) ||
	    !remote_entry(q, rkey, op))
		return false;
	e = op->re;
	if (op->recv && (e->flags & SV_DIRECT_KEY_MAPPED))
		return false; /* as for eager SENDs (direct_send.c) */
	if (!key_fits(q->dq->dev, e, rkey, q->dq->cache.conn.peer_pd, raddr,
		      op->len, need))
		return false;
	op->remote.iov_base = (void *)(uintptr_t)(e->va + (raddr - e->iova));
	op->remote.iov_len = op->len;
	op->rslot = sv_direct_key_slot(rkey);
	op->rseq_p = &key_src(q->dq, rkey)->seq;
	op->rseq = e->seq;
	if (op->map->base)
		op->rptr = op->map->base + (e->file_off - op->map->off) +
			   (raddr - e->iova);
	return true;
}

/* Mapped: memcpy between the local SGEs and the remote bytes. */
static void map_io(struct dop *op)
{
	uint8_t *r = op->rptr;
	unsigned int i;

	for (i = 0; i < op->nlocal; r += op->local[i].iov_len, i++) {
		if (op->read)
			svl_dcopy(op->local[i].iov_base, r,
				  op->local[i].iov_len);
		else
			svl_dcopy(r, op->local[i].iov_base,
				  op->local[i].iov_len);
	}
}

/* Mapped: the daemon's own CPU atomics, so atomic with its ones too. */
static void map_atomic(struct dop *op)
{
	uint64_t *p = (uint64_t *)op->rptr, orig = op->cmp_add;

	if (op->atomic == IBV_WR_ATOMIC_CMP_AND_SWP)
		__atomic_compare_exchange_n(p, &orig, op->swap, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	else
		orig = __atomic_fetch_add(p, op->cmp_add, __ATOMIC_SEQ_CST);
	memcpy(op->local[0].iov_base, &orig, 8);
}

/* Mapped: the copy, failed if the guard saw a SIGBUS in the mapping. */
static ssize_t map_copy(struct dop *op)
{
	if (op->atomic)
		map_atomic(op);
	else
		map_io(op);
	/* A fault inside the copy set the word in this thread's handler. */
	atomic_signal_fence(memory_order_seq_cst);
	if (__atomic_load_n(&op->map->faulted, __ATOMIC_ACQUIRE))
		return -1;
	return (ssize_t)op->len;
}

static ssize_t dop_io(struct dop *op)
{
	off_t at = (off_t)(uintptr_t)op->remote.iov_base;
	int fd = op->map->fd;

	if (op->map->base)
		return map_copy(op);
	if (op->len <= SMALL_IO)
		return op->read ? preadv(fd, op->local, (int)op->nlocal, at) :
				  pwritev(fd, op->local, (int)op->nlocal, at);
	return svl_dva_vm(fd, (pid_t)op->re->pid, op->read, op->local,
			  op->nlocal, &op->remote, 1);
}

ssize_t svl_dva_vm_one(int fd, pid_t pid, bool read,
		       const struct iovec *local, unsigned long nlocal,
		       const struct iovec *remote, unsigned long nremote)
{
	char b;

	/* Still the registrar's mm (not exited, not exec'd)? Then its pid. */
	if (pread(fd, &b, 1, (off_t)(uintptr_t)remote[0].iov_base) != 1)
		return -1;
	if (read)
		return process_vm_readv(pid, local, nlocal, remote, nremote,
					0);
	return process_vm_writev(pid, local, nlocal, remote, nremote, 0);
}

/* The copy, with the busy record naming the remote entry around it. */
bool svl_dop_copy(struct svl_qp *q, struct dop *op)
{
	const struct svl_dqp *d = q->dq;
	ssize_t n;
	int a;

	if (!svl_dbusy_enter(d, op->rseq_p, op->rseq, op->rslot))
		return false;
	a = svl_dassist_io(q, op); /* the peer's helper, if it is there */
	n = a > 0 ? (ssize_t)op->len : a < 0 ? -1 : dop_io(op);
	svl_dbusy_leave(d);
	return n >= 0 && (uint64_t)n == op->len;
}

static enum ibv_wc_opcode wc_opcode(const struct dop *op)
{
	if (op->atomic == IBV_WR_ATOMIC_CMP_AND_SWP)
		return IBV_WC_COMP_SWAP;
	if (op->atomic)
		return IBV_WC_FETCH_ADD;
	return op->read ? IBV_WC_RDMA_READ : IBV_WC_RDMA_WRITE;
}

void svl_direct_complete(struct svl_qp *q, const struct sv_send_wqe *w,
			 struct svl_cq *cq, uint32_t opcode, uint64_t len)
{
	svl_direct_complete_id(q, w->wr_id, cq, opcode, len);
}

/*
 * Under cq's lock, after a direct completion: is the CQ armed for it (an
 * ARM_NEXT the daemon has not taken, and no event raised for it yet)?
 * ibv_req_notify_cq takes the same lock, so an arm is either seen here
 * or made after the completion, which the owner's next poll finds.
 */
static bool cq_event_due(struct svl_cq *cq)
{
	uint32_t seq;

	if (!cq->cq.channel ||
	    !(svl_direct_cq_arm_pending(cq) & SV_CQ_ARM_NEXT))
		return false;
	seq = svl_load_acquire(&cq->db->arm_seq);
	if (seq == cq->dnotified)
		return false;
	cq->dnotified = seq;
	return true;
}

/* The daemon raises the channel's event, as for a CQE of its own. */
static void cq_event(struct svl_cq *cq)
{
	struct svl_cmd c;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_DIRECT_CQ_NOTIFY);
	svl_attr_idr(&c, SV_ATTR_DIRECT_CQ_NOTIFY_CQ, cq->cq.handle);
	(void)svl_exec(cq->cq.context, &c);
}

void svl_direct_complete_id(struct svl_qp *q, uint64_t wr_id,
			    struct svl_cq *cq, uint32_t opcode, uint64_t len)
{
	struct sv_cqe e = {
		.wr_id = wr_id,
		.status = IBV_WC_SUCCESS,
		.opcode = opcode,
		.byte_len = (uint32_t)len,
		.qp_num = q->qp.qp_num,
	};
	bool event;

	svl_cq_lock(cq);
	svl_dcq_push(cq, &e);
	event = cq_event_due(cq);
	svl_cq_unlock(cq);
	if (event)
		cq_event(cq);
}

/* Room for the completion first: once copied, it must complete. */
bool svl_direct_cq_room(struct svl_cq *cq, bool signaled)
{
	int ret;

	if (!signaled)
		return true;
	svl_cq_lock(cq);
	/*
	 * An armed CQ with a channel: the daemon path, whose engine raises
	 * the event. Going direct and asking the daemon for the event
	 * (cq_event) made ib_read_lat -s 8 -e 32 us typical against 22: the
	 * control command's round trip is slower than a hop through the
	 * engine. An arm made after this is caught at the completion
	 * (cq_event_due).
	 */
	if (cq->cq.channel && svl_direct_cq_arm_pending(cq)) {
		svl_cq_unlock(cq);
		return false;
	}
	ret = svl_dcq_reserve(cq);
	svl_cq_unlock(cq);
	return !ret;
}

void svl_direct_cq_unroom(struct svl_cq *cq, bool signaled)
{
	if (!signaled)
		return;
	svl_cq_lock(cq);
	svl_dcq_unreserve(cq);
	svl_cq_unlock(cq);
}

void svl_dop_put(struct dop *op)
{
	if (!op->map_cached)
		region_put(op->map);
}

/* The WQE as a direct operation; false if the direct path does not do it. */
bool svl_dop_init(const struct sv_send_wqe *w, struct dop *op,
		  uint32_t *rkey, uint64_t *raddr)
{
	op->map = NULL;
	op->map_cached = false;
	op->atomic = 0;
	op->recv = false;
	op->read = w->opcode == IBV_WR_RDMA_READ;
	switch (w->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
		*rkey = w->rdma.rkey;
		*raddr = w->rdma.remote_addr;
		return true;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		op->atomic = w->opcode;
		op->cmp_add = w->atomic.compare_add;
		op->swap = w->atomic.swap;
		*rkey = w->atomic.rkey;
		*raddr = w->atomic.remote_addr;
		return !(*raddr & 7); /* misaligned: the daemon's error */
	default:
		return false;
	}
}

/* Local and remote sides checked; the sizes the direct path takes. */
bool svl_dop_ready(struct svl_qp *q, const struct sv_send_wqe *w,
		   struct dop *op, uint32_t rkey, uint64_t raddr)
{
	/* A zero-length transfer checks no key: the daemon knows the rules. */
	if (!local_iov(q, w, op) || !op->len || op->len > DIRECT_MAX)
		return false;
	if (op->atomic && (op->nlocal != 1 || op->len != 8))
		return false;
	return remote_iov(q, rkey, raddr, op);
}

/*
 * op (from svl_dop_init) checked, room for its completion taken, and
 * copied: 0. Otherwise -1, and nothing happened.
 */
static int dop_run(struct svl_qp *q, const struct sv_send_wqe *w,
		   struct dop *op, uint32_t rkey, uint64_t raddr)
{
	bool signaled = w->send_flags & IBV_SEND_SIGNALED, ok;
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);

	q->dq->cache.hot.rkey = 0; /* the full path may move the map */
	ok = svl_dop_ready(q, w, op, rkey, raddr) &&
	     svl_direct_cq_room(cq, signaled);
	if (ok && !svl_dop_copy(q, op)) {
		svl_direct_cq_unroom(cq, signaled);
		ok = false;
	}
	svl_dop_put(op);
	if (!ok)
		return -1;
	if (!op->recv)
		svl_direct_hot_fill(q, w, op);
	return 0;
}

int svl_direct_place(struct svl_qp *q, const struct sv_send_wqe *w,
		     uint32_t key, uint64_t addr, uint64_t *len)
{
	struct dop op = { .map = NULL, .map_cached = false, .read = false,
			  .recv = true, .atomic = 0 };

	if (dop_run(q, w, &op, key, addr))
		return -1;
	*len = op.len;
	return 0;
}

/*
 * A zero-length WRITE_WITH_IMM names no memory on either side (the
 * responder checks only the QP's REMOTE_WRITE): with no SGE at all, the
 * direct path needs nothing but the connection. With SGEs of 0 bytes
 * the daemon decides about their keys.
 */
static bool write_empty(const struct sv_send_wqe *w)
{
	return !w->num_sge;
}

int svl_direct_write_part(struct svl_qp *q, const struct sv_send_wqe *w,
			  uint64_t *len)
{
	bool signaled = w->send_flags & IBV_SEND_SIGNALED;
	uint64_t raddr;
	uint32_t rkey;
	struct dop op;

	*len = 0;
	if (write_empty(w))
		return conn_ok(q->dq, IBV_ACCESS_REMOTE_WRITE) &&
			       svl_direct_cq_room(to_svl_cq(q->qp.send_cq),
						  signaled) ?
			       0 :
			       -1;
	if (!svl_dop_init(w, &op, &rkey, &raddr) ||
	    dop_run(q, w, &op, rkey, raddr))
		return -1;
	*len = op.len;
	return 0;
}

int svl_direct_exec(struct svl_qp *q, const struct sv_send_wqe *w)
{
	struct svl_cq *cq = to_svl_cq(q->qp.send_cq);
	uint64_t raddr;
	uint32_t rkey;
	struct dop op;

	if (q->dstate != SVL_DIRECT_GRANTED || q->qp.state != IBV_QPS_RTS)
		return -1;
	switch (w->opcode) {
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
	case IBV_WR_SEND_WITH_INV:
		return svl_direct_idle(q) ? svl_direct_send(q, w) : -1;
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		return svl_direct_idle(q) ? svl_direct_write_imm(q, w) : -1;
	default:
		break;
	}
	if (!svl_direct_hot_wqe(q, w))
		return 0;
	if (!svl_dop_init(w, &op, &rkey, &raddr) || !svl_direct_idle(q) ||
	    dop_run(q, w, &op, rkey, raddr))
		return -1;
	if (w->send_flags & IBV_SEND_SIGNALED)
		svl_direct_complete(q, w, cq, wc_opcode(&op), op.len);
	return 0;
}
