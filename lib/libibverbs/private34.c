// SPDX-License-Identifier: MIT
/*
 * softverbs: the IBVERBS_PRIVATE_34 interface of libibverbs.so.1.
 *
 * IBVERBS_PRIVATE_34 is rdma-core's provider-facing ABI: the in-tree
 * providers (libmlx5, libefa, libmlx4, libmana, ...) are built against it
 * and import from it with BIND_NOW, so all of it must exist for those
 * libraries, and everything that links them (all of perftest, pyverbs'
 * provider modules), to load at all.
 *
 * softverbs drives its own device itself and never hands a device to a
 * foreign provider:
 *  - verbs_register_driver_34() (called from the providers' constructors)
 *    accepts the registration, records the provider name for debugging and
 *    never matches anything;
 *  - every command helper (ibv_cmd_*, execute_ioctl, ...) is therefore only
 *    reachable by a provider that owns a device, which cannot happen; they
 *    fail with EOPNOTSUPP (errno set as well) instead of touching memory.
 *
 * The real prototypes use types from rdma-core's private driver.h /
 * kern-abi.h (struct verbs_device_ops, verbs_qp, ibv_command_buffer, the
 * ibv_* command structs...), which are not installed. Where such a type
 * appears, an opaque "void *" stands in for it; argument counts, integer
 * widths and return types follow rdma-core 44.
 *
 * ibv_query_gid_type (also IBVERBS_PRIVATE_34) is implemented elsewhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

#include <infiniband/verbs.h>

/* ------------------------------------------------------------------ */
/* Data                                                                */
/* ------------------------------------------------------------------ */

/*
 * Read by providers (libmlx5) to decide whether destroying an object of a
 * disassociated device may report success. softverbs never disassociates a
 * foreign provider's device.
 */
bool verbs_allow_disassociate_destroy;

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

void __verbs_log(struct verbs_context *ctx, uint32_t level, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

/*
 * Print only when VERBS_LOG_LEVEL is set. A numeric value is a threshold
 * (rdma-core's levels: 1 error, 2 warning, 3 info, 4 debug); any other
 * value prints everything.
 */
void __verbs_log(struct verbs_context *ctx, uint32_t level, const char *fmt,
		 ...)
{
	const char *env = getenv("VERBS_LOG_LEVEL");
	va_list ap;
	char *end;
	unsigned long max;

	if (!env || !*env)
		return;
	max = strtoul(env, &end, 0);
	if (*end == '\0' && level > max)
		return;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Provider registration                                               */
/* ------------------------------------------------------------------ */

#define SVL_MAX_FOREIGN_DRIVERS 32

static const char *foreign_drivers[SVL_MAX_FOREIGN_DRIVERS];
static unsigned int num_foreign_drivers;
static pthread_mutex_t foreign_drivers_lock = PTHREAD_MUTEX_INITIALIZER;

void verbs_register_driver_34(const void *ops);

/*
 * ops points to the provider's struct verbs_device_ops, whose first member
 * is the provider name (const char *). The name is kept (it lives in the
 * provider's .rodata, valid while the provider is loaded) for
 * svl_foreign_driver_names(); the provider is never asked to match a device.
 */
void verbs_register_driver_34(const void *ops)
{
	const char *name = NULL;

	if (ops)
		name = *(const char *const *)ops;

	pthread_mutex_lock(&foreign_drivers_lock);
	if (num_foreign_drivers < SVL_MAX_FOREIGN_DRIVERS)
		foreign_drivers[num_foreign_drivers++] = name;
	pthread_mutex_unlock(&foreign_drivers_lock);

	__verbs_log(NULL, 4,
		    "softverbs: provider '%s' registered; it will not be used\n",
		    name ? name : "(null)");
}

/*
 * Internal (local to the library): copy up to max registered provider
 * names into names[]; returns how many providers registered in total.
 */
unsigned int svl_foreign_driver_names(const char **names, unsigned int max);
unsigned int svl_foreign_driver_names(const char **names, unsigned int max)
{
	unsigned int n;

	pthread_mutex_lock(&foreign_drivers_lock);
	n = num_foreign_drivers;
	for (unsigned int i = 0; i < n && i < max; i++)
		names[i] = foreign_drivers[i];
	pthread_mutex_unlock(&foreign_drivers_lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* Context and object helpers used by providers                        */
/* ------------------------------------------------------------------ */

static int cmd_fail(void)
{
	errno = EOPNOTSUPP;
	return EOPNOTSUPP;
}

void *_verbs_init_and_alloc_context(struct ibv_device *device, int cmd_fd,
				    size_t alloc_size,
				    struct verbs_context *context_offset,
				    uint32_t driver_id);
void *_verbs_init_and_alloc_context(struct ibv_device *device, int cmd_fd,
				    size_t alloc_size,
				    struct verbs_context *context_offset,
				    uint32_t driver_id)
{
	errno = EOPNOTSUPP;
	return NULL;
}

void verbs_uninit_context(struct verbs_context *context);
void verbs_uninit_context(struct verbs_context *context)
{
}

void verbs_set_ops(struct verbs_context *vctx, const void *ops);
void verbs_set_ops(struct verbs_context *vctx, const void *ops)
{
}

struct ibv_context *verbs_open_device(struct ibv_device *device,
				      void *private_data);
struct ibv_context *verbs_open_device(struct ibv_device *device,
				      void *private_data)
{
	errno = EOPNOTSUPP;
	return NULL;
}

/*
 * Generic part of CQ initialisation, done by a provider after its driver
 * command succeeded. It only fills in struct ibv_cq, so it is real.
 */
void verbs_init_cq(struct ibv_cq *cq, struct ibv_context *context,
		   struct ibv_comp_channel *channel, void *cq_context);
void verbs_init_cq(struct ibv_cq *cq, struct ibv_context *context,
		   struct ibv_comp_channel *channel, void *cq_context)
{
	cq->context = context;
	cq->channel = channel;
	cq->cq_context = cq_context;
	cq->comp_events_completed = 0;
	cq->async_events_completed = 0;
	pthread_mutex_init(&cq->mutex, NULL);
	pthread_cond_init(&cq->cond, NULL);

	if (channel) {
		pthread_mutex_lock(&context->mutex);
		channel->refcnt++;
		pthread_mutex_unlock(&context->mutex);
	}
}

int ibv_read_ibdev_sysfs_file(char *buf, size_t size, void *sysfs_dev,
			      const char *fnfmt, ...)
	__attribute__((format(printf, 4, 5)));
int ibv_read_ibdev_sysfs_file(char *buf, size_t size, void *sysfs_dev,
			      const char *fnfmt, ...)
{
	errno = EOPNOTSUPP;
	return -1;
}

/* ------------------------------------------------------------------ */
/* ioctl() command buffers                                             */
/* ------------------------------------------------------------------ */

/* Attributes in the command-buffer chain: nothing is ever chained here. */
unsigned int __ioctl_final_num_attrs(unsigned int num_attrs, void *link);
unsigned int __ioctl_final_num_attrs(unsigned int num_attrs, void *link)
{
	return num_attrs;
}

int execute_ioctl(struct ibv_context *context, void *cmd);
int execute_ioctl(struct ibv_context *context, void *cmd)
{
	return cmd_fail();
}

/* ------------------------------------------------------------------ */
/* ibv_cmd_*: kernel uverbs command wrappers                           */
/* ------------------------------------------------------------------ */

/*
 * Declares and defines one ibv_cmd_* that fails with EOPNOTSUPP. The
 * prototype is given once, as the macro's variable arguments.
 */
#define SVL_CMD(name, ...)              \
	int name(__VA_ARGS__);          \
	int name(__VA_ARGS__)           \
	{                               \
		return cmd_fail();      \
	}

/* Context and device */
SVL_CMD(ibv_cmd_get_context, void *context, void *cmd, size_t cmd_size,
	void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_query_context, struct ibv_context *ctx, void *driver)
SVL_CMD(ibv_cmd_query_device_any, struct ibv_context *context,
	const struct ibv_query_device_ex_input *input,
	struct ibv_device_attr_ex *attr, size_t attr_size, void *resp,
	size_t *resp_size)
SVL_CMD(ibv_cmd_query_port, struct ibv_context *context, uint8_t port_num,
	struct ibv_port_attr *port_attr, void *cmd, size_t cmd_size)

/* PD, XRCD */
SVL_CMD(ibv_cmd_alloc_pd, struct ibv_context *context, struct ibv_pd *pd,
	void *cmd, size_t cmd_size, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_dealloc_pd, struct ibv_pd *pd)
SVL_CMD(ibv_cmd_open_xrcd, struct ibv_context *context, void *xrcd,
	int vxrcd_size, struct ibv_xrcd_init_attr *attr, void *cmd,
	size_t cmd_size, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_close_xrcd, void *xrcd)

/* MR, MW, DM */
SVL_CMD(ibv_cmd_reg_mr, struct ibv_pd *pd, void *addr, size_t length,
	uint64_t hca_va, int access, void *vmr, void *cmd, size_t cmd_size,
	void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_rereg_mr, void *vmr, uint32_t flags, void *addr,
	size_t length, uint64_t hca_va, int access, struct ibv_pd *pd,
	void *cmd, size_t cmd_sz, void *resp, size_t resp_sz)
SVL_CMD(ibv_cmd_dereg_mr, void *vmr)
SVL_CMD(ibv_cmd_query_mr, struct ibv_pd *pd, void *vmr, uint32_t mr_handle)
SVL_CMD(ibv_cmd_advise_mr, struct ibv_pd *pd,
	enum ibv_advise_mr_advice advice, uint32_t flags,
	struct ibv_sge *sg_list, uint32_t num_sge)
SVL_CMD(ibv_cmd_reg_dmabuf_mr, struct ibv_pd *pd, uint64_t offset,
	size_t length, uint64_t iova, int fd, int access, void *vmr)
SVL_CMD(ibv_cmd_reg_dm_mr, struct ibv_pd *pd, void *dm, uint64_t offset,
	size_t length, unsigned int access, void *vmr, void *link)
SVL_CMD(ibv_cmd_alloc_mw, struct ibv_pd *pd, enum ibv_mw_type type,
	struct ibv_mw *mw, void *cmd, size_t cmd_size, void *resp,
	size_t resp_size)
SVL_CMD(ibv_cmd_dealloc_mw, struct ibv_mw *mw)
SVL_CMD(ibv_cmd_alloc_dm, struct ibv_context *ctx,
	const struct ibv_alloc_dm_attr *dm_attr, void *dm, void *link)
SVL_CMD(ibv_cmd_free_dm, void *dm)

/* CQ */
SVL_CMD(ibv_cmd_create_cq, struct ibv_context *context, int cqe,
	struct ibv_comp_channel *channel, int comp_vector, struct ibv_cq *cq,
	void *cmd, size_t cmd_size, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_create_cq_ex, struct ibv_context *context,
	const struct ibv_cq_init_attr_ex *cq_attr, void *cq, void *cmd,
	size_t cmd_size, void *resp, size_t resp_size, uint32_t cmd_flags)
SVL_CMD(ibv_cmd_poll_cq, struct ibv_cq *cq, int ne, struct ibv_wc *wc)
SVL_CMD(ibv_cmd_req_notify_cq, struct ibv_cq *cq, int solicited_only)
SVL_CMD(ibv_cmd_resize_cq, struct ibv_cq *cq, int cqe, void *cmd,
	size_t cmd_size, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_modify_cq, struct ibv_cq *cq, struct ibv_modify_cq_attr *attr,
	void *cmd, size_t cmd_size)
SVL_CMD(ibv_cmd_destroy_cq, struct ibv_cq *cq)

/* SRQ */
SVL_CMD(ibv_cmd_create_srq, struct ibv_pd *pd, struct ibv_srq *srq,
	struct ibv_srq_init_attr *attr, void *cmd, size_t cmd_size, void *resp,
	size_t resp_size)
SVL_CMD(ibv_cmd_create_srq_ex, struct ibv_context *context, void *srq,
	struct ibv_srq_init_attr_ex *attr_ex, void *cmd, size_t cmd_size,
	void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_modify_srq, struct ibv_srq *srq, struct ibv_srq_attr *srq_attr,
	int srq_attr_mask, void *cmd, size_t cmd_size)
SVL_CMD(ibv_cmd_query_srq, struct ibv_srq *srq, struct ibv_srq_attr *srq_attr,
	void *cmd, size_t cmd_size)
SVL_CMD(ibv_cmd_destroy_srq, struct ibv_srq *srq)

/* QP */
SVL_CMD(ibv_cmd_create_qp, struct ibv_pd *pd, struct ibv_qp *qp,
	struct ibv_qp_init_attr *attr, void *cmd, size_t cmd_size, void *resp,
	size_t resp_size)
SVL_CMD(ibv_cmd_create_qp_ex, struct ibv_context *context, void *qp,
	struct ibv_qp_init_attr_ex *attr_ex, void *cmd, size_t cmd_size,
	void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_create_qp_ex2, struct ibv_context *context, void *qp,
	struct ibv_qp_init_attr_ex *qp_attr, void *cmd, size_t cmd_size,
	void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_open_qp, struct ibv_context *context, void *qp, int vqp_sz,
	struct ibv_qp_open_attr *attr, void *cmd, size_t cmd_size, void *resp,
	size_t resp_size)
SVL_CMD(ibv_cmd_query_qp, struct ibv_qp *qp, struct ibv_qp_attr *qp_attr,
	int attr_mask, struct ibv_qp_init_attr *qp_init_attr, void *cmd,
	size_t cmd_size)
SVL_CMD(ibv_cmd_modify_qp, struct ibv_qp *qp, struct ibv_qp_attr *attr,
	int attr_mask, void *cmd, size_t cmd_size)
SVL_CMD(ibv_cmd_modify_qp_ex, struct ibv_qp *qp, struct ibv_qp_attr *attr,
	int attr_mask, void *cmd, size_t cmd_size, void *resp,
	size_t resp_size)
SVL_CMD(ibv_cmd_destroy_qp, struct ibv_qp *qp)
SVL_CMD(ibv_cmd_post_send, struct ibv_qp *ibqp, struct ibv_send_wr *wr,
	struct ibv_send_wr **bad_wr)
SVL_CMD(ibv_cmd_post_recv, struct ibv_qp *ibqp, struct ibv_recv_wr *wr,
	struct ibv_recv_wr **bad_wr)
SVL_CMD(ibv_cmd_post_srq_recv, struct ibv_srq *srq, struct ibv_recv_wr *wr,
	struct ibv_recv_wr **bad_wr)
SVL_CMD(ibv_cmd_attach_mcast, struct ibv_qp *qp, const union ibv_gid *gid,
	uint16_t lid)
SVL_CMD(ibv_cmd_detach_mcast, struct ibv_qp *qp, const union ibv_gid *gid,
	uint16_t lid)

/* AH */
SVL_CMD(ibv_cmd_create_ah, struct ibv_pd *pd, struct ibv_ah *ah,
	struct ibv_ah_attr *attr, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_destroy_ah, struct ibv_ah *ah)

/* Flow steering and flow actions */
SVL_CMD(ibv_cmd_create_flow, struct ibv_qp *qp, struct ibv_flow *flow_id,
	struct ibv_flow_attr *flow_attr, void *ucmd, size_t ucmd_size)
SVL_CMD(ibv_cmd_destroy_flow, struct ibv_flow *flow_id)
SVL_CMD(ibv_cmd_create_flow_action_esp, struct ibv_context *ctx,
	struct ibv_flow_action_esp_attr *attr, void *flow_action, void *driver)
SVL_CMD(ibv_cmd_modify_flow_action_esp, void *flow_action,
	struct ibv_flow_action_esp_attr *attr, void *driver)
SVL_CMD(ibv_cmd_destroy_flow_action, void *action)

/* WQ and RSS indirection tables */
SVL_CMD(ibv_cmd_create_wq, struct ibv_context *context,
	struct ibv_wq_init_attr *wq_init_attr, struct ibv_wq *wq, void *cmd,
	size_t cmd_size, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_modify_wq, struct ibv_wq *wq, struct ibv_wq_attr *attr,
	void *cmd, size_t cmd_size)
SVL_CMD(ibv_cmd_destroy_wq, struct ibv_wq *wq)
SVL_CMD(ibv_cmd_create_rwq_ind_table, struct ibv_context *context,
	struct ibv_rwq_ind_table_init_attr *init_attr,
	struct ibv_rwq_ind_table *rwq_ind_table, void *resp, size_t resp_size)
SVL_CMD(ibv_cmd_destroy_rwq_ind_table, struct ibv_rwq_ind_table *rwq_ind_table)

/* Counters */
SVL_CMD(ibv_cmd_create_counters, struct ibv_context *context,
	struct ibv_counters_init_attr *init_attr, void *vcounters, void *link)
SVL_CMD(ibv_cmd_destroy_counters, void *vcounters)
SVL_CMD(ibv_cmd_read_counters, void *vcounters, uint64_t *counters_value,
	uint32_t ncounters, uint32_t flags, void *link)
