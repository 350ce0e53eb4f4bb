// SPDX-License-Identifier: MIT
/*
 * softverbs: the old, non-default symbol versions of libibverbs.so.1.
 *
 * Debian's libibverbs exports 33 verbs a second time as "name@IBVERBS_1.0"
 * (binaries linked against libibverbs 1.0, before 2006, bind to these),
 * plus "ibv_register_driver@IBVERBS_1.1" (the pre-verbs_register_driver
 * provider registration hook). rdma-core backs the 1.0 ones with wrappers
 * that translate to and from the old 1.0 struct layouts (struct
 * ibv_device_1_0, ibv_context_1_0, ...).
 *
 * softverbs only has to provide these under their exact versions so that
 * nothing fails to resolve; every one of them fails cleanly instead:
 * errno = EOPNOTSUPP and NULL for pointer results, EOPNOTSUPP for verbs
 * that return an errno value, -1 for verbs whose 1.0 contract is
 * "-1 and errno", nothing for void functions. The old struct layouts are
 * never touched, so opaque pointers stand in for them.
 *
 * The implementation names (svl_compat_*) are global so that .symver can
 * bind them; lib/libibverbs.map makes them local, leaving only the
 * versioned aliases in the dynamic symbol table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Bind impl as the non-default version "name@node" (node: a string). */
#define SVL_COMPAT(impl, name, node) \
	__asm__(".symver " #impl ", " #name "@" node)

static void *compat_fail_ptr(void)
{
	errno = EOPNOTSUPP;
	return NULL;
}

static int compat_fail_errno(void)
{
	errno = EOPNOTSUPP;
	return EOPNOTSUPP;
}

static int compat_fail_minus1(void)
{
	errno = EOPNOTSUPP;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Devices and contexts                                                */
/* ------------------------------------------------------------------ */

void **svl_compat_get_device_list_1_0(int *num_devices);
SVL_COMPAT(svl_compat_get_device_list_1_0, ibv_get_device_list, "IBVERBS_1.0");
void **svl_compat_get_device_list_1_0(int *num_devices)
{
	if (num_devices)
		*num_devices = 0;
	return compat_fail_ptr();
}

void svl_compat_free_device_list_1_0(void **list);
SVL_COMPAT(svl_compat_free_device_list_1_0, ibv_free_device_list,
	   "IBVERBS_1.0");
void svl_compat_free_device_list_1_0(void **list)
{
}

const char *svl_compat_get_device_name_1_0(void *device);
SVL_COMPAT(svl_compat_get_device_name_1_0, ibv_get_device_name, "IBVERBS_1.0");
const char *svl_compat_get_device_name_1_0(void *device)
{
	return compat_fail_ptr();
}

uint64_t svl_compat_get_device_guid_1_0(void *device);
SVL_COMPAT(svl_compat_get_device_guid_1_0, ibv_get_device_guid, "IBVERBS_1.0");
uint64_t svl_compat_get_device_guid_1_0(void *device)
{
	errno = EOPNOTSUPP;
	return 0;
}

void *svl_compat_open_device_1_0(void *device);
SVL_COMPAT(svl_compat_open_device_1_0, ibv_open_device, "IBVERBS_1.0");
void *svl_compat_open_device_1_0(void *device)
{
	return compat_fail_ptr();
}

int svl_compat_close_device_1_0(void *context);
SVL_COMPAT(svl_compat_close_device_1_0, ibv_close_device, "IBVERBS_1.0");
int svl_compat_close_device_1_0(void *context)
{
	return compat_fail_minus1();
}

int svl_compat_get_async_event_1_0(void *context, void *event);
SVL_COMPAT(svl_compat_get_async_event_1_0, ibv_get_async_event, "IBVERBS_1.0");
int svl_compat_get_async_event_1_0(void *context, void *event)
{
	return compat_fail_minus1();
}

void svl_compat_ack_async_event_1_0(void *event);
SVL_COMPAT(svl_compat_ack_async_event_1_0, ibv_ack_async_event, "IBVERBS_1.0");
void svl_compat_ack_async_event_1_0(void *event)
{
}

int svl_compat_query_device_1_0(void *context, void *device_attr);
SVL_COMPAT(svl_compat_query_device_1_0, ibv_query_device, "IBVERBS_1.0");
int svl_compat_query_device_1_0(void *context, void *device_attr)
{
	return compat_fail_errno();
}

int svl_compat_query_port_1_0(void *context, uint8_t port_num, void *port_attr);
SVL_COMPAT(svl_compat_query_port_1_0, ibv_query_port, "IBVERBS_1.0");
int svl_compat_query_port_1_0(void *context, uint8_t port_num, void *port_attr)
{
	return compat_fail_errno();
}

int svl_compat_query_gid_1_0(void *context, uint8_t port_num, int index,
			     void *gid);
SVL_COMPAT(svl_compat_query_gid_1_0, ibv_query_gid, "IBVERBS_1.0");
int svl_compat_query_gid_1_0(void *context, uint8_t port_num, int index,
			     void *gid)
{
	return compat_fail_minus1();
}

int svl_compat_query_pkey_1_0(void *context, uint8_t port_num, int index,
			      uint16_t *pkey);
SVL_COMPAT(svl_compat_query_pkey_1_0, ibv_query_pkey, "IBVERBS_1.0");
int svl_compat_query_pkey_1_0(void *context, uint8_t port_num, int index,
			      uint16_t *pkey)
{
	return compat_fail_minus1();
}

/* ------------------------------------------------------------------ */
/* PD, MR                                                              */
/* ------------------------------------------------------------------ */

void *svl_compat_alloc_pd_1_0(void *context);
SVL_COMPAT(svl_compat_alloc_pd_1_0, ibv_alloc_pd, "IBVERBS_1.0");
void *svl_compat_alloc_pd_1_0(void *context)
{
	return compat_fail_ptr();
}

int svl_compat_dealloc_pd_1_0(void *pd);
SVL_COMPAT(svl_compat_dealloc_pd_1_0, ibv_dealloc_pd, "IBVERBS_1.0");
int svl_compat_dealloc_pd_1_0(void *pd)
{
	return compat_fail_errno();
}

void *svl_compat_reg_mr_1_0(void *pd, void *addr, size_t length, int access);
SVL_COMPAT(svl_compat_reg_mr_1_0, ibv_reg_mr, "IBVERBS_1.0");
void *svl_compat_reg_mr_1_0(void *pd, void *addr, size_t length, int access)
{
	return compat_fail_ptr();
}

int svl_compat_dereg_mr_1_0(void *mr);
SVL_COMPAT(svl_compat_dereg_mr_1_0, ibv_dereg_mr, "IBVERBS_1.0");
int svl_compat_dereg_mr_1_0(void *mr)
{
	return compat_fail_errno();
}

/* ------------------------------------------------------------------ */
/* CQ                                                                  */
/* ------------------------------------------------------------------ */

void *svl_compat_create_cq_1_0(void *context, int cqe, void *cq_context,
			       void *channel, int comp_vector);
SVL_COMPAT(svl_compat_create_cq_1_0, ibv_create_cq, "IBVERBS_1.0");
void *svl_compat_create_cq_1_0(void *context, int cqe, void *cq_context,
			       void *channel, int comp_vector)
{
	return compat_fail_ptr();
}

int svl_compat_resize_cq_1_0(void *cq, int cqe);
SVL_COMPAT(svl_compat_resize_cq_1_0, ibv_resize_cq, "IBVERBS_1.0");
int svl_compat_resize_cq_1_0(void *cq, int cqe)
{
	return compat_fail_errno();
}

int svl_compat_destroy_cq_1_0(void *cq);
SVL_COMPAT(svl_compat_destroy_cq_1_0, ibv_destroy_cq, "IBVERBS_1.0");
int svl_compat_destroy_cq_1_0(void *cq)
{
	return compat_fail_errno();
}

int svl_compat_get_cq_event_1_0(void *channel, void **cq, void **cq_context);
SVL_COMPAT(svl_compat_get_cq_event_1_0, ibv_get_cq_event, "IBVERBS_1.0");
int svl_compat_get_cq_event_1_0(void *channel, void **cq, void **cq_context)
{
	return compat_fail_minus1();
}

void svl_compat_ack_cq_events_1_0(void *cq, unsigned int nevents);
SVL_COMPAT(svl_compat_ack_cq_events_1_0, ibv_ack_cq_events, "IBVERBS_1.0");
void svl_compat_ack_cq_events_1_0(void *cq, unsigned int nevents)
{
}

/* ------------------------------------------------------------------ */
/* SRQ                                                                 */
/* ------------------------------------------------------------------ */

void *svl_compat_create_srq_1_0(void *pd, void *srq_init_attr);
SVL_COMPAT(svl_compat_create_srq_1_0, ibv_create_srq, "IBVERBS_1.0");
void *svl_compat_create_srq_1_0(void *pd, void *srq_init_attr)
{
	return compat_fail_ptr();
}

int svl_compat_modify_srq_1_0(void *srq, void *srq_attr, int srq_attr_mask);
SVL_COMPAT(svl_compat_modify_srq_1_0, ibv_modify_srq, "IBVERBS_1.0");
int svl_compat_modify_srq_1_0(void *srq, void *srq_attr, int srq_attr_mask)
{
	return compat_fail_errno();
}

int svl_compat_query_srq_1_0(void *srq, void *srq_attr);
SVL_COMPAT(svl_compat_query_srq_1_0, ibv_query_srq, "IBVERBS_1.0");
int svl_compat_query_srq_1_0(void *srq, void *srq_attr)
{
	return compat_fail_errno();
}

int svl_compat_destroy_srq_1_0(void *srq);
SVL_COMPAT(svl_compat_destroy_srq_1_0, ibv_destroy_srq, "IBVERBS_1.0");
int svl_compat_destroy_srq_1_0(void *srq)
{
	return compat_fail_errno();
}

/* ------------------------------------------------------------------ */
/* QP                                                                  */
/* ------------------------------------------------------------------ */

void *svl_compat_create_qp_1_0(void *pd, void *qp_init_attr);
SVL_COMPAT(svl_compat_create_qp_1_0, ibv_create_qp, "IBVERBS_1.0");
void *svl_compat_create_qp_1_0(void *pd, void *qp_init_attr)
{
	return compat_fail_ptr();
}

int svl_compat_query_qp_1_0(void *qp, void *attr, int attr_mask,
			    void *init_attr);
SVL_COMPAT(svl_compat_query_qp_1_0, ibv_query_qp, "IBVERBS_1.0");
int svl_compat_query_qp_1_0(void *qp, void *attr, int attr_mask,
			    void *init_attr)
{
	return compat_fail_errno();
}

int svl_compat_modify_qp_1_0(void *qp, void *attr, int attr_mask);
SVL_COMPAT(svl_compat_modify_qp_1_0, ibv_modify_qp, "IBVERBS_1.0");
int svl_compat_modify_qp_1_0(void *qp, void *attr, int attr_mask)
{
	return compat_fail_errno();
}

int svl_compat_destroy_qp_1_0(void *qp);
SVL_COMPAT(svl_compat_destroy_qp_1_0, ibv_destroy_qp, "IBVERBS_1.0");
int svl_compat_destroy_qp_1_0(void *qp)
{
	return compat_fail_errno();
}

int svl_compat_attach_mcast_1_0(void *qp, const void *gid, uint16_t lid);
SVL_COMPAT(svl_compat_attach_mcast_1_0, ibv_attach_mcast, "IBVERBS_1.0");
int svl_compat_attach_mcast_1_0(void *qp, const void *gid, uint16_t lid)
{
	return compat_fail_errno();
}

int svl_compat_detach_mcast_1_0(void *qp, const void *gid, uint16_t lid);
SVL_COMPAT(svl_compat_detach_mcast_1_0, ibv_detach_mcast, "IBVERBS_1.0");
int svl_compat_detach_mcast_1_0(void *qp, const void *gid, uint16_t lid)
{
	return compat_fail_errno();
}

/* ------------------------------------------------------------------ */
/* AH                                                                  */
/* ------------------------------------------------------------------ */

void *svl_compat_create_ah_1_0(void *pd, void *attr);
SVL_COMPAT(svl_compat_create_ah_1_0, ibv_create_ah, "IBVERBS_1.0");
void *svl_compat_create_ah_1_0(void *pd, void *attr)
{
	return compat_fail_ptr();
}

int svl_compat_destroy_ah_1_0(void *ah);
SVL_COMPAT(svl_compat_destroy_ah_1_0, ibv_destroy_ah, "IBVERBS_1.0");
int svl_compat_destroy_ah_1_0(void *ah)
{
	return compat_fail_errno();
}

/* ------------------------------------------------------------------ */
/* ibv_register_driver@IBVERBS_1.1                                     */
/* ------------------------------------------------------------------ */

/*
 * Old-style provider registration (name + init callback). No provider
 * built against rdma-core >= 13 calls it, and softverbs loads no foreign
 * providers anyway: accept and ignore.
 */
void svl_compat_register_driver_1_1(const char *name, void *init_func);
SVL_COMPAT(svl_compat_register_driver_1_1, ibv_register_driver, "IBVERBS_1.1");
void svl_compat_register_driver_1_1(const char *name, void *init_func)
{
}
