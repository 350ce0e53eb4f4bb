#!/bin/bash
# Run rdma-core's own pyverbs test suite (python3-pyverbs) on softverbs, one
# module at a time, and summarise each module in one line.
#
# Usage: scripts/run-rdma-core-tests.sh [MODULE...]
# Environment:
#   SOFTVERBS_CLI        the softverbs tool (default build/bin/softverbs)
#   SV_MODULE_TIMEOUT    seconds per module (default 300)
#   SV_REQUIRED_MODULES  modules that must pass; exit 1 if one of them has
#                        failures, errors, a crash or a timeout
# Full logs go to build/rdma-core-tests/MODULE.log.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CLI=${SOFTVERBS_CLI:-$REPO/build/bin/softverbs}
TIMEOUT=${SV_MODULE_TIMEOUT:-300}
SRC=/usr/share/doc/rdma-core/tests
LOGDIR=$REPO/build/rdma-core-tests
declare -A REQUIRED=()
read -ra req <<<"${SV_REQUIRED_MODULES:-}"
for m in "${req[@]}"; do
	REQUIRED[$m]=1
done
DEFAULT_MODULES=(test_device test_pd test_cq test_mr test_qp test_qpex
	test_cq_events test_cqex test_atomic test_shared_pd test_parent_domain
	test_odp test_addr test_fork test_relaxed_ordering test_rss_traffic
	test_tag_matching test_flow test_rdmacm)

if [ $# -gt 0 ]; then
	MODULES=("$@")
else
	MODULES=("${DEFAULT_MODULES[@]}")
fi

# Without the suite there is nothing to run; that only matters if some
# module was required to pass.
if [ ! -f "$SRC/run_tests.py" ] || [ ! -x "$CLI" ]; then
	echo "rdma-core tests: need $SRC (python3-pyverbs) and $CLI" >&2
	[ ${#REQUIRED[@]} -eq 0 ] && exit 0
	exit 1
fi

# Leave things as we found them: stop the daemon at the end only if the
# first "softverbs run" below is what starts it.
started_daemon=
"$CLI" status >/dev/null 2>&1 || started_daemon=1
WORK=$(mktemp -d)
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	[ -n "$started_daemon" ] && "$CLI" stop >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
# Debian ships most of the modules gzipped.
cp -r "$SRC" "$WORK/tests" && find "$WORK/tests" -name '*.gz' \
	-exec gunzip -f {} + || exit 1
mkdir -p "$LOGDIR" || exit 1

# count KEY STATUSLINE: the number after KEY= in the summary, or 0.
count() {
	local n
	n=$(grep -o "$1=[0-9]*" <<<"$2" | head -n1 | cut -d= -f2)
	echo "${n:-0}"
}

# Per-test verbose lines, for a module that died before its summary.
count_lines() {
	grep -c -E "$1" "$2"
}

total_pass=0 total_skip=0 total_fail=0 total_error=0
bad_required=()

for m in "${MODULES[@]}"; do
	log=$LOGDIR/$m.log
	(cd "$WORK" && timeout -k 10 "$TIMEOUT" "$CLI" run -- \
		/usr/bin/python3 tests/run_tests.py --dev softverbs0 -v \
		"tests.$m") >"$log" 2>&1
	rc=$?
	ran=$(grep -E '^Ran [0-9]+ tests? in' "$log" | tail -n1 | cut -d' ' -f2)
	status=$(grep -E '^(OK|FAILED)( \(.*\))?$' "$log" | tail -n1)
	note=
	if [ -n "$ran" ] && [ -n "$status" ]; then
		skip=$(count skipped "$status")
		fail=$(( $(count failures "$status") +
			 $(count 'unexpected successes' "$status") ))
		error=$(count errors "$status")
		pass=$((ran - skip - fail - error))
	else
		# Crashed or hung: count what finished, and the crash itself.
		pass=$(count_lines '\.\.\. (ok|expected failure)$' "$log")
		skip=$(count_lines '\.\.\. skipped' "$log")
		fail=$(count_lines '\.\.\. (FAIL|unexpected success)$' "$log")
		error=$(( $(count_lines '\.\.\. ERROR$' "$log") + 1 ))
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			note=" timeout=${TIMEOUT}s"
		else
			note=" crashed rc=$rc"
		fi
	fi
	echo "$m pass=$pass skip=$skip fail=$fail error=$error$note"
	total_pass=$((total_pass + pass))
	total_skip=$((total_skip + skip))
	total_fail=$((total_fail + fail))
	total_error=$((total_error + error))
	if [ -n "${REQUIRED[$m]:-}" ] && [ $((fail + error)) -gt 0 ]; then
		bad_required+=("$m")
	fi
done

echo "TOTAL pass=$total_pass skip=$total_skip fail=$total_fail" \
	"error=$total_error"
echo "logs: $LOGDIR"
if [ ${#bad_required[@]} -gt 0 ]; then
	echo "required modules failed: ${bad_required[*]}" >&2
	exit 1
fi
exit 0
