#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check_exports.sh LIB REF
#
# Compares the symbols LIB defines in its dynamic symbol table (FUNC and
# OBJECT, with their version: name@@VERSION for a default version,
# name@VERSION for an old compat one) with REF, a file of lines
# "TYPE name@@VERSION" / "TYPE name@VERSION" (tests/ref/libibverbs-exports.txt).
# Version-node marker symbols (ABS) and undefined symbols are ignored.
#
# Prints what is missing from LIB and what LIB exports in excess.
# Exit status: 0 if the sets are equal, 1 if they differ, 2 on usage error.

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 LIB REF" >&2
	exit 2
fi
lib=$1
ref=$2

for f in "$lib" "$ref"; do
	if [ ! -r "$f" ]; then
		echo "$0: cannot read $f" >&2
		exit 2
	fi
done
if ! command -v readelf >/dev/null 2>&1; then
	echo "$0: readelf not found" >&2
	exit 2
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# readelf columns: Num: Value Size Type Bind Vis Ndx Name [(verindex)]
if ! readelf --dyn-syms -W "$lib" >"$tmp/readelf"; then
	echo "$0: readelf failed on $lib" >&2
	exit 2
fi
awk '
	$1 ~ /^[0-9]+:$/ && ($4 == "FUNC" || $4 == "OBJECT" || $4 == "IFUNC") &&
	$7 != "UND" && $7 != "ABS" && NF >= 8 {
		t = ($4 == "IFUNC") ? "FUNC" : $4
		print t " " $8
	}' "$tmp/readelf" | LC_ALL=C sort -u >"$tmp/lib"

grep -v '^[[:space:]]*\(#\|$\)' "$ref" | awk '{ print $1 " " $2 }' |
	LC_ALL=C sort -u >"$tmp/ref"

LC_ALL=C comm -23 "$tmp/ref" "$tmp/lib" >"$tmp/missing"
LC_ALL=C comm -13 "$tmp/ref" "$tmp/lib" >"$tmp/extra"

nmissing=$(wc -l <"$tmp/missing")
nextra=$(wc -l <"$tmp/extra")
ndef=$(grep -c '@@' "$tmp/lib")
ncompat=$(grep -v '@@' "$tmp/lib" | grep -c '@')

sed 's/^/missing: /' "$tmp/missing"
sed 's/^/extra:   /' "$tmp/extra"

echo "$lib: $ndef default + $ncompat compat symbols;" \
	"$nmissing missing, $nextra extra (reference: $(wc -l <"$tmp/ref"))"

if [ "$nmissing" -ne 0 ] || [ "$nextra" -ne 0 ]; then
	exit 1
fi
exit 0
