// SPDX-License-Identifier: MIT
/*
 * Devices as librdmacm sees them. Like rdma-core's librdmacm, every device
 * is opened once, at first use, and that ibv_context is the one placed in
 * every rdma_cm_id.verbs and returned by rdma_get_devices(): applications
 * allocate their PDs and CQs on it, so it is shared, never duplicated.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "cma_priv.h"

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cma_device *devs;
static int ndevs = -1;

static int devices_open(void)
{
	struct ibv_device **list;
	int i, n;

	list = ibv_get_device_list(&n);
	if (!list)
		return -errno;
	devs = calloc(n ? n : 1, sizeof(*devs));
	if (!devs) {
		ibv_free_device_list(list);
		return -ENOMEM;
	}
	ndevs = 0;
	for (i = 0; i < n; i++) {
		struct ibv_context *ctx = ibv_open_device(list[i]);

		if (!ctx)
			continue;
		devs[ndevs].verbs = ctx;
		devs[ndevs].guid = be64toh(ibv_get_device_guid(list[i]));
		ndevs++;
	}
	ibv_free_device_list(list);
	return 0;
}

int cma_devices_init(void)
{
	int ret = 0;

	pthread_mutex_lock(&dev_lock);
	if (ndevs < 0)
		ret = devices_open();
	pthread_mutex_unlock(&dev_lock);
	return ret;
}

struct cma_device *cma_device_by_guid(uint64_t guid)
{
	int i;

	if (cma_devices_init())
		return NULL;
	for (i = 0; i < ndevs; i++)
		if (devs[i].guid == guid)
			return &devs[i];
	return NULL;
}

struct ibv_pd *cma_default_pd(struct cma_device *dev)
{
	struct ibv_pd *pd;

	pthread_mutex_lock(&dev_lock);
	if (!dev->pd)
		dev->pd = ibv_alloc_pd(dev->verbs);
	pd = dev->pd;
	pthread_mutex_unlock(&dev_lock);
	return pd;
}

struct ibv_context **rdma_get_devices(int *num_devices)
{
	struct ibv_context **list;
	int i;

	if (cma_devices_init())
		return NULL;
	list = calloc(ndevs + 1, sizeof(*list));
	if (!list) {
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < ndevs; i++)
		list[i] = devs[i].verbs;
	if (num_devices)
		*num_devices = ndevs;
	return list;
}

void rdma_free_devices(struct ibv_context **list)
{
	free(list);
}
