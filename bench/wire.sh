#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/wire.sh: softverbs' RoCEv2 wire between two network namespaces
# (a veth pair, one daemon per namespace: tests/wire_lib.sh), next to
# iperf3 UDP and TCP over the same veth in the same run.
#
#   bench/wire.sh [BUILD/bin] [--seconds N]
#
# Figures (one line each, then ratios):
#   iperf3 TCP and UDP (unlimited, 8972-byte datagrams at MTU 9000 or 1472
#   at 1500) throughput, Gbit/s; a UDP round trip (µs, bench/udp_rtt.py) over the veth;
#   ib_write_bw and ib_read_bw 64 KiB, ib_send_bw 64 KiB (MB/s);
#   ib_send_lat 2 B and ib_write_lat 2 B typical (µs).
# Bandwidth ratios are softverbs / iperf3 (TCP and UDP), latency ratios
# softverbs / half the UDP round trip. Root is needed for namespaces.
# The exit status says whether the tool ran, not whether the wire is fast.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BIN=${1:-build/bin}
SECS=5
[ "${2:-}" = --seconds ] && SECS=${3:-5}
. tests/wire_lib.sh
command -v iperf3 >/dev/null || { echo "no iperf3 (scripts/setup-deps.sh)"; exit 2; }
wire_setup "$BIN"
MTU=${WIRE_MTU:-1500}
ip -n "$NSA" link set "$VA" mtu "$MTU"
ip -n "$NSB" link set "$VB" mtu "$MTU"
sleep 1
g4a=$(gid_index A "$IP4A")
g4b=$(gid_index B "$IP4B")

ip netns exec "$NSA" iperf3 -s -D -1 >/dev/null 2>&1
sleep 0.3
tcp=$(ip netns exec "$NSB" iperf3 -c "$IP4A" -t "$SECS" -J |
	python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
ip netns exec "$NSA" iperf3 -s -D -1 >/dev/null 2>&1
sleep 0.3
dgram=$((MTU - 28))
udp=$(ip netns exec "$NSB" iperf3 -c "$IP4A" -u -b 0 -l "$dgram" -t "$SECS" -J |
	python3 -c 'import json,sys; d=json.load(sys.stdin)["end"]["sum"]; print("%.3f %.2f" % (d["bits_per_second"]*(1-d["lost_percent"]/100)/1e9, d["lost_percent"]))')
ip netns exec "$NSA" python3 bench/udp_rtt.py serve "$IP4A" &
sleep 0.5
rtt=$(ip netns exec "$NSB" python3 bench/udp_rtt.py ping "$IP4A" 2000)
wait
echo "iperf3 TCP ${tcp} Gbit/s; iperf3 UDP ${udp% *} Gbit/s received (${udp#* }% lost); UDP rtt ${rtt} us (median, Python)"

# perf NAME ARGS...: server in A, client in B; prints the client's output.
perf() {
	local log=$WIRE_TMP/$1
	shift
	sv_a run -- timeout 120 "$@" -d w0 -x "$g4a" >"$log.srv" 2>&1 &
	local spid=$! n=0
	sleep 0.5
	until sv_b run -- timeout 120 "$@" -d w0 -x "$g4b" "$IP4A" >"$log" 2>&1; do
		n=$((n + 1)); [ $n -gt 20 ] && break; sleep 0.2
	done
	wait $spid
	cat "$log"
}
bw() { perf "$@" | awk '$1 ~ /^[0-9]+$/ && NF >= 5 { v = $4 } END { print v }'; }
lat() { perf "$@" | awk '$1 ~ /^[0-9]+$/ && NF >= 8 { v = $6 } END { print v }'; }

wbw=$(bw write_bw ib_write_bw -s 65536 -D "$SECS")
rbw=$(bw read_bw ib_read_bw -s 65536 -D "$SECS")
sbw=$(bw send_bw ib_send_bw -s 65536 -D "$SECS")
slat=$(lat send_lat ib_send_lat -s 2 -n 2000)
wlat=$(lat write_lat ib_write_lat -s 2 -n 2000)
echo "softverbs wire (MTU $MTU): ib_write_bw ${wbw:-FAILED} MB/s, ib_read_bw ${rbw:-FAILED} MB/s, ib_send_bw ${sbw:-FAILED} MB/s; ib_send_lat ${slat:-FAILED} us, ib_write_lat ${wlat:-FAILED} us typical"
ratio() { python3 -c "import sys
a,b=sys.argv[1],sys.argv[2]
print('%.3f' % (float(a)/float(b)) if a and b and float(b) else 'n/a')" "$1" "$2"; }
for n in wbw rbw sbw; do
	v=${!n}
	mbit=$(python3 -c "print(${v:-0}*8/1000)")
	echo "  $n: $(ratio "$mbit" "$tcp") of iperf3 TCP, $(ratio "$mbit" "${udp% *}") of iperf3 UDP"
done
echo "  send_lat: $(ratio "${slat:-}" "$(python3 -c "print(${rtt:-0}/2)")") x half the UDP rtt; write_lat: $(ratio "${wlat:-}" "$(python3 -c "print(${rtt:-0}/2)")") x"
echo "  sent/rcvd A: $(sv_a dev stats w0 | grep -E '^(sent|rcvd)_pkts|^retransmitted|^dropped ' | tr '\n' ' ')"
