// SPDX-License-Identifier: MIT
/*
 * Unit tests for the command layer: the attribute validator, uobjects and
 * the seed-001 buffer-descriptor rules. Links the daemon core directly and
 * feeds it hand-built messages; each case checks the exact errno.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svd.h"
#include "svd_nic.h"
#include "svd_objs.h"

static int failures;

#define CHECK_ERR(what, got, want)                                             \
	do {                                                                   \
		int _g = (got), _w = (want);                                   \
		if (_g != _w) {                                                \
			fprintf(stderr, "FAIL %s: got %d want %d\n", what, _g, \
				_w);                                           \
			failures++;                                            \
		}                                                              \
	} while (0)

/* ---- a test method exercising every attribute type ---- */

/* Enums, not macros: SVD_DECLARE_METHOD() names its specs after the id. */
enum {
	T_OBJ = SV_ID_DRIVER(0x77),
	T_METH = SV_ID_DRIVER(1),
	T_METH_BUF = SV_ID_DRIVER(2),
};
enum {
	A_IN = SV_ID_DRIVER(0x10),
	A_OUT,
	A_PD,
	A_ENUM,
	A_FLAGS,
	A_CONST,
};

struct t_in {
	uint64_t a, b;
};

static uint64_t seen_a;
static int buf_load_size = 64;
static bool buf_consume = true;

static int t_handler(struct svd_bundle *b)
{
	struct t_in in;
	uint64_t out = 0x1122334455667788ULL;

	svd_attr_copy_from(b, A_IN, &in, sizeof(in));
	seen_a = in.a;
	if (svd_attr_is_present(b, A_OUT))
		return svd_attr_copy_to(b, A_OUT, &out, sizeof(out));
	return 0;
}
SVD_DECLARE_METHOD(T_METH, t_handler,
		   SVD_ATTR_PTR_IN(A_IN, struct t_in, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(A_OUT, uint64_t, SVD_OPTIONAL),
		   SVD_ATTR_IDR(A_PD, &svd_type_pd, SVD_ACCESS_READ,
				SVD_OPTIONAL),
		   SVD_ATTR_ENUM_IN(A_ENUM, 1, SVD_OPTIONAL),
		   SVD_ATTR_FLAGS_IN(A_FLAGS, 0x3, SVD_OPTIONAL),
		   SVD_ATTR_CONST_IN(A_CONST, 10, SVD_OPTIONAL));

static int t_buf_handler(struct svd_bundle *b)
{
	struct svd_umem_list *l = svd_umem_list_create(b, 1);
	struct svd_umem *u;

	if (svd_is_err(l))
		return (int)svd_ptr_err(l);
	if (!buf_consume)
		return 0;
	u = svd_umem_list_load(l, 0, buf_load_size);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	u = svd_umem_list_load(l, 1, buf_load_size);
	return svd_is_err(u) ? (int)svd_ptr_err(u) : 0;
}

SVD_DECLARE_METHOD_FLAGS(T_METH_BUF, t_buf_handler, SVD_METHOD_BUFFERS,
			 SVD_ATTR_PTR_IN(A_IN, struct t_in, SVD_OPTIONAL));

static const struct svd_module t_module = {
    .name = "test",
    SVD_OBJECTS(SVD_OBJECT(T_OBJ, NULL, SVD_METHOD_REF(T_METH),
			   SVD_METHOD_REF(T_METH_BUF))),
};

/* ---- request builder ---- */

struct req {
	uint8_t buf[4096];
	struct ib_uverbs_ioctl_hdr *hdr;
	size_t payload;
};

static void req_init(struct req *r, uint16_t obj, uint16_t meth, int nattrs)
{
	memset(r, 0, sizeof(*r));
	r->hdr = (void *)r->buf;
	r->hdr->object_id = obj;
	r->hdr->method_id = meth;
	r->hdr->num_attrs = (uint16_t)nattrs;
	r->hdr->length = (uint16_t)(sizeof(*r->hdr) +
				    nattrs * sizeof(struct ib_uverbs_attr));
	r->payload = r->hdr->length;
}

static struct ib_uverbs_attr *req_attr(struct req *r, int i, uint16_t id,
				       uint16_t flags)
{
	struct ib_uverbs_attr *a = &r->hdr->attrs[i];

	a->attr_id = id;
	a->flags = flags;
	return a;
}

static void req_ptr(struct req *r, int i, uint16_t id, const void *p,
		    uint16_t len, uint16_t flags)
{
	struct ib_uverbs_attr *a = req_attr(r, i, id, flags);

	a->len = len;
	if (len <= 8) {
		memcpy(&a->data, p, len);
		return;
	}
	memcpy(r->buf + r->payload, p, len);
	a->data = r->payload - r->hdr->length;
	r->payload += len;
}

static uint8_t out_buf[SV_MSG_MAX];
static struct svd_ufile ufile, ufile2;

static int run_on(struct svd_ufile *uf, struct req *r, int nfds, int *fds)
{
	static struct svd_bundle b;

	svd_bundle_init_local(&b, uf, out_buf, sizeof(out_buf), fds, nfds);
	return svd_ioctl_dispatch(&b, r->buf, r->payload);
}

static int run(struct req *r)
{
	return run_on(&ufile, r, 0, NULL);
}

/* ---- cases ---- */

static void test_header(void)
{
	struct t_in in = { 1, 2 };
	struct req r;

	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), UVERBS_ATTR_F_MANDATORY);
	CHECK_ERR("valid call", run(&r), 0);
	CHECK_ERR("handler saw input", (int)seen_a, 1);

	r.hdr->length += 8;
	CHECK_ERR("bad header length", run(&r), -EINVAL);
	r.hdr->length -= 8;
	r.hdr->reserved1 = 1;
	CHECK_ERR("reserved1", run(&r), -EPROTONOSUPPORT);
	r.hdr->reserved1 = 0;
	r.hdr->reserved2 = 1;
	CHECK_ERR("reserved2", run(&r), -EPROTONOSUPPORT);
	r.hdr->reserved2 = 0;
	r.hdr->method_id = SV_ID_DRIVER(99);
	CHECK_ERR("unknown method", run(&r), -EPROTONOSUPPORT);
	r.hdr->method_id = T_METH;
	r.hdr->object_id = SV_ID_DRIVER(0x78);
	CHECK_ERR("unknown object", run(&r), -EPROTONOSUPPORT);
}

static void test_ptr_lengths(void)
{
	uint8_t big[32] = { 1 };
	struct req r;

	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, big, 8, 0);
	CHECK_ERR("ptr too short", run(&r), -EINVAL);

	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, big, 32, 0);
	CHECK_ERR("longer, zero trailing", run(&r), 0);

	big[20] = 7;
	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, big, 32, 0);
	CHECK_ERR("longer, non-zero trailing", run(&r), -EOPNOTSUPP);

	big[20] = 0;
	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, big, 16, 0);
	r.hdr->attrs[0].attr_data.reserved = 1;
	CHECK_ERR("attr reserved", run(&r), -EINVAL);

	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, big, 16, 0);
	r.hdr->attrs[0].data = 4000; /* points outside the message */
	CHECK_ERR("payload out of bounds", run(&r), -EFAULT);

	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_IN, big, 16, 0);
	r.hdr->attrs[0].flags = 0x80;
	CHECK_ERR("unknown attr flags", run(&r), -EINVAL);
}

static void test_presence(void)
{
	struct t_in in = { 3, 4 };
	uint64_t v = 5;
	struct req r;

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	req_ptr(&r, 1, SV_ID_DRIVER(0x55), &v, 8, 0);
	CHECK_ERR("unknown optional ignored", run(&r), 0);

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	req_ptr(&r, 1, SV_ID_DRIVER(0x55), &v, 8, UVERBS_ATTR_F_MANDATORY);
	CHECK_ERR("unknown mandatory", run(&r), -EPROTONOSUPPORT);

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	req_ptr(&r, 1, A_IN, &in, sizeof(in), 0);
	CHECK_ERR("duplicate", run(&r), -EINVAL);

	req_init(&r, T_OBJ, T_METH, 1);
	req_ptr(&r, 0, A_CONST, &v, 8, 0);
	CHECK_ERR("missing mandatory", run(&r), -EINVAL);
}

static void test_typed(void)
{
	struct t_in in = { 3, 4 };
	uint64_t v;
	struct req r;

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	v = 11;
	req_ptr(&r, 1, A_CONST, &v, 8, 0);
	CHECK_ERR("const out of range", run(&r), -EINVAL);

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	v = 0x4;
	req_ptr(&r, 1, A_FLAGS, &v, 8, 0);
	CHECK_ERR("unknown flag bit", run(&r), -EINVAL);

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	v = 0;
	req_ptr(&r, 1, A_ENUM, &v, 8, 0);
	r.hdr->attrs[1].attr_data.enum_data.elem_id = 2;
	CHECK_ERR("enum out of range", run(&r), -EOPNOTSUPP);

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	req_attr(&r, 1, A_OUT, 0)->len = 4;
	CHECK_ERR("out too small", run(&r), -EINVAL);
}

static struct svd_uobj *make_pd(struct svd_ucontext *uctx)
{
	struct svd_uobj *u = svd_uobj_alloc(uctx, &svd_type_pd);
	struct svd_pd *pd = calloc(1, sizeof(*pd));

	u->object = pd;
	svd_uobj_commit(u);
	return u;
}

static const struct svd_obj_type t_other_type = {
	.name = "other", .destroy_order = 0,
};

static void test_handles(void)
{
	struct svd_uobj *pd = make_pd(ufile.uctx), *other, *u, *pd2;
	struct t_in in = { 3, 4 };
	struct req r;

	other = svd_uobj_alloc(ufile.uctx, &t_other_type);
	svd_uobj_commit(other);

	req_init(&r, T_OBJ, T_METH, 2);
	req_ptr(&r, 0, A_IN, &in, sizeof(in), 0);
	req_attr(&r, 1, A_PD, 0)->data = pd->handle;
	CHECK_ERR("good handle", run(&r), 0);
	r.hdr->attrs[1].data = other->handle;
	CHECK_ERR("handle of wrong type", run(&r), -EINVAL);
	r.hdr->attrs[1].data = 999;
	CHECK_ERR("unknown handle", run(&r), -ENOENT);

	/* A PD of another ucontext, with a handle this one doesn't use. */
	make_pd(ufile2.uctx);
	make_pd(ufile2.uctx);
	make_pd(ufile2.uctx);
	pd2 = make_pd(ufile2.uctx);
	r.hdr->attrs[1].data = pd2->handle;
	CHECK_ERR("handle from another ucontext", run(&r), -ENOENT);

	/* Try-lock: a reader blocks destroy. */
	u = svd_uobj_lookup(ufile.uctx, &svd_type_pd, pd->handle,
			    SVD_LOOKUP_READ);
	CHECK_ERR("read lookup", svd_is_err(u), 0);
	CHECK_ERR("destroy while in use",
		  (int)svd_ptr_err(svd_uobj_lookup(ufile.uctx, &svd_type_pd,
						   pd->handle,
						   SVD_LOOKUP_DESTROY)),
		  -EBUSY);
	svd_uobj_unlock(u, SVD_LOOKUP_READ);

	/* A PD with dependents refuses to go. */
	atomic_store(&((struct svd_pd *)pd->object)->usecnt, 1);
	u = svd_uobj_lookup(ufile.uctx, &svd_type_pd, pd->handle,
			    SVD_LOOKUP_DESTROY);
	CHECK_ERR("PD in use by dependents", svd_uobj_remove(u), -EBUSY);
	svd_uobj_unlock(u, SVD_LOOKUP_DESTROY);
	atomic_store(&((struct svd_pd *)pd->object)->usecnt, 0);
	u = svd_uobj_lookup(ufile.uctx, &svd_type_pd, pd->handle,
			    SVD_LOOKUP_DESTROY);
	CHECK_ERR("PD destroy", svd_uobj_remove(u), 0);
}

static void add_desc(struct req *r, int i, struct sv_buffer_desc *d, int n)
{
	req_ptr(r, i, SV_ATTR_BUFFERS, d, (uint16_t)(n * sizeof(*d)), 0);
}

static void test_buffers(void)
{
	static uint8_t mem[4096];
	struct sv_buffer_desc d[3] = {
		{ .type = SV_BUFFER_TYPE_VA, .index = 0,
		  .addr = (uintptr_t)mem, .length = 128 },
		{ .type = SV_BUFFER_TYPE_VA, .index = 1,
		  .addr = (uintptr_t)mem + 128, .length = 128 },
		{ .type = SV_BUFFER_TYPE_VA, .index = 1,
		  .addr = (uintptr_t)mem, .length = 128 },
	};
	int memfd = memfd_create("t", 0);
	struct req r;

	ftruncate(memfd, 4096);
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("two VA buffers", run(&r), 0);

	d[0].reserved = 1;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("buffer reserved", run(&r), -EINVAL);
	d[0].reserved = 0;

	d[0].index = 2;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("slot out of range", run(&r), -EINVAL);
	d[0].index = 0;

	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d + 1, 2);
	CHECK_ERR("duplicate slot", run(&r), -EINVAL);

	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 3);
	CHECK_ERR("more descriptors than slots", run(&r), -EINVAL);

	d[0].type = 9;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("unknown type", run(&r), -EINVAL);
	d[0].type = SV_BUFFER_TYPE_VA;

	buf_load_size = 256;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("load size check", run(&r), -EINVAL);
	buf_load_size = 64;

	buf_consume = false;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("unconsumed buffer", run(&r), -EINVAL);
	buf_consume = true;

	/* DMABUF: an fd the daemon maps; slot 1 of the message's fds. */
	d[0].type = SV_BUFFER_TYPE_DMABUF;
	d[0].fd = 1;
	d[0].addr = 0;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("dmabuf memfd", run_on(&ufile, &r, 1, &memfd), 0);
	d[0].fd = 5;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("dmabuf bad fd", run_on(&ufile, &r, 1, &memfd), -EBADF);
	d[0].fd = 1;
	d[0].addr = 4000;
	req_init(&r, T_OBJ, T_METH_BUF, 1);
	add_desc(&r, 0, d, 2);
	CHECK_ERR("dmabuf beyond file", run_on(&ufile, &r, 1, &memfd),
		  -EINVAL);
	close(memfd);
}

static void test_list_insert_replace(void)
{
	struct svd_bundle b = { .pid = getpid(), .pidfd = -1, .uid = getuid(),
				.gid = getgid() };
	struct svd_umem_list *l = svd_umem_list_create(&b, 1);
	struct svd_umem *a = svd_umem_get_va(&b, 0x1000, 64);
	struct svd_umem *c = svd_umem_get_va(&b, 0x2000, 64);

	svd_umem_list_insert(l, 0, a);
	CHECK_ERR("inserted counts as provided",
		  svd_umem_list_check_consumed(l), -EINVAL);
	CHECK_ERR("load inserted", svd_umem_list_load(l, 0, 64) == a, 1);
	CHECK_ERR("consumed after load", svd_umem_list_check_consumed(l), 0);
	svd_umem_list_replace(l, 0, c); /* frees a */
	CHECK_ERR("replace", svd_umem_list_load(l, 0, 64) == c, 1);
	svd_umem_list_release(l);
}

static struct svd_device dev = { .name = "unit", .nic = &svd_soft_nic_ops };

int main(void)
{
	svd_tree_test_module = &t_module;
	ufile.dev = ufile2.dev = &dev;
	ufile.uctx = svd_uctx_create(&ufile);
	ufile2.uctx = svd_uctx_create(&ufile2);
	test_header();
	test_ptr_lengths();
	test_presence();
	test_typed();
	test_handles();
	test_buffers();
	test_list_insert_replace();
	svd_uctx_destroy(ufile.uctx);
	svd_uctx_destroy(ufile2.uctx);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("unit_validator: all cases passed\n");
	return 0;
}
