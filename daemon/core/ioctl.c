// SPDX-License-Identifier: MIT
/*
 * The ioctl path: parse an SV_MSG_IOCTL request, validate every attribute
 * against the method's specs (one validator for all methods), run the
 * handler, then commit or abort the new object and release the locks.
 *
 * The errno values follow the kernel's uverbs_ioctl.c so that rdma-core's
 * bad-flow expectations hold:
 *   bad header length            EINVAL
 *   non-zero reserved in header  EPROTONOSUPPORT
 *   unknown object or method     EPROTONOSUPPORT
 *   unknown mandatory attribute  EPROTONOSUPPORT (optional ones are ignored)
 *   duplicate attribute          EINVAL
 *   missing mandatory attribute  EINVAL
 *   pointer too short / too long EINVAL; non-zero trailing bytes EOPNOTSUPP
 *   reserved attr_data non-zero  EINVAL
 *   enum element out of range    EOPNOTSUPP
 *   flags with unknown bits      EINVAL
 *   bad handle ENOENT, wrong handle type EINVAL, busy EBUSY, bad fd EBADF
 *   pointer outside the message  EFAULT
 */
#include <string.h>
#include <unistd.h>

#include "svd.h"

struct ioctl_req {
	const struct ib_uverbs_ioctl_hdr *hdr;
	const struct ib_uverbs_attr *uattrs;
	const uint8_t *payload;
	size_t payload_len;
};

static bool bytes_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Resolve a PTR_IN's bytes: inline in data when <= 8, else in payload. */
static int attr_in_bytes(const struct ioctl_req *r,
			 const struct ib_uverbs_attr *ua, struct svd_attr *a)
{
	a->len = ua->len;
	a->data = ua->data;
	if (ua->len <= sizeof(ua->data)) {
		a->in = &a->data;
		return 0;
	}
	if (ua->data > r->payload_len || ua->len > r->payload_len - ua->data)
		return -EFAULT;
	a->in = r->payload + ua->data;
	return 0;
}

static int check_ptr_len(const struct svd_attr_spec *s,
			 const struct ib_uverbs_attr *ua, const void *bytes)
{
	if (ua->len < s->min_len)
		return -EINVAL;
	if (s->min_sz_only || !s->len || ua->len <= s->len)
		return 0;
	if (s->type == SVD_ATTR_PTR_OUT)
		return 0; /* more room than needed is fine */
	/* A newer caller's longer struct: only if the extra is zero. */
	if (!bytes_zero((const uint8_t *)bytes + s->len, ua->len - s->len))
		return -EOPNOTSUPP;
	return 0;
}

static int take_uobj(struct svd_bundle *b, const struct svd_attr_spec *s,
		     const struct ib_uverbs_attr *ua, struct svd_attr *a)
{
	struct svd_uobj *u;

	if (ua->len)
		return -EINVAL;
	if (s->access == SVD_ACCESS_NEW && s->type == SVD_ATTR_IDR) {
		/* Reserved now, as the kernel does; committed after success. */
		u = svd_bundle_new_uobj(b, s->id, s->obj);
		return svd_is_err(u) ? (int)svd_ptr_err(u) : 0;
	}
	if (s->access == SVD_ACCESS_NEW)
		return 0; /* a new fd: the handler makes it */
	if (!b->uctx)
		return -EINVAL;
	if (s->type == SVD_ATTR_IDR) {
		if (ua->data > UINT32_MAX)
			return -EINVAL;
		u = svd_uobj_lookup(b->uctx, s->obj, (uint32_t)ua->data,
				    (enum svd_lookup)s->access);
	} else {
		int slot = (int)ua->data_s64;

		if (slot < 1 || slot >= b->nfds)
			return -EBADF;
		u = svd_uobj_lookup_fd(b->uctx, s->obj, b->fds[slot],
				       (enum svd_lookup)s->access);
	}
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	a->uobj = u;
	return 0;
}

static int take_fd_raw(struct svd_bundle *b, const struct ib_uverbs_attr *ua,
		       struct svd_attr *a)
{
	int slot = (int)ua->data_s64;

	a->fd = -1;
	if (slot == -1)
		return 0;
	if (slot < 1 || slot >= b->nfds)
		return -EBADF;
	a->fd = slot;
	return 0;
}

static int process_attr(struct svd_bundle *b, const struct ioctl_req *r,
			const struct svd_attr_spec *s,
			const struct ib_uverbs_attr *ua, struct svd_attr *a)
{
	int ret;

	a->present = true;
	a->flags = ua->flags;
	if (s->type != SVD_ATTR_ENUM_IN && ua->attr_data.reserved)
		return -EINVAL;
	switch (s->type) {
	case SVD_ATTR_PTR_IN:
		ret = attr_in_bytes(r, ua, a);
		return ret ? ret : check_ptr_len(s, ua, a->in);
	case SVD_ATTR_PTR_OUT:
		a->out_room = ua->len;
		return check_ptr_len(s, ua, NULL);
	case SVD_ATTR_IDR:
		return take_uobj(b, s, ua, a);
	case SVD_ATTR_FD:
		if (s->obj)
			return take_uobj(b, s, ua, a);
		return take_fd_raw(b, ua, a);
	case SVD_ATTR_ENUM_IN:
		if (ua->attr_data.enum_data.reserved)
			return -EINVAL;
		if (ua->attr_data.enum_data.elem_id > s->max_value)
			return -EOPNOTSUPP;
		a->enum_id = ua->attr_data.enum_data.elem_id;
		return attr_in_bytes(r, ua, a);
	case SVD_ATTR_CONST_IN:
		a->data = ua->data;
		if (ua->data > s->max_value)
			return -EINVAL;
		return 0;
	case SVD_ATTR_FLAGS_IN:
		ret = attr_in_bytes(r, ua, a);
		if (ret)
			return ret;
		if (ua->len != 4 && ua->len != 8)
			return -EINVAL;
		if (ua->len == 4)
			a->data = (uint32_t)a->data;
		if (a->data & ~s->max_value)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The attributes every method may accept if its flags say so. */
static const struct svd_attr_spec extra_specs[] = {
    SVD_ATTR_PTR_IN_MIN(UVERBS_ATTR_UHW_IN, 0, SVD_OPTIONAL),
    SVD_ATTR_PTR_OUT_MIN(UVERBS_ATTR_UHW_OUT, 0, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN_MIN(SV_ATTR_BUFFERS, 0, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(SV_ATTR_UMEM_SLOT0, struct sv_buffer_desc, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(SV_ATTR_UMEM_SLOT1, struct sv_buffer_desc, SVD_OPTIONAL),
    SVD_ATTR_PTR_IN(SV_ATTR_UMEM_SLOT2, struct sv_buffer_desc, SVD_OPTIONAL),
};

/*
 * The one mapping of those ids to the bundle's slots (and their specs).
 * Declared specs win: driver-namespace attribute IDs start at the same
 * value as UHW_IN/UHW_OUT/BUFFERS, which only exist where the method
 * allows them (as in the kernel, where the two never share a method).
 */
static struct svd_attr *extra_attr(struct svd_bundle *b, uint16_t id,
				   const struct svd_attr_spec **spec)
{
	uint8_t flags = b->method ? b->method->flags : 0;
	struct svd_attr *slots[] = {&b->uhw_in,	      &b->uhw_out,
				    &b->buffers,      &b->umem_slot[0],
				    &b->umem_slot[1], &b->umem_slot[2]};
	unsigned int i;

	for (i = 0; i < SVD_ARRAY_SIZE(slots); i++) {
		/* The first two are the UHW pair, the rest buffers. */
		uint8_t need = i < 2 ? SVD_METHOD_UHW : SVD_METHOD_BUFFERS;

		if ((flags & need) && extra_specs[i].id == id) {
			*spec = &extra_specs[i];
			return slots[i];
		}
	}
	return NULL;
}

static int find_spec(const struct svd_method *m, uint16_t id)
{
	int i;

	for (i = 0; i < m->nattrs; i++)
		if (m->attrs[i].id == id)
			return i;
	return -1;
}

static int bind_attrs(struct svd_bundle *b, const struct ioctl_req *r)
{
	const struct svd_method *m = b->method;
	unsigned int i;
	int idx, ret;

	for (i = 0; i < r->hdr->num_attrs; i++) {
		const struct ib_uverbs_attr *ua = &r->uattrs[i];
		const struct svd_attr_spec *s;
		struct svd_attr *a;

		if (ua->flags & ~(UVERBS_ATTR_F_MANDATORY))
			return -EINVAL;
		idx = find_spec(m, ua->attr_id);
		if (idx >= 0) {
			s = &m->attrs[idx];
			a = &b->attrs[idx];
		} else {
			a = extra_attr(b, ua->attr_id, &s);
			if (!a) {
				/* Unknown: fatal only if the caller needs it. */
				if (ua->flags & UVERBS_ATTR_F_MANDATORY)
					return -EPROTONOSUPPORT;
				continue;
			}
		}
		if (a->present)
			return -EINVAL;
		ret = process_attr(b, r, s, ua, a);
		if (ret)
			return ret;
	}
	for (i = 0; i < m->nattrs; i++)
		if (m->attrs[i].mandatory && !b->attrs[i].present)
			return -EINVAL;
	return 0;
}

static void release_attrs(struct svd_bundle *b)
{
	const struct svd_method *m = b->method;
	int i;

	for (i = 0; m && i < m->nattrs; i++) {
		struct svd_attr *a = &b->attrs[i];

		if (a->uobj) {
			svd_uobj_unlock(a->uobj,
					(enum svd_lookup)m->attrs[i].access);
			a->uobj = NULL;
		}
	}
}

static int parse_req(const void *req, size_t len, struct ioctl_req *r)
{
	const struct ib_uverbs_ioctl_hdr *hdr = req;
	size_t hlen;

	if (len < sizeof(*hdr))
		return -EINVAL;
	hlen = sizeof(*hdr) + (size_t)hdr->num_attrs * sizeof(hdr->attrs[0]);
	if (hdr->length != hlen || hlen > len)
		return -EINVAL;
	if (hdr->reserved1 || hdr->reserved2)
		return -EPROTONOSUPPORT;
	r->hdr = hdr;
	r->uattrs = hdr->attrs;
	r->payload = (const uint8_t *)req + hlen;
	r->payload_len = len - hlen;
	return 0;
}

static int run_method(struct svd_bundle *b, const struct ioctl_req *r)
{
	int ret;

	ret = bind_attrs(b, r);
	if (ret)
		return ret;
	if (!b->method->handler)
		return -EOPNOTSUPP;
	ret = b->method->handler(b);
	if (!ret && b->umems)
		ret = svd_umem_list_check_consumed(b->umems);
	return ret;
}

static void finish_new_uobj(struct svd_bundle *b, int ret)
{
	if (!b->new_uobj)
		return;
	if (ret)
		svd_uobj_abort(b->new_uobj);
	else
		svd_uobj_commit(b->new_uobj);
}

int svd_ioctl_dispatch(struct svd_bundle *b, const void *req, size_t len)
{
	struct ioctl_req r;
	int ret;

	ret = parse_req(req, len, &r);
	if (ret)
		return ret;
	if (r.hdr->num_attrs > SVD_MAX_ATTRS * 2)
		return -EINVAL;
	b->method = svd_tree_find_method(r.hdr->object_id, r.hdr->method_id);
	if (!b->method)
		return -EPROTONOSUPPORT;
	if (!(b->method->flags & SVD_METHOD_NO_UCTX) && !b->uctx)
		return -EINVAL;
	ret = run_method(b, &r);
	/* Consumption failed after a successful handler: undo the object. */
	finish_new_uobj(b, ret);
	release_attrs(b);
	if (b->umems) {
		svd_umem_list_release(b->umems);
		b->umems = NULL;
	}
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Accessors                                                               */
/* ---------------------------------------------------------------------- */

struct svd_attr *svd_attr_get(struct svd_bundle *b, uint16_t id)
{
	const struct svd_method *m = b->method;
	const struct svd_attr_spec *spec;
	struct svd_attr *a;
	int idx = m ? find_spec(m, id) : -1;

	if (idx >= 0)
		a = &b->attrs[idx];
	else
		a = extra_attr(b, id, &spec);
	return (a && a->present) ? a : NULL;
}

bool svd_attr_is_present(struct svd_bundle *b, uint16_t id)
{
	return svd_attr_get(b, id) != NULL;
}

const void *svd_attr_get_ptr(struct svd_bundle *b, uint16_t id,
			     uint16_t *len)
{
	struct svd_attr *a = svd_attr_get(b, id);

	if (!a || !a->in)
		return NULL;
	if (len)
		*len = a->len;
	return a->in;
}

int svd_attr_copy_from(struct svd_bundle *b, uint16_t id, void *dst,
		       size_t size)
{
	struct svd_attr *a = svd_attr_get(b, id);

	if (!a || !a->in)
		return -ENOENT;
	memset(dst, 0, size);
	memcpy(dst, a->in, a->len < size ? a->len : size);
	return 0;
}

static int out_reserve(struct svd_bundle *b, struct svd_attr *a, size_t n)
{
	if (!a->out_valid) {
		if (b->out_used + n > b->out_cap)
			return -ENOSPC;
		a->out_off = b->out_used;
		b->out_used += n;
		a->out_valid = true;
	}
	return 0;
}

int svd_attr_out_copy(struct svd_bundle *b, struct svd_attr *a, const void *src,
		      size_t size)
{
	size_t n = a->out_room;

	if (out_reserve(b, a, n))
		return -ENOSPC;
	memset(b->out + a->out_off, 0, n);
	memcpy(b->out + a->out_off, src, size < n ? size : n);
	a->out_len = (uint16_t)n;
	return 0;
}

int svd_attr_copy_to(struct svd_bundle *b, uint16_t id, const void *src,
		     size_t size)
{
	struct svd_attr *a = svd_attr_get(b, id);

	return a ? svd_attr_out_copy(b, a, src, size) : -ENOENT;
}

int svd_attr_get_u64(struct svd_bundle *b, uint16_t id, uint64_t *val)
{
	struct svd_attr *a = svd_attr_get(b, id);

	if (!a)
		return -ENOENT;
	if (a->in && a->len == 4)
		*val = *(const uint32_t *)a->in;
	else if (a->in && a->len == 8)
		*val = *(const uint64_t *)a->in;
	else if (!a->in)
		*val = a->data;
	else
		return -EINVAL;
	return 0;
}

int svd_attr_get_u32(struct svd_bundle *b, uint16_t id, uint32_t *val)
{
	uint64_t v;
	int ret = svd_attr_get_u64(b, id, &v);

	if (ret)
		return ret;
	if (v > UINT32_MAX)
		return -EINVAL;
	*val = (uint32_t)v;
	return 0;
}

int svd_attr_get_enum(struct svd_bundle *b, uint16_t id, uint8_t *elem)
{
	struct svd_attr *a = svd_attr_get(b, id);

	if (!a)
		return -ENOENT;
	*elem = a->enum_id;
	return 0;
}

struct svd_uobj *svd_attr_get_uobj(struct svd_bundle *b, uint16_t id)
{
	struct svd_attr *a = svd_attr_get(b, id);

	return a ? a->uobj : NULL;
}

void *svd_attr_get_obj(struct svd_bundle *b, uint16_t id)
{
	struct svd_uobj *u = svd_attr_get_uobj(b, id);

	return u ? u->object : NULL;
}

int svd_attr_take_fd(struct svd_bundle *b, uint16_t id)
{
	struct svd_attr *a = svd_attr_get(b, id);
	int fd;

	if (!a || a->fd < 1 || a->fd >= b->nfds)
		return -ENOENT;
	fd = b->fds[a->fd];
	b->fds[a->fd] = -1;
	return fd;
}

int svd_bundle_add_out_fd(struct svd_bundle *b, int fd)
{
	if (b->out_nfds >= SV_MSG_MAX_FDS)
		return -EMFILE;
	b->out_fds[b->out_nfds] = fd;
	return b->out_nfds++;
}

int svd_uhw_copy_from(struct svd_bundle *b, void *dst, size_t size)
{
	memset(dst, 0, size);
	if (!b->uhw_in.present)
		return 0;
	/* Driver data longer than we know must be zero beyond it. */
	if (b->uhw_in.len > size &&
	    !bytes_zero((const uint8_t *)b->uhw_in.in + size,
			b->uhw_in.len - size))
		return -EOPNOTSUPP;
	memcpy(dst, b->uhw_in.in, b->uhw_in.len < size ? b->uhw_in.len : size);
	return 0;
}

int svd_uhw_copy_to(struct svd_bundle *b, const void *src, size_t size)
{
	if (!b->uhw_out.present)
		return 0;
	return svd_attr_out_copy(b, &b->uhw_out, src, size);
}

struct svd_uobj *svd_bundle_new_uobj(struct svd_bundle *b, uint16_t id,
				     const struct svd_obj_type *type)
{
	struct svd_attr *a = svd_attr_get(b, id);
	struct svd_uobj *u;

	if (!b->uctx)
		return svd_err_ptr(-EINVAL);
	if (b->new_uobj)
		return svd_err_ptr(-EINVAL); /* one new object per command */
	u = svd_uobj_alloc(b->uctx, type);
	if (svd_is_err(u))
		return u;
	b->new_uobj = u;
	if (a) {
		a->data = u->handle;
		a->out_valid = true; /* echoed back in the attr's data */
	}
	return u;
}

void svd_ioctl_reply_attrs(struct svd_bundle *b, const void *req,
			   struct ib_uverbs_attr *out)
{
	const struct ib_uverbs_ioctl_hdr *hdr = req;
	unsigned int i;

	for (i = 0; i < hdr->num_attrs; i++) {
		struct svd_attr *a = svd_attr_get(b, hdr->attrs[i].attr_id);

		out[i] = hdr->attrs[i];
		if (!a || !a->out_valid)
			continue;
		if (a->out_room || a->out_len) {
			out[i].flags |= UVERBS_ATTR_F_VALID_OUTPUT;
			out[i].len = a->out_len;
			out[i].data = a->out_off;
		} else {
			/* IDR/FD NEW: the handle or reply fd slot. */
			out[i].data = a->data;
		}
	}
}

/* The generic destroy handler: SVD_DECLARE_METHOD_DESTROY's only attr. */
int svd_destroy_def_handler(struct svd_bundle *b)
{
	const struct svd_method *m = b->method;
	unsigned int i;

	for (i = 0; i < m->nattrs; i++)
		if (m->attrs[i].access == SVD_ACCESS_DESTROY)
			return svd_attr_remove_uobj(b, m->attrs[i].id);
	return -EINVAL;
}

/* SVD_DECLARE_METHOD_DESTROY_RESP: attrs[0] the object, attrs[1] the answer. */
int svd_destroy_resp_handler(struct svd_bundle *b)
{
	const struct svd_method *m = b->method;
	uint8_t resp[SVD_DESTROY_RESP_MAX] = { 0 };
	struct svd_uobj *u = b->attrs[0].uobj;
	int ret;

	if (!u || !u->type->destroy_resp)
		return -EINVAL;
	u->type->destroy_resp(u, resp);
	ret = svd_attr_remove_uobj(b, m->attrs[0].id);
	if (ret)
		return ret;
	return svd_attr_copy_to(b, m->attrs[1].id, resp, m->attrs[1].len);
}

int svd_attr_remove_uobj(struct svd_bundle *b, uint16_t id)
{
	struct svd_attr *a = svd_attr_get(b, id);
	int ret;

	if (!a || !a->uobj)
		return -EINVAL;
	ret = svd_uobj_remove(a->uobj);
	if (!ret)
		a->uobj = NULL;
	return ret;
}
