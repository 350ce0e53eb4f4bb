// SPDX-License-Identifier: MIT
/*
 * AH: address handles. The daemon keeps the attributes as given (kernel
 * layout); the engine resolves a UD send's ah_handle through the context's
 * handle table and reads svd_ah->attr. A destroy first lets the
 * context's UD QPs send what they posted (which may name it).
 *
 * Checks follow the kernel's rdma_check_ah_attr() and rxe: the port must
 * exist, a RoCE port needs a GRH (is_global), and the source GID index
 * must name a valid entry of the GID table; all of these are EINVAL.
 */
#include <stdlib.h>
#include <string.h>

#include "svd.h"
#include "svd_nic.h"
#include "svd_objs.h"

#define AH_LINK_LAYER_ETHERNET 2 /* IB_LINK_LAYER_ETHERNET */

static int ah_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_ah *ah = uobj->object;

	/* UD WQEs posted before name it: they go out first (eng_qp.c). */
	if (why == SVD_REMOVE_DESTROY)
		uobj->uctx->dev->nic->ah_send_out(uobj->uctx, uobj->handle,
						  &ah->attr);
	atomic_fetch_sub(&ah->pd->usecnt, 1);
	free(ah);
	return 0;
}

SVD_DECLARE_IDR_TYPE(ah, UVERBS_OBJECT_AH, SVD_ORDER_SRQ_MW_AH, ah_destroy);

static int ah_check_attr(struct svd_device *dev,
			 const struct ib_uverbs_ah_attr *a)
{
	if (a->port_num != 1)
		return -EINVAL;
	if (dev->port.attr.link_layer == AH_LINK_LAYER_ETHERNET &&
	    !a->is_global)
		return -EINVAL;
	if (a->is_global && (a->grh.sgid_index >= SVD_MAX_GIDS ||
			     !dev->port.gids[a->grh.sgid_index].valid))
		return -EINVAL;
	return 0;
}

/* write(): IB_USER_VERBS_CMD_CREATE_AH */
static int write_create_ah(struct svd_bundle *b)
{
	const struct ib_uverbs_create_ah *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_create_ah_resp resp = {};
	struct svd_uobj *uobj, *pdu;
	struct svd_ah *ah;
	int ret;

	ret = svd_write_new_on_pd(b, &svd_type_ah, cmd->pd_handle, &uobj, &pdu);
	if (ret)
		return ret;
	pthread_mutex_lock(&b->dev->lock); /* the GID table may change */
	ret = ah_check_attr(b->dev, &cmd->attr);
	pthread_mutex_unlock(&b->dev->lock);
	ah = ret ? NULL : calloc(1, sizeof(*ah));
	if (!ret && !ah)
		ret = -ENOMEM;
	if (!ret) {
		ah->pd = pdu->object;
		memcpy(&ah->attr, &cmd->attr, sizeof(ah->attr));
		atomic_fetch_add(&ah->pd->usecnt, 1);
		uobj->object = ah;
		uobj->user_handle = cmd->user_handle;
	}
	svd_uobj_unlock(pdu, SVD_LOOKUP_READ);
	if (ret)
		return ret;
	resp.ah_handle = uobj->handle;
	return svd_write_resp(b, &resp, sizeof(resp));
}

/* ioctl: UVERBS_METHOD_AH_DESTROY */
SVD_DECLARE_METHOD_DESTROY(UVERBS_METHOD_AH_DESTROY,
			   UVERBS_ATTR_DESTROY_AH_HANDLE, &svd_type_ah);

const struct svd_module svd_mod_ah = {
    .name = "ah",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_AH, &svd_type_ah,
			   SVD_METHOD_REF(UVERBS_METHOD_AH_DESTROY))),
    SVD_WRITE_CMDS(SVD_WRITE(IB_USER_VERBS_CMD_CREATE_AH, write_create_ah,
			     struct ib_uverbs_create_ah,
			     struct ib_uverbs_create_ah_resp),
		   SVD_WRITE_DESTROY(IB_USER_VERBS_CMD_DESTROY_AH,
				     struct ib_uverbs_destroy_ah, ah_handle,
				     &svd_type_ah)),
};
