#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check_consumers.sh LIBDIR [CONSUMERS]
#
# For every consumer of libibverbs.so.1 listed in CONSUMERS
# (default: tests/ref/abi-consumers.txt next to this script) that is
# installed on this machine (ibverbs-utils and perftest binaries, librdmacm,
# librspreload, the provider libraries libmlx5/libefa/libmlx4/libmana, the
# pyverbs extension modules), check that it loads against
# LIBDIR/libibverbs.so.1:
#
#  1. "ldd -r" (LD_BIND_NOW + LD_WARN) with LD_LIBRARY_PATH=LIBDIR must
#     resolve libibverbs.so.1 to LIBDIR's copy and report no undefined
#     libibverbs symbol and no missing IBVERBS_* version;
#  2. shared libraries that are not Python modules are also really loaded
#     (LD_PRELOAD into /bin/true, LD_BIND_NOW=1), which runs their
#     constructors: libmlx5/libefa call verbs_register_driver_34() there;
#  3. pyverbs modules are really imported by /usr/bin/python3, if present.
#
# Prints one line per consumer. Exit status: 0 all installed consumers
# load, 1 at least one fails, 77 none of them is installed, 2 usage error.

set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 LIBDIR [CONSUMERS]" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
libdir=$(cd "$1" 2>/dev/null && pwd -P) || {
	echo "$0: no such directory: $1" >&2
	exit 2
}
consumers=${2:-$here/ref/abi-consumers.txt}
exports=$here/ref/libibverbs-exports.txt
lib=$libdir/libibverbs.so.1

for f in "$lib" "$consumers"; do
	if [ ! -r "$f" ]; then
		echo "$0: cannot read $f" >&2
		exit 2
	fi
done
reallib=$(readlink -f "$lib")

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# Names libibverbs exports (any version): an undefined one of these is ours.
if [ -r "$exports" ]; then
	awk '{ n = $2; sub(/@.*/, "", n); print n }' "$exports" |
		sort -u >"$tmp/names"
else
	: >"$tmp/names"
fi

multiarch=/usr/lib/x86_64-linux-gnu
pydist=/usr/lib/python3/dist-packages
python=/usr/bin/python3

# Print the path of consumer $2 (from group $1), or nothing.
locate() {
	group=$1
	name=$2
	case $group in
	pyverbs-core) dirs="$pydist/pyverbs" ;;
	pyverbs-mlx5) dirs="$pydist/pyverbs/providers/mlx5" ;;
	pyverbs-efa) dirs="$pydist/pyverbs/providers/efa" ;;
	*) dirs="/usr/bin /usr/sbin $multiarch $multiarch/rsocket" ;;
	esac
	for d in $dirs; do
		if [ -f "$d/$name" ]; then
			echo "$d/$name"
			return
		fi
	done
}

# Module name for a pyverbs extension file, e.g. pyverbs.providers.mlx5.dr_rule
pymodule() {
	rel=${1#"$pydist"/}
	rel=${rel%%.cpython-*}
	echo "$rel" | tr / .
}

# List "group name" pairs from the consumers file.
awk '
	/^##### GROUP / { group = $3; next }
	/^--- / { print group " " $2 }' "$consumers" >"$tmp/list"

ntested=0
nfail=0
nskip=0
nmissing=0

while read -r group name; do
	file=$(locate "$group" "$name")
	if [ -z "$file" ]; then
		nmissing=$((nmissing + 1))
		continue
	fi

	out=$tmp/ldd.out
	LD_LIBRARY_PATH=$libdir ldd -r "$file" >"$out" 2>&1

	target=$(awk '$1 == "libibverbs.so.1" && $2 == "=>" { print $3; exit }' "$out")
	if [ -z "$target" ]; then
		if grep -q 'libibverbs.so.1 => not found' "$out"; then
			echo "FAIL $name: libibverbs.so.1 not found"
			nfail=$((nfail + 1))
		else
			echo "SKIP $name: does not load libibverbs.so.1"
			nskip=$((nskip + 1))
		fi
		continue
	fi
	ntested=$((ntested + 1))

	if [ "$(readlink -f "$target")" != "$reallib" ]; then
		echo "FAIL $name: libibverbs.so.1 resolved to $target, not $lib"
		nfail=$((nfail + 1))
		continue
	fi

	# Undefined symbols we are responsible for: anything with an IBVERBS_
	# version, or an unversioned name libibverbs exports. (Python modules
	# legitimately leave Py* symbols undefined.)
	grep -E "IBVERBS_[^ ]* not found|version .?IBVERBS_|symbol lookup error" \
		"$out" >"$tmp/bad"
	sed -n 's/^undefined symbol: \([^ ,	]*\).*/\1/p' "$out" | sort -u |
		comm -12 - "$tmp/names" | sed 's/^/undefined symbol: /' \
		>>"$tmp/bad"
	if [ -s "$tmp/bad" ]; then
		echo "FAIL $name: $(sort -u "$tmp/bad" | head -n 5 | tr '\n\t' '; ')"
		nfail=$((nfail + 1))
		continue
	fi

	how="ldd -r"
	case $file in
	"$pydist"/*.so)
		if [ -x "$python" ]; then
			mod=$(pymodule "$file")
			if ! LD_LIBRARY_PATH=$libdir LD_BIND_NOW=1 "$python" -c \
				"import importlib; importlib.import_module('$mod')" \
				>"$tmp/run.out" 2>&1; then
				echo "FAIL $name: import $mod: $(tail -n 1 "$tmp/run.out")"
				nfail=$((nfail + 1))
				continue
			fi
			how="$how, import $mod"
		fi
		;;
	*.so | *.so.*)
		if ! LD_LIBRARY_PATH=$libdir LD_BIND_NOW=1 LD_PRELOAD=$file \
			/bin/true >"$tmp/run.out" 2>&1 || [ -s "$tmp/run.out" ]; then
			echo "FAIL $name: loading it: $(head -n 1 "$tmp/run.out")"
			nfail=$((nfail + 1))
			continue
		fi
		how="$how, constructors"
		;;
	esac
	echo "ok   $name ($how)"
done <"$tmp/list"

echo "consumers: $ntested checked against $lib, $nfail failed," \
	"$nskip not using libibverbs, $nmissing not installed"

if [ "$nfail" -ne 0 ]; then
	exit 1
fi
if [ "$ntested" -eq 0 ]; then
	exit 77
fi
exit 0
