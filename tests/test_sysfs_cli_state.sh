#!/bin/bash
# ctest "test_sysfs_cli_state" (issue 18 item 4, CLI part): "softverbs
# status" and "stop" tell a daemon that is not running (exit 3) from one
# that does not answer, e.g. SIGSTOPped (exit 5, within the control
# timeout), and from one we may not talk to (exit 4); none of these exits 0,
# and no second daemon is started over a hung one.
# Usage: test_sysfs_cli_state.sh PATH/TO/softverbs. Exit 0 pass, 1 fail.
set -u

CLI=${1:?usage: test_sysfs_cli_state.sh PATH/TO/softverbs}
SOFTVERBS_RUNDIR=$(mktemp -d) || exit 1
export SOFTVERBS_RUNDIR
pid=

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [ -n "$pid" ]; then
		kill -CONT "$pid" 2>/dev/null
		"$CLI" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	fi
	rm -rf "$SOFTVERBS_RUNDIR"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# expect RC MESSAGE-REGEX CMD...: run CMD, check its exit code and output.
expect() {
	local want=$1 re=$2 out rc t0
	shift 2
	t0=$(date +%s)
	out=$("$@" 2>&1)
	rc=$?
	echo "+ $* -> $rc in $(($(date +%s) - t0)) s: $out"
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, want $want"
	grep -qiE "$re" <<<"$out" || fail "$*: output does not match '$re'"
}

"$CLI" start >/dev/null || fail "start"
pid=$(cat "$SOFTVERBS_RUNDIR/softverbsd.pid")
[ -n "$pid" ] || fail "no pid file"
expect 0 "pid=$pid" "$CLI" status

# Hung: accepted by the kernel's backlog, never answered.
kill -STOP "$pid"
expect 5 "not responding" timeout 20 "$CLI" status
expect 5 "not responding" timeout 20 "$CLI" stop
expect 5 "not responding" timeout 20 "$CLI" run -- true
[ "$(cat "$SOFTVERBS_RUNDIR/softverbsd.pid")" = "$pid" ] ||
	fail "a second daemon was started over the hung one"
kill -CONT "$pid"
expect 0 "pid=$pid" "$CLI" status

# Permission denied: another user cannot reach root's private rundir.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" help \
		>/dev/null 2>&1; then
	as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			env SOFTVERBS_RUNDIR="$SOFTVERBS_RUNDIR" "$CLI" "$@"
	}
	expect 4 "permission denied" as_nobody status
	expect 4 "permission denied" as_nobody stop
	kill -0 "$pid" || fail "nobody stopped the daemon"
else
	echo "note: permission case not run (needs root, setpriv, nobody)"
fi

expect 0 "stopped" "$CLI" stop
pid=
expect 3 "not running" "$CLI" status
expect 3 "not running" "$CLI" stop
echo "PASS"
