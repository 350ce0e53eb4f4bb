#!/bin/bash
# ctest "cli": softverbs start/status/dev/stop against a private runtime
# directory. Usage: cli_test.sh PATH/TO/softverbs. Exit 0 pass, 1 fail.
set -u

CLI=${1:?usage: cli_test.sh PATH/TO/softverbs}
SOFTVERBS_RUNDIR=$(mktemp -d) || exit 1
export SOFTVERBS_RUNDIR
pid=

# A zombie is gone too: PID 1 in a container may never reap the daemon.
alive() {
	local state

	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	# Only ever the daemon this test started.
	if [ -n "$pid" ] && alive "$pid"; then
		"$CLI" stop >/dev/null 2>&1 || kill "$pid"
	fi
	rm -rf "$SOFTVERBS_RUNDIR"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	if [ -f "$SOFTVERBS_RUNDIR/softverbsd.log" ]; then
		echo "---- softverbsd.log"
		cat "$SOFTVERBS_RUNDIR/softverbsd.log"
	fi
	exit 1
}

# run CMD...: echo it, run it, keep its output in $out.
run() {
	echo "+ softverbs $*"
	out=$("$CLI" "$@" 2>&1)
	local rc=$?
	[ -n "$out" ] && echo "$out"
	return $rc
}

run start || fail "start"
run status || fail "status"
pid=$(grep -o 'pid=[0-9]*' <<<"$out" | head -n1 | cut -d= -f2)
[ -n "$pid" ] || fail "status printed no pid"
alive "$pid" || fail "daemon pid $pid is not running"
[ -S "$SOFTVERBS_RUNDIR/devices/softverbs0/sock" ] ||
	fail "no softverbs0 device socket"
run start || fail "second start"
grep -q "already running" <<<"$out" || fail "second start started again"

run dev add sv1 || fail "dev add sv1"
run dev list || fail "dev list"
grep -q '^softverbs0 ' <<<"$out" || fail "softverbs0 not listed"
grep -q '^sv1 ' <<<"$out" || fail "sv1 not listed"
run dev show sv1 || fail "dev show sv1"
run dev del sv1 || fail "dev del sv1"
run dev list || fail "dev list after del"
grep -q '^sv1 ' <<<"$out" && fail "sv1 still listed"
grep -q '^softverbs0 ' <<<"$out" || fail "softverbs0 gone"
run dev add 'bad name!' && fail "dev add accepted 'bad name!'"
run dev del sv1 && fail "dev del of a missing device succeeded"

run stop || fail "stop"
alive "$pid" && fail "daemon pid $pid still running after stop"
run status && fail "status succeeded after stop"
echo "PASS"
exit 0
