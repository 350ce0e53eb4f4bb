/* SPDX-License-Identifier: MIT */
/*
 * libibverbs.so.1 (softverbs) internals. Prefix: svl_.
 *
 * The application sees rdma-core's types from <infiniband/verbs.h>; each
 * object here embeds the public struct first so the inline functions of
 * verbs.h work on it unchanged.
 */
#ifndef SVL_H
#define SVL_H

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/verbs.h>
#include <softverbs/abi.h>
#include <softverbs/qp_rules.h>

/* verbs.h maps these names to inlines; the library defines the symbols. */
#undef ibv_get_device_list
#undef ibv_query_port
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

#define SVL_EXPORT __attribute__((visibility("default")))
#define svl_container_of(ptr, type, member)                                    \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define SVL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* Devices and contexts                                                    */
/* ---------------------------------------------------------------------- */

struct svl_device {
	struct ibv_device ibdev; /* must be first: applications see this */
	char dir[256]; /* runtime dir of this device (facts + sock) */
	char sock_path[300];
	uint64_t node_guid; /* host order */
	int abi_version;
};

static inline struct svl_device *to_svl_dev(struct ibv_device *d)
{
	return (struct svl_device *)d;
}

struct svl_context {
	/* verbs_context ends with the ibv_context the application holds. */
	struct verbs_context vctx;
	struct svl_device *dev;
	/* Commands: one at a time per context, replies on a private socket. */
	pthread_mutex_t cmd_lock;
	int reply_fd; /* our end of the reply socketpair */
	int reply_peer; /* the end we send along with each request */
	pid_t reply_pid; /* process that owns reply_fd (fork detection) */
	/* The process that opened the context (0: imported): the only one
	 * that takes its replies on the command FD (SV_MSG_F_REPLY_HERE). */
	pid_t owner_pid;
	/* Commands sent without waiting for their replies (transport.c). */
	struct { uint64_t seq; uint32_t handle; } posted[16];
	unsigned int nposted;
	/* Posted commands the daemon refused: the error, and the object. */
	struct { int err; uint32_t handle; } posted_errs[16];
	unsigned int nposted_errs;
	uint64_t seq;
	/* The device's GID table generation, from the latest reply. */
	_Atomic uint32_t dev_gen;
	/* The modify rules' device limits (providers/qp_limits.c). */
	pthread_mutex_t lim_lock;
	struct sv_qp_limits lim;
	uint32_t lim_gen; /* dev_gen lim's GID bits are as of */
	bool lim_ok;
	unsigned int lim_misses; /* postable modifies sent waiting */
	struct sv_alloc_ucontext_resp uresp;
	bool imported; /* from ibv_import_device */
	void *db_page; /* shared doorbell page (data path), or NULL */
	/* The user's wake page (abi.h sv_wake_page), or NULL: ring pages. */
	struct sv_wake_page *wake;
	uint32_t db_page_index;
	/* Dedicated doorbell pages of TDs and resource domains (domain_db.c) */
	struct svl_domains *domains;
	/* Fate sharing (fate.c): set once the daemon's end hung up. */
	atomic_int dead;
	atomic_bool fatal_reported; /* DEVICE_FATAL handed out (async.c) */
	bool fate_watched;
	uint64_t fate_id;
	pthread_mutex_t fate_lock; /* fate_qps */
	struct ibv_qp **fate_qps; /* QPs to flush when the daemon dies */
	unsigned int fate_nqps, fate_cap;
};

static inline struct svl_context *to_svl_ctx(struct ibv_context *c)
{
	return svl_container_of(c, struct svl_context, vctx.context);
}

/*
 * Fate sharing with the daemon (fate.c). A context is dead once the
 * daemon's end of its command FD hung up: its QPs are flushed, posts and
 * commands fail with EIO, and the async FD reports IBV_EVENT_DEVICE_FATAL.
 */
/* Unmap the context's doorbell pages (providers/domain_db.c). */
void svl_domains_fini(struct svl_context *ctx);
/* Drop the context's QPs from the background grant queue (direct_early.c). */
void svl_direct_early_ctx_gone(struct ibv_context *ctx);
/* Open device contexts: the last close stops the copy worker
 * (providers/softverbs/direct_worker.c). */
void svl_dworker_ctx_open(void);
/* A new context: the membarrier registrations, early (providers/direct.c). */
void svl_barriers_register(void);
void svl_dworker_ctx_close(void);
void svl_fate_watch(struct svl_context *ctx);
void svl_fate_unwatch(struct svl_context *ctx);
void svl_fate_check_fork(void);
void svl_fate_dead(struct svl_context *ctx);
void svl_fate_qp_add(struct ibv_qp *qp);
void svl_fate_qp_del(struct ibv_qp *qp);
/* Flush a QP's posted WQEs as IBV_WC_WR_FLUSH_ERR (providers/flush.c). */
void svl_qp_flush(struct ibv_qp *qp);
/* Every command's deadline: SOFTVERBS_CMD_TIMEOUT_MS, default 10000. */
int svl_cmd_timeout_ms(void);

static inline bool svl_ctx_dead(struct ibv_context *c)
{
	return atomic_load_explicit(&to_svl_ctx(c)->dead,
				    memory_order_relaxed);
}

/* ---------------------------------------------------------------------- */
/* Command transport                                                       */
/* ---------------------------------------------------------------------- */

#define SVL_MAX_ATTRS 24

/*
 * An ioctl command being built: the kernel header and attrs, where PTR
 * attrs carry user pointers exactly as with a real ioctl(). svl_exec()
 * marshals them into one message and copies outputs back.
 */
struct svl_cmd {
	struct ib_uverbs_ioctl_hdr hdr;
	struct ib_uverbs_attr attrs[SVL_MAX_ATTRS];
	/* For FD attrs: the fd in this process (attr.data is rewritten). */
	int fds[SVL_MAX_ATTRS];
	/* Extra fds for buffer descriptors (DMABUF type). */
	int buf_fds[8];
	int nbuf_fds;
	uint8_t kind[SVL_MAX_ATTRS]; /* enum svl_attr_kind */
	/* BUFFERS: the caller's descriptor array (fds are local fds). */
	const struct sv_buffer_desc *descs;
	unsigned int ndescs;
	/* It names none of this process's memory (SV_MSG_F_NO_IDENTITY). */
	bool anonymous;
};

enum svl_attr_kind {
	SVL_K_IN,
	SVL_K_OUT,
	SVL_K_IDR,
	SVL_K_IDR_NEW,
	SVL_K_FD,
	SVL_K_FD_NEW,
	SVL_K_BUFFERS,
};

void svl_cmd_init(struct svl_cmd *c, uint16_t object, uint16_t method);
struct ib_uverbs_attr *svl_attr_in(struct svl_cmd *c, uint16_t id,
				   const void *ptr, size_t len);
struct ib_uverbs_attr *svl_attr_out(struct svl_cmd *c, uint16_t id,
				    void *ptr, size_t len);
struct ib_uverbs_attr *svl_attr_u64(struct svl_cmd *c, uint16_t id,
				    uint64_t val); /* CONST / inline */
struct ib_uverbs_attr *svl_attr_idr(struct svl_cmd *c, uint16_t id,
				    uint32_t handle);
/* A NEW idr: after svl_exec(), attr->data holds the handle. */
struct ib_uverbs_attr *svl_attr_idr_new(struct svl_cmd *c, uint16_t id);
struct ib_uverbs_attr *svl_attr_fd(struct svl_cmd *c, uint16_t id, int fd);
/* A NEW fd: after svl_exec(), attr->data_s64 holds the received fd. */
struct ib_uverbs_attr *svl_attr_fd_new(struct svl_cmd *c, uint16_t id);
struct ib_uverbs_attr *svl_attr_enum(struct svl_cmd *c, uint16_t id,
				     uint8_t elem, const void *ptr, size_t len);
/*
 * Add seed 001 buffer descriptors. For DMABUF ones, desc->fd is this
 * process's fd; it is sent along and rewritten to its message slot.
 */
int svl_attr_buffers(struct svl_cmd *c, struct sv_buffer_desc *descs,
		     unsigned int n);
/* Run it. Returns 0 or a positive errno (also stored in errno). */
int svl_exec(struct ibv_context *ctx, struct svl_cmd *c);

/*
 * Legacy write(): cmd points at ib_uverbs_cmd_hdr (+ ex_hdr) + body, as
 * for write(2). The response bytes are copied to resp. in_fd (or -1) is
 * sent in slot 1; *out_fd (if non-NULL) receives reply slot 0.
 */
int svl_write(struct ibv_context *ctx, const void *cmd, size_t len,
	      void *resp, size_t resp_len, int in_fd, int *out_fd);

/*
 * A legacy write() whose success the caller has established (no response
 * bytes, no fds), on the object with this handle: sent without waiting for
 * the reply. EAGAIN: too many replies unread, use svl_write().
 */
int svl_write_post(struct ibv_context *ctx, const void *cmd, size_t len,
		   uint32_t handle);
/* The error of a posted command on handle, once (0: none). */
int svl_posted_error(struct ibv_context *ctx, uint32_t handle);

/* Fill a legacy header: sizes in bytes, rounded per the ABI. */
void svl_write_hdr(void *cmd, uint32_t command, size_t in_bytes,
		   size_t out_bytes);
void svl_write_ex_hdr(void *cmd, uint32_t command, size_t core_in,
		      size_t drv_in, size_t core_out, size_t drv_out,
		      void *resp);

/* Per-process reply channel on a shared command FD. */
int svl_ctx_channel_init(struct svl_context *ctx);
void svl_ctx_channel_close(struct svl_context *ctx);

/* Runtime dir (same rule as the daemon and CLI). */
const char *svl_rundir(void);

/* Context setup shared by ibv_open_device and ibv_import_device. */
struct ibv_context *svl_context_create(struct svl_device *dev, int cmd_fd,
				       bool import);
struct svl_device *svl_device_find_by_sock(const char *name);
/* calloc() for verbs that return NULL with errno set (ENOMEM here). */
static inline void *svl_zalloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p)
		errno = ENOMEM;
	return p;
}

/* Fail a verb that returns a pointer: errno = err, NULL. */
static inline void *svl_fail(int err)
{
	errno = err;
	return NULL;
}

/*
 * Kernel-ABI conversions (strings.c). The field lists are X-macros,
 * X(verbs_field, kernel_field), so each mapping is written once and shared
 * by every direction and by the provider's own copies.
 */
#define SVL_AH_ATTR_FIELDS(X)                                                  \
	X(grh.flow_label, grh.flow_label)                                      \
	X(grh.sgid_index, grh.sgid_index)                                      \
	X(grh.hop_limit, grh.hop_limit)                                        \
	X(grh.traffic_class, grh.traffic_class)                                \
	X(dlid, dlid) X(sl, sl) X(src_path_bits, src_path_bits)                \
	X(static_rate, static_rate) X(is_global, is_global)                    \
	X(port_num, port_num)
/* Shared by ib_uverbs_qp_attr and ib_uverbs_query_qp_resp. */
#define SVL_QP_ATTR_FIELDS(X)                                                  \
	X(cur_qp_state, cur_qp_state) X(path_mtu, path_mtu)                    \
	X(path_mig_state, path_mig_state) X(qkey, qkey) X(rq_psn, rq_psn)      \
	X(sq_psn, sq_psn) X(dest_qp_num, dest_qp_num)                          \
	X(qp_access_flags, qp_access_flags)                                    \
	X(cap.max_send_wr, max_send_wr) X(cap.max_recv_wr, max_recv_wr)        \
	X(cap.max_send_sge, max_send_sge) X(cap.max_recv_sge, max_recv_sge)    \
	X(cap.max_inline_data, max_inline_data) X(pkey_index, pkey_index)      \
	X(alt_pkey_index, alt_pkey_index) X(sq_draining, sq_draining)          \
	X(max_rd_atomic, max_rd_atomic)                                        \
	X(max_dest_rd_atomic, max_dest_rd_atomic)                              \
	X(min_rnr_timer, min_rnr_timer) X(port_num, port_num)                  \
	X(timeout, timeout) X(retry_cnt, retry_cnt) X(rnr_retry, rnr_retry)    \
	X(alt_port_num, alt_port_num) X(alt_timeout, alt_timeout)
/* With dst and src in scope: copy one field either way. */
#define SVL_FROM_KERN(_verbs, _kern) dst->_verbs = src->_kern;
#define SVL_TO_KERN(_verbs, _kern) dst->_kern = src->_verbs;

void svl_ah_attr_to_kern(struct ib_uverbs_ah_attr *dst,
			 const struct ibv_ah_attr *src);

/* The node GUID of a device, in host order (device.c). */
uint64_t svl_device_node_guid(struct ibv_device *device);

#endif /* SVL_H */
