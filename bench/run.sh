#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh: softverbs' verbs figures next to their references, all in
# one invocation, as one table (docs/benchmarks.md).
#
#   bench/run.sh [--quick|--full] [--rounds N] [--out DIR] [--build DIR]
#                [--cpus CLIENT,SERVER] [--direct 0|1] [--both-paths]
#                [--only REGEX]
#
# Figures: RC SEND 8 B and RDMA WRITE 8 B half round trip, RDMA WRITE and
# READ bandwidth (4 KiB, 64 KiB, 1 MiB, 8 MiB; --quick: 1 MiB), the 8 B
# RDMA WRITE message rate, each from bench's own verbs_bench and from
# Debian's perftest through "softverbs run". References in the same run:
# memcpy, a cache-line ping-pong, UCX over shared memory.
#
# --only REGEX keeps the figures whose id (results.tsv, logs/) matches, e.g.
# --only 'ucx_tag_bw_1M|vb_write_bw_1M': ratios to references left out
# are not printed.
#
# SOFTVERBS_DIRECT is passed through to every softverbs process (the
# same-host direct path switch, issue 17: 0 off, unset or else on);
# --direct 0|1 sets it. --both-paths runs the softverbs figures twice in
# the same rounds: the daemon path (SOFTVERBS_DIRECT=0, ids vb_*, pt_*,
# checked against issue 10's floors) and the direct path
# (SOFTVERBS_DIRECT=1, ids vbd_*, ptd_*, against issue 17's).
#
# The exit status says whether the tool ran, never whether softverbs is
# fast or even working: failed figures print FAILED, floors PASS/FAIL.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
REPO=$PWD
. bench/lib/harness.sh

CMDLINE="bench/run.sh${*:+ $*}"
MODE=full ROUNDS="" OUT="" BUILD=build CPUS=0,1 BOTH_PATHS=0
[ "$(nproc)" -ge 2 ] || CPUS=0,0 # one CPU: both ends share it
usage() {
	sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--rounds) ROUNDS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--build) BUILD=$2; shift ;;
	--cpus) CPUS=$2; shift ;;
	--both-paths) BOTH_PATHS=1 ;;
	--direct) export SOFTVERBS_DIRECT=$2; shift ;;
	--only) export BH_ONLY=$2; shift ;;
	*) usage ;;
	esac
	shift
done
BIN=$(cd "$BUILD/bin" 2>/dev/null && pwd) || {
	echo "bench: no $BUILD/bin; build first (cmake --build $BUILD)" >&2
	exit 2
}
CLI=$BIN/softverbs
for b in softverbs softverbsd verbs_bench ref_bench; do
	[ -x "$BIN/$b" ] || { echo "bench: missing $BIN/$b" >&2; exit 2; }
done
CPU_CLI=${CPUS%,*} CPU_SRV=${CPUS#*,}
OUT=${OUT:-$BUILD/bench-$MODE}

# Bandwidth runs move BYTES each (perftest's own default is 5000
# iterations): 64 MiB, 64 iterations at 1 MiB, measured mostly the start
# (first touches, the grant): ib_write_bw 1 MiB gave 7120 MiB/s at -n 64
# and 8809 at -n 5000 in one quiet session, UCX tag_bw 9250 and 9334.
if [ "$MODE" = quick ]; then
	ROUNDS=${ROUNDS:-3} SIZES="1M" LAT_SIZES=8 BYTES=$((1 << 30))
	MAXN=20000
	LAT_N=2000 RATE_N=1000000 RATE_N_DAEMON=20000
else
	ROUNDS=${ROUNDS:-3} SIZES="4K 64K 1M 8M" LAT_SIZES="8 4K 64K"
	BYTES=$((2 << 30)) MAXN=50000 LAT_N=1000 RATE_N=1000000
	RATE_N_DAEMON=100000
fi

bytes_of() { # 4K -> 4096
	local n=${1%[KM]}
	case $1 in
	*K) echo $((n << 10)) ;;
	*M) echo $((n << 20)) ;;
	*) echo "$n" ;;
	esac
}

# Iterations for a bandwidth run at SIZE: about $BYTES moved.
iters_of() {
	local n=$(($BYTES / $(bytes_of "$1")))
	((n < 20)) && n=20
	((n > MAXN)) && n=$MAXN
	echo "$n"
}

size_label() { # 4K -> "4 KiB"
	case $1 in
	*K) echo "${1%K} KiB" ;;
	*M) echo "${1%M} MiB" ;;
	*) echo "$1 B" ;;
	esac
}

# ---------------------------------------------------------------------------
# Private daemon: our own rundir, stopped on exit. It is started here,
# unpinned, so that no "taskset" below ever pins it.

export SOFTVERBS_RUNDIR
SOFTVERBS_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sv-bench.XXXXXX")
cleanup() {
	"$CLI" stop >/dev/null 2>&1
	rm -rf "$SOFTVERBS_RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A daemon that crashed during the previous figure is restarted, so one
# broken figure does not fail all that follow.
sv_ensure() {
	"$CLI" status >/dev/null 2>&1 || "$CLI" start >/dev/null 2>&1
}

. "$REPO/scripts/gid.sh"
GID=$(sv_gid "$CLI" '::ffff:127\.0\.0\.1')
GID=${GID:-1}
PORT_BASE=$((20000 + ($$ % 200) * 200)) PORT_N=0
next_port() { PORT_N=$(((PORT_N + 1) % 200)); PORT=$((PORT_BASE + PORT_N)); }

# ---------------------------------------------------------------------------
# Parsers: the figure from each tool's output.

parse_result() { awk '/^RESULT / { v = $2 } END { print v }'; }
# perftest: the data line under the "#bytes" header. Latency: t_typical
# (median of the one-way times); bandwidth: BW average; rate: MsgRate.
perftest_col() { awk -v c="$1" '/^ *#bytes/ { h = 1; next }
	h && $1 ~ /^[0-9]+$/ { print $c; exit }'; }
parse_pt_lat() { perftest_col 5; }
parse_pt_bw() { perftest_col 4; }
parse_pt_rate() { perftest_col 5; }
# ucx_perftest "Final:" line: iters, latency 50%ile/avg/overall (one-way
# for *_lat), bandwidth avg/overall (MiB/s), rate avg/overall (msg/s).
ucx_col() { awk -v c="$1" -v d="${2:-1}" '/^Final:/ { print $c / d; exit }'; }
parse_ucx_lat() { ucx_col 3; }
parse_ucx_bw() { ucx_col 7; }
parse_ucx_rate() { ucx_col 9 1000000; }

# ---------------------------------------------------------------------------
# Figure commands. Clients run on CPU_CLI, servers on CPU_SRV (FACTS.md).

# ucx TEST SIZE ITERS
ucx() {
	next_port
	BH_PAIR_PORT=$PORT bh_pair env UCX_TLS=posix,cma,self taskset -c "$CPU_SRV" \
		ucx_perftest -p "$PORT" --- \
		env UCX_TLS=posix,cma,self taskset -c "$CPU_CLI" \
		ucx_perftest 127.0.0.1 -p "$PORT" -t "$1" -s "$2" -n "$3"
}

# perftest [DIRECT] PROG ARGS...: two processes through "softverbs run".
perftest() {
	local direct=$1 prog=$2
	shift 2
	sv_ensure
	next_port
	BH_PAIR_PORT=$PORT bh_pair env $direct "$CLI" run -- taskset -c "$CPU_SRV" "$prog" \
		-d softverbs0 -x "$GID" -F -p "$PORT" "$@" --- \
		env $direct "$CLI" run -- taskset -c "$CPU_CLI" "$prog" \
		-d softverbs0 -x "$GID" -F -p "$PORT" "$@" 127.0.0.1
}

# vb [DIRECT] TEST ARGS...: verbs_bench forks its two sides and pins them.
vb() {
	local direct=$1
	shift
	sv_ensure
	bh_timeout env $direct "$CLI" run -- "$BIN/verbs_bench" "$@" \
		-g "$GID" -c "$CPU_CLI,$CPU_SRV"
}

# ---------------------------------------------------------------------------
# The figures

add_references() {
	local s b
	bh_section "references (same run)"
	add_ref ref_pp ping-pong "cache line, half RTT" us 8 pingpong \
		-n $((LAT_N * 4))
	add_ref ref_cma_pp "CMA ping-pong" "process_vm_writev 8 B, half RTT" us \
		8 cma_pingpong -n $((LAT_N * 4))
	# One futex hand-off between two processes on one CPU: a daemon-path
	# round trip pays two when no core is free (docs/datapath.md).
	add_ref ref_futex_pp "futex hand-off" "futex hand-off, one CPU" us \
		8 futex_pingpong -n $((LAT_N * 2))
	for s in $SIZES; do
		add_ref "ref_memcpy_$s" memcpy "bw $(size_label "$s")" MiB/s \
			"$(bytes_of "$s")" memcpy -s "$s"
		add_ref "ref_cma_$s" CMA "process_vm_writev $(size_label "$s")" \
			MiB/s "$(bytes_of "$s")" cma -s "$s"
	done
	for s in $LAT_SIZES; do
		add_ucx tag_lat "$s" us parse_ucx_lat "$LAT_N" ref_pp
		add_ucx ucp_put_lat "$s" us parse_ucx_lat "$LAT_N" ref_pp
	done
	for s in $SIZES; do
		b=$(iters_of "$s")
		add_ucx tag_bw "$s" MiB/s parse_ucx_bw "$b" "ref_memcpy_$s"
		add_ucx ucp_put_bw "$s" MiB/s parse_ucx_bw "$b" "ref_memcpy_$s"
	done
	bh_figure ucx_put_rate UCX "ucp_put_bw 8 B rate" Mmsg/s \
		parse_ucx_rate ucx ucp_put_bw 8 "$RATE_N"
	bh_short ucx_put_rate "UCX put rate"
	# The system-call floor of a small direct WRITE to a VA MR: the
	# call the library makes, alone.
	bh_figure ref_mem_rate "VA floor" "pwrite /proc/PID/mem 8 B rate" \
		Mmsg/s parse_result "$BIN/ref_bench" mem_rate -s 8 \
		-n "$RATE_N" -c "$CPU_CLI,$CPU_SRV"
	bh_short ref_mem_rate "VA floor"
}

add_ref() { # ID SHORT LABEL UNIT X REF_BENCH_ARGS...
	local id=$1 short=$2 label=$3 unit=$4 x=$5
	shift 5
	bh_figure "$id" "$short" "$label" "$unit" parse_result \
		"$BIN/ref_bench" "$@" -c "$CPU_CLI,$CPU_SRV"
	bh_short "$id" "$short"
	bh_point "$id" "$short" "$x"
}

add_ucx() { # TEST SIZE UNIT PARSER ITERS REF
	local id="ucx_${1#ucp_}_$2" what=", half RTT"
	[ "$3" = us ] || what=""
	bh_figure "$id" UCX "$1 $(size_label "$2")$what" "$3" "$4" \
		ucx "$1" "$(bytes_of "$2")" "$5"
	bh_short "$id" "UCX ${1#ucp_}"
	bh_ratio "$id" "$6"
	bh_point "$id" "UCX $1" "$(bytes_of "$2")"
}

# WRITEs per rate run: enough to get past the direct path's start (a few
# ms: the grant, the receiver's helper waking), fewer on the daemon path.
# 200,000 in quick mode took ib_write_bw -s 8 to 4-13 Mmsg/s where a run
# of 1,000,000 makes 14-15 (the start weighed as much as the stream).
rate_n() { # DIRECT
	if [ "$1" = SOFTVERBS_DIRECT=0 ] ||
		{ [ -z "$1" ] && [ "${SOFTVERBS_DIRECT:-}" = 0 ]; }; then
		echo "$RATE_N_DAEMON"
	else
		echo "$RATE_N"
	fi
}

# One tool's figures. P: id prefix; SRC: source column; KIND: vb|perftest;
# DIRECT: "" or SOFTVERBS_DIRECT=0.
add_softverbs() { # P SRC KIND DIRECT [FLOOR_ISSUES]
	local p=$1 src=$2 kind=$3 direct=$4 issues=${5:-10 17} s op
	set -- "$p" "$src" "$kind" "$direct"
	bh_section "softverbs: $src"
	for s in $LAT_SIZES; do
		add_lat "$@" send "RC SEND" "$s" ucx_tag_lat_"$s"
		add_lat "$@" write "RDMA WRITE" "$s" ucx_put_lat_"$s"
	done
	for op in write read; do
		for s in $SIZES; do
			add_bw "$@" "$op" "$s"
		done
	done
	[ "$kind" = vb ] && add_mapped "$@"
	if [ "$kind" = vb ]; then
		bh_figure "${p}_write_rate" "$src" "RDMA WRITE 8 B rate, VA MR" \
			Mmsg/s parse_result vb "$direct" write_rate -s 8 \
			-n "$(rate_n "$direct")"
	else
		bh_figure "${p}_write_rate" "$src" "RDMA WRITE 8 B rate" Mmsg/s \
			parse_pt_rate perftest "$direct" ib_write_bw -s 8 \
			-n "$(rate_n "$direct")"
	fi
	bh_ratio "${p}_write_rate" ucx_put_rate ref_mem_rate
	add_floors "$p" "$issues"
}

# Issue 17 distinguishes MRs on mapped memory (memfd): verbs_bench -m shm.
# ucp_put_bw puts into memory UCX maps itself (shared memory): the memfd
# rate is its like-for-like figure; a VA MR costs a system call per WRITE.
add_mapped() { # P SRC KIND DIRECT
	local p=$1 src=$2 direct=$4
	bh_figure "${p}_write_rate_shm" "$src" \
		"RDMA WRITE 8 B rate, memfd MR" Mmsg/s parse_result \
		vb "$direct" write_rate -s 8 -n "$(rate_n "$direct")" -m shm
	bh_ratio "${p}_write_rate_shm" ucx_put_rate
	bh_figure "${p}_write_lat_8_shm" "$src" \
		"RDMA WRITE 8 B, half RTT, memfd MR" us parse_result \
		vb "$direct" write_lat -s 8 -n "$LAT_N" -m shm
	bh_ratio "${p}_write_lat_8_shm" ucx_put_lat_8 ref_pp
	case " $SIZES " in *" 1M "*)
		bh_figure "${p}_write_bw_1M_shm" "$src" \
			"RDMA WRITE bw 1 MiB, memfd MR" MiB/s parse_result \
			vb "$direct" write_bw -s 1M -n "$(iters_of 1M)" -m shm
		bh_ratio "${p}_write_bw_1M_shm" ucx_tag_bw_1M ref_memcpy_1M ;;
	esac
}

add_lat() { # P SRC KIND DIRECT OP NAME SIZE UCX_REF
	local p=$1 src=$2 kind=$3 direct=$4 op=$5 name=$6 s=$7 id
	id="${p}_${op}_lat_$s"
	if [ "$kind" = vb ]; then
		bh_figure "$id" "$src" "$name $(size_label "$s"), half RTT" us \
			parse_result vb "$direct" "${op}_lat" -s "$s" -n "$LAT_N"
	else
		bh_figure "$id" "$src" "$name $(size_label "$s"), half RTT" us \
			parse_pt_lat perftest "$direct" "ib_${op}_lat" \
			-s "$(bytes_of "$s")" -n "$LAT_N"
	fi
	if [ "$op" = write ]; then
		bh_ratio "$id" "$8" ref_pp ref_cma_pp
	else
		bh_ratio "$id" "$8" ref_pp ref_futex_pp
	fi
	bh_point "$id" "$src $name half RTT" "$(bytes_of "$s")"
}

add_bw() { # P SRC KIND DIRECT OP SIZE
	local p=$1 src=$2 kind=$3 direct=$4 op=$5 s=$6 id b n OP
	id="${p}_${op}_bw_$s" b=$(bytes_of "$s") n=$(iters_of "$s")
	OP=$(echo "$op" | tr a-z A-Z)
	if [ "$kind" = vb ]; then
		bh_figure "$id" "$src" "RDMA $OP bw $(size_label "$s")" MiB/s \
			parse_result vb "$direct" "${op}_bw" -s "$s" -n "$n"
	else
		bh_figure "$id" "$src" "RDMA $OP bw $(size_label "$s")" MiB/s \
			parse_pt_bw perftest "$direct" "ib_${op}_bw" -s "$b" -n "$n"
	fi
	bh_ratio "$id" "ucx_tag_bw_$s" "ref_memcpy_$s" "ref_cma_$s"
	bh_point "$id" "$src RDMA $OP bw" "$b"
}

# Issue 10 (the daemon path) and issue 17 (the direct path) bounds.
# add_floors P ISSUES: ISSUES is "10", "17" or "10 17".
add_floors() {
	local p=$1
	case " $2 " in *" 10 "*) floors_10 "$p" ;; esac
	case " $2 " in *" 17 "*) floors_17 "$p" ;; esac
}

floors_10() {
	bh_floor "$1_send_lat_8" ucx_tag_lat_8 "<=" 30 "issue 10"
	case " $SIZES " in *" 1M "*)
		bh_floor "$1_write_bw_1M" ucx_tag_bw_1M ">=" 0.5 "issue 10" ;;
	esac
}

floors_17() {
	local p=$1
	case " $SIZES " in *" 1M "*)
		bh_floor "${p}_write_bw_1M" ucx_tag_bw_1M ">=" 1 "issue 17"
		bh_floor "${p}_read_bw_1M" ucx_tag_bw_1M ">=" 0.8 "issue 17" ;;
	esac
	bh_floor "${p}_send_lat_8" ucx_tag_lat_8 "<=" 3 "issue 17"
	if [ "${p#vb}" != "$p" ]; then # the mapped-MR figures: verbs_bench
		bh_floor "${p}_write_lat_8_shm" ucx_put_lat_8 "<=" 3 "issue 17"
		bh_floor "${p}_write_rate_shm" ucx_put_rate ">=" 0.3 "issue 17"
	fi
	bh_floor "${p}_write_rate" ucx_put_rate ">=" 0.3 "issue 17"
}

# ---------------------------------------------------------------------------

bh_init "$OUT"
LOAD_BEFORE=$(uptime)
"$CLI" start >/dev/null 2>&1 || echo "bench: softverbsd did not start" >&2
add_references
if [ "$BOTH_PATHS" = 1 ]; then
	add_softverbs vb "verbs_bench DIRECT=0" vb SOFTVERBS_DIRECT=0 10
	add_softverbs pt "perftest DIRECT=0" perftest SOFTVERBS_DIRECT=0 10
	add_softverbs vbd "verbs_bench DIRECT=1" vb SOFTVERBS_DIRECT=1 17
	add_softverbs ptd "perftest DIRECT=1" perftest SOFTVERBS_DIRECT=1 17
else
	add_softverbs vb verbs_bench vb ""
	add_softverbs pt perftest perftest ""
fi
START=$(date -u '+%Y-%m-%d %H:%M UTC')
bh_run "$ROUNDS"

bh_note "## softverbs benchmark, $START"
bh_note ""
bh_note "- command: \`$CMDLINE\` ($MODE mode, $ROUNDS rounds, interleaved; median, spread = min-max over rounds)"
bh_note "- git: $(git -C "$REPO" log -1 --format='%h %s' 2>/dev/null | cut -c1-72)"
bh_note "- host: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); clients on CPU $CPU_CLI, servers on CPU $CPU_SRV (taskset), softverbsd unpinned"
bh_note "- load before:$(echo "$LOAD_BEFORE" | sed 's/.*load/ load/'); after:$(uptime | sed 's/.*load/ load/')"
bh_note "- SOFTVERBS_DIRECT=${SOFTVERBS_DIRECT-unset}"
bh_note "- units: us = microseconds, one-way (half round trip, median); MiB/s = 2^20 B/s; Mmsg/s = 10^6 messages/s"
{
	bh_table
	echo
	bh_floors
} | tee "$OUT/table.md"
bh_tsv "$OUT/results.tsv"
bh_plot "$OUT/bench.png" "softverbs vs references ($START, $MODE)"
echo
echo "table: $OUT/table.md  data: $OUT/results.tsv  plot: $OUT/bench.png  logs: $OUT/logs/"
exit 0
