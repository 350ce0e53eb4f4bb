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

/*
 * Define svl_compat_<name>_1_0 and bind it as ibv_<name>@IBVERBS_1.0; it
 * fails with compat_fail_<how>() (or, _VOID, does nothing).
 */
#define COMPAT_1_0(_type, _name, _how, ...)                               \
	_type svl_compat_##_name##_1_0(__VA_ARGS__);                      \
	SVL_COMPAT(svl_compat_##_name##_1_0, ibv_##_name, "IBVERBS_1.0"); \
	_type svl_compat_##_name##_1_0(__VA_ARGS__)                       \
	{                                                                 \
		return compat_fail_##_how();                              \
	}
#define COMPAT_1_0_VOID(_name, ...)                                       \
	void svl_compat_##_name##_1_0(__VA_ARGS__);                       \
	SVL_COMPAT(svl_compat_##_name##_1_0, ibv_##_name, "IBVERBS_1.0"); \
	void svl_compat_##_name##_1_0(__VA_ARGS__)                        \
	{                                                                 \
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

COMPAT_1_0_VOID(free_device_list, void **list);
COMPAT_1_0(const char *, get_device_name, ptr, void *device);

uint64_t svl_compat_get_device_guid_1_0(void *device);
SVL_COMPAT(svl_compat_get_device_guid_1_0, ibv_get_device_guid, "IBVERBS_1.0");
uint64_t svl_compat_get_device_guid_1_0(void *device)
{
	errno = EOPNOTSUPP;
	return 0;
}

COMPAT_1_0(void *, open_device, ptr, void *device);
COMPAT_1_0(int, close_device, minus1, void *context);
COMPAT_1_0(int, get_async_event, minus1, void *context, void *event);
COMPAT_1_0_VOID(ack_async_event, void *event);
COMPAT_1_0(int, query_device, errno, void *context, void *device_attr);
COMPAT_1_0(int, query_port, errno, void *context, uint8_t port_num,
	   void *port_attr);
COMPAT_1_0(int, query_gid, minus1, void *context, uint8_t port_num, int index,
	   void *gid);
COMPAT_1_0(int, query_pkey, minus1, void *context, uint8_t port_num, int index,
	   uint16_t *pkey);

/* ------------------------------------------------------------------ */
/* PD, MR                                                              */
/* ------------------------------------------------------------------ */

COMPAT_1_0(void *, alloc_pd, ptr, void *context);
COMPAT_1_0(int, dealloc_pd, errno, void *pd);
COMPAT_1_0(void *, reg_mr, ptr, void *pd, void *addr, size_t length,
	   int access);
COMPAT_1_0(int, dereg_mr, errno, void *mr);

/* ------------------------------------------------------------------ */
/* CQ                                                                  */
/* ------------------------------------------------------------------ */

COMPAT_1_0(void *, create_cq, ptr, void *context, int cqe, void *cq_context,
	   void *channel, int comp_vector);
COMPAT_1_0(int, resize_cq, errno, void *cq, int cqe);
COMPAT_1_0(int, destroy_cq, errno, void *cq);
COMPAT_1_0(int, get_cq_event, minus1, void *channel, void **cq,
	   void **cq_context);
COMPAT_1_0_VOID(ack_cq_events, void *cq, unsigned int nevents);

/* ------------------------------------------------------------------ */
/* SRQ                                                                 */
/* ------------------------------------------------------------------ */

COMPAT_1_0(void *, create_srq, ptr, void *pd, void *srq_init_attr);
COMPAT_1_0(int, modify_srq, errno, void *srq, void *srq_attr,
	   int srq_attr_mask);
COMPAT_1_0(int, query_srq, errno, void *srq, void *srq_attr);
COMPAT_1_0(int, destroy_srq, errno, void *srq);

/* ------------------------------------------------------------------ */
/* QP                                                                  */
/* ------------------------------------------------------------------ */

COMPAT_1_0(void *, create_qp, ptr, void *pd, void *qp_init_attr);
COMPAT_1_0(int, query_qp, errno, void *qp, void *attr, int attr_mask,
	   void *init_attr);
COMPAT_1_0(int, modify_qp, errno, void *qp, void *attr, int attr_mask);
COMPAT_1_0(int, destroy_qp, errno, void *qp);
COMPAT_1_0(int, attach_mcast, errno, void *qp, const void *gid, uint16_t lid);
COMPAT_1_0(int, detach_mcast, errno, void *qp, const void *gid, uint16_t lid);

/* ------------------------------------------------------------------ */
/* AH                                                                  */
/* ------------------------------------------------------------------ */

COMPAT_1_0(void *, create_ah, ptr, void *pd, void *attr);
COMPAT_1_0(int, destroy_ah, errno, void *ah);

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
