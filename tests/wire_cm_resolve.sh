#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_cm_resolve": rdma_resolve_addr on a device bound to a netdev
# waits for the next hop's neighbour entry (ARP/ND) as the kernel's
# rdma_cm does, and times out as the application asked. Two network
# namespaces and a daemon in each (tests/wire_lib.sh); tests/cm_resolve
# resolves from namespace B with timeout_ms 500:
#   - an address on the veth's subnet that nobody owns (IPv4 and IPv6),
#     and one behind a gateway nobody owns: ADDR_ERROR -ETIMEDOUT after
#     at least the 500 ms and well before 5 s;
#   - the peer's address (IPv4 and IPv6), and one behind the peer as a
#     gateway: ADDR_RESOLVED, in less than the 500 ms;
#   - a second daemon-local address: ADDR_RESOLVED at once.
# usage: wire_cm_resolve.sh BUILD/bin
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/wire_lib.sh
. "$HERE/wire_lib.sh"
wire_setup "$1"
ip -n "$NSB" route add "10.92.$WIRE_N.0/24" via "10.91.$WIRE_N.9" ||
	wire_fail "route via a silent gateway"
ip -n "$NSB" route add "10.93.$WIRE_N.0/24" via "$IP4A" ||
	wire_fail "route via A"

# expect ADDR EVENT STATUS MIN_MS MAX_MS
expect() {
	local out ev st ms
	out=$(in_b "$BIN/cm_resolve" "$1" 500) ||
		wire_fail "cm_resolve $1: $out"
	read -r ev st ms <<<"$out"
	[ "$ev" = "$2" ] && [ "$st" = "$3" ] && [ "$ms" -ge "$4" ] &&
		[ "$ms" -le "$5" ] ||
		wire_fail "$1: got '$out', want $2 $3 in $4..$5 ms"
	printf 'ok: %-22s %s %s after %s ms\n' "$1" "$ev" "$st" "$ms"
}

expect "10.91.$WIRE_N.9" ADDR_ERROR -110 480 5000
expect "fd91:$WIRE_N::9" ADDR_ERROR -110 480 5000
expect "10.92.$WIRE_N.1" ADDR_ERROR -110 480 5000
expect "$IP4A" ADDR_RESOLVED 0 0 499
expect "$IP6A" ADDR_RESOLVED 0 0 499
expect "10.93.$WIRE_N.1" ADDR_RESOLVED 0 0 499
expect "$IP4B" ADDR_RESOLVED 0 0 100
# Still timing out the second time (the entry now INCOMPLETE or FAILED).
expect "10.91.$WIRE_N.9" ADDR_ERROR -110 480 5000
echo PASS
