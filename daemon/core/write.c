// SPDX-License-Identifier: MIT
/*
 * The legacy write() path. A request is the exact byte stream a write() on
 * /dev/infiniband/uverbsN would carry: ib_uverbs_cmd_hdr, an optional
 * ib_uverbs_ex_cmd_hdr, the core command, then driver data. Header checks
 * follow the kernel's ib_uverbs_write()/verify_hdr(); the handler then sees
 * the same bundle as an ioctl handler:
 *   attrs[0]  the core command (PTR_IN)
 *   attrs[1]  the core response (PTR_OUT), at reply offset 0
 *   uhw_in / uhw_out  the driver data, uhw_out right after the response
 * so the reply payload is byte-for-byte what the kernel would have written
 * to the response pointer.
 */
#include <string.h>

#include "svd.h"

static int check_plain(const struct ib_uverbs_cmd_hdr *hdr, size_t len,
		       const struct svd_write_cmd *c, size_t *in, size_t *out)
{
	if ((size_t)hdr->in_words * 4 != len)
		return -EINVAL;
	if (len < c->req_size + sizeof(*hdr))
		return -ENOSPC;
	if ((size_t)hdr->out_words * 4 < c->resp_size)
		return -ENOSPC;
	*in = len - sizeof(*hdr);
	*out = (size_t)hdr->out_words * 4;
	return 0;
}

static int check_ex(const struct ib_uverbs_cmd_hdr *hdr,
		    const struct ib_uverbs_ex_cmd_hdr *ex, size_t len,
		    size_t *core_in, size_t *drv_in, size_t *core_out,
		    size_t *drv_out)
{
	size_t want;

	if (len < sizeof(*hdr) + sizeof(*ex))
		return -EINVAL;
	if (ex->cmd_hdr_reserved)
		return -EINVAL;
	want = ((size_t)hdr->in_words + ex->provider_in_words) * 8 +
	       sizeof(*hdr) + sizeof(*ex);
	if (want != len)
		return -EINVAL;
	if (ex->response) {
		if (!hdr->out_words && !ex->provider_out_words)
			return -EINVAL;
	} else if (hdr->out_words || ex->provider_out_words) {
		return -EINVAL;
	}
	*core_in = (size_t)hdr->in_words * 8;
	*drv_in = (size_t)ex->provider_in_words * 8;
	*core_out = (size_t)hdr->out_words * 8;
	*drv_out = (size_t)ex->provider_out_words * 8;
	return 0;
}

static void set_in(struct svd_attr *a, const uint8_t *p, size_t n)
{
	a->present = true;
	a->in = p;
	a->len = (uint16_t)n;
}

static int set_out(struct svd_bundle *b, struct svd_attr *a, size_t room)
{
	if (b->out_used + room > b->out_cap)
		return -ENOSPC;
	a->present = true;
	a->out_room = (uint16_t)room;
	a->out_off = b->out_used;
	a->out_valid = true;
	memset(b->out + b->out_used, 0, room);
	b->out_used += room;
	return 0;
}

/*
 * Split the request into core and driver parts. Core sizes beyond what we
 * know are allowed (a newer library) and the core part handed to the
 * handler is exactly req_size bytes.
 */
static int bind_write(struct svd_bundle *b, const struct svd_write_cmd *c,
		      const uint8_t *body, size_t core_in, size_t drv_in,
		      size_t core_out, size_t drv_out)
{
	int ret;

	if (core_in < c->req_size)
		return -EINVAL;
	set_in(&b->attrs[0], body, c->req_size);
	if (drv_in || core_in > c->req_size)
		set_in(&b->uhw_in, body + c->req_size,
		       core_in - c->req_size + drv_in);
	if (core_out < c->resp_size)
		return -ENOSPC;
	ret = set_out(b, &b->attrs[1], c->resp_size);
	if (!ret && (drv_out || core_out > c->resp_size))
		ret = set_out(b, &b->uhw_out,
			      core_out - c->resp_size + drv_out);
	return ret;
}

/* What a write command accepts, for the accessors: driver data only. */
static const struct svd_method write_method = {
    .id = 0,
    .flags = SVD_METHOD_UHW,
};

int svd_write_dispatch(struct svd_bundle *b, const void *req, size_t len)
{
	const struct ib_uverbs_cmd_hdr *hdr = req;
	const struct svd_write_cmd *c;
	size_t ci, di = 0, co, dout = 0;
	const uint8_t *body;
	bool ex;
	int ret;

	if (len < sizeof(*hdr))
		return -EINVAL;
	if (hdr->command & ~(IB_USER_VERBS_CMD_FLAG_EXTENDED |
			     IB_USER_VERBS_CMD_COMMAND_MASK))
		return -EINVAL;
	ex = hdr->command & IB_USER_VERBS_CMD_FLAG_EXTENDED;
	c = svd_write_find(hdr->command & IB_USER_VERBS_CMD_COMMAND_MASK, ex);
	if (!c)
		return -EOPNOTSUPP;
	if (ex) {
		const struct ib_uverbs_ex_cmd_hdr *exh = (const void *)(hdr + 1);

		ret = check_ex(hdr, exh, len, &ci, &di, &co, &dout);
		body = (const uint8_t *)(exh + 1);
	} else {
		ret = check_plain(hdr, len, c, &ci, &co);
		body = (const uint8_t *)(hdr + 1);
	}
	if (ret)
		return ret;
	if (!c->no_uctx && !b->uctx)
		return -EINVAL;
	b->method = &write_method;
	b->write_cmd = c;
	ret = bind_write(b, c, body, ci, di, co, dout);
	if (ret)
		return ret;
	ret = c->handler(b);
	if (!ret && b->umems)
		ret = svd_umem_list_check_consumed(b->umems);
	if (b->new_uobj) {
		if (ret)
			svd_uobj_abort(b->new_uobj);
		else
			svd_uobj_commit(b->new_uobj);
	}
	if (b->umems) {
		svd_umem_list_release(b->umems);
		b->umems = NULL;
	}
	return ret;
}

const void *svd_write_req(struct svd_bundle *b, size_t *len)
{
	if (len)
		*len = b->attrs[0].len;
	return b->attrs[0].in;
}

int svd_write_resp(struct svd_bundle *b, const void *resp, size_t size)
{
	return svd_attr_out_copy(b, &b->attrs[1], resp, size);
}

/*
 * The generic write-path destroys: the handle is a u32 at handle_off in
 * the command; with resp, the type's destroy_resp() is filled in before
 * the object goes and sent only if the destroy succeeded.
 */
static int write_destroy(struct svd_bundle *b, void *resp)
{
	const struct svd_write_cmd *c = b->write_cmd;
	const uint8_t *req = svd_write_req(b, NULL);
	struct svd_uobj *u;
	uint32_t handle;
	int ret;

	memcpy(&handle, req + c->handle_off, sizeof(handle));
	u = svd_uobj_lookup(b->uctx, c->destroy_type, handle,
			    SVD_LOOKUP_DESTROY);
	if (svd_is_err(u))
		return (int)svd_ptr_err(u);
	if (resp)
		u->type->destroy_resp(u, resp);
	ret = svd_uobj_remove(u);
	if (ret)
		svd_uobj_unlock(u, SVD_LOOKUP_DESTROY);
	return ret;
}

int svd_write_destroy_def_handler(struct svd_bundle *b)
{
	return write_destroy(b, NULL);
}

int svd_write_destroy_resp_handler(struct svd_bundle *b)
{
	uint8_t resp[SVD_DESTROY_RESP_MAX] = { 0 };
	int ret;

	if (!b->write_cmd->destroy_type->destroy_resp)
		return -EINVAL;
	ret = write_destroy(b, resp);
	if (ret)
		return ret;
	return svd_write_resp(b, resp, b->write_cmd->resp_size);
}

int svd_write_new_on_pd(struct svd_bundle *b, const struct svd_obj_type *type,
			uint32_t pd_handle, struct svd_uobj **uobj,
			struct svd_uobj **pdu)
{
	*uobj = svd_bundle_new_uobj(b, 0, type);
	if (svd_is_err(*uobj))
		return (int)svd_ptr_err(*uobj);
	*pdu = svd_uobj_lookup(b->uctx, &svd_type_pd, pd_handle,
			       SVD_LOOKUP_READ);
	if (!svd_is_err(*pdu))
		return 0;
	return svd_ptr_err(*pdu) == -ENOENT ? -EINVAL : (int)svd_ptr_err(*pdu);
}
