#!/bin/bash
# ctest "fake_daemon": a daemon that does not start must FAIL every test
# that needs one, never skip it (exit 77 means only "this machine lacks
# something"). Runs each named test with SOFTVERBSD pointing at a program
# that exits 1 and passes only if every one of them exits non-zero and
# not 77.
# Usage: check_fake_daemon.sh BINDIR CLI_TEST_SH TEST...
set -u

BINDIR=${1:?usage: check_fake_daemon.sh BINDIR CLI_TEST_SH TEST...}
CLI_TEST=${2:?}
shift 2
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexit 1\n' >"$tmp/softverbsd"
chmod +x "$tmp/softverbsd"
export SOFTVERBSD=$tmp/softverbsd
bad=0

# check NAME CMD...: run it against the fake daemon; it must fail.
check() {
	local name=$1 rc

	shift
	timeout 60 "$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
		echo "BAD: $name exited $rc with a daemon that exits 1"
		sed 's/^/    /' "$tmp/out"
		bad=1
	else
		echo "ok: $name failed (exit $rc)"
	fi
}

for t in "$@"; do
	check "$t" "$BINDIR/$t"
done
check cli bash "$CLI_TEST" "$BINDIR/softverbs"
exit $bad
