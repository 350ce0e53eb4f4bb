#!/usr/bin/env bash
# bench/lib/harness.sh and bench/run.sh as tools (no figure is judged):
# medians and spreads, FAILED samples from failing, hanging and garbage
# runs, ratios paired per round, floors, and run.sh's exit status.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 1
. bench/lib/harness.sh
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fails=0
check() { # WHAT GOT WANT
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: got '$2', want '$3'"
		fails=$((fails + 1))
	fi
}

parse_result() { awk '/^RESULT / { v = $2 } END { print v }'; }
by_round() { local v=("$@"); echo "RESULT ${v[BH_ROUND - 1]}"; }
fail_round2() { [ "$BH_ROUND" != 2 ] && echo "RESULT $1"; }

BH_TIMEOUT=1
bh_init "$OUT"
bh_figure ref R "ref" us parse_result by_round 2 8 6
bh_figure fig F "fig" us parse_result by_round 4 16 6
bh_ratio fig ref
bh_figure bad B "fails" us parse_result false
bh_figure hang H "hangs" us parse_result sleep 30
bh_figure junk J "junk" us parse_result echo RESULT abc
bh_figure zero Z "zero" us parse_result echo RESULT 0
bh_figure part P "part" us parse_result fail_round2 5
bh_ratio part ref
bh_floor fig ref "<=" 3 t
bh_floor fig ref ">=" 3 t
bh_floor bad ref "<=" 3 t
BH_ONLY='^(ref|fig)$' bh_figure skipped S "skipped" us parse_result true
bh_ratio skipped ref
t0=$SECONDS
bh_run 3 2>/dev/null
check "a hang costs its timeout, not more" $((SECONDS - t0 < 20)) 1
check "median, min, max, ok, runs" "$(bh_stats fig)" "6 4 16 3 3"
check "failing run" "$(bh_stats bad)" "FAILED - - 0 3"
check "hanging run" "$(bh_stats hang)" "FAILED - - 0 3"
check "no number" "$(bh_stats junk)" "FAILED - - 0 3"
check "zero is no figure" "$(bh_stats zero)" "FAILED - - 0 3"
check "one failed round" "$(bh_stats part)" "5 5 5 2 3"
# Per round 4/2, 16/8, 6/6: median 2, although the medians are 6 and 6.
check "ratio paired per round" "$(bh_ratio_of fig ref)" "2.0x"
# Rounds 1 and 3 only: 5/2 and 5/6, median 1.67.
check "ratio over rounds where both worked" "$(bh_ratio_of part ref)" "1.7x"
check "ratio to a failed figure" "$(bh_ratio_of bad ref)" "-"
check "spread" "$(bh_spread part)" "5.00-5.00 (2/3 ok)"
check "spread of a failed figure" "$(bh_spread bad)" "FAILED (0/3 ok)"
floors=$(bh_floors)
check "floor PASS" "$(grep -c 'must be <= 3x.*: PASS' <<<"$floors")" 1
check "floor FAIL" "$(grep -c 'must be >= 3x.*: FAIL' <<<"$floors")" 1
check "floor N/A" "$(grep -c 'N/A' <<<"$floors")" 1
check "BH_ONLY drops a figure" "$(bh_has skipped && echo yes || echo no)" no
check "table row" "$(bh_table | grep -c '| fig .*| 2.0x R ref |')" 1
bench/run.sh --no-such-option >/dev/null 2>&1
check "run.sh: bad option is exit 2" $? 2
bench/run.sh --quick --build /nonexistent >/dev/null 2>&1
check "run.sh: no build is exit 2" $? 2
exit $((fails > 0))
