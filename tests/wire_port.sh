#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_port": a device bound to an interface, without traffic
# between QPs. In two network namespaces made here (tests/wire_lib.sh):
# - w0's GID table holds the interface's IPv4 (as ::ffff:a.b.c.d) and IPv6
#   addresses; an address added later appears, a deleted one goes, and the
#   others keep their indices; the port MTU follows the interface MTU;
# - port 4791 is bound on the addresses, by an unprivileged-style UDP
#   socket (no raw socket);
# - hand-made packets from the other namespace, one per kind of fault, are
#   each dropped and counted under their own reason (dev stats), IPv4 and
#   IPv6; well-formed ones for a QP that does not exist are dropped too;
# - "softverbs trace" writes them to a pcap that tshark decodes as RRoCE.
# usage: wire_port.sh BUILD/bin
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/wire_lib.sh
. "$HERE/wire_lib.sh"
wire_setup "$1"

wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local t=$(( $1 * 10 )); shift
	while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
	return 1
}

i4=$(gid_index A "$IP4A") || wire_fail "no IPv4 GID for $IP4A"
i6=$(gid_index A "$IP6A") || wire_fail "no IPv6 GID for $IP6A"
echo "ok: GIDs $IP4A at $i4, $IP6A at $i6"
ip -n "$NSA" addr add 10.92.$WIRE_N.1/24 dev "$VA"
wait_for 3 gid_index A 10.92.$WIRE_N.1 >/dev/null ||
	wire_fail "added address did not become a GID"
ip -n "$NSA" addr del 10.92.$WIRE_N.1/24 dev "$VA"
wait_for 3 eval '! gid_index A 10.92.$WIRE_N.1 >/dev/null' ||
	wire_fail "deleted address still a GID"
[ "$(gid_index A "$IP6A")" = "$i6" ] || wire_fail "IPv6 GID moved"
echo "ok: GIDs follow addresses"

mtu_of() { sv_a run -- ibv_devinfo -d w0 | awk '/active_mtu/ { print $2 }'; }
if [ -n "${SVT_NO_DEBIAN_TOOLS:-}" ]; then
	echo "note: sanitizer build: MTU not checked (ibv_devinfo cannot load it)"
else
	[ "$(mtu_of)" = 1024 ] || wire_fail "MTU 1500 gives active_mtu $(mtu_of)"
	ip -n "$NSA" link set "$VA" mtu 9000
	wait_for 3 eval '[ "$(mtu_of)" = 4096 ]' ||
		wire_fail "MTU 9000 gives active_mtu $(mtu_of)"
	ip -n "$NSA" link set "$VA" mtu 1500
	echo "ok: port MTU follows the interface (1024 at 1500, 4096 at 9000)"
fi

in_a ss -ulnp | grep -q "$IP4A:4791 .*softverbsd" ||
	wire_fail "port 4791 not bound on $IP4A"
sv_a trace w0 "$WIRE_TMP/a.pcap" || wire_fail "trace"
in_b python3 "$HERE/wire_inject.py" "$IP4B" "$IP4A" 0x11 >/dev/null
in_b python3 "$HERE/wire_inject.py" "$IP6B" "$IP6A" 0x11 >/dev/null
sleep 0.5
sv_a trace w0 off
for k in icrc version pkey opcode length short; do
	v=$(wire_stat A dropped_$k)
	[ "$v" = 2 ] || wire_fail "dropped_$k is '$v', want 2 (IPv4 + IPv6)"
done
# QP 0, and the well-formed packets too: QP 0x11 does not exist.
v=$(wire_stat A dropped_qpn)
[ "$v" = 4 ] || wire_fail "dropped_qpn is '$v', want 4"
[ "$(wire_stat A rcvd_pkts)" = 2 ] || wire_fail "rcvd_pkts != 2"
echo "ok: each bad packet dropped for its reason; the good ones received"
hw=/sys/class/infiniband/w0/ports/1/hw_counters/dropped_icrc
wait_for 3 eval '[ "$(sv_a run -- cat $hw 2>/dev/null)" = 2 ]' ||
	wire_fail "$hw in the view: '$(sv_a run -- cat $hw 2>&1)'"
echo "ok: hw_counters in the sysfs view"

if command -v tshark >/dev/null; then
	out=$(tshark -r "$WIRE_TMP/a.pcap" --disable-protocol rpcordma 2>&1)
	echo "$out" | grep -q "RRoCE.*RC Send Only" ||
		wire_fail "tshark does not decode RRoCE: $out"
	echo "ok: tshark decodes the trace ($(echo "$out" | grep -c RRoCE) RRoCE packets)"
else
	echo "note: no tshark, trace not decoded"
fi
echo "PASS"
