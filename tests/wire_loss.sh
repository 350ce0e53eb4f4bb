#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_loss" and "wire_netem": RC over a lossy wire. Two
# namespaces and daemons (tests/wire_lib.sh), and the loss in one of two
# places (WIRE_LOSS_MODE):
#   netem  both veth ends get
#            netem loss 5% duplicate 1% reorder 10% delay 1ms
#          (the kernel does it to real packets; exit 77 only when the
#          netem qdisc cannot be added, as on a kernel without sch_netem)
#   knob   each daemon's lossy test transport does the same to what it
#          sends, before the veth (SOFTVERBS_WIRE_LOSS): runs anywhere
# Then MB megabytes cross the wire: ibv_rc_pingpong -c (SENDs whose
# contents both sides check) moves MB/2 each way, and ib_write_bw and
# ib_read_bw must complete (perftest stops on any error completion), and
# so must ib_atomic_bw: 128 atomics in flight, so a go-back-N resend meets
# many already executed, which the responder must answer from its saved
# results (it once kept 8 and the requester ended in RETRY_EXC_ERR).
# The counters must show the transport worked for it: retransmissions,
# duplicates and out-of-sequence requests seen, no malformed drops.
# usage: wire_loss.sh BUILD/bin [MB]   (PERF_N: perftest iterations, 50;
# WIRE_LOSS_MODE: netem or knob, default netem where it exists, else knob)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/wire_lib.sh
. "$HERE/wire_lib.sh"
MB=${2:-100}
# Each program's limit: 10 MB take about 10 s on two native cores, 20-60 s
# in a TCG guest (tests/wire_netem_guest.sh); a hang must not eat CI.
LIM=$((60 + 6 * MB))
[ -n "${SVT_NO_DEBIAN_TOOLS:-}" ] && { echo "SKIP: sanitizer build"; exit 77; }
command -v ibv_rc_pingpong >/dev/null || { echo "SKIP: no ibv_rc_pingpong"; exit 77; }
# Can netem be added here? (The kernel loads sch_netem on demand; a kernel
# built without it says "Specified qdisc kind is unknown".)
have_netem() {
	local probe=svwP$$ ok=1
	modprobe sch_netem 2>/dev/null
	ip netns add "$probe" 2>/dev/null || { echo "SKIP: no namespaces"; exit 77; }
	ip netns exec "$probe" tc qdisc add dev lo root netem delay 0ms \
		2>/dev/null || ok=
	ip netns del "$probe"
	[ -n "$ok" ]
}
MODE=${WIRE_LOSS_MODE:-}
if [ -z "$MODE" ]; then
	MODE=knob
	have_netem && MODE=netem
elif [ "$MODE" = netem ] && ! have_netem; then
	echo "SKIP: the kernel has no netem qdisc (sch_netem)"
	exit 77
fi
NETEM=$([ "$MODE" = netem ] && echo 1)
if [ -z "$NETEM" ]; then
	export SOFTVERBS_WIRE_LOSS="drop=5,dup=1,reorder=10,delay_us=1000,seed=$$"
	echo "note: loss by the daemons: SOFTVERBS_WIRE_LOSS=$SOFTVERBS_WIRE_LOSS"
else
	echo "note: loss by netem on both veth ends"
fi
wire_setup "$1"
for x in "$NSA $VA" "$NSB $VB"; do
	set -- $x
	ip -n "$1" link set "$2" mtu 9000
	[ -n "$NETEM" ] || continue
	ip netns exec "$1" tc qdisc add dev "$2" root netem loss 5% \
		duplicate 1% reorder 10% delay 1ms || wire_fail "netem"
done
sleep 0.5
g4a=$(gid_index A "$IP4A")
g4b=$(gid_index B "$IP4B")

# run NAME ARGS...: server in A, client in B, both must succeed.
run() {
	local name=$1 log=$WIRE_TMP/$1 t0 n=0
	shift
	t0=$(date +%s.%N)
	sv_a run -- timeout "$LIM" stdbuf -oL "$@" >"$log.srv" 2>&1 &
	local spid=$!
	sleep 0.3
	until sv_b run -- timeout "$LIM" stdbuf -oL "$@" "$IP4A" >"$log.cli" 2>&1; do
		n=$((n + 1))
		grep -q -i "couldn't connect\|Unable to open file" "$log.cli" &&
			[ $n -lt 50 ] && kill -0 $spid 2>/dev/null ||
			{ wire_kill $spid; tail -n 5 "$log.cli" "$log.srv"
			  wire_fail "$name failed"; }
		sleep 0.2
	done
	wait $spid || {
		tail -n 5 "$log.srv"
		# WIRE_LAST_ACK: see the pingpong run below.
		[ -n "${WIRE_LAST_ACK:-}" ] &&
			grep -q "retry counter exceeded" "$log.srv" && return 1
		wire_fail "$name server failed"
	}
	printf 'ok: %-12s %5.1f s  %s\n' "$name" \
		"$(wire_since "$t0")" \
		"$(grep -h -E 'bytes in|^ *[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+' \
			"$log.cli" | tail -1 | tr -s ' ')"
}

# 64 KiB messages, validated: MB/2 each way.
iters=$((MB * 1024 / 64 / 2))
# The server's last SEND completes only when the client's ACK for it
# arrives, and the client exits as soon as it holds (and has checked) all
# the data: at 5 % loss that final ACK is lost in about one run in twenty,
# the client's QP is gone, and the server ends in RETRY_EXC_ERR, as
# ibv_rc_pingpong does on any lossy network. Only that failure, with the
# client's checks passed, earns one more full run, which must pass.
WIRE_LAST_ACK=1 run pingpong ibv_rc_pingpong -d w0 -g "$g4a" -c -s 65536 \
	-n "$iters" || {
	echo "note: the final ACK was lost after the client exited; once more"
	run pingpong2 ibv_rc_pingpong -d w0 -g "$g4a" -c -s 65536 -n "$iters"
}
run write_bw ib_write_bw -d w0 -x "$g4a" -s 65536 -n "${PERF_N:-50}"
run read_bw ib_read_bw -d w0 -x "$g4a" -s 65536 -n "${PERF_N:-50}"
run atomic_bw ib_atomic_bw -d w0 -x "$g4a" -n "${PERF_N:-50}"
for s in A B; do
	echo "counters $s: $(if [ $s = A ]; then sv_a dev stats w0; else sv_b dev stats w0; fi |
		grep -E '^(sent_pkts|rcvd_pkts|retransmitted|duplicate_request|out_of_seq_request|send_backoff|dropped) ' | tr '\n' ' ')"
	for k in short icrc version opcode length pkey; do
		v=$(wire_stat $s dropped_$k)
		[ "$v" = 0 ] || wire_fail "$s dropped_$k = $v"
	done
done
# netem's own statistics: it must have dropped packets on both ends (else
# the qdisc was there but the traffic did not pass through it).
if [ -n "$NETEM" ]; then
	for x in "$NSA $VA" "$NSB $VB"; do
		set -- $x
		q=$(ip netns exec "$1" tc -s qdisc show dev "$2" | tr -s ' \n' ' ')
		echo "netem $2:${q#*netem}"
		v=$(echo "$q" | sed -n 's/.*(dropped \([0-9]*\).*/\1/p')
		[ "${v:-0}" -gt 0 ] || wire_fail "netem on $2 dropped nothing"
	done
fi
r=$(( $(wire_stat A retransmitted) + $(wire_stat B retransmitted) ))
d=$(( $(wire_stat A duplicate_request) + $(wire_stat B duplicate_request) ))
[ "$r" -gt 0 ] && [ "$d" -gt 0 ] ||
	wire_fail "a 5% lossy, 1% duplicating link, yet retransmitted=$r duplicate=$d"
echo PASS
