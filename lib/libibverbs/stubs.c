// SPDX-License-Identifier: MIT
/*
 * softverbs: weak fallbacks for every default-versioned ("@@") export of
 * libibverbs.so.1 that is not implemented in lib/strings.c or
 * lib/private34.c.
 *
 * Why this file exists:
 *  - lib/libibverbs.map exports exactly the symbol set of Debian's
 *    libibverbs.so.1, and every consumer is linked with BIND_NOW, so every
 *    listed symbol must be defined or the consumer fails to load.
 *  - The real verbs are written in the other lib/ sources as ordinary (strong)
 *    definitions. When both a strong and a weak definition of a name are
 *    linked into the library, the linker silently takes the strong one, so
 *    a real implementation replaces the fallback here without any edit to
 *    this file. Do not make anything here non-weak.
 *  - Until then (or for verbs softverbs never implements), the fallback
 *    fails cleanly with EOPNOTSUPP, in the way the prototype allows:
 *      pointer results:   errno = EOPNOTSUPP, return NULL;
 *      verbs returning an errno value (destroy/modify/query_device/...):
 *                         return EOPNOTSUPP (errno set too);
 *      verbs documented as "-1 and errno" (get_cq_event, query_gid, ...):
 *                         errno = EOPNOTSUPP, return -1;
 *      void functions:    do nothing.
 *
 * Prototypes are those of <infiniband/verbs.h>. Several exported names are
 * also function-like macros there (they route to static inline wrappers:
 * ibv_get_device_list -> __ibv_get_device_list, ibv_query_port ->
 * ___ibv_query_port, ibv_reg_mr -> __ibv_reg_mr, ibv_reg_mr_iova ->
 * __ibv_reg_mr_iova); they are #undef'd below so that the exported names
 * themselves get defined. Only exported names are defined here, never the
 * inline wrappers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/verbs.h>

#undef ibv_get_device_list
#undef ibv_query_port
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

#define SVL_WEAK __attribute__((weak))

/* Exported, but not declared by the installed headers. */
int ibv_dofork_range(void *base, size_t size);
int ibv_dontfork_range(void *base, size_t size);
const char *ibv_get_sysfs_path(void);
int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
		       unsigned int index, int *type);

/* Internal helper provided by lib/device.c (used by lib/strings.c). */
uint64_t svl_device_node_guid(struct ibv_device *device);

static inline void *fail_ptr(void)
{
	errno = EOPNOTSUPP;
	return NULL;
}

static inline int fail_errno(void)
{
	errno = EOPNOTSUPP;
	return EOPNOTSUPP;
}

static inline int fail_minus1(void)
{
	errno = EOPNOTSUPP;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Internal                                                            */
/* ------------------------------------------------------------------ */

/* Node GUID of a device, host order; 0 until lib/device.c provides it. */
SVL_WEAK uint64_t svl_device_node_guid(struct ibv_device *device)
{
	return 0;
}

/* ------------------------------------------------------------------ */
/* IBVERBS_1.0 defaults                                                */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_comp_channel *
ibv_create_comp_channel(struct ibv_context *context)
{
	return fail_ptr();
}

SVL_WEAK int ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	return fail_errno();
}

/* Not a failure: the conventional sysfs mount point. */
SVL_WEAK const char *ibv_get_sysfs_path(void)
{
	return "/sys";
}

/* ------------------------------------------------------------------ */
/* Devices and contexts                                                */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_device **ibv_get_device_list(int *num_devices)
{
	if (num_devices)
		*num_devices = 0;
	return fail_ptr();
}

SVL_WEAK void ibv_free_device_list(struct ibv_device **list)
{
}

SVL_WEAK int ibv_get_device_index(struct ibv_device *device)
{
	return -1;
}

SVL_WEAK struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	return fail_ptr();
}

SVL_WEAK int ibv_close_device(struct ibv_context *context)
{
	return fail_minus1();
}

SVL_WEAK struct ibv_context *ibv_import_device(int cmd_fd)
{
	return fail_ptr();
}

SVL_WEAK int ibv_get_async_event(struct ibv_context *context,
				 struct ibv_async_event *event)
{
	return fail_minus1();
}

SVL_WEAK void ibv_ack_async_event(struct ibv_async_event *event)
{
}

SVL_WEAK int ibv_query_device(struct ibv_context *context,
			      struct ibv_device_attr *device_attr)
{
	return fail_errno();
}

SVL_WEAK int ibv_query_port(struct ibv_context *context, uint8_t port_num,
			    struct _compat_ibv_port_attr *port_attr)
{
	return fail_errno();
}

SVL_WEAK int ibv_query_gid(struct ibv_context *context, uint8_t port_num,
			   int index, union ibv_gid *gid)
{
	return fail_minus1();
}

SVL_WEAK int _ibv_query_gid_ex(struct ibv_context *context, uint32_t port_num,
			       uint32_t gid_index, struct ibv_gid_entry *entry,
			       uint32_t flags, size_t entry_size)
{
	return fail_errno();
}

/* Returns the number of entries or a negative errno value. */
SVL_WEAK ssize_t _ibv_query_gid_table(struct ibv_context *context,
				      struct ibv_gid_entry *entries,
				      size_t max_entries, uint32_t flags,
				      size_t entry_size)
{
	return -fail_errno();
}

SVL_WEAK int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
				unsigned int index, int *type)
{
	return fail_minus1();
}

SVL_WEAK int ibv_query_pkey(struct ibv_context *context, uint8_t port_num,
			    int index, __be16 *pkey)
{
	return fail_minus1();
}

SVL_WEAK int ibv_get_pkey_index(struct ibv_context *context, uint8_t port_num,
				__be16 pkey)
{
	return fail_minus1();
}

/* ------------------------------------------------------------------ */
/* Fork ranges                                                         */
/* ------------------------------------------------------------------ */

/*
 * Not a failure: softverbs never pins memory, so ibv_is_fork_initialized()
 * says IBV_FORK_UNNEEDED and there is nothing to mark (same as rdma-core
 * when fork support is unneeded).
 */
SVL_WEAK int ibv_dofork_range(void *base, size_t size)
{
	return 0;
}

SVL_WEAK int ibv_dontfork_range(void *base, size_t size)
{
	return 0;
}

/* ------------------------------------------------------------------ */
/* Protection domains and memory regions                               */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	return fail_ptr();
}

SVL_WEAK int ibv_dealloc_pd(struct ibv_pd *pd)
{
	return fail_errno();
}

SVL_WEAK struct ibv_pd *ibv_import_pd(struct ibv_context *context,
				      uint32_t pd_handle)
{
	return fail_ptr();
}

SVL_WEAK void ibv_unimport_pd(struct ibv_pd *pd)
{
}

SVL_WEAK struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length,
				   int access)
{
	return fail_ptr();
}

SVL_WEAK struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr,
					size_t length, uint64_t iova,
					int access)
{
	return fail_ptr();
}

SVL_WEAK struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
					 size_t length, uint64_t iova,
					 unsigned int access)
{
	return fail_ptr();
}

SVL_WEAK struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
					  size_t length, uint64_t iova, int fd,
					  int access)
{
	return fail_ptr();
}

/* Returns an enum ibv_rereg_mr_err_code; the old MR stays valid. */
SVL_WEAK int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd,
			  void *addr, size_t length, int access)
{
	errno = EOPNOTSUPP;
	return IBV_REREG_MR_ERR_INPUT;
}

SVL_WEAK int ibv_dereg_mr(struct ibv_mr *mr)
{
	return fail_errno();
}

SVL_WEAK struct ibv_mr *ibv_import_mr(struct ibv_pd *pd, uint32_t mr_handle)
{
	return fail_ptr();
}

SVL_WEAK void ibv_unimport_mr(struct ibv_mr *mr)
{
}

SVL_WEAK struct ibv_dm *ibv_import_dm(struct ibv_context *context,
				      uint32_t dm_handle)
{
	return fail_ptr();
}

SVL_WEAK void ibv_unimport_dm(struct ibv_dm *dm)
{
}

/* ------------------------------------------------------------------ */
/* Completion queues and channels                                      */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_cq *ibv_create_cq(struct ibv_context *context, int cqe,
				      void *cq_context,
				      struct ibv_comp_channel *channel,
				      int comp_vector)
{
	return fail_ptr();
}

SVL_WEAK int ibv_resize_cq(struct ibv_cq *cq, int cqe)
{
	return fail_errno();
}

SVL_WEAK int ibv_destroy_cq(struct ibv_cq *cq)
{
	return fail_errno();
}

SVL_WEAK int ibv_get_cq_event(struct ibv_comp_channel *channel,
			      struct ibv_cq **cq, void **cq_context)
{
	return fail_minus1();
}

SVL_WEAK void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
}

/* ------------------------------------------------------------------ */
/* Shared receive queues                                               */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_srq *ibv_create_srq(struct ibv_pd *pd,
					struct ibv_srq_init_attr *srq_init_attr)
{
	return fail_ptr();
}

SVL_WEAK int ibv_modify_srq(struct ibv_srq *srq, struct ibv_srq_attr *srq_attr,
			    int srq_attr_mask)
{
	return fail_errno();
}

SVL_WEAK int ibv_query_srq(struct ibv_srq *srq, struct ibv_srq_attr *srq_attr)
{
	return fail_errno();
}

SVL_WEAK int ibv_destroy_srq(struct ibv_srq *srq)
{
	return fail_errno();
}

/* ------------------------------------------------------------------ */
/* Queue pairs                                                         */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_qp *ibv_create_qp(struct ibv_pd *pd,
				      struct ibv_qp_init_attr *qp_init_attr)
{
	return fail_ptr();
}

SVL_WEAK int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr,
			   int attr_mask)
{
	return fail_errno();
}

SVL_WEAK int ibv_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr,
			  int attr_mask, struct ibv_qp_init_attr *init_attr)
{
	return fail_errno();
}

SVL_WEAK int ibv_destroy_qp(struct ibv_qp *qp)
{
	return fail_errno();
}

SVL_WEAK struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *qp)
{
	return fail_ptr();
}

/* Returns 1 if in-order placement is guaranteed, 0 otherwise (no errno). */
SVL_WEAK int ibv_query_qp_data_in_order(struct ibv_qp *qp,
					enum ibv_wr_opcode op, uint32_t flags)
{
	return 0;
}

SVL_WEAK int ibv_set_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return fail_errno();
}

SVL_WEAK int ibv_query_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return fail_errno();
}

SVL_WEAK int ibv_attach_mcast(struct ibv_qp *qp, const union ibv_gid *gid,
			      uint16_t lid)
{
	return fail_errno();
}

SVL_WEAK int ibv_detach_mcast(struct ibv_qp *qp, const union ibv_gid *gid,
			      uint16_t lid)
{
	return fail_errno();
}

/* ------------------------------------------------------------------ */
/* Address handles                                                     */
/* ------------------------------------------------------------------ */

SVL_WEAK struct ibv_ah *ibv_create_ah(struct ibv_pd *pd,
				      struct ibv_ah_attr *attr)
{
	return fail_ptr();
}

SVL_WEAK int ibv_init_ah_from_wc(struct ibv_context *context, uint8_t port_num,
				 struct ibv_wc *wc, struct ibv_grh *grh,
				 struct ibv_ah_attr *ah_attr)
{
	return fail_minus1();
}

SVL_WEAK struct ibv_ah *ibv_create_ah_from_wc(struct ibv_pd *pd,
					      struct ibv_wc *wc,
					      struct ibv_grh *grh,
					      uint8_t port_num)
{
	return fail_ptr();
}

SVL_WEAK int ibv_destroy_ah(struct ibv_ah *ah)
{
	return fail_errno();
}
