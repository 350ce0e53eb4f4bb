// SPDX-License-Identifier: MIT
/*
 * Per-ucontext handle table (uobjects).
 *
 * As in the kernel's rdma_core.c, access and lifetime are separate:
 * 'usecnt' is a try-lock (readers count up, a writer or destroyer takes it
 * to -1) so a destroy racing a user fails with EBUSY instead of waiting;
 * 'refcnt' keeps the memory alive while anyone (a command, the engine)
 * still points at it.
 *
 * A new object is reserved in the table (visible to nobody: lookups skip
 * uncommitted entries), then committed or aborted by the command layer.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svd.h"
#include "svd_limits.h"

#define SVD_HANDLES_MIN 64
/* Keep a runaway client from growing the table without bound. */
#define SVD_HANDLES_MAX (1U << 20)

static int uobj_grow(struct svd_ucontext *uctx)
{
	uint32_t n = uctx->nhandles ? uctx->nhandles * 2 : SVD_HANDLES_MIN;
	struct svd_uobj **h;

	if (n > SVD_HANDLES_MAX)
		return -ENOMEM;
	h = realloc(uctx->handles, n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h + uctx->nhandles, 0,
	       (n - uctx->nhandles) * sizeof(*h));
	uctx->handles = h;
	uctx->nhandles = n;
	return 0;
}

static int uobj_reserve_handle(struct svd_ucontext *uctx, uint32_t *out)
{
	uint32_t i;

	for (;;) {
		for (i = 0; i < uctx->nhandles; i++) {
			if (!uctx->handles[i]) {
				*out = i;
				return 0;
			}
		}
		if (uobj_grow(uctx))
			return -ENOMEM;
	}
}

/* Per-user limits on the kinds a user could exhaust for everyone. */
static int uobj_charge(struct svd_ucontext *uctx,
		       const struct svd_obj_type *type, struct svd_uobj *uobj)
{
	enum svd_limit_kind k;

	if (type == &svd_type_qp)
		k = SVD_LIM_QPS;
	else if (type == &svd_type_mr)
		k = SVD_LIM_MRS;
	else if (type == &svd_type_db_page)
		k = SVD_LIM_DB_PAGES;
	else
		return 0;
	uobj->charge = svd_limit_charge(uctx->ufile ? uctx->ufile->uid : 0, k);
	return uobj->charge ? 0 : -errno;
}

struct svd_uobj *svd_uobj_alloc(struct svd_ucontext *uctx,
				const struct svd_obj_type *type)
{
	struct svd_uobj *uobj;
	uint32_t h;
	int ret;

	if (uctx->closing)
		return svd_err_ptr(-EIO);
	uobj = calloc(1, sizeof(*uobj));
	if (!uobj)
		return svd_err_ptr(-ENOMEM);
	ret = uobj_charge(uctx, type, uobj);
	if (ret) {
		free(uobj);
		return svd_err_ptr(ret);
	}
	pthread_mutex_lock(&uctx->lock);
	ret = uobj_reserve_handle(uctx, &h);
	if (!ret)
		uctx->handles[h] = uobj;
	pthread_mutex_unlock(&uctx->lock);
	if (ret) {
		svd_limit_uncharge(uobj->charge);
		free(uobj);
		return svd_err_ptr(ret);
	}
	uobj->type = type;
	uobj->uctx = uctx;
	uobj->dev = uctx->dev;
	if (uobj->dev)
		atomic_fetch_add(&uobj->dev->nr_uobjects, 1);
	uobj->handle = h;
	uobj->fd = -1;
	/* The creating command holds it exclusively until commit. */
	atomic_init(&uobj->usecnt, -1);
	atomic_init(&uobj->refcnt, 1);
	return uobj;
}

void svd_uobj_commit(struct svd_uobj *uobj)
{
	uobj->committed = true;
	atomic_store(&uobj->usecnt, 0);
}

static void uobj_unlink(struct svd_uobj *uobj)
{
	struct svd_ucontext *uctx = uobj->uctx;

	pthread_mutex_lock(&uctx->lock);
	if (uobj->handle < uctx->nhandles &&
	    uctx->handles[uobj->handle] == uobj)
		uctx->handles[uobj->handle] = NULL;
	pthread_mutex_unlock(&uctx->lock);
}

void svd_uobj_abort(struct svd_uobj *uobj)
{
	/* The handler never completed: the type's destroy frees partial state. */
	if (uobj->object && uobj->type->destroy)
		uobj->type->destroy(uobj, SVD_REMOVE_ABORT);
	uobj_unlink(uobj);
	svd_uobj_put(uobj);
}

void svd_uobj_get(struct svd_uobj *uobj)
{
	atomic_fetch_add(&uobj->refcnt, 1);
}

void svd_uobj_put(struct svd_uobj *uobj)
{
	if (atomic_fetch_sub(&uobj->refcnt, 1) == 1) {
		if (uobj->fd >= 0)
			close(uobj->fd);
		if (uobj->dev)
			atomic_fetch_sub(&uobj->dev->nr_uobjects, 1);
		svd_limit_uncharge(uobj->charge);
		free(uobj);
	}
}

static int uobj_trylock(struct svd_uobj *uobj, enum svd_lookup mode)
{
	int cur;

	if (mode == SVD_LOOKUP_READ) {
		cur = atomic_load(&uobj->usecnt);
		do {
			if (cur < 0)
				return -EBUSY;
		} while (!atomic_compare_exchange_weak(&uobj->usecnt, &cur,
						       cur + 1));
		return 0;
	}
	cur = 0;
	if (!atomic_compare_exchange_strong(&uobj->usecnt, &cur, -1))
		return -EBUSY;
	return 0;
}

void svd_uobj_unlock(struct svd_uobj *uobj, enum svd_lookup mode)
{
	if (mode == SVD_LOOKUP_READ)
		atomic_fetch_sub(&uobj->usecnt, 1);
	else
		atomic_store(&uobj->usecnt, 0);
	svd_uobj_put(uobj);
}

static struct svd_uobj *uobj_lock_found(struct svd_uobj *uobj,
					const struct svd_obj_type *type,
					enum svd_lookup mode)
{
	int ret;

	if (!uobj || !uobj->committed)
		return svd_err_ptr(-ENOENT);
	/* Same error as the kernel for a handle of another type. */
	if (type && uobj->type != type)
		return svd_err_ptr(-EINVAL);
	ret = uobj_trylock(uobj, mode);
	if (ret)
		return svd_err_ptr(ret);
	svd_uobj_get(uobj);
	return uobj;
}

struct svd_uobj *svd_uobj_lookup(struct svd_ucontext *uctx,
				 const struct svd_obj_type *type,
				 uint32_t handle, enum svd_lookup mode)
{
	struct svd_uobj *uobj = NULL;

	pthread_mutex_lock(&uctx->lock);
	if (handle < uctx->nhandles)
		uobj = uctx->handles[handle];
	if (uobj && uobj->type->is_fd)
		uobj = NULL; /* fd objects are reached only through an fd */
	uobj = uobj_lock_found(uobj, type, mode);
	pthread_mutex_unlock(&uctx->lock);
	return uobj;
}

struct svd_uobj *svd_uobj_lookup_fd(struct svd_ucontext *uctx,
				    const struct svd_obj_type *type, int fd,
				    enum svd_lookup mode)
{
	struct svd_uobj *found = NULL;
	struct stat st;
	uint32_t i;

	if (fd < 0 || fstat(fd, &st))
		return svd_err_ptr(-EBADF);
	pthread_mutex_lock(&uctx->lock);
	for (i = 0; i < uctx->nhandles; i++) {
		struct svd_uobj *u = uctx->handles[i];

		if (u && u->committed && u->type->is_fd &&
		    u->peer_ino == (uint64_t)st.st_ino) {
			found = u;
			break;
		}
	}
	/* An fd that is not one of ours is EBADF, as in the kernel. */
	if (!found || found->type != type)
		found = svd_err_ptr(-EBADF);
	else
		found = uobj_lock_found(found, type, mode);
	pthread_mutex_unlock(&uctx->lock);
	return found;
}

/*
 * Destroy a uobject the caller holds in DESTROY (exclusive) mode. On
 * success the caller's lookup reference is dropped too.
 */
int svd_uobj_remove(struct svd_uobj *uobj)
{
	int ret = 0;

	if (uobj->type->destroy)
		ret = uobj->type->destroy(uobj, SVD_REMOVE_DESTROY);
	if (ret)
		return ret;
	uobj->object = NULL;
	uobj_unlink(uobj);
	uobj->committed = false;
	atomic_store(&uobj->usecnt, 0);
	svd_uobj_put(uobj); /* the table's reference */
	svd_uobj_put(uobj); /* the lookup's reference */
	return 0;
}

/* Teardown at context close: lowest destroy_order first. */
static void uobj_destroy_all(struct svd_ucontext *uctx)
{
	int order;
	uint32_t i;

	for (order = 0; order < 8; order++) {
		for (i = 0; i < uctx->nhandles; i++) {
			struct svd_uobj *u = uctx->handles[i];

			if (!u || u->type->destroy_order != order)
				continue;
			if (u->object && u->type->destroy)
				u->type->destroy(u, SVD_REMOVE_CLOSE);
			u->object = NULL;
			uctx->handles[i] = NULL;
			u->committed = false;
			svd_uobj_put(u);
		}
	}
}

struct svd_ucontext *svd_uctx_create(struct svd_ufile *ufile)
{
	struct svd_ucontext *uctx = calloc(1, sizeof(*uctx));

	if (!uctx)
		return NULL;
	/* errno EAGAIN tells the caller this user has too many. */
	uctx->charge = svd_limit_charge(ufile->uid, SVD_LIM_CONTEXTS);
	if (!uctx->charge) {
		free(uctx);
		return NULL;
	}
	uctx->dev = ufile->dev;
	uctx->ufile = ufile;
	if (uctx->dev)
		atomic_fetch_add(&uctx->dev->nr_ucontexts, 1);
	uctx->async_fd = -1;
	pthread_mutex_init(&uctx->lock, NULL);
	return uctx;
}

void svd_uctx_destroy(struct svd_ucontext *uctx)
{
	if (!uctx)
		return;
	uctx->closing = true;
	uobj_destroy_all(uctx);
	if (uctx->async_fd >= 0)
		close(uctx->async_fd);
	free(uctx->handles);
	if (uctx->dev)
		atomic_fetch_sub(&uctx->dev->nr_ucontexts, 1);
	svd_limit_uncharge(uctx->charge);
	pthread_mutex_destroy(&uctx->lock);
	free(uctx);
}
