#!/bin/bash
# ctest "test_sysfs_view": what a program under "softverbs run" sees.
#  - in a mount namespace (root's plain one, and the user-namespace path
#    unprivileged users take): /dev/infiniband/uverbs_NAME opens read-write;
#    /sys/class/infiniband/NAME agrees with ibv_devinfo -v; a device added
#    later appears in the view; ibv_get_sysfs_path() is /sys; ibstat;
#  - the fallback (SOFTVERBS_NO_NAMESPACE=1): no mounts, verbs still work,
#    ibv_get_sysfs_path() names the daemon's tree;
#  - the host's /dev and /sys are the same before and after.
# Usage: test_sysfs_view.sh SOFTVERBS SYSFS_PROBE SYSFS_VS_DEVINFO.PY
# Exit 0 pass, 1 fail, 77 when this machine allows no mount namespace.
set -u

CLI=${1:?usage}
PROBE=${2:?usage}
COMPARE=${3:?usage}
SOFTVERBS_RUNDIR=$(mktemp -d) || exit 1
COMPARE_CMD=python3
unset SOFTVERBS_NO_NAMESPACE SOFTVERBS_USERNS SYSFS_PATH
# Sanitizer builds: Debian's binaries cannot load our instrumented library.
if [ -n "${SVT_NO_DEBIAN_TOOLS:-}" ]; then
	COMPARE=$(dirname "$COMPARE")/sysfs_files_only.sh
	COMPARE_CMD=bash
fi
export SOFTVERBS_RUNDIR CLI PROBE COMPARE COMPARE_CMD

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	"$CLI" stop >/dev/null 2>&1
	rm -rf "$SOFTVERBS_RUNDIR"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

host_state() {
	ls -la /dev/infiniband /sys/class/infiniband \
		/sys/class/infiniband_verbs 2>&1
}

"$CLI" start >/dev/null || fail "start"
"$CLI" dev add ib0 type ib || fail "dev add ib0 type ib"
before=$(host_state)

# Inside: everything a UCX/MPI/ibstat user relies on.
inside() {
	set -e
	echo "view: $SOFTVERBS_VIEW"
	for d in softverbs0 ib0; do
		[ -c "/dev/infiniband/uverbs_$d" ]
		exec 3<>"/dev/infiniband/uverbs_$d"
		exec 3>&-
	done
	[ "$(cat /sys/class/infiniband_verbs/uverbs_ib0/ibdev)" = ib0 ]
	[ -r /sys/class/infiniband_verbs/abi_version ]
	[ -r /sys/class/infiniband_mad/abi_version ]
	"$COMPARE_CMD" "$COMPARE" /sys/class/infiniband softverbs0 ib0
	[ "$("$PROBE" | head -n1)" = /sys ]
	# The view is the daemon's live tree: later devices show up.
	"$CLI" dev add late0 >/dev/null
	[ -r /sys/class/infiniband/late0/node_guid ]
	"$CLI" dev del late0 >/dev/null
	[ ! -e /sys/class/infiniband/late0 ]
	if command -v ibstat >/dev/null; then
		ibstat -l | grep -qx ib0
		ibstat ib0 | grep -q 'Link layer: InfiniBand'
		ibstat softverbs0 | grep -q 'Link layer: Ethernet'
	fi
	# Other classes are still the host's.
	[ -e /sys/class/net/lo ]
	[ -c /dev/null ] && [ -d /dev/pts ]
}
export -f inside

out=$("$CLI" run -- bash -c inside 2>&1)
rc=$?
echo "$out"
if grep -q '^view: fallback' <<<"$out"; then
	echo "SKIP: no mount namespace on this machine"
	exit 77
fi
[ $rc -eq 0 ] || fail "inside the mount namespace"
grep -q '^view: mounted' <<<"$out" || fail "view not mounted"

# The unprivileged path: a user namespace mapping us to ourselves.
out=$(SOFTVERBS_USERNS=1 "$CLI" run -- bash -c \
	'echo "view: $SOFTVERBS_VIEW uid=$(id -u)"; "$PROBE" &&
	 [ -c /dev/infiniband/uverbs_ib0 ] &&
	 "$COMPARE_CMD" "$COMPARE" /sys/class/infiniband ib0' 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "in a user namespace"
grep -q "^view: mounted uid=$(id -u)$" <<<"$out" || fail "userns uid map"

[ "$(host_state)" = "$before" ] || fail "the host's /dev or /sys changed"

# The fallback: no namespace, nothing mounted, verbs still work.
out=$(SOFTVERBS_NO_NAMESPACE=1 "$CLI" run -- bash -c \
	'echo "view: $SOFTVERBS_VIEW"; "$PROBE"' 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "fallback run"
grep -q '^view: fallback' <<<"$out" || fail "fallback not reported"
grep -qx "$SOFTVERBS_RUNDIR/sysfs" <<<"$out" ||
	fail "fallback ibv_get_sysfs_path() is not the daemon's tree"
SOFTVERBS_NO_NAMESPACE=1 "$CLI" run -- "$COMPARE_CMD" "$COMPARE" \
	"$SOFTVERBS_RUNDIR/sysfs/class/infiniband" softverbs0 ib0 ||
	fail "fallback tree vs ibv_devinfo"
[ "$(host_state)" = "$before" ] || fail "the host's /dev or /sys changed"
echo "PASS"
