# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# bench/lib/harness.sh: run figures and their references in one invocation,
# several interleaved rounds, and print one table of medians, spreads and
# ratios (docs/benchmarks.md, "The harness").
#
#   . bench/lib/harness.sh
#   bh_init OUTDIR
#   bh_note "text"                        a line above the table
#   bh_section "title"                    a heading row
#   bh_figure ID SOURCE LABEL UNIT PARSER CMD [ARGS...]
#   bh_ratio ID REF_ID [REF_ID...]        print ID / REF (median over rounds
#                                         of the same-round ratio)
#   bh_short ID NAME                      call ID so in ratios (default:
#                                         SOURCE LABEL)
#   bh_floor ID REF_ID OP FACTOR NOTE     OP is <= or >=; PASS/FAIL line
#   bh_point ID SERIES X                  plot ID at message size X
#   bh_run ROUNDS
#   bh_table; bh_floors; bh_plot PNG TITLE; bh_tsv FILE
#
# CMD runs once per round with stdout+stderr in a log; PARSER reads that
# output on stdin and prints the figure (a positive number). A run that
# fails, times out or prints no number is a FAILED sample; the figure's
# median is over the samples that worked, and the cell says how many did.
# Nothing here ever exits the caller: a benchmark reports, it does not
# judge. External commands get a timeout ($BH_TIMEOUT s, default 60):
# CMD is wrapped in bh_timeout unless it is a shell function, and
# functions must use bh_timeout or bh_pair for what they start.

BH_TIMEOUT=${BH_TIMEOUT:-60}
declare -gA BH_SOURCE BH_LABEL BH_UNIT BH_PARSER BH_CMD BH_SAMPLES
declare -gA BH_REFS BH_SERIES BH_X BH_SHORT
declare -ga BH_ORDER BH_NOTES BH_FLOORS

bh_init() {
	BH_OUT=$1
	mkdir -p "$BH_OUT/logs"
	BH_ORDER=() BH_NOTES=() BH_FLOORS=()
}

bh_note() { BH_NOTES+=("$*"); }
bh_section() { BH_ORDER+=("#$*"); }

# $BH_ONLY (an extended regex): register only the figures whose ID matches;
# everything said later about the others is ignored.
bh_has() { [ -n "${BH_CMD[$1]+x}" ]; }

bh_figure() { # ID SOURCE LABEL UNIT PARSER CMD...
	local id=$1
	if [ -n "${BH_ONLY:-}" ] && ! [[ $id =~ $BH_ONLY ]]; then
		return 0
	fi
	BH_SOURCE[$id]=$2 BH_LABEL[$id]=$3 BH_UNIT[$id]=$4 BH_PARSER[$id]=$5
	shift 5
	if [ "$(type -t "$1")" != function ]; then
		set -- bh_timeout "$@"
	fi
	BH_CMD[$id]=$(printf '%q ' "$@")
	BH_SAMPLES[$id]=""
	BH_ORDER+=("$id")
}

bh_ratio() { local id=$1; shift; ! bh_has "$id" || BH_REFS[$id]="$*"; }
bh_short() { ! bh_has "$1" || BH_SHORT[$1]=$2; } # ID's name in ratios
bh_point() { ! bh_has "$1" || BH_SERIES[$1]=$2 BH_X[$1]=$3; }
bh_floor() {
	! bh_has "$1" || ! bh_has "$2" || BH_FLOORS+=("$1|$2|$3|$4|$5")
}

# ---------------------------------------------------------------------------
# Running

# timeout(1), killing what survives TERM after 5 s more.
bh_timeout() { timeout -k 5 "$BH_TIMEOUT" "$@"; }

# Wait until something listens on TCP port $1 (at most 10 s), or, without
# a port or without ss(8), $BH_SERVER_DELAY s (0.5).
bh_wait_listen() {
	local i
	if [ -z "${1:-}" ] || ! command -v ss >/dev/null; then
		sleep "${BH_SERVER_DELAY:-0.5}"
		return
	fi
	for ((i = 0; i < 200; i++)); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return
		sleep 0.05
	done
}

# bh_pair SERVER_ARGV... --- CLIENT_ARGV...: start the server, wait for it
# to listen on $BH_PAIR_PORT, run the client in the foreground. The
# server normally ends with the client; otherwise it is killed. Status:
# the client's.
bh_pair() {
	local srv=() spid rc i
	while [ $# -gt 0 ] && [ "$1" != --- ]; do srv+=("$1"); shift; done
	shift
	bh_timeout "${srv[@]}" </dev/null >"$BH_OUT/logs/server.log" 2>&1 &
	spid=$!
	bh_wait_listen "${BH_PAIR_PORT:-}"
	bh_timeout "$@" </dev/null
	rc=$?
	for ((i = 0; i < 50; i++)); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	sed 's/^/[server] /' "$BH_OUT/logs/server.log"
	return "$rc"
}

# A positive decimal number, or nothing.
bh_number() {
	awk '$0 ~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ && $0 + 0 > 0 { print; exit }'
}

bh_sample() { # ID ROUND
	local id=$1 log="$BH_OUT/logs/$1.$2.log" v t0=$SECONDS
	eval "${BH_CMD[$id]}" >"$log" 2>&1 </dev/null
	echo "exit status $?" >>"$log"
	v=$("${BH_PARSER[$id]}" <"$log" 2>/dev/null | bh_number)
	BH_SAMPLES[$id]+="${v:-FAILED} "
	printf '  %-28s %-12s %-7s %3d s\n' "$id" "${v:-FAILED}" \
		"${BH_UNIT[$id]}" $((SECONDS - t0)) >&2
}

# Rounds interleave the figures, so a figure and its reference see the
# same machine load; the median then drops the disturbed rounds.
bh_run() {
	local rounds=$1 r id
	for ((r = 1; r <= rounds; r++)); do
		BH_ROUND=$r # figure functions may look at it
		echo "round $r/$rounds" >&2
		for id in "${BH_ORDER[@]}"; do
			[ "${id:0:1}" = "#" ] || bh_sample "$id" "$r"
		done
	done
}

# ---------------------------------------------------------------------------
# Statistics: "median min max ok total" of a figure's samples.

# Numbers on stdin -> "median min max count", or "FAILED - - 0" if none.
bh_summary() {
	sort -g | awk '{ v[++n] = $1 }
		END {
			if (!n) { print "FAILED - - 0"; exit }
			m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			print m, v[1], v[n], n
		}'
}

bh_stats() {
	local n
	n=$(printf '%s\n' ${BH_SAMPLES[$1]} | grep -c .)
	echo "$(printf '%s\n' ${BH_SAMPLES[$1]} | grep -v FAILED |
		bh_summary) $n"
}

bh_median() { bh_stats "$1" | awk '{ print $1 }'; }

# Three significant digits, no exponent for the usual ranges.
bh_fmt() {
	awk -v v="$1" 'BEGIN {
		if (v == "FAILED" || v == "-") { print v; exit }
		a = v < 0 ? -v : v
		if (a >= 100) printf "%.0f\n", v
		else if (a >= 10) printf "%.1f\n", v
		else if (a >= 1) printf "%.2f\n", v
		else printf "%.3g\n", v }'
}

# The ratio of ID to REF: the median over rounds of ID/REF within the same
# round (the pairing is what interleaving buys), over the rounds where both
# worked. Prints "275x", "0.41x", or "-" when no round has both.
bh_ratio_of() { # ID REF_ID
	paste -d ' ' <(printf '%s\n' ${BH_SAMPLES[$1]}) \
		<(printf '%s\n' ${BH_SAMPLES[$2]}) |
		awk '$1 != "FAILED" && $2 != "FAILED" && $2 + 0 > 0 {
			print $1 / $2 }' | bh_summary |
		awk '$4 == 0 { print "-"; exit }
		{	r = $1
			if (r >= 10) printf "%.0fx\n", r
			else if (r >= 1) printf "%.1fx\n", r
			else if (r >= 0.01) printf "%.2fx\n", r
			else printf "%.2gx\n", r }'
}

# ---------------------------------------------------------------------------
# Output

bh_spread() { # ID -> "min-max" or "FAILED", with "k/n ok" if some failed
	local m lo hi ok n s
	read -r m lo hi ok n < <(bh_stats "$1")
	if [ "$ok" = 0 ]; then
		echo "FAILED (0/$n ok)"
		return
	fi
	s="$(bh_fmt "$lo")-$(bh_fmt "$hi")"
	[ "$ok" = "$n" ] && s+=" (n=$n)" || s+=" ($ok/$n ok)"
	echo "$s"
}

bh_ratios() { # ID -> "275x tag_lat; 900x ping-pong"
	local ref out=""
	for ref in ${BH_REFS[$1]:-}; do
		bh_has "$ref" || continue
		out+="${out:+, }$(bh_ratio_of "$1" "$ref") ${BH_SHORT[$ref]:-${BH_SOURCE[$ref]} ${BH_LABEL[$ref]}}"
	done
	echo "${out:--}"
}

bh_row() {
	printf '| %-34s | %-22s | %9s | %-6s | %-22s | %s |\n' "$@"
}

bh_table() {
	local id n
	for n in "${BH_NOTES[@]}"; do echo "$n"; done
	echo
	bh_row figure source median unit "spread" "ratio to reference"
	bh_row "---" "---" "---:" "---" "---" "---"
	for id in "${BH_ORDER[@]}"; do
		if [ "${id:0:1}" = "#" ]; then
			bh_row "**${id:1}**" "" "" "" "" ""
			continue
		fi
		bh_row "${BH_LABEL[$id]}" "${BH_SOURCE[$id]}" \
			"$(bh_fmt "$(bh_median "$id")")" "${BH_UNIT[$id]}" \
			"$(bh_spread "$id")" "$(bh_ratios "$id")"
	done
}

# One line per floor: the ratio, the bound, PASS or FAIL (or N/A when a
# side failed). Informative only: never an exit status.
bh_floors() {
	local f id ref op fac note r verdict
	for f in "${BH_FLOORS[@]}"; do
		IFS='|' read -r id ref op fac note <<<"$f"
		r=$(bh_ratio_of "$id" "$ref")
		verdict=$(awk -v r="${r%x}" -v op="$op" -v f="$fac" 'BEGIN {
			if (r == "-") { print "N/A (a figure failed)"; exit }
			ok = op == "<=" ? r + 0 <= f + 0 : r + 0 >= f + 0
			print ok ? "PASS" : "FAIL" }')
		printf 'floor (%s): %s = %s, must be %s %sx %s: %s\n' "$note" \
			"${BH_SOURCE[$id]} ${BH_LABEL[$id]}" "$r" "$op" "$fac" \
			"${BH_SOURCE[$ref]} ${BH_LABEL[$ref]}" "$verdict"
	done
}

# Machine-readable results: id source label unit median min max ok total.
bh_tsv() {
	local id
	for id in "${BH_ORDER[@]}"; do
		[ "${id:0:1}" = "#" ] && continue
		printf '%s\t%s\t%s\t%s\t%s\n' "$id" "${BH_SOURCE[$id]}" \
			"${BH_LABEL[$id]}" "${BH_UNIT[$id]}" \
			"$(bh_stats "$id" | tr ' ' '\t')"
	done >"$1"
}

# ---------------------------------------------------------------------------
# Plot: one panel per unit, each series (bh_point) against message size.

bh_plot_data() { # UNIT DATAFILE -> prints the series names, one a line
	local unit=$1 data=$2 s id m
	: >"$data"
	for s in $(for id in "${!BH_SERIES[@]}"; do
		[ "${BH_UNIT[$id]}" = "$unit" ] && echo "${BH_SERIES[$id]// /~}"
	done | sort -u); do
		for id in "${!BH_SERIES[@]}"; do
			[ "${BH_SERIES[$id]// /~}" = "$s" ] || continue
			m=$(bh_median "$id")
			[ "$m" = FAILED ] || echo "${BH_X[$id]} $m"
		done | sort -n >>"$data"
		printf '\n\n' >>"$data"
		echo "${s//~/ }"
	done
}

bh_plot_panel() { # UNIT DATAFILE
	local i=0 s plot=""
	while IFS= read -r s; do
		plot+="${plot:+, }'$2' index $i with linespoints title '$s'"
		i=$((i + 1))
	done < <(bh_plot_data "$1" "$2")
	[ -n "$plot" ] || plot="NaN title 'no data'"
	printf 'set ylabel "%s"\nplot %s\n' "$1" "$plot"
}

# Tics at the message sizes that were measured: "8 B", "4 KiB", "1 MiB".
bh_plot_xtics() {
	local x
	for x in "${BH_X[@]}"; do echo "$x"; done | sort -nu | awk '
		function name(b) {
			if (b >= 1048576 && b % 1048576 == 0) return b / 1048576 " MiB"
			if (b >= 1024 && b % 1024 == 0) return b / 1024 " KiB"
			return b " B"
		}
		{ t = t (t ? ", " : "") "\"" name($1) "\" " $1 }
		END { if (t) print "set xtics (" t ")" }'
}

bh_plot() { # PNG TITLE
	local png=$1 title=$2 units u n=0 script="$BH_OUT/plot.gp"
	command -v gnuplot >/dev/null || {
		echo "bench: gnuplot not found, no plot" >&2
		return 0
	}
	units=$(for u in "${!BH_SERIES[@]}"; do echo "${BH_UNIT[$u]}"; done |
		sort -u)
	for u in $units; do n=$((n + 1)); done
	[ "$n" -gt 0 ] || return 0
	{
		echo "set terminal pngcairo noenhanced size 900,$((330 * n)) font ',9'"
		echo "set output '$png'"
		echo "set multiplot layout $n,1 title '$title'"
		echo "set logscale x 2; set logscale y 10; set grid"
		echo "set key outside right top Left reverse; set lmargin 12"
		echo "set rmargin at screen 0.62"
		echo "set xlabel 'message size'; set xrange [4:16777216]"
		bh_plot_xtics
		for u in $units; do
			bh_plot_panel "$u" "$BH_OUT/plot.${u//\//_}.dat"
		done
		echo "unset multiplot"
	} >"$script"
	gnuplot "$script" 2>"$BH_OUT/logs/gnuplot.log" ||
		echo "bench: gnuplot failed, see $BH_OUT/logs/gnuplot.log" >&2
}
