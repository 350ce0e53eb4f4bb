#!/usr/bin/env bash
# Debian's unmodified pingpong examples, server and client processes on one
# host, with -c data validation, through "softverbs run".
set -uo pipefail
cd "$(dirname "$0")/.."
CLI=${SOFTVERBS_CLI:-$PWD/build/bin/softverbs}
"$CLI" start >/dev/null
. scripts/gid.sh
GID=$(sv_gid "$CLI" '::ffff:127\.0\.0\.1')
fails=0
port=18515
run_pair() { # name, args...
	local name=$1; shift
	port=$((port + 1))
	timeout 60 "$CLI" run -- "$name" -p "$port" -g "$GID" "$@" \
		>"build/$name.srv.log" 2>&1 &
	local srv=$!
	sleep 0.5
	if timeout 60 "$CLI" run -- "$name" -p "$port" -g "$GID" "$@" localhost \
		>"build/$name.cli.log" 2>&1 && wait "$srv"; then
		echo "PASS $name $* :: $(grep -m1 -E 'usec/iter|success' "build/$name.cli.log")"
	else
		wait "$srv" 2>/dev/null
		echo "FAIL $name $*"; tail -3 "build/$name.cli.log"
		fails=$((fails + 1))
	fi
}
run_pair ibv_rc_pingpong -c -n 500 -s 4096
run_pair ibv_uc_pingpong -c -n 500 -s 4096
run_pair ibv_ud_pingpong -c -n 500 -s 1024
run_pair ibv_srq_pingpong -c -n 500 -s 4096
# XRC: ibv_xsrq_pingpong has no -c (it checks nothing but completions).
run_pair ibv_xsrq_pingpong -n 500 -s 4096
exit $((fails > 0))
