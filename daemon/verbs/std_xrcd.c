// SPDX-License-Identifier: MIT
/*
 * XRC domains: legacy write OPEN_XRCD / CLOSE_XRCD.
 *
 * fd == -1 opens a new, private domain. Otherwise the domain is named by
 * the file's inode (the fd travels in SCM_RIGHTS slot 1): every open of
 * the same inode on the device shares one domain number, O_CREAT creates
 * it, O_EXCL refuses an existing one (kernel ib_uverbs_open_xrcd rules).
 * Each open is its own uobject with its own use count (EBUSY on close
 * while its XRC QPs/SRQs live); the shared entry goes with the last one.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "svd_qpn.h"

/* Inode -> domain number, device-wide; main thread only (commands). */
struct xrcd_inode {
	struct svd_device *dev;
	dev_t st_dev;
	ino_t st_ino;
	uint32_t xrcdn;
	unsigned int refs;
	struct xrcd_inode *next;
};

static struct xrcd_inode *xrcd_inodes;
static uint32_t xrcd_next = 1;

static struct xrcd_inode *inode_find(struct svd_device *dev,
				     const struct stat *st)
{
	struct xrcd_inode *i;

	for (i = xrcd_inodes; i; i = i->next)
		if (i->dev == dev && i->st_dev == st->st_dev &&
		    i->st_ino == st->st_ino)
			return i;
	return NULL;
}

static void inode_put(struct xrcd_inode *ino)
{
	struct xrcd_inode **pp;

	if (!ino || --ino->refs)
		return;
	for (pp = &xrcd_inodes; *pp; pp = &(*pp)->next) {
		if (*pp == ino) {
			*pp = ino->next;
			break;
		}
	}
	free(ino);
}

/* Find or create the shared entry for fd per oflags. */
static int inode_get(struct svd_device *dev, int fd, uint32_t oflags,
		     struct xrcd_inode **out)
{
	struct xrcd_inode *ino;
	struct stat st;

	if (fd < 0 || fstat(fd, &st))
		return -EBADF;
	ino = inode_find(dev, &st);
	if (ino && (oflags & O_EXCL))
		return -EINVAL;
	if (!ino) {
		if (!(oflags & O_CREAT))
			return -EINVAL;
		ino = calloc(1, sizeof(*ino));
		if (!ino)
			return -ENOMEM;
		ino->dev = dev;
		ino->st_dev = st.st_dev;
		ino->st_ino = st.st_ino;
		ino->xrcdn = xrcd_next++;
		ino->next = xrcd_inodes;
		xrcd_inodes = ino;
	}
	ino->refs++;
	*out = ino;
	return 0;
}

static int xrcd_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_xrcd *x = uobj->object;

	/* Like a PD: XRC_TGT QPs and XRC SRQs keep it alive. */
	if (svd_destroy_busy(why, &x->usecnt))
		return -EBUSY;
	inode_put(x->inode);
	free(x);
	return 0;
}

SVD_DECLARE_IDR_TYPE(xrcd, UVERBS_OBJECT_XRCD, SVD_ORDER_CQ_XRCD_DM,
		     xrcd_destroy);

/* write(): IB_USER_VERBS_CMD_OPEN_XRCD */
static int write_open_xrcd(struct svd_bundle *b)
{
	const struct ib_uverbs_open_xrcd *cmd = svd_write_req(b, NULL);
	struct ib_uverbs_open_xrcd_resp resp = {};
	struct xrcd_inode *ino = NULL;
	struct svd_uobj *uobj;
	struct svd_xrcd *x;
	int ret;

	if (cmd->oflags & ~(uint32_t)(O_CREAT | O_EXCL))
		return -EINVAL;
	if ((int32_t)cmd->fd != -1) {
		/* The library sends the fd in slot 1. */
		ret = inode_get(b->dev, b->nfds > 1 ? b->fds[1] : -1,
				cmd->oflags, &ino);
		if (ret)
			return ret;
	}
	uobj = svd_bundle_new_uobj(b, 0, &svd_type_xrcd);
	x = svd_is_err(uobj) ? NULL : calloc(1, sizeof(*x));
	if (!x) {
		inode_put(ino);
		return svd_is_err(uobj) ? (int)svd_ptr_err(uobj) : -ENOMEM;
	}
	x->uctx = b->uctx;
	x->inode = ino;
	x->xrcdn = ino ? ino->xrcdn : xrcd_next++;
	uobj->object = x;
	resp.xrcd_handle = uobj->handle;
	return svd_write_resp(b, &resp, sizeof(resp));
}

const struct svd_module svd_mod_xrcd = {
    .name = "xrcd",
    SVD_WRITE_CMDS(SVD_WRITE(IB_USER_VERBS_CMD_OPEN_XRCD, write_open_xrcd,
			     struct ib_uverbs_open_xrcd,
			     struct ib_uverbs_open_xrcd_resp),
		   SVD_WRITE_DESTROY(IB_USER_VERBS_CMD_CLOSE_XRCD,
				     struct ib_uverbs_close_xrcd, xrcd_handle,
				     &svd_type_xrcd)),
};
