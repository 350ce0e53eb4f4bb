// SPDX-License-Identifier: MIT
/*
 * softverbs: pure helper functions of libibverbs.so.1.
 *
 * Everything here works without a device or the daemon: enum-to-string
 * tables, rate conversions, device name/GUID accessors, the fork-support
 * queries, the kernel-ABI struct conversion helpers (ibv_copy_*) and the
 * sysfs-file reader. These are strong definitions; lib/stubs.c does not
 * provide fallbacks for them.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <infiniband/sa.h>
#include <rdma/ib_user_sa.h>
#include <rdma/ib_user_verbs.h>

#include "svl.h"

/* Not declared by the installed verbs.h (they lived in driver.h/marshall.h). */
void ibv_copy_ah_attr_from_kern(struct ibv_ah_attr *dst,
				struct ib_uverbs_ah_attr *src);
void ibv_copy_qp_attr_from_kern(struct ibv_qp_attr *dst,
				struct ib_uverbs_qp_attr *src);
void ibv_copy_path_rec_from_kern(struct ibv_sa_path_rec *dst,
				 struct ib_user_path_rec *src);
void ibv_copy_path_rec_to_kern(struct ib_user_path_rec *dst,
			       struct ibv_sa_path_rec *src);
int ibv_read_sysfs_file(const char *dir, const char *file, char *buf,
			size_t size);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Enum to string                                                      */
/* ------------------------------------------------------------------ */

/* names[v], or "unknown" for a value outside the table or a hole in it. */
static const char *enum_name(const char *const *names, size_t n, long v)
{
	if (v < 0 || (size_t)v >= n || !names[v])
		return "unknown";
	return names[v];
}

#define ENUM_NAME(names, v) enum_name(names, ARRAY_SIZE(names), (long)(v))

const char *ibv_node_type_str(enum ibv_node_type node_type)
{
	static const char *const names[] = {
		[IBV_NODE_CA] = "InfiniBand channel adapter",
		[IBV_NODE_SWITCH] = "InfiniBand switch",
		[IBV_NODE_ROUTER] = "InfiniBand router",
		[IBV_NODE_RNIC] = "iWARP NIC",
		[IBV_NODE_USNIC] = "usNIC",
		[IBV_NODE_USNIC_UDP] = "usNIC UDP",
		[IBV_NODE_UNSPECIFIED] = "unspecified",
	};

	return ENUM_NAME(names, node_type);
}

const char *ibv_port_state_str(enum ibv_port_state port_state)
{
	static const char *const names[] = {
		[IBV_PORT_NOP] = "no state change (NOP)",
		[IBV_PORT_DOWN] = "down",
		[IBV_PORT_INIT] = "init",
		[IBV_PORT_ARMED] = "armed",
		[IBV_PORT_ACTIVE] = "active",
		[IBV_PORT_ACTIVE_DEFER] = "active defer",
	};

	return ENUM_NAME(names, port_state);
}

const char *ibv_event_type_str(enum ibv_event_type event)
{
	static const char *const names[] = {
		[IBV_EVENT_CQ_ERR] = "CQ error",
		[IBV_EVENT_QP_FATAL] = "local work queue catastrophic error",
		[IBV_EVENT_QP_REQ_ERR] = "invalid request local work queue error",
		[IBV_EVENT_QP_ACCESS_ERR] = "local access violation work queue error",
		[IBV_EVENT_COMM_EST] = "communication established",
		[IBV_EVENT_SQ_DRAINED] = "send queue drained",
		[IBV_EVENT_PATH_MIG] = "path migrated",
		[IBV_EVENT_PATH_MIG_ERR] = "path migration request error",
		[IBV_EVENT_DEVICE_FATAL] = "local catastrophic error",
		[IBV_EVENT_PORT_ACTIVE] = "port active",
		[IBV_EVENT_PORT_ERR] = "port error",
		[IBV_EVENT_LID_CHANGE] = "LID change",
		[IBV_EVENT_PKEY_CHANGE] = "P_Key change",
		[IBV_EVENT_SM_CHANGE] = "SM change",
		[IBV_EVENT_SRQ_ERR] = "SRQ catastrophic error",
		[IBV_EVENT_SRQ_LIMIT_REACHED] = "SRQ limit reached",
		[IBV_EVENT_QP_LAST_WQE_REACHED] = "last WQE reached",
		[IBV_EVENT_CLIENT_REREGISTER] = "client reregistration",
		[IBV_EVENT_GID_CHANGE] = "GID table change",
		[IBV_EVENT_WQ_FATAL] = "WQ fatal",
	};

	return ENUM_NAME(names, event);
}

const char *ibv_wc_status_str(enum ibv_wc_status status)
{
	static const char *const names[] = {
		[IBV_WC_SUCCESS] = "success",
		[IBV_WC_LOC_LEN_ERR] = "local length error",
		[IBV_WC_LOC_QP_OP_ERR] = "local QP operation error",
		[IBV_WC_LOC_EEC_OP_ERR] = "local EE context operation error",
		[IBV_WC_LOC_PROT_ERR] = "local protection error",
		[IBV_WC_WR_FLUSH_ERR] = "Work Request Flushed Error",
		[IBV_WC_MW_BIND_ERR] = "memory management operation error",
		[IBV_WC_BAD_RESP_ERR] = "bad response error",
		[IBV_WC_LOC_ACCESS_ERR] = "local access error",
		[IBV_WC_REM_INV_REQ_ERR] = "remote invalid request error",
		[IBV_WC_REM_ACCESS_ERR] = "remote access error",
		[IBV_WC_REM_OP_ERR] = "remote operation error",
		[IBV_WC_RETRY_EXC_ERR] = "transport retry counter exceeded",
		[IBV_WC_RNR_RETRY_EXC_ERR] = "RNR retry counter exceeded",
		[IBV_WC_LOC_RDD_VIOL_ERR] = "local RDD violation error",
		[IBV_WC_REM_INV_RD_REQ_ERR] = "remote invalid RD request",
		[IBV_WC_REM_ABORT_ERR] = "aborted error",
		[IBV_WC_INV_EECN_ERR] = "invalid EE context number",
		[IBV_WC_INV_EEC_STATE_ERR] = "invalid EE context state",
		[IBV_WC_FATAL_ERR] = "fatal error",
		[IBV_WC_RESP_TIMEOUT_ERR] = "response timeout error",
		[IBV_WC_GENERAL_ERR] = "general error",
		[IBV_WC_TM_ERR] = "TM error",
		[IBV_WC_TM_RNDV_INCOMPLETE] = "TM software rendezvous",
	};

	return ENUM_NAME(names, status);
}

/* ------------------------------------------------------------------ */
/* Rates                                                               */
/* ------------------------------------------------------------------ */

/*
 * One row per enum ibv_rate value. mult is the rate as a multiple of
 * 2.5 Gb/s (only defined for the classic IB rates and the few newer ones
 * that are such a multiple; -1 otherwise); mbps is the effective data rate.
 */
static const struct {
	enum ibv_rate rate;
	int mult;
	int mbps;
} rate_table[] = {
	{ IBV_RATE_2_5_GBPS, 1, 2500 },
	{ IBV_RATE_5_GBPS, 2, 5000 },
	{ IBV_RATE_10_GBPS, 4, 10000 },
	{ IBV_RATE_20_GBPS, 8, 20000 },
	{ IBV_RATE_30_GBPS, 12, 30000 },
	{ IBV_RATE_40_GBPS, 16, 40000 },
	{ IBV_RATE_60_GBPS, 24, 60000 },
	{ IBV_RATE_80_GBPS, 32, 80000 },
	{ IBV_RATE_120_GBPS, 48, 120000 },
	{ IBV_RATE_14_GBPS, -1, 14062 },
	{ IBV_RATE_56_GBPS, -1, 56250 },
	{ IBV_RATE_112_GBPS, -1, 112500 },
	{ IBV_RATE_168_GBPS, -1, 168750 },
	{ IBV_RATE_25_GBPS, -1, 25781 },
	{ IBV_RATE_100_GBPS, -1, 103125 },
	{ IBV_RATE_200_GBPS, -1, 206250 },
	{ IBV_RATE_300_GBPS, -1, 309375 },
	{ IBV_RATE_28_GBPS, 11, 28125 },
	{ IBV_RATE_50_GBPS, 20, 53125 },
	{ IBV_RATE_400_GBPS, 160, 425000 },
	{ IBV_RATE_600_GBPS, 240, 637500 },
	{ IBV_RATE_800_GBPS, 320, 850000 },
	{ IBV_RATE_1200_GBPS, 480, 1275000 },
};

/* The column a rate conversion searches. */
enum rate_col { RATE_ENUM, RATE_MULT, RATE_MBPS };

static int rate_cell(size_t row, enum rate_col col)
{
	if (col == RATE_ENUM)
		return (int)rate_table[row].rate;
	return col == RATE_MULT ? rate_table[row].mult : rate_table[row].mbps;
}

/* The row whose col is v (v > 0 for the numeric columns), or -1. */
static long rate_row(enum rate_col col, int v)
{
	size_t i;

	if (col != RATE_ENUM && v <= 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(rate_table); i++)
		if (rate_cell(i, col) == v)
			return (long)i;
	return -1;
}

int ibv_rate_to_mult(enum ibv_rate rate)
{
	long r = rate_row(RATE_ENUM, rate);

	return r < 0 ? -1 : rate_table[r].mult;
}

enum ibv_rate mult_to_ibv_rate(int mult)
{
	long r = rate_row(RATE_MULT, mult);

	return r < 0 ? IBV_RATE_MAX : rate_table[r].rate;
}

int ibv_rate_to_mbps(enum ibv_rate rate)
{
	long r = rate_row(RATE_ENUM, rate);

	return r < 0 ? -1 : rate_table[r].mbps;
}

enum ibv_rate mbps_to_ibv_rate(int mbps)
{
	long r = rate_row(RATE_MBPS, mbps);

	return r < 0 ? IBV_RATE_MAX : rate_table[r].rate;
}

/* ------------------------------------------------------------------ */
/* Device accessors                                                    */
/* ------------------------------------------------------------------ */

const char *ibv_get_device_name(struct ibv_device *device)
{
	if (!device)
		return svl_fail(EINVAL);
	return device->name;
}

__be64 ibv_get_device_guid(struct ibv_device *device)
{
	if (!device) {
		errno = EINVAL;
		return 0;
	}
	return htobe64(svl_device_node_guid(device));
}

/* ------------------------------------------------------------------ */
/* Fork support                                                        */
/* ------------------------------------------------------------------ */

/*
 * softverbs never pins pages with the kernel: registered memory is reached
 * with process_vm_readv/writev or shared mappings, so fork() needs no
 * madvise(MADV_DONTFORK) dance.
 */
int ibv_fork_init(void)
{
	return 0;
}

enum ibv_fork_status ibv_is_fork_initialized(void)
{
	return IBV_FORK_UNNEEDED;
}

/* ------------------------------------------------------------------ */
/* Kernel-ABI struct conversions                                       */
/* ------------------------------------------------------------------ */

void ibv_copy_ah_attr_from_kern(struct ibv_ah_attr *dst,
				struct ib_uverbs_ah_attr *src)
{
	memcpy(dst->grh.dgid.raw, src->grh.dgid, sizeof(dst->grh.dgid.raw));
	SVL_AH_ATTR_FIELDS(SVL_FROM_KERN)
}

void svl_ah_attr_to_kern(struct ib_uverbs_ah_attr *dst,
			 const struct ibv_ah_attr *src)
{
	memcpy(dst->grh.dgid, src->grh.dgid.raw, sizeof(dst->grh.dgid));
	SVL_AH_ATTR_FIELDS(SVL_TO_KERN)
}

/*
 * qp_state is deliberately left alone, as libibverbs always has: callers
 * such as librdmacm's rdma_init_qp_attr() set dst->qp_state to the target
 * state before the kernel call and rely on it surviving the copy.
 */
void ibv_copy_qp_attr_from_kern(struct ibv_qp_attr *dst,
				struct ib_uverbs_qp_attr *src)
{
	SVL_QP_ATTR_FIELDS(SVL_FROM_KERN)
	dst->en_sqd_async_notify = src->en_sqd_async_notify;
	ibv_copy_ah_attr_from_kern(&dst->ah_attr, &src->ah_attr);
	ibv_copy_ah_attr_from_kern(&dst->alt_ah_attr, &src->alt_ah_attr);
}

/* The fields ibv_sa_path_rec and ib_user_path_rec share by name. */
#define PATH_REC_FIELDS(X)                                                     \
	X(dlid, dlid) X(slid, slid) X(raw_traffic, raw_traffic)                \
	X(flow_label, flow_label) X(hop_limit, hop_limit)                      \
	X(traffic_class, traffic_class) X(reversible, reversible)              \
	X(numb_path, numb_path) X(pkey, pkey) X(sl, sl)                        \
	X(mtu_selector, mtu_selector) X(mtu, mtu)                              \
	X(rate_selector, rate_selector) X(rate, rate)                          \
	X(packet_life_time_selector, packet_life_time_selector)                \
	X(packet_life_time, packet_life_time) X(preference, preference)

void ibv_copy_path_rec_from_kern(struct ibv_sa_path_rec *dst,
				 struct ib_user_path_rec *src)
{
	memcpy(dst->dgid.raw, src->dgid, sizeof(dst->dgid.raw));
	memcpy(dst->sgid.raw, src->sgid, sizeof(dst->sgid.raw));
	PATH_REC_FIELDS(SVL_FROM_KERN)
}

void ibv_copy_path_rec_to_kern(struct ib_user_path_rec *dst,
			       struct ibv_sa_path_rec *src)
{
	memcpy(dst->dgid, src->dgid.raw, sizeof(dst->dgid));
	memcpy(dst->sgid, src->sgid.raw, sizeof(dst->sgid));
	PATH_REC_FIELDS(SVL_TO_KERN)
}

/* ------------------------------------------------------------------ */
/* sysfs                                                               */
/* ------------------------------------------------------------------ */

/*
 * Read "dir/file" into buf (size bytes at most) and strip one trailing
 * newline; the result is NUL-terminated. Returns the resulting string
 * length, or -1 with errno set (EOVERFLOW if the contents, less a trailing
 * newline, do not fit in size - 1 bytes). size 0 reads nothing and
 * returns 0.
 */
int ibv_read_sysfs_file(const char *dir, const char *file, char *buf,
			size_t size)
{
	char path[4096];
	ssize_t len;
	int fd;
	int n;

	if (!dir || !file || (!buf && size)) {
		errno = EINVAL;
		return -1;
	}

	n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;

	do {
		len = read(fd, buf, size);
	} while (len < 0 && errno == EINTR);
	if (len < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	close(fd);

	if (len > 0 && buf[len - 1] == '\n') {
		buf[--len] = '\0';
	} else if ((size_t)len < size) {
		buf[len] = '\0';
	} else if (len > 0) {
		/* Filled buf without room for the terminator. */
		errno = EOVERFLOW;
		return -1;
	}
	return (int)len;
}

/* ------------------------------------------------------------------ */
/* Ethernet L2 resolution (used only by foreign RoCE providers)        */
/* ------------------------------------------------------------------ */

int ibv_resolve_eth_l2_from_gid(struct ibv_context *context,
				struct ibv_ah_attr *attr,
				uint8_t eth_mac[ETHERNET_LL_SIZE],
				uint16_t *vid)
{
	errno = EOPNOTSUPP;
	return EOPNOTSUPP;
}
