// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the command parser: every input is one command
 * message body (ioctl or write, chosen by the first byte) dispatched on a
 * live ucontext, exactly as ufile.c would after recvmsg(). Objects the
 * fuzzer manages to create persist across inputs, so later inputs can hit
 * real handles; the context is recycled now and then to bound memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svd.h"
#include "svd_nic.h"

static struct svd_device dev = { .name = "fuzz", .nic = &svd_soft_nic_ops };
static struct svd_ufile ufile = { .dev = &dev, .fd = -1 };
static uint8_t out[SV_MSG_MAX];
static uint8_t req[SV_MSG_MAX];
static unsigned int runs;

static void recycle(void)
{
	svd_uctx_destroy(ufile.uctx);
	ufile.uctx = svd_uctx_create(&ufile);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct svd_bundle b;
	size_t len;

	if (size < 1 || size - 1 > sizeof(req))
		return 0;
	if (!ufile.uctx || ++runs % 4096 == 0)
		recycle();
	len = size - 1;
	/* An aligned copy, as recvmsg() into the daemon's buffer gives. */
	memcpy(req, data + 1, len);
	svd_bundle_init_local(&b, &ufile, out, sizeof(out), NULL, 0);
	if (data[0] & 1)
		svd_write_dispatch(&b, req, len);
	else
		svd_ioctl_dispatch(&b, req, len);
	/* Whatever the reply carried (new fds) is dropped, as ufile.c does. */
	svd_bundle_close_fds(&b);
	return 0;
}
