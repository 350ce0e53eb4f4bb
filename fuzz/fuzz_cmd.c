// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the command layer: every ioctl method and write
 * command, with real fds. One input is a session: a sequence of commands
 * run in order on a fresh command FD, as one client connection would send
 * them, starting with no ucontext (GET_CONTEXT creates it) and torn down
 * at the end as when the client exits. So the seeds, recorded from the
 * tests (make-corpus.sh), create objects and then use their handles.
 *
 * Each command: a flag byte, a little-endian u16 length, then the message
 * body (ioctl or write, chosen by bit 0 of the flag byte) exactly as
 * ufile.c passes it on after recvmsg(). Bits 1-2 of the flag byte give how
 * many real fds (memfds, fuzz_util.h) arrive in slots 1.., so ring,
 * doorbell and dma-buf methods get memory to map. The device's engine
 * runs, as in the daemon, so doorbell pages and QPs can be made.
 *
 * VA memory: the seeds' REG_MR addresses were rewritten by make-corpus.sh
 * into FUZZ_VA_BASE.., a region this harness maps, so registrations of the
 * recorded sessions succeed here as they did in the tests.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "svd.h"
#include "svd_main.h"

#define REC_HDR 3
#define MAX_CMDS 256

static struct svd_ufile ufile = { .fd = -1 };
static uint8_t out[SV_MSG_MAX];
static uint8_t req[SV_MSG_MAX] __attribute__((aligned(8)));

static void run_one(uint8_t flags, const uint8_t *body, size_t len)
{
	static struct svd_bundle b;
	int fds[FUZZ_NFDS], n;

	/* An aligned copy, as recvmsg() into the daemon's buffer gives. */
	memcpy(req, body, len);
	n = fuzz_fds(fds, (flags >> 1) & 3);
	svd_bundle_init_local(&b, &ufile, out, sizeof(out), fds, n);
	if (flags & 1)
		svd_write_dispatch(&b, req, len);
	else
		svd_ioctl_dispatch(&b, req, len);
	/* Whatever the reply carried (new fds) is dropped, as ufile.c does. */
	svd_bundle_close_fds(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int cmds = 0;

	if (!ufile.dev) {
		struct svd_device *dev = svd_dev_create("fuzz", NULL, false);

		if (svd_is_err(dev) || svd_engine_start(dev) ||
		    fuzz_va_region() != (void *)FUZZ_VA_BASE)
			abort();
		ufile.dev = dev;
		ufile.uid = getuid();
		ufile.creator_pid = getpid();
	}
	while (off + REC_HDR <= size && cmds++ < MAX_CMDS) {
		size_t len = data[off + 1] | (size_t)data[off + 2] << 8;

		if (len > size - off - REC_HDR)
			len = size - off - REC_HDR;
		run_one(data[off], data + off + REC_HDR, len);
		off += REC_HDR + len;
	}
	/* The client goes away: every object it made is reclaimed. */
	svd_uctx_destroy(ufile.uctx);
	ufile.uctx = NULL;
	return 0;
}
