/* SPDX-License-Identifier: MIT */
/*
 * The data-direct DMA path (seed 003): a second DMA engine affiliated with
 * a soft device, as mlx5's data-direct device issues DMA on the NIC's
 * behalf.
 *
 * nic/dd.c is the engine: its own worker thread that copies alongside the
 * caller. A copy between registered memories where either side is a
 * data-direct region (umem->dd set, by REG_DMABUF_MR with
 * SV_REG_DMABUF_ACCESS_DATA_DIRECT) is cut into chunks that the calling
 * engine thread and the data-direct worker take in turn, so a large
 * transfer runs on two CPUs. The caller never waits for a worker that has
 * not started: it takes every chunk nobody claimed, and at the end waits
 * only for chunks the worker is copying.
 *
 * verbs/std_dd.c is the device: its identity and path in the runtime tree,
 * discovery (SV_METHOD_GET_DATA_DIRECT_PATH), enable/disable from the CLI,
 * and revoke of every region using it when it goes away.
 */
#ifndef SVD_DD_H
#define SVD_DD_H

#include "svd.h"

struct svd_dd_dma;

/* An engine, idle (no thread) until started. Never freed while MRs use it. */
struct svd_dd_dma *svd_dd_dma_new(void);
void svd_dd_dma_free(struct svd_dd_dma *d);
/* Start/stop the worker thread (stop waits for it to leave any copy). */
int svd_dd_dma_start(struct svd_dd_dma *d);
void svd_dd_dma_stop(struct svd_dd_dma *d);

/*
 * Copy len bytes as svd_mem_copy() does, over the data-direct path: split
 * with the worker when it runs and the copy is large, else copied here.
 * Same errors as svd_mem_copy() (the first chunk's error wins).
 */
int svd_dd_copy(struct svd_dd_dma *d, const struct svd_umem *dst,
		uint64_t dst_off, const struct svd_umem *src, uint64_t src_off,
		uint64_t len);

/*
 * Streaming-store copy of non-overlapping ranges (dd_copy.c); mem.c runs
 * it inside its SIGBUS guard for svd_mem_copy_stream().
 */
void svd_copy_stream(void *dst, const void *src, size_t len);

/*
 * The most bytes the engine hands a data-direct region's path in one step
 * (nic/eng_dd.c): the device's DMA burst.
 */
uint64_t svd_dd_burst(void);

/* What went over the path since the engine was made. */
struct svd_dd_stats {
	uint64_t copies, bytes; /* every copy over the path */
	uint64_t splits;	/* copies shared with the worker */
	uint64_t worker_bytes;	/* of those, the bytes the worker moved */
	uint64_t stalls;	/* splits that waited for a late worker */
	uint64_t stall_ns;	/* how long they waited */
	uint64_t long_jobs;	/* copies of long transfers (dd_pick.h) */
	uint64_t long_streamed; /* of those, made with streaming stores */
};

void svd_dd_dma_stats(struct svd_dd_dma *d, struct svd_dd_stats *st);

/* std_dd.c: per-device lifecycle, from main.c and the control socket. */
int svd_dd_dev_add(struct svd_device *dev); /* present and enabled */
void svd_dd_dev_del(struct svd_device *dev);
/* "softverbs dev datadirect NAME on|off"; off revokes its regions. */
int svd_dd_set(struct svd_device *dev, bool on);
bool svd_dd_is_on(const struct svd_device *dev);
/*
 * "datadirect=on|off dd_copies=N dd_bytes=N dd_splits=N dd_worker_bytes=N
 * dd_stalls=N dd_stall_us=N dd_long=N dd_long_streamed=N" for "dev list"
 * (struct svd_dd_stats).
 */
void svd_dd_describe(const struct svd_device *dev, char *buf, size_t len);

/*
 * For REG_DMABUF_MR with the data-direct access flag: route umem's DMA
 * through dev's data-direct path. -ENODEV when the device has none (or it
 * is disabled). Caller: the main (command) thread.
 */
int svd_dd_attach(struct svd_device *dev, struct svd_umem *umem);

#endif
