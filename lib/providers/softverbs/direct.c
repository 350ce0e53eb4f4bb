// SPDX-License-Identifier: MIT
/*
 * The same-host direct path: the grant, the daemon's table, the target
 * processes and the hand-over between the two paths (direct.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "direct.h"
#include "direct_op.h"
#include "svl_prov.h"

/* Posts before a grant refused for want of a connected peer is retried. */
#define GRANT_RETRY_POSTS 1024

bool svl_direct_on(void)
{
	static int on = -1;

	if (on < 0) {
		const char *v = getenv("SOFTVERBS_DIRECT");

		/* On by default; SOFTVERBS_DIRECT=0 turns it off. */
		on = !(v && v[0] == '0');
	}
	return on;
}

/* ---------------------------------------------------------------------- */
/* The table: one read-only mapping per daemon, kept for the process' life */
/* ---------------------------------------------------------------------- */

struct dtable {
	dev_t dev;
	ino_t ino;
	const uint8_t *map;
	struct dtable *next;
};

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dtable *tables;

/* The mapping of the table behind fd (which is closed). */
const uint8_t *svl_direct_table_map(int fd)
{
	const uint8_t *map = NULL;
	struct dtable *t;
	struct stat st;

	pthread_mutex_lock(&tables_lock);
	if (fstat(fd, &st) || (uint64_t)st.st_size < SV_DIRECT_TABLE_SIZE)
		goto out;
	for (t = tables; t; t = t->next)
		if (t->dev == st.st_dev && t->ino == st.st_ino)
			break;
	if (!t && (t = calloc(1, sizeof(*t)))) {
		void *p = mmap(NULL, SV_DIRECT_TABLE_SIZE, PROT_READ,
			       MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			free(t);
			goto out;
		}
		t->dev = st.st_dev;
		t->ino = st.st_ino;
		t->map = p;
		t->next = tables;
		tables = t;
	}
	if (t)
		map = t->map;
out:
	pthread_mutex_unlock(&tables_lock);
	close(fd);
	return map;
}

/* ---------------------------------------------------------------------- */
/* The grant                                                               */
/* ---------------------------------------------------------------------- */

static int grant_cmd(struct svl_qp *q, struct sv_direct_grant_resp *resp,
		     int *fd)
{
	struct ib_uverbs_attr *f;
	struct svl_cmd c;
	int ret;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_DIRECT_GRANT);
	svl_attr_idr(&c, SV_ATTR_DIRECT_GRANT_QP, q->qp.handle);
	svl_attr_out(&c, SV_ATTR_DIRECT_GRANT_RESP, resp, sizeof(*resp));
	f = svl_attr_fd_new(&c, SV_ATTR_DIRECT_GRANT_FD);
	ret = svl_exec(q->qp.context, &c);
	*fd = ret ? -1 : (int)f->data_s64;
	return ret;
}

/*
 * This process takes part in the daemon's global barriers
 * (SV_DIRECT_GRANT_ASYM), registered once per process: a forked child,
 * whose registration the kernel may not carry over, registers again.
 */
static bool asym_register(void)
{
	static _Atomic pid_t registered;
	pid_t me = svl_self_pid();
	long cmds;

	if (atomic_load(&registered) == me)
		return true;
	cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
		    0, 0))
		return false;
	atomic_store(&registered, me);
	return true;
}

/*
 * At a context's creation: the membarrier registrations the first post
 * would make (the bias lock's, the direct path's global one). The kernel
 * makes a registration cheap while the process has one thread and waits
 * for an RCU grace period otherwise (15 ms each on the CI VM): at the
 * first post, once the library's own threads run, that wait was in
 * every benchmark's first message (ib_write_bw -s 8 -n 100000 ran at
 * 3 Mmsg/s instead of 20). Applications typically open the device
 * before they start threads; later, it costs the open, not a post.
 */
void svl_barriers_register(void)
{
	(void)svl_block_register();
	if (svl_direct_on())
		(void)asym_register();
}

static void dq_fill(struct svl_qp *q, struct svl_dqp *d, const uint8_t *t,
		    const struct sv_direct_grant_resp *r)
{
	d->table = t;
	d->conn = r->conn;
	d->dev = r->dev;
	d->pd = r->pd;
	d->peer_qpn = r->peer_qpn;
	d->qpn = q->qp.qp_num;
	d->slid = r->slid;
	d->busy = (void *)((uint8_t *)q->sq.db + SV_DIRECT_BUSY_OFF);
	d->asym = r->flags & SV_DIRECT_GRANT_ASYM;
}

/* Under sq.lock: what the daemon answered becomes the QP's state. */
static void grant_install(struct svl_qp *q, int ret, const uint8_t *t,
			  const struct sv_direct_grant_resp *r)
{
	if (!ret && t && r->conn < SV_DIRECT_CONNS &&
	    (q->dq || (q->dq = svl_lines_zalloc(sizeof(*q->dq))))) {
		dq_fill(q, q->dq, t, r);
		q->dstate = SVL_DIRECT_GRANTED;
		return;
	}
	q->dstate = SVL_DIRECT_REFUSED;
	/* Not connected back yet: the peer may still get there. */
	if (ret == ENOENT || ret == EINVAL)
		q->dretry = GRANT_RETRY_POSTS;
}

/*
 * Ask the daemon, under q->dgrant and not under sq.lock; the state says
 * what came of it. Posts meanwhile go on (they see no grant yet); the
 * answer is installed under sq.lock, between two posts, unless the QP was
 * modified while it was asked for (then it is stale: dropped; the table
 * mapping is cached per process either way).
 */
static void grant(struct svl_qp *q)
{
	struct sv_direct_grant_resp r = {};
	const uint8_t *t = NULL;
	int fd = -1, ret;
	uint32_t gen;

	svl_ring_lock(&q->sq);
	gen = q->dgen;
	svl_ring_unlock(&q->sq);
	ret = grant_cmd(q, &r, &fd);
	if (!ret && fd >= 0)
		t = svl_direct_table_map(fd);
	if ((r.flags & SV_DIRECT_GRANT_ASYM) && !asym_register())
		r.flags &= ~SV_DIRECT_GRANT_ASYM; /* a locked store, then */
	svl_ring_lock(&q->sq);
	if (q->dgen == gen && q->dstate != SVL_DIRECT_GRANTED)
		grant_install(q, ret, t, &r);
	svl_ring_unlock(&q->sq);
}

void svl_direct_prepare(struct svl_qp *q)
{
	if (q->dstate == SVL_DIRECT_GRANTED)
		return;
	if (q->dstate == SVL_DIRECT_REFUSED) {
		if (!q->dretry || --q->dretry)
			return;
	}
	if (q->qp.qp_type != IBV_QPT_RC || q->qp.state != IBV_QPS_RTS ||
	    !svl_direct_on() || !q->sq.entries) {
		q->dstate = SVL_DIRECT_REFUSED;
		q->dretry = 0;
		return;
	}
	/* An early ask under way: wait for its answer, asleep. */
	pthread_mutex_lock(&q->dgrant);
	if (q->dstate != SVL_DIRECT_GRANTED)
		grant(q);
	pthread_mutex_unlock(&q->dgrant);
}

void svl_direct_ask_early(struct svl_qp *q)
{
	bool ask;

	pthread_mutex_lock(&q->dgrant);
	svl_ring_lock(&q->sq);
	/* A post or a modify since it was queued decided already. */
	ask = q->dstate == SVL_DIRECT_UNTRIED && q->qp.state == IBV_QPS_RTS;
	svl_ring_unlock(&q->sq);
	if (ask) {
		grant(q);
		svl_ring_lock(&q->sq);
		/* The peer not connected back yet: the first post asks. */
		if (q->dstate == SVL_DIRECT_REFUSED && q->dretry)
			q->dstate = SVL_DIRECT_UNTRIED;
		svl_ring_unlock(&q->sq);
	}
	pthread_mutex_unlock(&q->dgrant);
}

/*
 * A QP a while after it reached RTR (direct_early.c): our receive ring
 * now, not at the first receive, so that an initiator that only WRITEs
 * or READs finds our peer-assist helper (direct_assist.c). A QP that
 * posted a receive meanwhile has it already.
 */
void svl_direct_rx_early(struct svl_qp *q)
{
	/*
	 * Read without the SQ lock: a QP that went on to RTS posts under it
	 * for ~100 us at a time (a 1 MiB direct WRITE), and this thread,
	 * spinning for it on the poster's CPU, halved ib_write_bw. Only a
	 * hint: a QP that moves on meanwhile just gets its ring early.
	 */
	enum ibv_qp_state st = __atomic_load_n(&q->qp.state, __ATOMIC_RELAXED);

	if (st == IBV_QPS_RTR || st == IBV_QPS_RTS)
		svl_direct_recv_posted(q);
}

/* ---------------------------------------------------------------------- */
/* Hand-over between the daemon and the direct path                        */
/* ---------------------------------------------------------------------- */

void svl_direct_daemon_posted(struct svl_qp *q, const struct sv_send_wqe *w)
{
	struct svl_dqp *d = q->dq;
	struct svl_cq *cq;

	if (!d || q->dstate != SVL_DIRECT_GRANTED)
		return;
	cq = to_svl_cq(q->qp.send_cq);
	d->rx.known = false; /* the engine may take receives for it */
	svl_cq_lock(cq);
	d->dmn = true;
	if (w->send_flags & IBV_SEND_SIGNALED)
		d->sig++;
	/* Without a watch we could never tell: stay on the daemon path. */
	if (svl_dcq_watch(cq, d))
		d->failed = true;
	svl_cq_unlock(cq);
}

/*
 * Wait a little for the daemon to finish our work (under the SQ lock).
 * A stream that hands each next work request to the daemon while the
 * daemon still has some keeps it busy for good: the QP came back to the
 * direct path only when the stream paused (after 2 ms stalls, 8 B WRITE
 * streams went on at the daemon's rate, a tenth of the direct one). A
 * queue of work requests takes the engine tens of microseconds; one that
 * did not drain in DRAIN_NS is not waited for again before DRAIN_SKIP
 * more posts. Yields after a while: the engine may share our CPU.
 */
#define DRAIN_NS 200000LL
#define DRAIN_YIELD_NS 20000LL
#define DRAIN_SKIP 64U

static bool daemon_drained(struct svl_qp *q)
{
	struct svl_dqp *d = q->dq;
	unsigned int spins = 0;
	int64_t t0 = 0, t;

	if (d->drain_skip) {
		d->drain_skip--;
		return svl_load_acquire(&q->sq.db->cons) == q->sq.prod;
	}
	while (svl_load_acquire(&q->sq.db->cons) != q->sq.prod) {
		if (++spins & 63) {
			__builtin_ia32_pause();
			continue;
		}
		t = svl_now_ns();
		if (!t0)
			t0 = t;
		if (t - t0 > DRAIN_NS) {
			d->drain_skip = DRAIN_SKIP;
			return false;
		}
		if (t - t0 > DRAIN_YIELD_NS)
			sched_yield();
	}
	return true;
}

/*
 * Has the daemon finished all our work and written every completion of
 * it? Then a direct work request cannot overtake anything: its
 * completion is polled after theirs (direct_cq.c). Under the SQ lock.
 */
bool svl_direct_idle(struct svl_qp *q)
{
	struct svl_dqp *d = q->dq;
	struct svl_cq *cq;
	bool done;

	/* Small WRITEs the peer's helper has not applied come first. */
	if (!svl_dwar_fence(q))
		return false;
	if (!d->dmn)
		return !d->failed;
	if (d->failed || !daemon_drained(q))
		return false;
	cq = to_svl_cq(q->qp.send_cq);
	svl_cq_lock(cq);
	/* The engine moves the SQ's cons before it writes the completion. */
	done = d->seen >= d->sig || svl_dcq_all_written(cq, d);
	if (done) {
		if (!d->stale) /* else its polls must see them go */
			svl_dcq_unwatch(cq, d);
		d->dmn = false;
		d->sig = d->seen = 0;
	}
	svl_cq_unlock(cq);
	return done && !d->failed;
}

static void dq_forget(struct svl_qp *q)
{
	struct svl_dqp *d = q->dq;
	struct svl_cq *cq;

	if (!d)
		return;
	if (q->qp.send_cq) {
		cq = to_svl_cq(q->qp.send_cq);
		svl_cq_lock(cq);
		svl_dcq_unwatch(cq, d);
		svl_cq_unlock(cq);
	}
	d->dmn = d->failed = false;
	d->sig = d->seen = d->stale = 0;
	svl_direct_peer_drop(d); /* the peer may be another one next time */
	svl_direct_cache_drop(d);
}

void svl_direct_qp_modified(struct svl_qp *q)
{
	svl_ring_lock(&q->sq);
	dq_forget(q);
	q->dstate = SVL_DIRECT_UNTRIED;
	q->dretry = 0;
	q->dgen++; /* a grant asked for before this is stale */
	svl_ring_unlock(&q->sq);
}

void svl_direct_qp_free(struct svl_qp *q)
{
	svl_dwar_unlink(q); /* no poll reaches it any more */
	svl_direct_rx_free(q);
	dq_forget(q);
	if (q->dq)
		svl_dwar_free(q->dq);
	free(q->dq);
	q->dq = NULL;
}

/* ---------------------------------------------------------------------- */
/* ibv_wr_* batches                                                        */
/* ---------------------------------------------------------------------- */

/* Move the WQEs at [i + n, end) down to i. */
static void sq_close_gap(struct svl_qp *q, uint32_t i, uint32_t end,
			 uint32_t n)
{
	for (; i + n != end; i++)
		memcpy(svl_sq_slot(q, i), svl_sq_slot(q, i + n), q->sq.stride);
}

uint32_t svl_direct_run(struct svl_qp *q, uint32_t end)
{
	uint32_t i, n;

	while (q->dstate == SVL_DIRECT_GRANTED && q->sq.prod != end) {
		n = svl_direct_va_run(q, q->sq.prod, end - q->sq.prod);
		if (!n && svl_direct_exec(q, svl_sq_slot(q, q->sq.prod)))
			break;
		n = n ? n : 1;
		sq_close_gap(q, q->sq.prod, end, n);
		end -= n;
	}
	for (i = q->sq.prod; i != end; i++)
		svl_direct_daemon_posted(q, svl_sq_slot(q, i));
	return end;
}

/* The ibv_wr_* batch is [sq.prod, wr_prod). */
void svl_direct_batch(struct svl_qp *q)
{
	q->wr_prod = svl_direct_run(q, q->wr_prod);
}
