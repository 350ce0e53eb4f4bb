#!/bin/bash
# ctest "test_sec_userns" (issues 15 and 18): "softverbs run" as a real
# unprivileged user, made for the test with useradd (CI runs as root).
#  1. The user's own daemon (started by "run" in a directory the user
#     owns): it runs as that user, the program runs in a user + mount
#     namespace as the same uid (not root), /dev/infiniband/uverbs_NAME is
#     a character device it opens read-write, /sys/class/infiniband/NAME
#     is the view (its node_guid is the one verbs report), verbs work.
#  2. Root's daemon, serving the host from a 0755 directory: the user's
#     "run" uses it through the device sockets (it may not drive it: "dev
#     add" and "stop" are refused, exit 4), with the same view.
#  3. The host's /dev and /sys are the same before and after.
# Usage: test_sec_userns.sh SOFTVERBS SYSFS_PROBE
# Exit 0 pass, 1 fail, 77 when not root, without useradd, or when the
# kernel gives unprivileged users no user namespace.
set -u

CLI=${1:?usage: test_sec_userns.sh SOFTVERBS SYSFS_PROBE}
PROBE=${2:?usage: test_sec_userns.sh SOFTVERBS SYSFS_PROBE}
USER_NAME=svtest-peer # the same second user as test_cross_user
mine=
root=
copy=

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	[ -n "$mine" ] && as_user env SOFTVERBS_RUNDIR="$mine" "$CLI" stop \
		>/dev/null 2>&1
	[ -n "$root" ] && SOFTVERBS_RUNDIR="$root" "$CLI" stop >/dev/null 2>&1
	rm -rf "$mine" "$root" "${copy:-}"
}
trap cleanup EXIT

as_user() {
	setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups \
		--reset-env "$@"
}

[ "$(id -u)" -eq 0 ] || skip "needs root to make and become a second user"
command -v setpriv >/dev/null || skip "no setpriv"
if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin \
		"$USER_NAME" 2>/dev/null || skip "no useradd"
fi
uid=$(id -u "$USER_NAME")
# A build tree other users cannot enter (a clone under /root): a copy of
# what the user runs, laid out as the CLI expects (bin/ next to lib/).
if ! as_user test -x "$CLI" -a -x "$PROBE"; then
	copy=$(mktemp -d) && chmod 755 "$copy" || fail "mktemp"
	mkdir "$copy/bin" "$copy/lib" &&
		cp "$CLI" "$(dirname "$CLI")/softverbsd" "$PROBE" "$copy/bin" &&
		cp -P "$(dirname "$CLI")"/../lib/lib*.so* "$copy/lib" &&
		chmod -R a+rX "$copy" || fail "copying the build"
	CLI=$copy/bin/softverbs
	PROBE=$copy/bin/$(basename "$PROBE")
fi
as_user unshare --user --map-current-user true 2>/dev/null ||
	skip "this kernel gives unprivileged users no user namespace"

host_state() {
	ls -la /dev/infiniband /sys/class/infiniband \
		/sys/class/infiniband_verbs 2>&1
}
before=$(host_state)

# What the program sees; prints "view: ..." first.
# shellcheck disable=SC2016 # expanded by the inner shell
inside='set -e
echo "view: $SOFTVERBS_VIEW uid=$(id -u)"
[ -c /dev/infiniband/uverbs_softverbs0 ]
exec 3<>/dev/infiniband/uverbs_softverbs0
exec 3>&-
guid=$(cat /sys/class/infiniband/softverbs0/node_guid)
"$PROBE" >/dev/null
echo "guid: $guid"'

check_run() { # RUNDIR WHAT
	local out rc
	out=$(as_user env SOFTVERBS_RUNDIR="$1" PROBE="$PROBE" \
		"$CLI" run -- bash -c "$inside" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] || fail "$2: the program failed"
	grep -q "^view: mounted uid=$uid$" <<<"$out" ||
		fail "$2: not in a namespace as uid $uid"
	grep -q "^guid: [0-9a-f:]\{19\}$" <<<"$out" ||
		fail "$2: no node_guid in the view"
}

# 1. The user's own daemon.
mine=$(mktemp -d) && chown "$USER_NAME:" "$mine" && chmod 700 "$mine" ||
	fail "mktemp"
check_run "$mine" "own daemon"
pid=$(cat "$mine/softverbsd.pid")
[ "$(stat -c %u "/proc/$pid")" = "$uid" ] ||
	fail "the user's daemon does not run as the user"

# 2. Root's daemon, shared with every user.
root=$(mktemp -d) && chmod 755 "$root" || fail "mktemp"
SOFTVERBS_RUNDIR="$root" "$CLI" start >/dev/null || fail "root's start"
check_run "$root" "root's daemon"
as_user env SOFTVERBS_RUNDIR="$root" "$CLI" dev add evil >/dev/null 2>&1
[ $? -eq 4 ] || fail "the user could add a device to root's daemon"
as_user env SOFTVERBS_RUNDIR="$root" "$CLI" stop >/dev/null 2>&1
[ $? -eq 4 ] || fail "the user could stop root's daemon"
SOFTVERBS_RUNDIR="$root" "$CLI" status >/dev/null || fail "root's daemon died"

[ "$(host_state)" = "$before" ] || fail "the host's /dev or /sys changed"
echo "PASS"
