// SPDX-License-Identifier: MIT
/*
 * The data-direct DMA device of a soft device (seed 003), as mlx5's
 * affiliated data-direct PCI function.
 *
 * Every device gets one when it is added, enabled. Its identity and
 * "sysfs path" live in the runtime tree:
 *
 *   <rundir>/data_direct/NAME/{vuid,vendor,device,ibdev,state}
 *
 * and disappear when it is disabled ("softverbs dev datadirect NAME off"),
 * as the PCI device's sysfs directory does on unbind. Discovery is the
 * driver method SV_METHOD_GET_DATA_DIRECT_PATH (ENODEV without a device,
 * ENOSPC if the caller's buffer is too short), like mlx5's
 * GET_DATA_DIRECT_SYSFS_PATH; REG_DMABUF_MR with the softverbs access flag
 * SV_REG_DMABUF_ACCESS_DATA_DIRECT attaches a region to the device's DMA
 * engine (nic/dd.c).
 *
 * Disabling revokes, as the kernel's dma-buf umem revoke: every region on
 * the device is marked revoked under dev->lock (the engine resolves keys
 * under it, so no step sees half of it), the engine is quiesced (nothing
 * in flight still holds a resolved region), then the worker stops. Later
 * work requests touching those regions complete with a protection error
 * (local) or a remote access error (remote); deregistration still works.
 * Re-enabling gives a new device: revoked regions stay revoked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svd_dd.h"
#include "svd_keys.h"

#define DD_VENDOR 0x5356 /* softverbs' vendor id */
#define DD_DEVICE 0x2100 /* mlx5's data-direct DMA PF id */

struct svd_dd {
	struct svd_dd_dma *dma; /* lives as long as the device */
	bool on;
	char path[512];
};

static int dd_put(const char *dir, const char *name, const char *val)
{
	char p[600];
	int fd, ok;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ok = dprintf(fd, "%s\n", val) > 0;
	close(fd);
	return ok ? 0 : -EIO;
}

/* The device's directory: what discovery returns. */
static int dd_write_files(const struct svd_device *dev, struct svd_dd *dd)
{
	char vuid[40], ids[2][16];
	int ret;

	snprintf(dd->path, sizeof(dd->path), "%s/data_direct", svd_rundir());
	mkdir(dd->path, 0755);
	snprintf(dd->path, sizeof(dd->path), "%s/data_direct/%s", svd_rundir(),
		 dev->name);
	if (mkdir(dd->path, 0755) && errno != EEXIST)
		return -errno;
	/* A stable identity, as the VUID both functions of mlx5 report. */
	snprintf(vuid, sizeof(vuid), "sv-dd-%016llx",
		 (unsigned long long)dev->node_guid);
	snprintf(ids[0], sizeof(ids[0]), "0x%04x", DD_VENDOR);
	snprintf(ids[1], sizeof(ids[1]), "0x%04x", DD_DEVICE);
	ret = dd_put(dd->path, "vuid", vuid);
	if (!ret)
		ret = dd_put(dd->path, "vendor", ids[0]);
	if (!ret)
		ret = dd_put(dd->path, "device", ids[1]);
	if (!ret)
		ret = dd_put(dd->path, "ibdev", dev->name);
	if (!ret)
		ret = dd_put(dd->path, "state", "bound");
	return ret;
}

static void dd_remove_files(struct svd_dd *dd)
{
	static const char *const files[] = {"vuid", "vendor", "device", "ibdev",
					    "state"};
	char p[600];
	size_t i;

	for (i = 0; i < SVD_ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dd->path, files[i]);
		unlink(p);
	}
	rmdir(dd->path);
}

static void dd_revoke_one(struct svd_mr *mr, void *arg)
{
	if (!mr->is_mw && mr->umem && mr->umem->dd == arg)
		mr->revoked = true;
}

/* Revoke every region on the device's DMA path; none is in use after. */
static void dd_revoke_all(struct svd_device *dev, struct svd_dd *dd)
{
	pthread_mutex_lock(&dev->lock);
	svd_keys_for_each(dev, dd_revoke_one, dd->dma);
	pthread_mutex_unlock(&dev->lock);
	svd_keys_quiesce(dev);
}

int svd_dd_set(struct svd_device *dev, bool on)
{
	struct svd_dd *dd = dev->dd;
	int ret;

	if (!dd)
		return -ENODEV;
	if (on == dd->on)
		return 0;
	if (!on) {
		dd->on = false; /* no new attachments */
		dd_revoke_all(dev, dd);
		svd_dd_dma_stop(dd->dma);
		dd_remove_files(dd);
		return 0;
	}
	ret = svd_dd_dma_start(dd->dma);
	if (!ret)
		ret = dd_write_files(dev, dd);
	if (ret) {
		svd_dd_dma_stop(dd->dma);
		dd_remove_files(dd);
		return ret;
	}
	dd->on = true;
	return 0;
}

bool svd_dd_is_on(const struct svd_device *dev)
{
	return dev->dd && dev->dd->on;
}

void svd_dd_describe(const struct svd_device *dev, char *buf, size_t len)
{
	struct svd_dd_stats st = { 0 };

	if (dev->dd)
		svd_dd_dma_stats(dev->dd->dma, &st);
	snprintf(buf, len,
		 "datadirect=%s dd_copies=%llu dd_bytes=%llu dd_splits=%llu "
		 "dd_worker_bytes=%llu dd_stalls=%llu dd_stall_us=%llu "
		 "dd_long=%llu dd_long_streamed=%llu",
		 svd_dd_is_on(dev) ? "on" : "off",
		 (unsigned long long)st.copies, (unsigned long long)st.bytes,
		 (unsigned long long)st.splits,
		 (unsigned long long)st.worker_bytes,
		 (unsigned long long)st.stalls,
		 (unsigned long long)(st.stall_ns / 1000),
		 (unsigned long long)st.long_jobs,
		 (unsigned long long)st.long_streamed);
}

int svd_dd_dev_add(struct svd_device *dev)
{
	struct svd_dd *dd = calloc(1, sizeof(*dd));
	int ret;

	if (!dd)
		return -ENOMEM;
	dd->dma = svd_dd_dma_new();
	if (!dd->dma) {
		free(dd);
		return -ENOMEM;
	}
	dev->dd = dd;
	ret = svd_dd_set(dev, true);
	if (ret)
		svd_dd_dev_del(dev);
	return ret;
}

/* The device is going away: no context is open, so no region exists. */
void svd_dd_dev_del(struct svd_device *dev)
{
	struct svd_dd *dd = dev->dd;

	if (!dd)
		return;
	svd_dd_set(dev, false);
	svd_dd_dma_free(dd->dma);
	free(dd);
	dev->dd = NULL;
}

int svd_dd_attach(struct svd_device *dev, struct svd_umem *umem)
{
	if (!svd_dd_is_on(dev))
		return -ENODEV;
	umem->dd = dev->dd->dma;
	return 0;
}

/* ioctl: SV_METHOD_GET_DATA_DIRECT_PATH (mlx5's GET_DATA_DIRECT_SYSFS_PATH) */
static int dd_method_get_path(struct svd_bundle *b)
{
	struct svd_attr *out = svd_attr_get(b, SV_ATTR_GET_DATA_DIRECT_PATH);
	size_t len;

	if (!svd_dd_is_on(b->dev))
		return -ENODEV;
	len = strlen(b->dev->dd->path) + 1;
	if (!out || len > out->out_room)
		return -ENOSPC;
	return svd_attr_copy_to(b, SV_ATTR_GET_DATA_DIRECT_PATH,
				b->dev->dd->path, len);
}

SVD_DECLARE_METHOD(SV_METHOD_GET_DATA_DIRECT_PATH, dd_method_get_path,
		   SVD_ATTR_PTR_OUT_MIN(SV_ATTR_GET_DATA_DIRECT_PATH, 0,
					SVD_MANDATORY));

const struct svd_module svd_mod_dd = {
    .name = "dd",
    SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_DEVICE, NULL,
			   SVD_METHOD_REF(SV_METHOD_GET_DATA_DIRECT_PATH))),
};
