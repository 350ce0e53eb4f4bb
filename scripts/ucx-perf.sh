#!/bin/bash
# UCX on softverbs: ucx_perftest between two processes, each started with
# "softverbs run --" (which mounts /dev/infiniband and the sysfs view UCX
# needs), over rc_verbs and ud_verbs on a RoCE and an InfiniBand device,
# with UCX shared memory from the same invocation as the reference.
#
# Usage: scripts/ucx-perf.sh [quick]
#   SOFTVERBS_RUNDIR  daemon runtime directory (default build/run-ucx)
#   quick             fewer iterations
#   SOFTVERBS_CLI     the softverbs binary (default build/bin/softverbs)
# Prints one line per case: device, transports, test, size, figure.
# Exit 1 if any case fails to complete.
set -uo pipefail
cd "$(dirname "$0")/.."
CLI=${SOFTVERBS_CLI:-$PWD/build/bin/softverbs}
export SOFTVERBS_RUNDIR=${SOFTVERBS_RUNDIR:-$PWD/build/run-ucx}
PORT=${UCX_PERF_PORT:-$((20000 + $$ % 20000))}
LAT_N=2000 BW_N=200 BW_SIZE=65536
if [ "${1:-}" = quick ]; then
	LAT_N=200 BW_N=20
fi
failed=0

# shellcheck source=scripts/ib0-daemon.sh
. scripts/ib0-daemon.sh

# one DEVICE TLS TEST SIZE ITERS: a server and a client, one line of result.
one() {
	local dev=$1 tls=$2 test=$3 size=$4 iters=$5 srv out final
	PORT=$((PORT + 1))
	UCX_NET_DEVICES=$dev UCX_TLS=$tls "$CLI" run -- \
		taskset -c 1 ucx_perftest -p "$PORT" >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	out=$(UCX_NET_DEVICES=$dev UCX_TLS=$tls timeout 120 "$CLI" run -- \
		taskset -c 0 ucx_perftest 127.0.0.1 -p "$PORT" -t "$test" \
		-s "$size" -n "$iters" 2>&1)
	wait "$srv"
	final=$(grep '^Final:' <<<"$out")
	if [ -z "$final" ]; then
		printf '%-14s %-16s %-10s %8s  FAILED\n' "$dev" "$tls" "$test" "$size"
		tail -n 5 <<<"$out"
		failed=1
		return
	fi
	# Final: iters typ avg overall(us) bw_avg bw_overall(MB/s) ...
	# shellcheck disable=SC2086
	set -- $final
	if [ "$test" = tag_lat ]; then
		printf '%-14s %-16s %-10s %8s  %9.2f us one-way (typical %.2f)\n' \
			"$dev" "$tls" "$test" "$size" "$4" "$3"
	else
		printf '%-14s %-16s %-10s %8s  %9.1f MB/s\n' \
			"$dev" "$tls" "$test" "$size" "$7"
	fi
}

suite() {
	local dev=$1 tls=$2 test
	one "$dev" "$tls" tag_lat 8 "$LAT_N"
	# UCP's put and get (UCT's put_bw needs one transport and -d).
	for test in tag_bw ucp_put_bw ucp_get; do
		one "$dev" "$tls" "$test" "$BW_SIZE" "$BW_N"
	done
}

echo "UCX $(ucx_info -v | sed -n 's/.*[Vv]ersion[ =]\([0-9.]*\).*/\1/p' | head -n1)," \
	"$(date -u +%F\ %T) UTC, $(nproc) CPUs"
suite memory posix,cma,self
for dev in softverbs0:1 ib0:1; do
	suite "$dev" rc_v,self
	suite "$dev" ud_v,self
done
exit $failed
