#!/usr/bin/env bash
# Bandwidth and latency against message size, with and without the direct
# path (issue 17): perftest's -a sweeps through "softverbs run --", VA and
# mapped (--mmap) MRs, server on core 1, client on core 0; gnuplot draws
# docs/direct-path.png. Usage: scripts/direct-plot.sh [OUT.png]
set -uo pipefail
cd "$(dirname "$0")/.."
CLI=${SOFTVERBS_CLI:-$PWD/build/bin/softverbs}
export SOFTVERBS_RUNDIR=${SOFTVERBS_RUNDIR:-$PWD/build/run-direct}
PNG=${1:-docs/direct-path.png}
DIR=$(mktemp -d)
SHM=/dev/shm/softverbs-direct-plot.$$
PORT=$((23000 + $$ % 20000))
"$CLI" start >/dev/null

# sweep NAME DIRECT MMAP TOOL ARGS...: "size value" lines in $DIR/NAME.
sweep() {
	local name=$1 d=$2 mm=$3 ms=() mc=() col=4
	shift 3
	if [ "$mm" = 1 ]; then
		truncate -s 64M "$SHM.s" "$SHM.c"
		ms=(--mmap="$SHM.s") mc=(--mmap="$SHM.c")
	fi
	case $1 in *_lat) col=5 ;; esac
	PORT=$((PORT + 1))
	SOFTVERBS_DIRECT=$d timeout 300 "$CLI" run -- taskset -c 1 "$@" \
		"${ms[@]}" -d softverbs0 -x 1 -p "$PORT" >/dev/null 2>&1 &
	sleep 0.4
	SOFTVERBS_DIRECT=$d timeout 300 "$CLI" run -- taskset -c 0 "$@" \
		"${mc[@]}" -d softverbs0 -x 1 -p "$PORT" localhost 2>/dev/null |
		awk -v c="$col" '/^ *[0-9]+ +[0-9]+ / {print $1, $c}' \
			>"$DIR/$name"
	wait
}

sweep bw_direct 1 0 ib_write_bw -a -n 200
sweep bw_daemon 0 0 ib_write_bw -a -n 200
sweep bw_direct_mapped 1 1 ib_write_bw -a -n 200
sweep lat_direct 1 0 ib_write_lat -a -n 200
sweep lat_daemon 0 0 ib_write_lat -a -n 200
sweep lat_direct_mapped 1 1 ib_write_lat -a -n 200
rm -f "$SHM.s" "$SHM.c"
gnuplot <<GP
set terminal pngcairo noenhanced size 900,700 font ',9'
set output '$PNG'
set multiplot layout 2,1 title 'RDMA WRITE, softverbs direct path vs daemon path (load $(cut -d' ' -f1 /proc/loadavg))'
set logscale xy; set grid; set key left top
set xlabel 'message size (bytes)'
set ylabel 'MB/s (ib_write_bw average)'
plot '$DIR/bw_direct' w lp t 'direct, VA MR', '$DIR/bw_direct_mapped' w lp t 'direct, mapped MR', '$DIR/bw_daemon' w lp t 'daemon path'
set ylabel 'usec (ib_write_lat typical half RTT)'
set key left top
plot '$DIR/lat_direct' w lp t 'direct, VA MR', '$DIR/lat_direct_mapped' w lp t 'direct, mapped MR', '$DIR/lat_daemon' w lp t 'daemon path'
unset multiplot
GP
echo "plot: $PNG (data: $DIR)"
