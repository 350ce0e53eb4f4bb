#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_rdma": RDMA between two daemons over RoCEv2, each in its own
# network namespace made here (tests/wire_lib.sh), over IPv4 and IPv6 GIDs
# (the tools' TCP handshake uses the IPv4 address either way). Debian's
# unmodified tools, through "softverbs run": ibv_rc_pingpong -c,
# ibv_ud_pingpong -c, ibv_srq_pingpong -c, ib_write_bw, ib_read_bw,
# ib_send_lat, ib_atomic_lat. Afterwards both ports' counters must show
# the packets went on the wire and none was dropped as malformed; a
# trace of one run must decode in tshark as RRoCE with no malformed packet.
# usage: wire_rdma.sh BUILD/bin [ipv4|ipv6|both]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/wire_lib.sh
. "$HERE/wire_lib.sh"
FAMS=${2:-both}
[ -n "${SVT_NO_DEBIAN_TOOLS:-}" ] && { echo "SKIP: sanitizer build"; exit 77; }
for t in ibv_rc_pingpong ib_write_bw; do
	command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }
done
wire_setup "$1"

# pair NAME GIDX_A GIDX_B SERVER_ARGS... -- CLIENT_ARGS...: the server in
# A, the client in B (retried until the server listens), both must exit 0.
pair() {
	local name=$1 ga=$2 gb=$3 sargs=() cargs=() t0 log=$WIRE_TMP/$1.$2
	shift 3
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	cargs=("$@")
	t0=$(date +%s.%N)
	sv_a run -- timeout 60 stdbuf -oL "${sargs[@]//GIDX/$ga}" >"$log.srv" 2>&1 &
	local spid=$! tries=0
	until sv_b run -- timeout 60 stdbuf -oL "${cargs[@]//GIDX/$gb}" "$IP4A" \
			>"$log.cli" 2>&1; do
		tries=$((tries + 1))
		grep -q -i "couldn't connect\|Unable to open file descriptor\|Couldn't connect" \
			"$log.cli" && [ $tries -lt 50 ] && kill -0 $spid 2>/dev/null ||
			{ wire_kill $spid; cat "$log.cli" "$log.srv"
			  wire_fail "$name (gid $ga/$gb) client failed"; }
		sleep 0.1
	done
	wait $spid || { cat "$log.srv"; wire_fail "$name server failed"; }
	printf 'ok: %-16s gid %2s/%-2s %5.1f s  %s\n' "$name" "$ga" "$gb" \
		"$(echo "$(date +%s.%N) - $t0" | bc)" \
		"$(grep -h -E '^ *[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+|bytes in' "$log.cli" | tail -1 | tr -s ' ')"
}

suite() {
	local ga=$1 gb=$2
	pair rc_pingpong "$ga" "$gb" ibv_rc_pingpong -d w0 -g GIDX -c -n 50 -s 4096 \
		-- ibv_rc_pingpong -d w0 -g GIDX -c -n 50 -s 4096
	pair ud_pingpong "$ga" "$gb" ibv_ud_pingpong -d w0 -g GIDX -c -n 50 -s 512 \
		-- ibv_ud_pingpong -d w0 -g GIDX -c -n 50 -s 512
	pair srq_pingpong "$ga" "$gb" ibv_srq_pingpong -d w0 -g GIDX -c -n 50 -s 2048 \
		-- ibv_srq_pingpong -d w0 -g GIDX -c -n 50 -s 2048
	pair ib_write_bw "$ga" "$gb" ib_write_bw -d w0 -x GIDX -n 200 -s 65536 \
		-- ib_write_bw -d w0 -x GIDX -n 200 -s 65536
	pair ib_read_bw "$ga" "$gb" ib_read_bw -d w0 -x GIDX -n 200 -s 65536 \
		-- ib_read_bw -d w0 -x GIDX -n 200 -s 65536
	pair ib_send_lat "$ga" "$gb" ib_send_lat -d w0 -x GIDX -n 200 \
		-- ib_send_lat -d w0 -x GIDX -n 200
	pair ib_atomic_lat "$ga" "$gb" ib_atomic_lat -d w0 -x GIDX -n 200 \
		-- ib_atomic_lat -d w0 -x GIDX -n 200
}

g4a=$(gid_index A "$IP4A") && g4b=$(gid_index B "$IP4B") &&
	g6a=$(gid_index A "$IP6A") && g6b=$(gid_index B "$IP6B") ||
	wire_fail "GIDs missing"
sv_a trace w0 "$WIRE_TMP/rc.pcap" || wire_fail "trace"
pair rc_pingpong "$g4a" "$g4b" ibv_rc_pingpong -d w0 -g GIDX -c -n 20 \
	-- ibv_rc_pingpong -d w0 -g GIDX -c -n 20
sv_a trace w0 off
[ "$FAMS" = ipv6 ] || suite "$g4a" "$g4b"
[ "$FAMS" = ipv4 ] || suite "$g6a" "$g6b"

# GSO batches cut by the kernel (a tbf qdisc segments them) leave with
# IPv4 IDs 0, 1, 2...: every packet on the veth must pass kernel rxe's ICRC
# rule over its real IP header (Python's zlib, tests/wire_icrc_check.py).
if command -v dumpcap >/dev/null &&
	ip netns exec "$NSB" tc qdisc add dev "$VB" root tbf rate 10gbit \
		burst 1500 latency 100ms 2>/dev/null; then
	# Only B's packets passed the tbf: A's batches (of ACKs) cross the
	# veth whole and are cut by B's socket layer, after any capture.
	ip netns exec "$NSA" dumpcap -q -i "$VA" -f "udp port 4791 and src host $IP4B" \
		-w "$WIRE_TMP/seg.pcap" >/dev/null 2>&1 &
	cap=$!
	sleep 1
	pair seg_write_bw "$g4a" "$g4b" ib_write_bw -d w0 -x GIDX -n 50 -s 65536 \
		-- ib_write_bw -d w0 -x GIDX -n 50 -s 65536
	sleep 0.5
	kill -INT $cap; wait $cap
	ip netns exec "$NSB" tc qdisc del dev "$VB" root
	r=$(python3 "$HERE/wire_icrc_check.py" "$WIRE_TMP/seg.pcap" 1000) ||
		wire_fail "segmented GSO packets by rxe's ICRC rule: $r"
	echo "ok: segmented GSO packets by rxe's ICRC rule: $r"
fi

for s in A B; do
	sent=$(wire_stat $s sent_pkts)
	[ "${sent:-0}" -gt 1000 ] || wire_fail "$s sent only ${sent:-0} packets"
	for k in short icrc version opcode length pkey; do
		v=$(wire_stat $s dropped_$k)
		[ "$v" = 0 ] || wire_fail "$s dropped_$k = $v"
	done
	# Packets leave ECT(0); nothing on a veth marks them CE.
	v=$(wire_stat $s np_ecn_marked_roce_packets)
	[ "$v" = 0 ] || wire_fail "$s saw $v CE-marked packets on a clean veth"
done
echo "ok: counters A: $(sv_a dev stats w0 | grep -E '^(sent|rcvd)_pkts' | tr '\n' ' ')"
if command -v tshark >/dev/null; then
	out=$(tshark -r "$WIRE_TMP/rc.pcap" --disable-protocol rpcordma 2>&1)
	n=$(echo "$out" | grep -c RRoCE)
	[ "$n" -gt 40 ] || wire_fail "tshark saw $n RRoCE packets: $out"
	echo "$out" | grep -q -i malformed && wire_fail "malformed: $out"
	echo "ok: tshark decodes $n RRoCE packets of rc_pingpong, none malformed"
fi
echo PASS
