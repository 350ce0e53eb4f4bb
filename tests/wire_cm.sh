#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_cm": rdma_cm between two daemons in two network namespaces
# (tests/wire_lib.sh): the CM's MADs cross the veth as RoCEv2 UD packets
# to QP1, as between two kernel RoCE ports. Debian's unmodified programs,
# through "softverbs run", a server in one namespace and a client in the
# other:
#   IPv4: rping -v -V -C 100, ucmatose -c 10, udaddy -c 10 (SIDR),
#         ib_send_lat -R; rping the other way round
#   IPv6: rping, ucmatose, udaddy
# Then what the CM's timers do on a real network:
#   - a connect to a port nobody listens on is REJECTED at once;
#   - a client killed mid-run: its server ends (DISCONNECTED, or its
#     QP's error when a transfer was in flight);
#   - a lost REQ (SOFTVERBS_CM_WIRE_DROP=1 loses the client daemon's first
#     wire MAD) is sent again after the CM response timeout and connects;
#   - a REQ to an address where nobody answers (it has a neighbour
#     entry, so its address resolves) ends in UNREACHABLE after the
#     retries (SOFTVERBS_CM_RESPONSE_TIMEOUT=14 makes that 2 s).
# Both ports' counters must show the MADs on the wire and no malformed
# packet.
# usage: wire_cm.sh BUILD/bin
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/wire_lib.sh
. "$HERE/wire_lib.sh"
[ -n "${SVT_NO_DEBIAN_TOOLS:-}" ] && { echo "SKIP: sanitizer build"; exit 77; }
for t in rping ucmatose udaddy ib_send_lat; do
	command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }
done
wire_setup "$1"

# pair NAME SIDE "SERVER CMD" "CLIENT CMD": the server in namespace SIDE
# (A or B), the client in the other one; both must exit 0. A client that
# came too early is rejected (the server not listening yet; perftest -R
# also listens anew for its second connection and leaves its server
# unusable when the client gives up): the whole pair runs again, at most
# 5 times, and the count is shown.
pair() {
	local name=$1 side=$2 srv=$3 cli=$4 log=$WIRE_TMP/$1 t0 try spid rc
	local run_s=sv_a run_c=sv_b
	[ "$side" = B ] && { run_s=sv_b; run_c=sv_a; }
	t0=$(date +%s.%N)
	for try in 1 2 3 4 5; do
		# shellcheck disable=SC2086
		$run_s run -- timeout 60 $srv >"$log.srv" 2>&1 &
		spid=$!
		sleep "0.$((try * 2))"
		# shellcheck disable=SC2086
		$run_c run -- timeout 60 $cli >"$log.cli" 2>&1
		rc=$?
		if [ $rc = 0 ]; then
			wait $spid && break
			rc=$?
			tail -5 "$log.srv"
			wire_fail "$name: server failed (exit $rc)"
		fi
		wire_kill $spid
		# Not listening yet: REJECTED (perftest: "Unexpected CM event
		# ... 8"), or for SIDR (udaddy) UNREACHABLE with status 1, the
		# SIDR_REP's "service ID not supported".
		grep -q -E "REJECTED|error 8\b|CM event .* 8$|UNREACHABLE, error: 1$" \
			"$log.cli" && [ $try -lt 5 ] ||
			{ tail -n 5 "$log.cli" "$log.srv"
			  wire_fail "$name: client failed (exit $rc)"; }
	done
	printf 'ok: %-22s server %s %5.1f s, try %s  %s\n' "$name" "$side" \
		"$(echo "$(date +%s.%N) - $t0" | bc)" "$try" \
		"$(grep -h -E '^ *[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+' "$log.cli" | tail -1 | tr -s ' ')"
}

suite() {
	local a=$1 v=$2
	pair "rping-$v" A "rping -s -v -V -a $a -C 100" "rping -c -v -V -a $a -C 100"
	grep -q "rdma-ping-99:" "$WIRE_TMP/rping-$v.cli" ||
		wire_fail "rping-$v: the 100th ping is missing"
	pair "ucmatose-$v" A "ucmatose -b $a -c 10" "ucmatose -s $a -c 10"
	pair "udaddy-$v" A "udaddy -b $a -c 10" "udaddy -s $a -c 10"
}

suite "$IP4A" ipv4
pair ib_send_lat-ipv4 A "ib_send_lat -R -n 200" "ib_send_lat -R -n 200 $IP4A"
pair rping-ipv4-reverse B "rping -s -v -V -a $IP4B -C 100" \
	"rping -c -v -V -a $IP4B -C 100"
suite "$IP6A" ipv6

# Nobody listens on that port: REJECTED (invalid service ID), at once.
t0=$(date +%s)
sv_b run -- timeout 30 rping -c -a "$IP4A" -p 9 -C 1 >"$WIRE_TMP/rej" 2>&1 &&
	wire_fail "reject: rping connected to a port nobody listens on"
grep -q "RDMA_CM_EVENT_REJECTED, error 8" "$WIRE_TMP/rej" ||
	{ cat "$WIRE_TMP/rej"; wire_fail "reject: no REJECTED event"; }
[ $(($(date +%s) - t0)) -lt 10 ] || wire_fail "reject: took too long"
echo "ok: connect to a port nobody listens on: REJECTED (reason 8)"

# A client killed mid-run: its daemon disconnects for it (a DREQ on the
# wire), and the server sees DISCONNECTED.
sv_a run -- timeout 60 rping -s -v -a "$IP4A" -C 100000 >"$WIRE_TMP/dead.srv" 2>&1 &
spid=$!
sleep 0.5
sv_b run -- timeout 60 rping -c -v -a "$IP4A" -C 100000 >"$WIRE_TMP/dead.cli" 2>&1 &
cpid=$!
for _ in $(seq 100); do
	grep -q "rdma-ping-20:" "$WIRE_TMP/dead.cli" && break
	sleep 0.1
done
kill -9 "$(pgrep -n -f "rping -c -v -a $IP4A -C 100000")" 2>/dev/null
wait $cpid
t0=$(date +%s)
wait $spid
# The server ends either on DISCONNECTED (the DREQ) or, when a transfer
# was in flight, on its QP's error completion, whichever comes first;
# never by waiting for its timeout.
how=$(grep -o -m1 "DISCONNECT EVENT\|completion error\|status [0-9]*" "$WIRE_TMP/dead.srv")
[ -n "$how" ] && [ $(($(date +%s) - t0)) -lt 20 ] ||
	{ tail -3 "$WIRE_TMP/dead.srv"; wire_fail "dead client: the server did not notice"; }
echo "ok: a killed client's server ended ($how)"

for s in A B; do
	rcvd=$(wire_stat $s rcvd_pkts)
	[ "${rcvd:-0}" -gt 100 ] || wire_fail "$s received only ${rcvd:-0} packets"
	for k in short icrc version opcode length pkey qkey; do
		v=$(wire_stat $s dropped_$k)
		[ "$v" = 0 ] || wire_fail "$s dropped_$k = $v"
	done
done
echo "ok: counters A: $(sv_a dev stats w0 | grep -E '^(sent|rcvd)_pkts' | tr '\n' ' ')"

# The client's daemon again, losing its first MAD on the wire, with a
# short CM response timeout (2^17 * 4.096 us: 0.54 s between REQs).
restart_b() {
	sv_b stop >/dev/null
	env "$@" ip netns exec "$NSB" env SOFTVERBS_RUNDIR="$RUNB" \
		"$BIN/softverbs" start >/dev/null &&
		sv_b dev add w0 netdev "$VB" || wire_fail "restart B ($*)"
}
restart_b SOFTVERBS_CM_WIRE_DROP=1 SOFTVERBS_CM_RESPONSE_TIMEOUT=17
sv_a run -- timeout 60 rping -s -v -V -a "$IP4A" -C 10 >"$WIRE_TMP/lost.srv" 2>&1 &
spid=$!
sleep 1
t0=$(date +%s.%N)
sv_b run -- timeout 60 rping -c -v -V -a "$IP4A" -C 10 >"$WIRE_TMP/lost.cli" 2>&1 ||
	{ cat "$WIRE_TMP/lost.cli"; wire_fail "lost REQ: the client failed"; }
wait $spid || wire_fail "lost REQ: the server failed"
echo "ok: first REQ lost, sent again, connected in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s"

# Nobody at that address: UNREACHABLE after the retries. The address
# gets a neighbour entry (a MAC nobody has) so that its resolution
# succeeds; without one, rdma_resolve_addr times out (wire_cm_resolve).
restart_b SOFTVERBS_CM_RESPONSE_TIMEOUT=14
ip -n "$NSB" neigh replace "10.91.$WIRE_N.9" lladdr 02:00:00:00:00:09 \
	dev "$VB" nud permanent || wire_fail "neighbour entry for .9"
t0=$(date +%s)
sv_b run -- timeout 60 rping -c -a "10.91.$WIRE_N.9" -C 1 >"$WIRE_TMP/unr" 2>&1
grep -q "RDMA_CM_EVENT_UNREACHABLE" "$WIRE_TMP/unr" ||
	{ cat "$WIRE_TMP/unr"; wire_fail "silent peer: no UNREACHABLE"; }
echo "ok: silent peer: UNREACHABLE after $(($(date +%s) - t0)) s"
echo PASS
