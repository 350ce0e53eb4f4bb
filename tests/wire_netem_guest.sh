#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest "wire_netem" on a kernel that has netem. This machine's kernel may
# lack sch_netem (wire_netem then exits 77), but CI's Debian 12 kernel has
# it, so this runs the very same test (tests/wire_loss.sh, netem mode: two
# namespaces, a veth with netem loss/duplicate/reorder/delay on both ends,
# a daemon in each) inside a Debian 12 guest of ../shared/tools/rxe-vm,
# with this build's binaries and the kernel's veth and sch_netem modules
# from the guest kernel's own Debian package.
#
# usage: wire_netem_guest.sh BUILD/bin [MB]   (MB: 10, as ctest wire_netem)
# env: RXEVM_TOOL (the rxe-vm folder), VMDIR (its image; built if absent),
#      NETEM_GUEST_TIMEOUT (seconds for the whole guest, 1500: QEMU runs
#      under TCG here, 10-50x slower than a native CI core),
#      NETEM_GUEST_LOG (a file to keep the guest's console in).
# Exit 77 when QEMU, the tool or the guest kernel's modules are missing.
#
# Inside the guest (rxe-init runs /share/run.sh, a copy of this file, with
# VM_role set) it loads the modules and runs wire_loss.sh, then prints
# "NETEM-RESULT rc=N secs=S".
set -u
if [ -n "${VM_role:-}" ]; then
	for m in veth sch_netem; do
		insmod "/share/mods/$m.ko" || echo "insmod $m failed"
	done
	t0=$(cut -d' ' -f1 /proc/uptime)
	WIRE_LOSS_MODE=netem bash /share/tests/wire_loss.sh /share/sv/bin \
		"$VM_role" 2>&1
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "NETEM-RESULT rc=$rc secs=$(awk -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.0f", b - a }')"
	exit 0
fi

BIN=$(cd "${1:?usage: wire_netem_guest.sh BUILD/bin [MB]}" && pwd)
MB=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/rxevm_lib.sh"
rxevm_find

if [ -z "${WIRE_NETEM_IN_NETNS:-}" ]; then
	rxevm_image
	kv=$(rxevm_kver)
	# The guest image keeps only rdma_rxe's modules: veth and sch_netem
	# come from the same kernel's package.
	rxevm_modules "$VMDIR/netem-modules" net/sched/sch_netem \
		drivers/net/veth ||
		{ echo "SKIP: no veth/sch_netem modules for $kv"; exit 77; }
	ns=svnetem$$
	ip netns add "$ns" || { echo "SKIP: cannot create a namespace"; exit 77; }
	WIRE_NETEM_IN_NETNS=1 ip netns exec "$ns" "$0" "$@"
	rc=$?
	ip netns del "$ns"
	exit $rc
fi

# A private VMDIR (the image by a link, a share of its own) so that this
# can run next to tests/wire_rxe.sh.
RUN=$(mktemp -d /tmp/svnetem.XXXXXX)
cleanup() {
	kill "${QPID:-}" 2>/dev/null
	[ -n "${NETEM_GUEST_LOG:-}" ] && cp "$RUN/guest.log" "$NETEM_GUEST_LOG"
	rm -rf "$RUN"
}
trap cleanup EXIT
S=$RUN/vm/share
mkdir -p "$S/tests" "$S/sv/bin" "$S/sv/lib" "$S/mods"
ln -s "$VMDIR/out" "$RUN/vm/out"
cp "$0" "$S/run.sh"
cp "$HERE/wire_loss.sh" "$HERE/wire_lib.sh" "$S/tests/"
cp "$BIN/softverbs" "$BIN/softverbsd" "$S/sv/bin/"
cp -L "$BIN"/../lib/lib*.so.1 "$S/sv/lib/"
cp "$VMDIR"/netem-modules/*.ko "$S/mods/"
ip link set lo up
ip tuntap add dev tap-netem mode tap && ip link set tap-netem up ||
	{ echo "FAIL: tap"; exit 1; }
t0=$(date +%s)
# ROLE carries MB into the guest (rxe-init exports it as VM_role).
VMDIR=$RUN/vm MEM=1536 "$TOOL/boot.sh" tap-netem 52:54:00:00:78:02 \
	10.78.0.2/24 "$MB" "${NETEM_GUEST_TIMEOUT:-1500}" >"$RUN/guest.log" 2>&1 &
QPID=$!
wait $QPID
QPID=
grep -a -E "^(ok|note|counters|netem|FAIL|SKIP|PASS)|NETEM-RESULT|insmod" \
	"$RUN/guest.log"
res=$(grep -a -o "NETEM-RESULT rc=[0-9]* secs=[0-9]*" "$RUN/guest.log")
echo "guest run: ${res:-no result} (host wall time $(( $(date +%s) - t0 )) s)"
case $res in
*"rc=0 "*) echo PASS ;;
*) tail -n 40 "$RUN/guest.log"; echo "FAIL: wire_netem in the guest"; exit 1 ;;
esac
