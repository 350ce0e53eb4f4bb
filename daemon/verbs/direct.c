// SPDX-License-Identifier: MIT
/*
 * The same-host direct path, daemon side (docs/direct-path.md).
 *
 * The daemon stays in charge: it alone writes the table that a client's
 * library checks before every direct access (regions by rkey, granted
 * connections), and it grants a connection only when both QPs are RC QPs
 * of this daemon connected to each other and owned by the same user. The
 * library then adds the kernel's own check: it opens the target's
 * /proc/PID/mem itself, so the direct path gives no process a reach it
 * lacked. Clients map the table read-only (F_SEAL_FUTURE_WRITE).
 *
 * Every entry is a seqlock. Unpublishing a region bumps its seq, then
 * svd_direct_quiesce() waits until no granted QP's busy record still names
 * the old seq: ibv_dereg_mr never returns while a direct access to the
 * region runs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/procstat.h>

#include "svd.h"
#include "svd_direct.h"
#include "svd_mem.h"
#include "svd_perm.h"
#include "svd_qpn.h"
#include "svd_xuser.h"

_Static_assert(SV_DIRECT_BUSY_OFF == offsetof(struct sv_dbrec, arm_seq),
	       "busy record on the arm line");
_Static_assert(sizeof(struct sv_direct_key) == 128, "key entry");
_Static_assert(sizeof(struct sv_direct_conn) == 64, "conn record");

/* How long a dereg waits for a direct access that does not end (a
 * stopped or dead client): then it goes on. */
#define QUIESCE_MAX_NS 1000000000LL

struct grant {
	struct svd_qp *qp, *peer;
	uint32_t conn;
	struct grant *next;
};

static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static int table_fd = -1;
static uint8_t *table; /* NULL until the first use (or if it failed) */
static uint64_t secret;
static struct grant *grants;
static uint8_t conn_used[SV_DIRECT_CONNS];
/* Published mapped regions, so a revoke finds their slots. */
struct mapped_pub {
	const struct svd_umem *u;
	uint32_t slot;
};
static struct mapped_pub *pubs;
static size_t npubs, pubs_cap;

/* ---------------------------------------------------------------------- */
/* The table                                                               */
/* ---------------------------------------------------------------------- */

static int table_create(void)
{
	int fd = memfd_create("softverbs-direct", MFD_CLOEXEC |
				  MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)SV_DIRECT_TABLE_SIZE))
		goto err;
	p = mmap(NULL, SV_DIRECT_TABLE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	/* Our mapping stays writable; nobody can make a new writable one. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)) {
		munmap(p, SV_DIRECT_TABLE_SIZE);
		goto err;
	}
	table_fd = fd;
	table = p;
	return 0;
err:
	close(fd);
	return -1;
}

/* The table, created on first use; NULL if it cannot be (dlock held). */
static uint8_t *table_get(void)
{
	static bool failed;

	if (!table && !failed && table_create())
		failed = true;
	return table;
}

static struct sv_direct_key *key_entry(uint32_t slot)
{
	return (struct sv_direct_key *)table + slot;
}

static struct sv_direct_conn *conn_entry(uint32_t i)
{
	return (struct sv_direct_conn *)(table + SV_DIRECT_CONN_OFF) + i;
}

/* A daemon object as clients may see it: keyed, so no address leaks. */
/*
 * Set once, before the first tag: tags computed before the table existed
 * (a receive ring fetched before any region was registered) used to be
 * keyed with 0 and never matched the later ones.
 */
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void secret_init(void)
{
	secret = (uint64_t)svd_random32() << 32 | svd_random32();
}

uint64_t svd_direct_tag(const void *p)
{
	uint64_t x;

	pthread_once(&secret_once, secret_init);
	x = (uintptr_t)p ^ secret;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#define tag svd_direct_tag

/* Seqlock writer: odd while the entry changes, a new even value after. */
static void seq_open(uint32_t *seq)
{
	uint32_t s = atomic_load_explicit((_Atomic uint32_t *)seq,
					  memory_order_relaxed);

	atomic_store_explicit((_Atomic uint32_t *)seq, s | 1,
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

static void seq_close(uint32_t *seq)
{
	uint32_t s = atomic_load_explicit((_Atomic uint32_t *)seq,
					  memory_order_relaxed);

	atomic_store_explicit((_Atomic uint32_t *)seq, s + 1,
			      memory_order_seq_cst);
}

/* ---------------------------------------------------------------------- */
/* Regions                                                                 */
/* ---------------------------------------------------------------------- */

/* The process the library must be able to reach (kernel's check). */
static pid_t key_owner(const struct svd_mr *mr)
{
	if (mr->umem->kind == SVD_UMEM_VA)
		return mr->umem->pid;
	return mr->uctx && mr->uctx->ufile ? mr->uctx->ufile->creator_pid : 0;
}

/* VA regions (the registrar's memory) and mapped files; not device
 * memory, data-direct or revoked regions, nor windows. */
static bool key_eligible(const struct svd_mr *mr)
{
	const struct svd_umem *u = mr->umem;

	return !mr->is_mw && !mr->dm && !mr->revoked && u && !u->dd &&
	       !atomic_load(&((struct svd_umem *)u)->revoked) &&
	       key_owner(mr) > 0;
}

static void key_write(struct sv_direct_key *e, struct svd_device *dev,
		      uint32_t key, const struct svd_mr *mr)
{
	seq_open(&e->seq);
	e->key = key;
	e->dev = (uint32_t)tag(dev);
	e->access = mr->access;
	e->pd = tag(mr->pd);
	e->iova = mr->iova;
	e->length = mr->length;
	e->pid = (uint32_t)key_owner(mr);
	e->start = sv_proc_start_time((pid_t)e->pid);
	if (mr->umem->kind == SVD_UMEM_VA) {
		e->va = mr->umem->addr;
	} else {
		e->flags = SV_DIRECT_KEY_MAPPED;
		e->va = mr->umem->client_va;
		e->file_off = mr->umem->file_off;
	}
	seq_close(&e->seq);
}

static void pub_add(const struct svd_umem *u, uint32_t slot)
{
	struct mapped_pub *p;

	if (npubs == pubs_cap) {
		p = realloc(pubs, (pubs_cap ? pubs_cap * 2 : 64) * sizeof(*p));
		if (!p)
			return; /* then a revoke leaves it to the seal checks */
		pubs = p;
		pubs_cap = pubs_cap ? pubs_cap * 2 : 64;
	}
	pubs[npubs++] = (struct mapped_pub){ u, slot };
}

static void pub_del(uint32_t slot)
{
	size_t i;

	for (i = 0; i < npubs; i++) {
		if (pubs[i].slot == slot) {
			pubs[i] = pubs[--npubs];
			return;
		}
	}
}

static void entry_clear(struct sv_direct_key *e)
{
	seq_open(&e->seq);
	memset((uint8_t *)e + sizeof(e->seq), 0, sizeof(*e) - sizeof(e->seq));
	seq_close(&e->seq);
}

void svd_direct_key_added(struct svd_device *dev, uint32_t key,
			  const struct svd_mr *mr)
{
	struct sv_direct_key *e;

	if (!key_eligible(mr))
		return;
	pthread_mutex_lock(&dlock);
	if (table_get()) {
		e = key_entry(sv_direct_key_slot(key));
		/* A taken slot: this region stays on the daemon path. */
		if (!e->key) {
			key_write(e, dev, key, mr);
			if (mr->umem->kind != SVD_UMEM_VA)
				pub_add(mr->umem, sv_direct_key_slot(key));
		}
	}
	pthread_mutex_unlock(&dlock);
}

void svd_direct_key_removed(struct svd_device *dev, uint32_t key)
{
	struct sv_direct_key *e;

	pthread_mutex_lock(&dlock);
	if (table) {
		e = key_entry(sv_direct_key_slot(key));
		if (e->key == key && e->dev == (uint32_t)tag(dev)) {
			if (e->flags & SV_DIRECT_KEY_MAPPED)
				pub_del(sv_direct_key_slot(key));
			entry_clear(e);
		}
	}
	pthread_mutex_unlock(&dlock);
}

void svd_direct_umem_revoked(const struct svd_umem *u)
{
	size_t i = 0;

	pthread_mutex_lock(&dlock);
	while (table && i < npubs) {
		if (pubs[i].u != u) {
			i++;
			continue;
		}
		entry_clear(key_entry(pubs[i].slot));
		pubs[i] = pubs[--npubs];
	}
	pthread_mutex_unlock(&dlock);
}

void svd_direct_mr_changed(struct svd_device *dev, const struct svd_mr *mr)
{
	svd_direct_key_removed(dev, mr->lkey);
	svd_direct_key_added(dev, mr->lkey, mr);
}

/* The busy record of an initiator QP names an entry that changed since? */
static bool busy_stale(const struct svd_qp *qp)
{
	struct sv_direct_busy b;

	if (!qp->dbrec ||
	    svd_mem_read(qp->dbrec, SV_DIRECT_BUSY_OFF, &b, sizeof(b)))
		return false;
	if (!b.slot1 || b.slot1 > SV_DIRECT_KEYS)
		return false;
	return atomic_load((_Atomic uint32_t *)&key_entry(b.slot1 - 1)->seq) !=
	       b.seq;
}

/*
 * The peer's helper applies small WRITEs of its initiator to its own
 * regions (lib/providers/softverbs/direct_war.c) with a busy record of
 * its own in the receive ring: does it name an entry that changed?
 * (peer->drx is set under dlock, which the caller holds.)
 */
static bool war_busy_stale(const struct svd_qp *peer)
{
	struct sv_direct_busy b;

	if (!peer || !peer->drx ||
	    svd_mem_read(peer->drx->umem,
			 offsetof(struct sv_direct_rx_hdr, war_busy), &b,
			 sizeof(b)))
		return false;
	if (!b.slot1 || b.slot1 > SV_DIRECT_KEYS)
		return false;
	return atomic_load((_Atomic uint32_t *)&key_entry(b.slot1 - 1)->seq) !=
	       b.seq;
}

/*
 * Does membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) work here (kernel 4.16,
 * no filter)? Then quiesce runs one, and grants tell libraries so
 * (SV_DIRECT_GRANT_ASYM): the fence of the busy protocol moves from every
 * direct access, where a locked store cost 20-30 ns, to the rare revoke.
 */
static bool asym_fences;
static pthread_once_t asym_once = PTHREAD_ONCE_INIT;

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static void asym_probe(void)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	asym_fences = cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
		      !membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

static bool asym_on(void)
{
	pthread_once(&asym_once, asym_probe);
	return asym_fences;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void svd_direct_quiesce(void)
{
	int64_t deadline = 0;
	struct grant *g;

	pthread_mutex_lock(&dlock);
	/* Against the library's busy store then seq load (Dekker). A
	 * library told SV_DIRECT_GRANT_ASYM has no fence of its own between
	 * the two: this barrier runs one on every CPU where a thread of it
	 * runs (one that does not run went through a context switch). It
	 * cannot fail once it worked (asym_probe()). */
	atomic_thread_fence(memory_order_seq_cst);
	if (table && asym_fences)
		(void)membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
	for (g = table ? grants : NULL; g; g = g->next) {
		while (busy_stale(g->qp) || war_busy_stale(g->peer)) {
			if (!deadline)
				deadline = now_ns() + QUIESCE_MAX_NS;
			if (now_ns() > deadline)
				break;
			sched_yield();
		}
	}
	pthread_mutex_unlock(&dlock);
}

/* ---------------------------------------------------------------------- */
/* Connections                                                             */
/* ---------------------------------------------------------------------- */

static uid_t owner(const struct svd_qp *qp)
{
	return qp->uctx && qp->uctx->ufile ? qp->uctx->ufile->uid : (uid_t)-1;
}

static bool conn_live(const struct grant *g)
{
	const struct svd_qp *qp = g->qp, *peer = g->peer;

	/*
	 * The transport would deliver: the policy and the paths agree, and
	 * the peer expects the PSNs qp sends (set at RTR/RTS; traffic moves
	 * both alike, as the same-host transport loses nothing). A peer that
	 * expects others drops or NAKs them and the work ends in
	 * RETRY_EXC_ERR on the daemon path (test_rc_wrong_peer): the direct
	 * path, which carries no PSNs, must not deliver it.
	 */
	return qp->state == SVD_QPS_RTS &&
	       (peer->state == SVD_QPS_RTR || peer->state == SVD_QPS_RTS) &&
	       qp->attr.dest_qp_num == peer->qpn &&
	       peer->attr.dest_qp_num == qp->qpn &&
	       qp->attr.sq_psn == peer->attr.rq_psn &&
	       svd_xuser_check(qp, peer);
}

static void conn_write(const struct grant *g, bool gone)
{
	struct sv_direct_conn *c = conn_entry(g->conn);

	seq_open(&c->seq);
	c->live = !gone && conn_live(g);
	c->qpn = g->qp->qpn;
	c->peer_qpn = g->peer->qpn;
	c->peer_access = g->peer->attr.qp_access_flags;
	c->peer_rx = g->peer->drx ? g->peer->drx->gen : 0;
	c->peer_pd = tag(g->peer->pd);
	seq_close(&c->seq);
}

static int conn_alloc(uint32_t *out)
{
	uint32_t i;

	for (i = 0; i < SV_DIRECT_CONNS; i++) {
		if (!conn_used[i]) {
			conn_used[i] = 1;
			*out = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The grant of qp (new or renewed, towards peer); dlock held. */
static struct grant *grant_get(struct svd_qp *qp, struct svd_qp *peer)
{
	struct grant *g;

	for (g = grants; g; g = g->next)
		if (g->qp == qp)
			break;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g || conn_alloc(&g->conn)) {
			free(g);
			return NULL;
		}
		g->qp = qp;
		g->next = grants;
		grants = g;
	}
	g->peer = peer;
	conn_write(g, false);
	return g;
}

/*
 * The lossy test transport (SOFTVERBS_LOSS) sits in front of same-host
 * delivery: what it tests would be bypassed, so nothing goes direct.
 */
static bool lossy(void)
{
	static int on = -1;
	const char *v;

	if (on < 0) {
		v = getenv("SOFTVERBS_LOSS");
		on = v && *v;
	}
	return on;
}

/* Same user, and the transport would deliver (dev->lock held). */
bool svd_direct_peer_ok(const struct svd_qp *qp, const struct svd_qp *peer)
{
	return owner(peer) == owner(qp) && svd_xuser_check(qp, peer) &&
	       !lossy();
}

/* The RC QP qp is connected to, if it is ours and connected back. */
static int find_peer(struct svd_device *dev, struct svd_qp *qp,
		     struct svd_qp **peer)
{
	struct svd_qp *p;
	int ret = 0;

	if (qp->qp_type != IB_UVERBS_QPT_RC || qp->state != SVD_QPS_RTS)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	p = svd_dev_qp_find(dev, qp->attr.dest_qp_num);
	if (!p || p->qp_type != IB_UVERBS_QPT_RC ||
	    p->attr.dest_qp_num != qp->qpn)
		ret = -ENOENT;
	else if (!svd_direct_peer_ok(qp, p))
		ret = -EPERM; /* another user, another path: the engine's */
	pthread_mutex_unlock(&dev->lock);
	*peer = p;
	return ret;
}

/* A read-only fd of the table. */
static int table_ro_fd(void)
{
	char path[64];

	if (table_fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", table_fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* ioctl: SV_METHOD_DIRECT_GRANT */
static int direct_method_grant(struct svd_bundle *b)
{
	struct svd_qp *qp = svd_attr_get_obj(b, SV_ATTR_DIRECT_GRANT_QP);
	struct sv_direct_grant_resp resp = {};
	struct svd_qp *peer;
	struct grant *g;
	int ret = find_peer(b->dev, qp, &peer);

	if (ret)
		return ret;
	pthread_mutex_lock(&dlock);
	g = table_get() ? grant_get(qp, peer) : NULL;
	if (g) {
		resp.conn = g->conn;
		resp.dev = (uint32_t)tag(b->dev);
		resp.pd = tag(qp->pd);
		resp.peer_qpn = peer->qpn;
		resp.slid = b->dev->port.attr.lid;
		resp.flags = asym_on() ? SV_DIRECT_GRANT_ASYM : 0;
		ret = svd_attr_fd_out(b, SV_ATTR_DIRECT_GRANT_FD, table_ro_fd());
	}
	pthread_mutex_unlock(&dlock);
	if (!g)
		return -ENOMEM;
	if (ret)
		return ret;
	return svd_attr_copy_to(b, SV_ATTR_DIRECT_GRANT_RESP, &resp,
				sizeof(resp));
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_GRANT, direct_method_grant,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_GRANT_QP, &svd_type_qp,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_DIRECT_GRANT_RESP,
				    struct sv_direct_grant_resp, SVD_MANDATORY),
		   /* A new fd, not an fd object: the type is for the validator. */
		   SVD_ATTR_FD(SV_ATTR_DIRECT_GRANT_FD, &svd_type_qp,
			       SVD_ACCESS_NEW, SVD_OPTIONAL));

/* The peer of qp's grant, if qp has one (dlock held). */
static struct svd_qp *granted_peer(const struct svd_qp *qp)
{
	struct grant *g;

	for (g = grants; g; g = g->next)
		if (g->qp == qp)
			return g->peer;
	return NULL;
}

/*
 * VA: a copy of the handle on the registrar's mm. Mapped: the file, from
 * our own mapping's /proc/self/map_files entry (a root daemon may open
 * it; otherwise the region stays on the engine).
 */
static int umem_fd(const struct svd_umem *u)
{
	char path[96];

	if (u->kind == SVD_UMEM_VA)
		return fcntl(u->mem_fd, F_DUPFD_CLOEXEC, 0);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)(uintptr_t)u->map_base,
		 (unsigned long)(uintptr_t)u->map_base + u->map_len);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* A copy of the handle on the registrar's mm, for a region qp may target. */
static int region_mem_fd(struct svd_device *dev, struct svd_qp *qp,
			 uint32_t key)
{
	struct svd_qp *peer;
	struct svd_mr *mr;
	int fd = -ENOENT;

	/* Lock order: dev->lock, keys_lock (inside the find), dlock. */
	pthread_mutex_lock(&dev->lock);
	mr = svd_dev_key_find(dev, key);
	pthread_mutex_lock(&dlock);
	peer = granted_peer(qp);
	if (mr && peer && mr->rkey == key && mr->pd == peer->pd &&
	    key_eligible(mr))
		fd = umem_fd(mr->umem);
	pthread_mutex_unlock(&dlock);
	pthread_mutex_unlock(&dev->lock);
	return fd;
}

/* ioctl: SV_METHOD_DIRECT_MEM */
static int direct_method_mem(struct svd_bundle *b)
{
	struct svd_qp *qp = svd_attr_get_obj(b, SV_ATTR_DIRECT_MEM_QP);
	uint32_t key;
	int fd;

	if (svd_attr_get_u32(b, SV_ATTR_DIRECT_MEM_KEY, &key))
		return -EINVAL;
	fd = region_mem_fd(b->dev, qp, key);
	if (fd < 0)
		return fd == -ENOENT ? fd : -EMFILE;
	return svd_attr_fd_out(b, SV_ATTR_DIRECT_MEM_FD, fd);
}
SVD_DECLARE_METHOD(SV_METHOD_DIRECT_MEM, direct_method_mem,
		   SVD_ATTR_IDR(SV_ATTR_DIRECT_MEM_QP, &svd_type_qp,
				SVD_ACCESS_READ, SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_DIRECT_MEM_KEY, uint32_t,
				   SVD_MANDATORY),
		   SVD_ATTR_FD(SV_ATTR_DIRECT_MEM_FD, &svd_type_qp,
			       SVD_ACCESS_NEW, SVD_MANDATORY));

void svd_direct_qp_modified(struct svd_qp *qp)
{
	struct grant *g;

	pthread_mutex_lock(&dlock);
	for (g = grants; g; g = g->next)
		if (g->qp == qp || g->peer == qp)
			conn_write(g, false);
	pthread_mutex_unlock(&dlock);
}

void svd_direct_qp_failing(struct svd_qp *qp)
{
	struct grant *g;

	pthread_mutex_lock(&dlock);
	for (g = grants; g; g = g->next)
		if (g->qp == qp)
			conn_write(g, true);
	pthread_mutex_unlock(&dlock);
}

int svd_direct_table_fd(void)
{
	int fd;

	pthread_mutex_lock(&dlock);
	fd = table_get() ? table_ro_fd() : -1;
	pthread_mutex_unlock(&dlock);
	return fd;
}

struct svd_drx *svd_direct_set_rx(struct svd_qp *qp, struct svd_drx *x)
{
	struct svd_drx *old;

	pthread_mutex_lock(&dlock);
	old = qp->drx;
	qp->drx = x;
	pthread_mutex_unlock(&dlock);
	return old;
}

void svd_direct_qp_gone(struct svd_qp *qp)
{
	struct grant **pp = &grants, *g;

	svd_direct_rx_free(qp);
	pthread_mutex_lock(&dlock);
	while ((g = *pp)) {
		if (g->qp != qp && g->peer != qp) {
			pp = &g->next;
			continue;
		}
		conn_write(g, true);
		conn_used[g->conn] = 0;
		*pp = g->next;
		free(g);
	}
	pthread_mutex_unlock(&dlock);
}

const struct svd_module svd_mod_direct = {
	.name = "direct",
	SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			       SVD_METHOD_REF(SV_METHOD_DIRECT_GRANT),
			       SVD_METHOD_REF(SV_METHOD_DIRECT_MEM))),
};
