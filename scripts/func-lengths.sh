#!/bin/bash
# Function lengths of the C sources under the given folders (default:
# daemon lib): the median, the share over 40 lines and the longest ones.
# A function's length is its lines from the first line of its signature to
# its closing brace, as Universal Ctags reports them (line .. end).
# Usage: scripts/func-lengths.sh [-v] [DIR...]   (-v: every function)
set -euo pipefail

verbose=0
if [ "${1:-}" = -v ]; then
	verbose=1
	shift
fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
[ $# -gt 0 ] || set -- daemon lib
command -v ctags >/dev/null || { echo "needs universal-ctags" >&2; exit 1; }

find "$@" -name '*.c' -print0 | sort -z |
	xargs -0 ctags --output-format=json --fields=+ne --c-kinds=f -f - |
	python3 -c '
import json, statistics, sys
verbose = sys.argv[1] == "1"
rows = []
for line in sys.stdin:
    t = json.loads(line)
    if t.get("kind") == "function" and "end" in t:
        rows.append((t["end"] - t["line"] + 1, t["path"], t["line"], t["name"]))
if not rows:
    sys.exit("no functions found")
rows.sort(reverse=True)
lens = [r[0] for r in rows]
print(f"functions: {len(lens)}  median: {statistics.median(lens):g} lines  "
      f"mean: {statistics.mean(lens):.1f}  over 40: {sum(l > 40 for l in lens)}")
for n, path, line, name in rows if verbose else rows[:10]:
    print(f"{n:5d}  {path}:{line}  {name}")
' "$verbose"
