#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_ecn": ECN and CNPs across the wire (docs/wire.md,
# "Congestion"). Two namespaces and daemons (tests/wire_lib.sh) whose
# sockets mark 20 % of what they send CE (SOFTVERBS_WIRE_LOSS=ce=20: the
# IP header really carries CE, read back by the receiver's IP_RECVTOS /
# IPV6_RECVTCLASS), nothing lost. RDMA WRITEs over IPv4 and SENDs over
# IPv6 must complete; the receiving side must count CE-marked packets and
# send CNPs for them (np_ecn_marked_roce_packets, np_cnp_sent; wire_rdma
# checks that no packet arrives CE-marked without the knob), the sending
# side must handle CNPs (rp_cnp_handled) and cut its rate (rate_cuts,
# send_backoff: packets that waited for the lower rate).
# usage: wire_ecn.sh BUILD/bin
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/wire_lib.sh
. "$HERE/wire_lib.sh"
[ -n "${SVT_NO_DEBIAN_TOOLS:-}" ] && { echo "SKIP: sanitizer build"; exit 77; }
command -v ib_write_bw >/dev/null || { echo "SKIP: no perftest"; exit 77; }
export SOFTVERBS_WIRE_LOSS="ce=20"
wire_setup "$1"
sleep 0.5
g4a=$(gid_index A "$IP4A")
g4b=$(gid_index B "$IP4B")
g6a=$(gid_index A "$IP6A")
g6b=$(gid_index B "$IP6B")

# run NAME GID_A GID_B TOOL ARGS...: server in A, client in B (perftest
# exchanges its QP numbers over TCP to IPv4; the GIDs pick the family).
run() {
	local name=$1 ga=$2 gb=$3 log=$WIRE_TMP/$1 n=0
	shift 3
	sv_a run -- timeout 120 "$@" -d w0 -x "$ga" >"$log.srv" 2>&1 &
	local spid=$!
	sleep 0.3
	until sv_b run -- timeout 120 "$@" -d w0 -x "$gb" "$IP4A" \
		>"$log.cli" 2>&1; do
		n=$((n + 1))
		grep -q -i "couldn't connect" "$log.cli" && [ $n -lt 50 ] ||
			{ wire_kill $spid; tail -n 5 "$log.cli"
			  wire_fail "$name failed"; }
		sleep 0.2
	done
	wait $spid || { rc=$?; echo "server exit status $rc:"; cat "$log.srv"
			wire_fail "$name server"; }
	echo "ok: $name"
}
run write_v4 "$g4a" "$g4b" ib_write_bw -s 65536 -n 300
run send_v6 "$g6a" "$g6b" ib_send_bw -s 16384 -n 300
for s in A B; do
	echo "counters $s: $(if [ $s = A ]; then sv_a dev stats w0; else sv_b dev stats w0; fi |
		grep -E '^(sent_pkts|rcvd_pkts|np_|rp_|rate_cuts|send_backoff|retransmitted|dropped) ' | tr '\n' ' ')"
	for k in dropped_short dropped_icrc dropped_opcode dropped_length; do
		v=$(wire_stat $s $k)
		[ "$v" = 0 ] || wire_fail "$s $k = $v"
	done
done
# A receives the WRITEs and the SENDs, B the ACKs: both see CE marks.
for k in np_ecn_marked_roce_packets np_cnp_sent; do
	v=$(wire_stat A $k)
	[ "${v:-0}" -gt 0 ] || wire_fail "A $k = $v with 20 % CE-marked"
done
for k in rp_cnp_handled rate_cuts send_backoff; do
	v=$(wire_stat B $k)
	[ "${v:-0}" -gt 0 ] || wire_fail "B $k = $v: CNPs did not slow it"
done
echo PASS
