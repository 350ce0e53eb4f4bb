#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check_rdmacm_consumers.sh LIBDIR
#
# Every installed program or library that NEEDs librdmacm.so.1 (rdmacm-utils,
# perftest, libfabric, UCX's rdmacm transport, fio's engines, librspreload)
# must load against LIBDIR/librdmacm.so.1 with BIND_NOW, as Debian links
# them:
#  1. "ldd -r" with LD_LIBRARY_PATH=LIBDIR resolves librdmacm.so.1 to
#     LIBDIR's copy and reports no undefined symbol and no missing RDMACM_*
#     version;
#  2. shared libraries are also really loaded (LD_PRELOAD into /bin/true,
#     LD_BIND_NOW=1), which runs their constructors.
# The consumers are found by their DT_NEEDED, not from a fixed list, so a
# newly installed one is checked too.
#
# Exit status: 0 all load, 1 one fails, 77 none installed, 2 usage error.

set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 LIBDIR" >&2
	exit 2
fi
libdir=$(cd "$1" 2>/dev/null && pwd -P) || {
	echo "$0: no such directory: $1" >&2
	exit 2
}
lib=$libdir/librdmacm.so.1
if [ ! -r "$lib" ]; then
	echo "$0: cannot read $lib" >&2
	exit 2
fi
reallib=$(readlink -f "$lib")
multiarch=/usr/lib/x86_64-linux-gnu
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# Candidates: programs, top-level libraries and the plugin folders.
for f in /usr/bin/* /usr/sbin/* "$multiarch"/*.so.* "$multiarch"/ucx/*.so.* \
	"$multiarch"/libfabric/*.so "$multiarch"/fio/*.so \
	"$multiarch"/rsocket/*.so*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	case $(basename "$f") in librdmacm.so*) continue ;; esac
	readelf -d "$f" 2>/dev/null |
		grep -q 'NEEDED.*\[librdmacm\.so\.1\]' && echo "$f"
done >"$tmp/list"

is_lib() {
	case $1 in *.so | *.so.*) return 0 ;; esac
	return 1
}

# Really load a library (its constructors run) with BIND_NOW; silent = ok.
runs_preloaded() {
	LD_LIBRARY_PATH=$libdir LD_BIND_NOW=1 LD_PRELOAD=$1 /bin/true \
		>"$tmp/run.out" 2>&1 && [ ! -s "$tmp/run.out" ]
}

ntested=0
nfail=0
while read -r file; do
	name=$(basename "$file")
	out=$tmp/ldd.out
	LD_LIBRARY_PATH=$libdir ldd -r "$file" >"$out" 2>&1
	target=$(awk '$1 == "librdmacm.so.1" && $2 == "=>" { print $3; exit }' "$out")
	ntested=$((ntested + 1))
	if [ "$(readlink -f "$target" 2>/dev/null)" != "$reallib" ]; then
		echo "FAIL $name: librdmacm.so.1 resolved to '$target', not $lib"
		nfail=$((nfail + 1))
		continue
	fi
	if grep -E "undefined symbol|RDMACM_[^ ]* not found|symbol lookup error" \
		"$out" >"$tmp/bad"; then
		echo "FAIL $name: $(sort -u "$tmp/bad" | head -n 3 | tr '\n\t' '; ')"
		nfail=$((nfail + 1))
		continue
	fi
	how="ldd -r"
	if is_lib "$file"; then
		if ! runs_preloaded "$file"; then
			echo "FAIL $name: loading it: $(head -n 1 "$tmp/run.out")"
			nfail=$((nfail + 1))
			continue
		fi
		how="ldd -r, constructors"
	fi
	echo "ok   $name ($how)"
done <"$tmp/list"

echo "librdmacm consumers: $ntested checked against $lib, $nfail failed"
if [ "$nfail" -ne 0 ]; then
	exit 1
fi
if [ "$ntested" -eq 0 ]; then
	exit 77
fi
exit 0
