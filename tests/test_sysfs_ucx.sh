#!/bin/bash
# ctest "test_sysfs_ucx": UCX (Debian's ucx-utils) through "softverbs run":
# ucx_info -d lists softverbs0:1 and ib0:1 under rc_verbs and ud_verbs, and
# a short ucx_perftest tag_lat between two processes completes over
# rc_verbs and over ud_verbs (UCX drops UD packets whose completion does
# not say where the destination address is). Usage: test_sysfs_ucx.sh
# SOFTVERBS. Exit 0 pass, 1 fail, 77 without ucx-utils or a mount
# namespace, or in a sanitizer build (Debian's binaries cannot load it).
set -u
CLI=${1:?usage: test_sysfs_ucx.sh SOFTVERBS}
command -v ucx_perftest >/dev/null || { echo "SKIP: no ucx-utils"; exit 77; }
[ -n "${SVT_NO_DEBIAN_TOOLS:-}" ] && { echo "SKIP: sanitizer build"; exit 77; }
SOFTVERBS_RUNDIR=$(mktemp -d) || exit 1
export SOFTVERBS_RUNDIR
unset SOFTVERBS_NO_NAMESPACE UCX_TLS UCX_NET_DEVICES
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	[ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
	"$CLI" stop >/dev/null 2>&1
	rm -rf "$SOFTVERBS_RUNDIR"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

"$CLI" start >/dev/null || fail start
"$CLI" dev add ib0 type ib >/dev/null || fail "dev add ib0 type ib"
info=$("$CLI" run -- sh -c 'echo "view: $SOFTVERBS_VIEW"; ucx_info -d' 2>&1)
grep -q '^view: fallback' <<<"$info" && { echo "SKIP: no namespace"; exit 77; }
for tl in rc_verbs ud_verbs; do
	for dev in softverbs0:1 ib0:1; do
		grep -A1 "Transport: $tl\$" <<<"$info" | grep -q "Device: $dev\$" ||
			fail "ucx_info -d lists no $dev under $tl"
	done
done

port=$((30000 + $$ % 20000))
for tls in rc_v ud_v; do
	port=$((port + 1))
	export UCX_NET_DEVICES=softverbs0:1 UCX_TLS=$tls,self
	"$CLI" run -- ucx_perftest -p "$port" >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	out=$(timeout 60 "$CLI" run -- ucx_perftest 127.0.0.1 -p "$port" \
		-t tag_lat -s 8 -n 100 2>&1)
	wait "$srv"
	srv=
	final=$(grep '^Final:' <<<"$out") || { echo "$out" | tail -n 5;
		fail "ucx_perftest tag_lat over $tls"; }
	echo "$tls: $final"
done
echo PASS
