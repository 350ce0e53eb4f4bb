#!/usr/bin/env bash
# The same-host direct path against the daemon path and UCX shared memory,
# back to back in one invocation (issue 17, docs/direct-path.md). Each
# figure: Debian's perftest through "softverbs run --" with
# SOFTVERBS_DIRECT=1 and =0, and ucx_perftest with
# UCX_TLS=posix,cma,self, server pinned to core 1 and client to core 0.
#
# Usage: scripts/direct-bench.sh [quick]
#   SOFTVERBS_CLI      the softverbs binary (default build/bin/softverbs)
#   SOFTVERBS_RUNDIR   daemon runtime dir (default build/run-direct)
# Prints a markdown table: figure, direct, daemon, UCX, direct/UCX.
set -uo pipefail
cd "$(dirname "$0")/.."
CLI=${SOFTVERBS_CLI:-$PWD/build/bin/softverbs}
export SOFTVERBS_RUNDIR=${SOFTVERBS_RUNDIR:-$PWD/build/run-direct}
PORT=$((21000 + $$ % 20000))
LAT_N=5000 BW_N=1000 BIG_N=300
if [ "${1:-}" = quick ]; then
	LAT_N=1000 BW_N=200 BIG_N=50
fi
SHM=/dev/shm/softverbs-direct-bench.$$
"$CLI" start >/dev/null

# perftest DIRECT FIELD TOOL ARGS...: one figure (column FIELD of the
# client's last numeric row). With MMAP=1 each side's buffer is a shared
# file mapping of its own (--mmap): a mapped MR.
perf() {
	local d=$1 field=$2 out ms=() mc=()
	shift 2
	if [ "${MMAP:-0}" = 1 ]; then
		truncate -s 64M "$SHM.s" "$SHM.c"
		ms=(--mmap="$SHM.s") mc=(--mmap="$SHM.c")
	fi
	PORT=$((PORT + 1))
	SOFTVERBS_DIRECT=$d timeout 120 "$CLI" run -- taskset -c 1 \
		"$@" "${ms[@]}" -d softverbs0 -x 1 -p "$PORT" >/dev/null 2>&1 &
	sleep 0.4
	out=$(SOFTVERBS_DIRECT=$d timeout 120 "$CLI" run -- taskset -c 0 \
		"$@" "${mc[@]}" -d softverbs0 -x 1 -p "$PORT" localhost 2>&1)
	wait
	awk -v f="$field" '/^ *[0-9]+ +[0-9]+ / {l = $f} END {print l}' \
		<<<"$out"
}

# ucx FIELD TEST SIZE ITERS: column FIELD of the client's Final line.
ucx() {
	local field=$1 out
	PORT=$((PORT + 1))
	UCX_TLS=posix,cma,self taskset -c 1 ucx_perftest -p "$PORT" \
		>/dev/null 2>&1 &
	sleep 0.4
	out=$(UCX_TLS=posix,cma,self timeout 120 taskset -c 0 ucx_perftest \
		127.0.0.1 -p "$PORT" -t "$2" -s "$3" -n "$4" 2>&1)
	wait
	awk -v f="$field" '/^Final:/ {print $f}' <<<"$out"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b;
					 else print "-" }'
}

row() { # name unit direct daemon ucx
	echo "| $1 | $3 $2 | $4 $2 | $5 $2 | $(ratio "$3" "$5") |"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| figure | direct | daemon | UCX shm | direct / UCX |"
echo "|---|---|---|---|---|"
u=$(ucx 3 tag_lat 8 "$LAT_N")
row "8 B SEND half RTT (ib_send_lat -s 8, typical) vs tag_lat" us \
	"$(perf 1 5 ib_send_lat -s 8 -n "$LAT_N")" \
	"$(perf 0 5 ib_send_lat -s 8 -n "$LAT_N")" "$u"
u=$(ucx 3 ucp_put_lat 8 "$LAT_N")
row "8 B WRITE, VA MR (ib_write_lat -s 8) vs ucp_put_lat" us \
	"$(perf 1 5 ib_write_lat -s 8 -n "$LAT_N")" \
	"$(perf 0 5 ib_write_lat -s 8 -n "$LAT_N")" "$u"
row "8 B WRITE, mapped MR (ib_write_lat -s 8 --mmap) vs ucp_put_lat" us \
	"$(MMAP=1 perf 1 5 ib_write_lat -s 8 -n "$LAT_N")" \
	"$(MMAP=1 perf 0 5 ib_write_lat -s 8 -n "$LAT_N")" "$u"
u=$(ucx 6 tag_bw 1048576 "$BIG_N")
row "1 MiB WRITE (ib_write_bw -s 1048576) vs tag_bw" MB/s \
	"$(perf 1 4 ib_write_bw -s 1048576 -n "$BIG_N")" \
	"$(perf 0 4 ib_write_bw -s 1048576 -n "$BIG_N")" "$u"
row "1 MiB READ (ib_read_bw -s 1048576) vs tag_bw" MB/s \
	"$(perf 1 4 ib_read_bw -s 1048576 -n "$BIG_N")" \
	"$(perf 0 4 ib_read_bw -s 1048576 -n "$BIG_N")" "$u"
row "1 MiB WRITE, mapped MRs (--mmap) vs tag_bw" MB/s \
	"$(MMAP=1 perf 1 4 ib_write_bw -s 1048576 -n "$BIG_N")" \
	"$(MMAP=1 perf 0 4 ib_write_bw -s 1048576 -n "$BIG_N")" "$u"
u=$(ucx 8 ucp_put_bw 8 "$((BW_N * 10))")
u=$(awk -v m="$u" 'BEGIN {printf "%.4f", m / 1e6}')
row "8 B WRITE rate (ib_write_bw -s 8) vs ucp_put_bw" Mpps \
	"$(perf 1 5 ib_write_bw -s 8 -n "$((BW_N * 10))")" \
	"$(perf 0 5 ib_write_bw -s 8 -n "$((BW_N * 10))")" "$u"
row "8 B WRITE rate, mapped MR (--mmap) vs ucp_put_bw" Mpps \
	"$(MMAP=1 perf 1 5 ib_write_bw -s 8 -n "$((BW_N * 10))")" \
	"$(MMAP=1 perf 0 5 ib_write_bw -s 8 -n "$((BW_N * 10))")" "$u"
rm -f "$SHM.s" "$SHM.c"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
