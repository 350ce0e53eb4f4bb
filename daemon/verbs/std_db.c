// SPDX-License-Identifier: MIT
/*
 * Doorbell pages: driver method SV_METHOD_DB_PAGE_ALLOC on the device.
 *
 * A page is a 4 KiB memfd (struct sv_db_page) shared by the daemon and a
 * context: the library bumps 'ring' after posting and FUTEX_WAKEs it when
 * the engine says it is 'sleeping'. Pages are a per-device resource
 * (dev->max_db_pages); the uobject frees the page with the context.
 * The memfd is sealed so a client cannot shrink it under the daemon.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "svd_nic.h"
#include "svd_objs.h"

struct svd_db_page {
	struct svd_device *dev;
	struct sv_db_page *page;
	uint32_t index;
};

static int db_page_destroy(struct svd_uobj *uobj, enum svd_remove_reason why)
{
	struct svd_db_page *p = uobj->object;

	(void)why;
	if (!p)
		return 0;
	/* After db_del the engine no longer reads the page. */
	p->dev->nic->db_del(p->dev, p->index);
	munmap(p->page, SV_DB_PAGE_SIZE);
	free(p);
	uobj->object = NULL;
	return 0;
}

/*
 * A driver object (no core id). Torn down after the QPs, SRQs and CQs that
 * ring it: the engine may still read a page until they are gone.
 */
SVD_DECLARE_IDR_TYPE(db_page, 0, SVD_ORDER_DB_PAGE, db_page_destroy);

/* A sealed 4 KiB memfd, mapped; returns the fd or -errno. */
static int db_memfd(struct sv_db_page **map)
{
	int fd = svd_memfd_sealed("softverbs-db", SV_DB_PAGE_SIZE);
	void *p;

	if (fd < 0)
		return fd;
	p = mmap(NULL, SV_DB_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	*map = p;
	return fd;
}

static int db_method_alloc(struct svd_bundle *b)
{
	/*
	 * attrs[i] matches db_alloc_attrs[i]. Indexing avoids svd_attr_get(),
	 * which treats ids 0x1000/0x1001 as UHW_IN/OUT.
	 */
	struct svd_attr *fd_attr = &b->attrs[0];
	struct svd_db_page *p;
	struct svd_uobj *uobj;
	int fd, slot, ret;

	if (!fd_attr->present)
		return -EINVAL;
	uobj = svd_bundle_new_uobj(b, SV_ATTR_DB_PAGE_FD, &svd_type_db_page);
	if (svd_is_err(uobj))
		return (int)svd_ptr_err(uobj);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = b->dev;
	fd = db_memfd(&p->page);
	if (fd < 0) {
		free(p);
		return fd;
	}
	ret = b->dev->nic->db_add(b->dev, p->page, b->uctx, &p->index);
	if (ret)
		goto err;
	slot = svd_bundle_add_out_fd(b, fd); /* the reply closes our copy */
	if (slot < 0) {
		b->dev->nic->db_del(b->dev, p->index);
		ret = slot;
		goto err;
	}
	fd = -1;
	fd_attr->data = (uint64_t)slot;
	fd_attr->out_valid = true;
	uobj->object = p;
	return svd_attr_copy_to(b, SV_ATTR_DB_PAGE_INDEX, &p->index,
				sizeof(p->index));
err:
	if (fd >= 0)
		close(fd);
	munmap(p->page, SV_DB_PAGE_SIZE);
	free(p);
	return ret;
}
SVD_DECLARE_METHOD(SV_METHOD_DB_PAGE_ALLOC, db_method_alloc,
		   SVD_ATTR_FD(SV_ATTR_DB_PAGE_FD, &svd_type_db_page,
			       SVD_ACCESS_NEW, SVD_MANDATORY),
		   SVD_ATTR_PTR_OUT(SV_ATTR_DB_PAGE_INDEX, uint32_t,
				    SVD_MANDATORY),
		   SVD_ATTR_PTR_IN(SV_ATTR_DB_PAGE_DOMAIN, uint32_t,
				   SVD_OPTIONAL));

const struct svd_module svd_mod_db = {
    .name = "db",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			   SVD_METHOD_REF(SV_METHOD_DB_PAGE_ALLOC))),
};
