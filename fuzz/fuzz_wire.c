// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the wire's receive path: one input is one UDP
 * datagram as a device bound to an interface receives it, fed to
 * wire_input() exactly as the receive thread does after recvmmsg(): the
 * validator, the counters, the trace and the engine's wire transport.
 *
 * Input: byte 0 --
 *   bit 0  IPv6 (else IPv4-mapped addresses)
 *   bit 1  replace the last 4 bytes by the correct ICRC, so the fuzzer
 *          reaches what lies behind the ICRC check
 *   bit 2  report the datagram as truncated (MSG_TRUNC)
 * then the datagram: BTH, extension headers, payload, pad, ICRC.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svd.h"
#include "wire.h"

static struct wire *w;

static void setup(void)
{
	struct svd_device *dev = svd_dev_create("fuzzwire", NULL, false);

	if (svd_is_err(dev))
		abort();
	w = wire_create(dev);
	if (!w)
		abort();
}

static void ends(struct wire_ends *e, bool v6)
{
	static const uint8_t a6[16] = { 0xfd, 0x91, [15] = 1 };

	memset(e, 0, sizeof(*e));
	memcpy(e->dgid, a6, 16);
	memcpy(e->sgid, a6, 16);
	e->sgid[15] = 2;
	if (!v6) {
		memset(e->sgid, 0, 10);
		memset(e->dgid, 0, 10);
		e->sgid[10] = e->sgid[11] = e->dgid[10] = e->dgid[11] = 0xff;
	}
	e->sport = 49152;
	e->dport = WIRE_UDP_PORT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_rx *rx;
	size_t n;

	if (!w)
		setup();
	if (size < 1 || size - 1 > WIRE_PKT_MAX)
		return 0;
	rx = malloc(sizeof(*rx));
	if (!rx)
		return 0;
	n = size - 1;
	memcpy(rx->ib, data + 1, n);
	ends(&rx->ends, data[0] & 1);
	rx->ecn = data[0] & 8 ? 3 : 0; /* CE: the CNP path (wire_xport.c) */
	if ((data[0] & 2) && n >= WIRE_BTH_LEN + WIRE_ICRC_LEN) {
		uint32_t c = htole32(wire_icrc(&rx->ends, rx->ib, n - 4));

		memcpy(rx->ib + n - 4, &c, 4);
	}
	wire_input(w, rx, n, data[0] & 4);
	return 0;
}
