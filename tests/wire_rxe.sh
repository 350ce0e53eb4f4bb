#!/bin/bash
# SPDX-License-Identifier: MIT
# Interoperability with the kernel's Soft-RoCE: softverbs on the host side
# of a bridge, kernel rdma_rxe in a QEMU guest (../shared/tools/rxe-vm),
# everything inside a network namespace made for the run. Both
# directions: the guest runs ibv_rc_pingpong -c, ib_send_bw, ib_read_lat
# and rping (rdma_cm: the kernel's CM and softverbs' exchange their MADs
# on QP1) as clients of softverbs servers, then as servers of softverbs
# clients (tests/wire_rxe_guest.sh). WIRE_RXE_TESTS=rping runs only rping,
# rxe_client only the guest's clients of softverbs servers, rxe_server only
# the guest's servers of softverbs clients (neither with rping).
#
# usage: wire_rxe.sh BUILD/bin
# env: RXEVM_TOOL (the rxe-vm folder), VMDIR (its image; built if absent,
# about 75 s on a quiet machine, needs debootstrap and network).
# Exit 77 when QEMU or the tool is missing.
set -u
BIN=$(cd "${1:?usage: wire_rxe.sh BUILD/bin}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/rxevm_lib.sh"
rxevm_find
# The guest image keeps only rdma_rxe's modules; rdma_cm needs four more
# (and configfs), which the guest loads from the share.
CM_MODULES="fs/configfs/configfs drivers/infiniband/core/iw_cm
	drivers/infiniband/core/ib_cm drivers/infiniband/core/rdma_cm
	drivers/infiniband/core/rdma_ucm"

if [ -z "${WIRE_RXE_IN_NETNS:-}" ]; then
	rxevm_image
	# shellcheck disable=SC2086
	rxevm_modules "$VMDIR/share/cm-modules" $CM_MODULES ||
		echo "no rdma_cm modules for the guest: its rping fails"
	ns=svrxe$$
	ip netns add "$ns" || { echo "SKIP: cannot create a namespace"; exit 77; }
	WIRE_RXE_IN_NETNS=1 ip netns exec "$ns" "$0" "$@"
	rc=$?
	ip netns del "$ns"
	exit $rc
fi

RUN=$(mktemp -d /tmp/svrxe.XXXXXX)
export SOFTVERBS_RUNDIR=$RUN/run
SV=$BIN/softverbs
cleanup() {
	"$SV" stop >/dev/null 2>&1
	kill "${QPID:-}" ${DPID:-} 2>/dev/null
	# WIRE_RXE_LOGS=DIR keeps the guest's console and the host's outputs.
	[ -n "${WIRE_RXE_LOGS:-}" ] && mkdir -p "$WIRE_RXE_LOGS" &&
		cp "$RUN"/*.log "$WIRE_RXE_LOGS"/
	rm -rf "$RUN"
}
trap cleanup EXIT
T0=$(date +%s)
t() { echo "[rxe $(( $(date +%s) - T0 ))s] $*"; }
ip link set lo up
ip link add br-sv type bridge
ip addr add 10.77.0.1/24 dev br-sv
ip link set br-sv up
ip tuntap add dev tap-sv mode tap
ip link set tap-sv master br-sv
ip link set tap-sv up
mkdir -p "$VMDIR/share" "$SOFTVERBS_RUNDIR"
cp "$HERE/wire_rxe_guest.sh" "$VMDIR/share/run.sh"
chmod +x "$VMDIR/share/run.sh"
"$SV" start >/dev/null && "$SV" dev add w0 netdev br-sv ||
	{ echo "FAIL: daemon"; exit 1; }
[ -n "${WIRE_RXE_PCAP:-}" ] && "$SV" trace w0 "$WIRE_RXE_PCAP"
# WIRE_RXE_DUMP=FILE: what crossed the bridge, as the guest saw it.
[ -n "${WIRE_RXE_DUMP:-}" ] && { dumpcap -q -i br-sv -f "udp port 4791" \
	-w "$WIRE_RXE_DUMP" 2>/dev/null & DPID=$!; }
G=1
EXTRA="vm.peer=10.77.0.1" "$TOOL/boot.sh" tap-sv 52:54:00:00:77:02 \
	10.77.0.2/24 "${WIRE_RXE_TESTS:-all}" 1500 > "$RUN/guest.log" 2>&1 &
QPID=$!
run() { "$SV" run -- timeout 300 "$@"; }
fails=0
host() { # host NAME CMD...: one side of a pair, result line
	local name=$1 out rc
	shift
	out=$("$@" 2>&1); rc=$?
	echo "$out" > "$RUN/$name.log"
	# rping can exit 0 without a ping (a connection that failed early).
	case $name in rping*) echo "$out" | grep -q "rdma-ping-99:" || rc=1;; esac
	[ $rc = 0 ] || { fails=$((fails + 1)); echo "$out" | tail -5; }
	t "HOST-RESULT $name $([ $rc = 0 ] && echo ok || echo FAIL) $(echo "$out" | grep -E 'iters in|^ *[0-9]+ +[0-9]+ +[0-9.]+' | tail -1 | tr -s ' ')"
}
retry() { local n=0; until "$@"; do n=$((n + 1)); [ $n -gt 120 ] && return 1; sleep 1; done; }
ROLE=${WIRE_RXE_TESTS:-all}
want() { case $ROLE in all|"$1") return 0;; esac; return 1; }
if want rxe_client; then
host rc_pingpong_sv_server run ibv_rc_pingpong -d w0 -g $G -p 18515 -c -n 100 -s 4096
host send_bw_sv_server run ib_send_bw -d w0 -x $G -p 18516 -n 1000 -s 65536
host read_lat_sv_server run ib_read_lat -d w0 -x $G -p 18517 -n 1000
fi
want rping && host rping_sv_server run rping -s -v -V -a 10.77.0.1 -C 100
if want rxe_server; then
host rc_pingpong_sv_client retry run ibv_rc_pingpong -d w0 -g $G -p 18515 -c -n 100 -s 4096 10.77.0.2
host send_bw_sv_client retry run ib_send_bw -d w0 -x $G -p 18516 -n 1000 -s 65536 10.77.0.2
host read_lat_sv_client retry run ib_read_lat -d w0 -x $G -p 18517 -n 1000 10.77.0.2
fi
want rping && host rping_sv_client retry run rping -c -v -V -a 10.77.0.2 -C 100
wait $QPID
grep -a "RXE-RESULT\|hw_counters\|^[a-z_]*:[0-9]" "$RUN/guest.log" | head -20
grep -a -A1 "read_lat_rxe_server" "$RUN/guest.log" | tail -1 | head -c 600; echo
guest_fail=$(grep -a -c "RXE-RESULT .* FAIL" "$RUN/guest.log")
n_ok=$(grep -a -c "RXE-RESULT .* ok" "$RUN/guest.log")
"$SV" dev stats w0 | grep -v " 0$" | tr '\n' ' '; echo
case $ROLE in all) n_want=8;; rping) n_want=2;; *) n_want=3;; esac
[ "$fails" = 0 ] && [ "$guest_fail" = 0 ] && [ "$n_ok" = "$n_want" ] ||
	{ echo "FAIL: host failures $fails, guest failures $guest_fail, guest ok $n_ok"; exit 1; }
echo PASS
