// SPDX-License-Identifier: MIT
/*
 * The doorbell: after publishing a producer index, the library marks the
 * QP's slot in the context's doorbell page, bumps the page and wakes the
 * daemon's engine only if it sleeps (include/softverbs/abi.h).
 *
 * Pages come from SV_METHOD_DB_PAGE_ALLOC (a sealed memfd). A context has
 * a shared page and may have dedicated ones (thread domains, resource
 * domains: domain_db.c); each QP/SRQ rings the page it was created with.
 * QP/SRQ creation names the page by index, so it must exist before the
 * create command; ringing allocates the shared page lazily as a fallback
 * (the engine sleeps on every page of the device, so any page wakes it).
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "svl.h"
#include "svl_domain.h"
#include "svl_qp.h"

static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The user's wake page, the first time one comes (every page of a context
 * names the same one). The daemon no longer watches a page whose reply
 * carried it, so a wake page that cannot be mapped fails the page.
 */
static int wake_map(struct svl_context *ctx, int fd)
{
	struct sv_wake_page *none = NULL;
	void *w;

	if (fd < 0)
		return 0;
	if (__atomic_load_n(&ctx->wake, __ATOMIC_ACQUIRE)) {
		close(fd);
		return 0;
	}
	w = mmap(NULL, SV_WAKE_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (w == MAP_FAILED)
		return ENOMEM;
	/* The shared page and a TD's page may be made at once. */
	if (!__atomic_compare_exchange_n(&ctx->wake, &none, w, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		munmap(w, SV_WAKE_PAGE_SIZE);
	return 0;
}

int svl_db_page_alloc(struct svl_context *ctx, uint32_t purpose, void **page,
		      uint32_t *index)
{
	struct ib_uverbs_attr *fd_attr, *wake_attr;
	struct svl_cmd c;
	void *p;
	int ret, fd;

	svl_cmd_init(&c, UVERBS_OBJECT_DEVICE, SV_METHOD_DB_PAGE_ALLOC);
	fd_attr = svl_attr_fd_new(&c, SV_ATTR_DB_PAGE_FD);
	svl_attr_out(&c, SV_ATTR_DB_PAGE_INDEX, index, sizeof(*index));
	svl_attr_in(&c, SV_ATTR_DB_PAGE_DOMAIN, &purpose, sizeof(purpose));
	wake_attr = svl_attr_fd_new(&c, SV_ATTR_DB_PAGE_WAKE_FD);
	ret = svl_exec(&ctx->vctx.context, &c);
	if (ret)
		return ret;
	fd = (int)fd_attr->data_s64;
	ret = wake_map(ctx, (int)wake_attr->data_s64);
	if (fd < 0 || ret) {
		if (fd >= 0)
			close(fd);
		return fd < 0 ? EPROTO : ret;
	}
	p = mmap(NULL, SV_DB_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	close(fd); /* the mapping keeps the page */
	if (p == MAP_FAILED)
		return errno;
	*page = p;
	return 0;
}

static int db_page_alloc(struct svl_context *ctx)
{
	uint32_t index = 0;
	void *p;
	int ret = svl_db_page_alloc(ctx, SV_DB_DOMAIN_SHARED, &p, &index);

	if (ret)
		return ret;
	ctx->db_page_index = index;
	__atomic_store_n(&ctx->db_page, p, __ATOMIC_RELEASE);
	return 0;
}

/* The context's doorbell page (allocated once). 0 or a positive errno. */
int svl_db_page_get(struct svl_context *ctx, uint32_t *index)
{
	int ret = 0;

	pthread_mutex_lock(&db_lock);
	if (!ctx->db_page)
		ret = db_page_alloc(ctx);
	if (!ret)
		*index = ctx->db_page_index;
	pthread_mutex_unlock(&db_lock);
	return ret;
}

/* The page of index: a dedicated one, else the context's shared page
 * (allocated on first use); NULL if none can be had. */
static struct sv_db_page *db_page(struct svl_context *ctx, uint32_t index)
{
	struct sv_db_page *p = svl_db_page_of(ctx, index);
	uint32_t idx;

	if (p)
		return p;
	p = __atomic_load_n(&ctx->db_page, __ATOMIC_ACQUIRE);
	if (!p && !svl_db_page_get(ctx, &idx))
		p = ctx->db_page;
	return p;
}

static void db_wake(struct svl_context *ctx, struct sv_db_page *p)
{
	struct sv_wake_page *w = __atomic_load_n(&ctx->wake, __ATOMIC_ACQUIRE);

	/*
	 * seq_cst on both sides: either the engine sees the new ring value
	 * in its futex compare, or we see 'sleeping' and wake it.
	 */
	int cpu = sched_getcpu();

	/* Only a hint (eng_idle.c): a plain store beside the ring word. */
	atomic_store_explicit((_Atomic uint32_t *)&p->ring_cpu,
			      (uint32_t)cpu, memory_order_relaxed);
	atomic_fetch_add((_Atomic uint32_t *)&p->ring, 1);
	if (!atomic_load((_Atomic uint32_t *)&p->sleeping))
		return;
	if (!w) {
		syscall(SYS_futex, &p->ring, FUTEX_WAKE, 1, NULL, NULL, 0);
		return;
	}
	/* The user's one wake word: moved, then woken (abi.h). */
	atomic_fetch_add((_Atomic uint32_t *)&w->word, 1);
	syscall(SYS_futex, &w->word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Ring without naming a QP: wakes a sleeping engine for a pass. */
void svl_doorbell_ring(struct svl_context *ctx, uint32_t db_page_index)
{
	struct sv_db_page *p = db_page(ctx, db_page_index);

	if (p)
		db_wake(ctx, p);
	/* else the engine's timeout still finds the work */
}

/* Ring for one QP: its slot bit tells the engine which QP to look at. */
void svl_doorbell_ring_qp(struct svl_context *ctx, uint32_t db_page_index,
			  uint32_t qpn)
{
	struct sv_db_page *p = db_page(ctx, db_page_index);
	uint32_t slot = qpn & (SV_DB_SLOTS - 1);
	uint64_t bit = 1ULL << (slot & 63);
	_Atomic uint64_t *w;

	if (!p)
		return;
	w = (_Atomic uint64_t *)&p->pending[slot / 64];
	/*
	 * Already pending: the engine has not taken it yet, no RMW needed.
	 * That holds only if the caller's producer-index store is visible
	 * before this load (a store-load order x86 does not give): else the
	 * engine may take the bit and read the old index, and the work
	 * sleeps unseen. The engine takes bits with an exchange, so a full
	 * fence here closes the race.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (!(atomic_load_explicit(w, memory_order_relaxed) & bit)) {
		atomic_fetch_or(w, bit);
		atomic_fetch_or((_Atomic uint64_t *)&p->summary,
				1ULL << (slot / 64));
	}
	db_wake(ctx, p);
}
