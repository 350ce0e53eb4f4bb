#!/usr/bin/env bash
# Debian's unmodified perftest (ibv_wr_* API, its default), server and
# client processes on one host, through "softverbs run". Short runs: this
# checks that every tool completes; figures are printed, not judged (the
# bench/ tool measures speed).
#
# Env: SOFTVERBS_CLI (default build/bin/softverbs), SV_PERF_ITERS (bw
# iterations, default 1000), SV_PERF_ALL_ITERS (iterations per size for
# -a, default 20), SV_PERF_LOG (log dir, default build/perftest).
set -uo pipefail
cd "$(dirname "$0")/.."
CLI=${SOFTVERBS_CLI:-$PWD/build/bin/softverbs}
ITERS=${SV_PERF_ITERS:-1000}
ALL_ITERS=${SV_PERF_ALL_ITERS:-20}
LOG=${SV_PERF_LOG:-build/perftest}
mkdir -p "$LOG"
"$CLI" start >/dev/null
. scripts/gid.sh
GID=$(sv_gid "$CLI" '::ffff:127\.0\.0\.1')
DEV=$("$CLI" run -- ibv_devices | awk 'NR > 2 {print $1; exit}')
fails=0
port=19515

# The figure line: the last numeric row of the client's table.
figures() {
	awk '/^ *[0-9]+ +[0-9]+ / {l = $0} END {print l}' "$1" | tr -s ' \t' ' '
}

run_pair() { # tool, args...
	local tool=$1; shift
	local tag
	tag="$tool$(echo "$*" | tr -d ' -')"
	port=$((port + 1))
	timeout 120 "$CLI" run -- "$tool" -d "$DEV" -x "$GID" -p "$port" "$@" \
		>"$LOG/$tag.srv.log" 2>&1 &
	local srv=$!
	sleep 0.3
	if timeout 120 "$CLI" run -- "$tool" -d "$DEV" -x "$GID" -p "$port" \
		"$@" localhost >"$LOG/$tag.cli.log" 2>&1 && wait "$srv"; then
		echo "PASS $tool $* :: $(figures "$LOG/$tag.cli.log")"
	else
		wait "$srv" 2>/dev/null
		echo "FAIL $tool $*"
		tail -4 "$LOG/$tag.cli.log" "$LOG/$tag.srv.log"
		fails=$((fails + 1))
	fi
}

for t in ib_send_lat ib_write_lat ib_read_lat ib_atomic_lat; do
	run_pair "$t" -n 1000
done
for t in ib_send_bw ib_write_bw ib_read_bw ib_atomic_bw; do
	run_pair "$t" -n "$ITERS"
done
run_pair ib_send_bw -s 1048576 -n 100
run_pair ib_read_bw -s 1048576 -n 100
run_pair ib_write_bw -a -n "$ALL_ITERS"
run_pair ib_read_bw -a -n "$ALL_ITERS"
for f in "$LOG"/ib_write_bw*a*.cli.log "$LOG"/ib_read_bw*a*.cli.log; do
	echo "--- $(basename "$f" .cli.log)"
	awk '/^ *[0-9]+ +[0-9]+ / {print}' "$f"
done
echo "perftest: $fails failed"
exit $((fails > 0))
