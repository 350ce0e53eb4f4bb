// SPDX-License-Identifier: MIT
/*
 * Device model: open softverbs0 and check what it reports through every
 * query verb (device, device_ex, port, GID, GID ex/table/type, P_Key).
 */
#include <byteswap.h>
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include <infiniband/verbs.h>

#include "svtest.h"

int ibv_query_gid_type(struct ibv_context *context, uint8_t port_num,
		       unsigned int index, int *type);

/* The node GUID the daemon published, as sysfs prints it: "%04x:" x 4. */
static uint64_t fact_guid(struct svt_daemon *d)
{
	unsigned int w[4];
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/devices/softverbs0/node_guid",
		 d->rundir);
	f = fopen(path, "r");
	SVT_CHECK(f);
	SVT_CHECK(fscanf(f, "%4x:%4x:%4x:%4x", &w[0], &w[1], &w[2], &w[3]) ==
		  4);
	fclose(f);
	return (uint64_t)w[0] << 48 | (uint64_t)w[1] << 32 |
	       (uint64_t)w[2] << 16 | w[3];
}

/*
 * Both ibv_get_device_guid() and ibv_device_attr.node_guid are __be64:
 * the published GUID in network byte order, exactly (its bytes are not a
 * palindrome, so a swapped or host-order value fails).
 */
static void check_guid(struct svt_daemon *d, struct ibv_context *ctx,
		       const struct ibv_device_attr *a)
{
	uint64_t guid = fact_guid(d);

	SVT_CHECK(guid != 0 && guid != bswap_64(guid));
	SVT_CHECK(ibv_get_device_guid(ctx->device) == htobe64(guid));
	SVT_CHECK(a->node_guid == htobe64(guid));
	SVT_CHECK(a->sys_image_guid == htobe64(guid));
}

static void check_device(struct svt_daemon *d, struct ibv_context *ctx)
{
	struct ibv_device_attr a;
	struct ibv_device_attr_ex ax;

	SVT_CHECK(ibv_query_device(ctx, &a) == 0);
	check_guid(d, ctx, &a);
	SVT_CHECK(a.phys_port_cnt == 1);
	SVT_CHECK(a.max_qp >= 1024 && a.max_cqe >= 1024 && a.max_sge >= 16);
	SVT_CHECK(a.max_pkeys == 1);
	SVT_CHECK(a.fw_ver[0] != '\0');
	SVT_CHECK(ibv_query_device_ex(ctx, NULL, &ax) == 0);
	SVT_CHECK(!memcmp(&ax.orig_attr, &a, sizeof(a)));
	SVT_CHECK(ax.phys_port_cnt_ex == 1);
}

static void check_port(struct ibv_context *ctx)
{
	struct ibv_port_attr p;

	SVT_CHECK(ibv_query_port(ctx, 1, &p) == 0);
	SVT_CHECK(p.state == IBV_PORT_ACTIVE);
	SVT_CHECK(p.link_layer == IBV_LINK_LAYER_ETHERNET);
	SVT_CHECK(p.active_mtu == IBV_MTU_4096 && p.max_mtu == IBV_MTU_4096);
	SVT_CHECK(p.gid_tbl_len > 0 && p.pkey_tbl_len == 1);
	SVT_CHECK(ibv_query_port(ctx, 2, &p) == EINVAL);
	SVT_CHECK(ibv_query_port(ctx, 0, &p) == EINVAL);
}

static void check_gids(struct ibv_context *ctx)
{
	struct ibv_gid_entry e, table[64];
	union ibv_gid gid, zero = {};
	int type, i, nonzero = 0;
	ssize_t n;

	SVT_CHECK(ibv_query_gid(ctx, 1, 0, &gid) == 0);
	SVT_CHECK(gid.raw[0] == 0xfe && gid.raw[1] == 0x80);
	SVT_CHECK(ibv_query_gid_ex(ctx, 1, 0, &e, 0) == 0);
	SVT_CHECK(e.gid_type == IBV_GID_TYPE_ROCE_V2 && e.port_num == 1);
	SVT_CHECK(!memcmp(&e.gid, &gid, sizeof(gid)));
	SVT_CHECK(ibv_query_gid_type(ctx, 1, 0, &type) == 0 && type == 1);
	/* Bad port / index: errors, never a crash. */
	SVT_CHECK(ibv_query_gid(ctx, 2, 0, &gid) == -1);
	SVT_CHECK(ibv_query_gid_ex(ctx, 1, 100000, &e, 0) == EINVAL);

	n = ibv_query_gid_table(ctx, table, 64, 0);
	SVT_CHECK(n >= 2); /* link-local + at least loopback */
	for (i = 0; i < n; i++) {
		SVT_CHECK(table[i].gid_type == IBV_GID_TYPE_ROCE_V2);
		if (memcmp(&table[i].gid, &zero, sizeof(zero)))
			nonzero++;
		SVT_CHECK(ibv_query_gid_ex(ctx, 1, table[i].gid_index, &e,
					   0) == 0);
		SVT_CHECK(!memcmp(&e.gid, &table[i].gid, sizeof(e.gid)));
	}
	SVT_CHECK(nonzero == n);
	/* Too small an array is EINVAL, as in the kernel. */
	SVT_CHECK(ibv_query_gid_table(ctx, table, 1, 0) == -EINVAL);
}

static void check_pkey(struct ibv_context *ctx)
{
	__be16 pkey;

	SVT_CHECK(ibv_query_pkey(ctx, 1, 0, &pkey) == 0);
	SVT_CHECK(pkey == htobe16(0xffff));
	SVT_CHECK(ibv_query_pkey(ctx, 1, 1, &pkey) == -1);
	SVT_CHECK(ibv_get_pkey_index(ctx, 1, htobe16(0xffff)) == 0);
	SVT_CHECK(ibv_get_pkey_index(ctx, 1, htobe16(0x1234)) < 0);
}

static void check_facts(struct svt_daemon *d)
{
	SVT_CHECK(svt_exists(d->rundir, "devices/softverbs0/node_guid"));
	SVT_CHECK(svt_exists(d->rundir, "devices/softverbs0/ports/1/gids/0"));
	SVT_CHECK(svt_exists(d->rundir,
			     "devices/softverbs0/ports/1/gid_attrs/types/0"));
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_context *ctx;

	svt_daemon_start(&d);
	check_facts(&d);
	ctx = svt_open_dev("softverbs0");
	SVT_CHECK(ctx->async_fd >= 0);
	check_device(&d, ctx);
	check_port(ctx);
	check_gids(ctx);
	check_pkey(ctx);
	SVT_CHECK(ibv_close_device(ctx) == 0);
	svt_daemon_stop(&d);
	return SVT_PASS;
}
