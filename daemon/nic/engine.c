// SPDX-License-Identifier: MIT
/*
 * The data-path engine: one thread per device polls the QPs registered
 * with it (a QP registers on its first modify), spins a little after work,
 * then sleeps on every doorbell page of the device at once (futex_waitv)
 * with a short timeout so timers and missed wakeups still progress.
 *
 * Also here: scatter lists and the ring helpers. Client memory itself is
 * reached only through mem.c (svd_mem.h).
 */
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "svd_main.h"
#include "svd_mem.h"

#define ENG_SPIN_NS 50000L /* keep polling this long after the last work */
#define ENG_SLEEP_NS 10000000L /* longest futex sleep */
#define ENG_WAITV_MAX 128 /* FUTEX_WAITV_MAX */

/* Copy n bytes between two segments; client memory goes through mem.c. */
static int seg_copy(const struct eng_seg *d, uint64_t doff,
		    const struct eng_seg *s, uint64_t soff, size_t n)
{
	if (!s->umem && !d->umem) {
		memcpy(d->buf + doff, s->buf + soff, n);
		return 0;
	}
	if (!s->umem)
		return svd_mem_write(d->umem, d->off + doff, s->buf + soff, n);
	if (!d->umem)
		return svd_mem_read(s->umem, s->off + soff, d->buf + doff, n);
	return svd_mem_copy(d->umem, d->off + doff, s->umem, s->off + soff, n);
}

int eng_sgl_copy(const struct eng_sgl *dst, uint64_t dst_skip,
		 const struct eng_sgl *src, uint64_t len)
{
	unsigned int di = 0, si = 0;
	uint64_t doff = dst_skip, soff = 0;

	if (len > src->total || dst_skip > dst->total ||
	    len > dst->total - dst_skip)
		return -EINVAL;
	while (len) {
		const struct eng_seg *d, *s;
		uint64_t n;
		int ret;

		while (di < dst->n && doff >= dst->seg[di].len)
			doff -= dst->seg[di++].len;
		while (si < src->n && soff >= src->seg[si].len)
			soff -= src->seg[si++].len;
		if (di >= dst->n || si >= src->n)
			return -EINVAL;
		d = &dst->seg[di];
		s = &src->seg[si];
		n = d->len - doff;
		if (s->len - soff < n)
			n = s->len - soff;
		if (len < n)
			n = len;
		ret = seg_copy(d, doff, s, soff, n);
		if (ret)
			return ret;
		doff += n;
		soff += n;
		len -= n;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Keys and scatter lists                                                  */
/* ---------------------------------------------------------------------- */

/* Called with dev->lock held: the region stays valid until it drops. */
int eng_lkey_seg(struct svd_device *dev, struct svd_pd *pd, uint32_t lkey,
		 uint64_t addr, uint32_t len, bool write, struct eng_seg *seg)
{
	const struct svd_umem *umem;
	uint64_t off;

	if (svd_mem_resolve(dev, pd, lkey, false, addr, len,
			    write ? IBV_ACCESS_LOCAL_WRITE : 0, &umem, &off))
		return IBV_WC_LOC_PROT_ERR;
	seg->umem = umem;
	seg->off = off;
	seg->buf = NULL;
	seg->len = len;
	return 0;
}

/* Build a scatter list from (untrusted, already copied) SGEs. */
int eng_wqe_sgl(struct svd_qp *qp, const struct sv_sge *sge, unsigned int n,
		bool write, struct eng_sgl *sgl)
{
	unsigned int i;
	int status;

	sgl->n = 0;
	sgl->total = 0;
	for (i = 0; i < n; i++) {
		if (!sge[i].length)
			continue; /* zero-length SGEs name no memory */
		status = eng_lkey_seg(qp->uctx->dev, qp->pd, sge[i].lkey,
				      sge[i].addr, sge[i].length, write,
				      &sgl->seg[sgl->n]);
		if (status)
			return status;
		sgl->total += sge[i].length;
		sgl->n++;
	}
	if (sgl->total > UINT32_MAX)
		return IBV_WC_LOC_LEN_ERR;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* SQ ring                                                                 */
/* ---------------------------------------------------------------------- */

static bool sq_sane(const struct svd_qp *qp)
{
	uint32_t n = qp->sq_entries;

	return qp->sq && qp->dbrec && n && !(n & (n - 1)) &&
	       qp->sq_wqe_size >= sizeof(struct sv_send_wqe) &&
	       (uint64_t)n * qp->sq_wqe_size <= qp->sq->length;
}

/* Producer index of the SQ; -EAGAIN when there is nothing to do. */
int eng_sq_peek(struct eng_qp *eq, uint32_t *prod)
{
	struct svd_qp *qp = eq->qp;

	if (!sq_sane(qp))
		return -EINVAL;
	if (svd_mem_load32(qp->dbrec, offsetof(struct sv_dbrec, prod), prod))
		return -EFAULT;
	/* A producer more than a ring ahead is garbage: ignore it. */
	if (*prod == eq->sq_cons || *prod - eq->sq_cons > qp->sq_entries)
		return -EAGAIN;
	return 0;
}

int eng_sq_read(struct eng_qp *eq, uint32_t idx, void *buf, size_t len)
{
	struct svd_qp *qp = eq->qp;
	uint64_t off = (uint64_t)(idx & (qp->sq_entries - 1)) *
		       qp->sq_wqe_size;

	if (len > qp->sq_wqe_size)
		len = qp->sq_wqe_size;
	memset(buf, 0, ENG_WQE_MAX);
	return svd_mem_read(qp->sq, off, buf, len);
}

void eng_sq_consume(struct eng_qp *eq)
{
	eq->sq_cons++;
	svd_mem_store32(eq->qp->dbrec, offsetof(struct sv_dbrec, cons),
			eq->sq_cons);
}

/* ---------------------------------------------------------------------- */
/* QP registration hooks                                                   */
/* ---------------------------------------------------------------------- */

static struct eng_qp *eng_qp_get(struct svd_engine *e, struct svd_qp *qp)
{
	struct eng_qp *eq = qp->eng;

	if (eq)
		return eq;
	eq = calloc(1, sizeof(*eq));
	if (!eq)
		return NULL;
	eq->qp = qp;
	eq->next = e->qps;
	e->qps = eq;
	qp->eng = eq;
	return eq;
}

void svd_engine_qp_modified(struct svd_qp *qp, uint32_t old_state)
{
	struct svd_engine *e = eng_of(qp->uctx->dev);
	struct eng_qp *eq;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	eq = eng_qp_get(e, qp);
	if (!eq)
		goto out;
	if (qp->state == SVD_QPS_RESET) {
		/* The library restarts its rings at 0 after a reset. */
		eq->sq_cons = 0;
		eq->rq_cons = 0;
		eq->req_state = ENG_REQ_IDLE;
		eq->flushed_last_wqe = false;
		eq->fatal_reported = false;
	}
	if (qp->state == SVD_QPS_RTR && old_state != SVD_QPS_RTR)
		eq->epsn = qp->attr.rq_psn & 0xffffff;
	if (qp->state == SVD_QPS_RTS && old_state != SVD_QPS_RTS &&
	    old_state != SVD_QPS_SQD) {
		eq->psn = qp->attr.sq_psn & 0xffffff;
		eq->req_state = ENG_REQ_IDLE;
	}
	/* A user-requested ERROR is not fatal: no QP_FATAL event. */
	if (qp->state == SVD_QPS_ERR)
		eq->fatal_reported = true;
out:
	pthread_mutex_unlock(&e->lock);
}

void svd_engine_qp_destroy(struct svd_qp *qp)
{
	struct svd_engine *e = eng_of(qp->uctx->dev);
	struct eng_qp **pp;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	for (pp = &e->qps; *pp; pp = &(*pp)->next) {
		if ((*pp)->qp == qp) {
			struct eng_qp *eq = *pp;

			*pp = eq->next;
			free(eq);
			break;
		}
	}
	qp->eng = NULL;
	pthread_mutex_unlock(&e->lock);
}

void svd_engine_srq_destroy(struct svd_srq *srq)
{
	svd_engine_quiesce(srq->uctx->dev);
}

void svd_engine_quiesce(struct svd_device *dev)
{
	struct svd_engine *e = eng_of(dev);

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	pthread_mutex_unlock(&e->lock);
}

/*
 * Run the engine from the caller's thread until nothing is runnable, so a
 * command that must see every posted WQE processed (CQ resize checks the
 * pending CQEs) does not race the engine thread's next pass. Bounded, so a
 * client posting without pause cannot stall the command loop.
 */
static bool eng_pass(struct svd_engine *e, int64_t *deadline);

void svd_engine_drain(struct svd_device *dev)
{
	struct svd_engine *e = eng_of(dev);
	int64_t deadline = INT64_MAX;
	int i;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < 64 && eng_pass(e, &deadline); i++)
		;
	pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------------- */
/* Doorbell pages                                                          */
/* ---------------------------------------------------------------------- */

int svd_engine_db_add(struct svd_device *dev, struct sv_db_page *page,
		      struct svd_ucontext *uctx, uint32_t *index)
{
	struct svd_engine *e = eng_of(dev);
	uint32_t i;
	int ret = -ENOMEM;

	if (!e)
		return -ENODEV;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < dev->max_db_pages; i++) {
		if (!e->pages[i].page) {
			e->pages[i].page = page;
			e->pages[i].uctx = uctx;
			*index = i;
			atomic_fetch_add(&dev->db_pages_used, 1);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

void svd_engine_db_del(struct svd_device *dev, uint32_t index)
{
	struct svd_engine *e = eng_of(dev);

	if (!e || index >= dev->max_db_pages)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->pages[index].page) {
		e->pages[index].page = NULL;
		e->pages[index].uctx = NULL;
		atomic_fetch_sub(&dev->db_pages_used, 1);
	}
	pthread_mutex_unlock(&e->lock);
}

/* ---------------------------------------------------------------------- */
/* The thread                                                              */
/* ---------------------------------------------------------------------- */

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_ns(&t);
}

static bool eng_qp_poll(struct svd_engine *e, struct eng_qp *eq,
			int64_t *deadline)
{
	struct svd_qp *qp = eq->qp;

	if (qp->state == SVD_QPS_ERR)
		return eng_flush(eq);
	if (qp->state != SVD_QPS_RTS && qp->state != SVD_QPS_SQD)
		return false;
	if (eq->req_state == ENG_REQ_WAIT) {
		int64_t t = ts_ns(&eq->wait_until);

		if (now_ns() < t) {
			if (t < *deadline)
				*deadline = t;
			return false;
		}
	}
	return eng_req_run(e, eq);
}

/* One pass over every QP; called with e->lock held. */
static bool eng_pass(struct svd_engine *e, int64_t *deadline)
{
	struct eng_qp *eq;
	bool work = false;
	int budget;

	for (eq = e->qps; eq; eq = eq->next) {
		/* A few WQEs per QP per pass keeps things fair. */
		for (budget = 0; budget < 16; budget++) {
			if (!eng_qp_poll(e, eq, deadline))
				break;
			work = true;
		}
	}
	return work;
}

static void eng_set_sleeping(struct svd_engine *e, uint32_t v)
{
	uint32_t i;

	for (i = 0; i < e->dev->max_db_pages; i++)
		if (e->pages[i].page)
			atomic_store((_Atomic uint32_t *)&e->pages[i]
					     .page->sleeping,
				     v);
}

/* Arm every page, re-check for work, then sleep until a ring or timeout. */
static void eng_sleep(struct svd_engine *e)
{
	struct futex_waitv w[ENG_WAITV_MAX];
	int64_t deadline = now_ns() + ENG_SLEEP_NS;
	struct timespec ts;
	unsigned int n = 0;
	uint32_t i;
	bool work;

	memset(w, 0, sizeof(w));
	pthread_mutex_lock(&e->lock);
	eng_set_sleeping(e, 1);
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < e->dev->max_db_pages && n < ENG_WAITV_MAX; i++) {
		struct sv_db_page *p = e->pages[i].page;

		if (!p)
			continue;
		w[n].uaddr = (uintptr_t)&p->ring;
		w[n].val = atomic_load((_Atomic uint32_t *)&p->ring);
		w[n].flags = FUTEX_32; /* shared: the page is a memfd */
		n++;
	}
	work = eng_pass(e, &deadline);
	pthread_mutex_unlock(&e->lock);
	if (!work && !atomic_load(&e->stop)) {
		ts.tv_sec = deadline / 1000000000LL;
		ts.tv_nsec = deadline % 1000000000LL;
		if (n)
			syscall(SYS_futex_waitv, w, n, 0, &ts, CLOCK_MONOTONIC);
		else
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
					NULL);
	}
	pthread_mutex_lock(&e->lock);
	eng_set_sleeping(e, 0);
	pthread_mutex_unlock(&e->lock);
}

static void *eng_thread(void *arg)
{
	struct svd_engine *e = arg;
	int64_t last_work = now_ns();
	sigset_t set;

	/* Signals belong to the main loop; SIGBUS is synchronous anyway. */
	sigfillset(&set);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/*
	 * Busy-polling clients compete with the engine for few cores; a
	 * better nice value (if we may) keeps the NIC responsive.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10))
		(void)0; /* unprivileged: keep the default */
	while (!atomic_load(&e->stop)) {
		int64_t deadline = INT64_MAX;
		bool work;

		pthread_mutex_lock(&e->lock);
		work = eng_pass(e, &deadline);
		pthread_mutex_unlock(&e->lock);
		if (work) {
			last_work = now_ns();
			continue;
		}
		if (now_ns() - last_work < ENG_SPIN_NS ||
		    deadline - now_ns() < ENG_SPIN_NS) {
			/* A pure spin starves clients on small boxes. */
			sched_yield();
			continue;
		}
		eng_sleep(e);
		last_work = now_ns() - ENG_SPIN_NS / 2;
	}
	return NULL;
}

int svd_engine_start(struct svd_device *dev)
{
	struct svd_engine *e;

	if (!dev->max_db_pages)
		dev->max_db_pages = ENG_MAX_DB_PAGES_DEFAULT;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->pages = calloc(dev->max_db_pages, sizeof(*e->pages));
	if (!e->pages) {
		free(e);
		return -ENOMEM;
	}
	e->dev = dev;
	pthread_mutex_init(&e->lock, NULL);
	atomic_init(&e->stop, false);
	dev->engine = e;
	if (pthread_create(&e->thread, NULL, eng_thread, e)) {
		dev->engine = NULL;
		free(e->pages);
		free(e);
		return -EAGAIN;
	}
	e->running = true;
	return 0;
}

void svd_engine_stop(struct svd_device *dev)
{
	struct svd_engine *e = eng_of(dev);
	struct eng_qp *eq;

	if (!e)
		return;
	atomic_store(&e->stop, true);
	if (e->running)
		pthread_join(e->thread, NULL);
	while ((eq = e->qps)) {
		e->qps = eq->next;
		eq->qp->eng = NULL;
		free(eq);
	}
	dev->engine = NULL;
	pthread_mutex_destroy(&e->lock);
	free(e->pages);
	free(e);
}
