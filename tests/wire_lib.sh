# SPDX-License-Identifier: MIT
# Shared by tests/wire*.sh and bench/wire.sh: two network namespaces made
# for the run, joined by a veth pair, with addresses only inside them, and
# one softverbs daemon per namespace (its own SOFTVERBS_RUNDIR) serving a
# device "w0" bound to the namespace's end of the pair.
#
#   wire_setup BUILD_BIN   -> $NSA $NSB, $RUNA $RUNB, 10.91.$N.1/.2,
#                             fd91:$N::1/::2; exits 77 if namespaces
#                             cannot be made (no root, no netns support)
#   in_a CMD... / in_b CMD...   run in namespace A / B with its rundir
#   sv_a ARGS / sv_b ARGS       the softverbs CLI in A / B
#   gid_index A|B ADDR          the GID index of an address on w0
# Everything is removed on exit (wire_cleanup is the EXIT trap).

WIRE_N=$(( ($$ % 200) + 20 ))
NSA=svwA$$
NSB=svwB$$
VA=svvA$$
VB=svvB$$
IP4A=10.91.$WIRE_N.1
IP4B=10.91.$WIRE_N.2
IP6A=fd91:$WIRE_N::1
IP6B=fd91:$WIRE_N::2
# WIRE_TMPBASE: where the run's folder goes (/tmp); WIRE_KEEP=1 keeps it.
WIRE_TMP=$(mktemp -d "${WIRE_TMPBASE:-/tmp}/svwire.XXXXXX")
RUNA=$WIRE_TMP/runA
RUNB=$WIRE_TMP/runB

in_a() { ip netns exec "$NSA" env SOFTVERBS_RUNDIR="$RUNA" "$@"; }
in_b() { ip netns exec "$NSB" env SOFTVERBS_RUNDIR="$RUNB" "$@"; }
sv_a() { in_a "$BIN/softverbs" "$@"; }
sv_b() { in_b "$BIN/softverbs" "$@"; }

# shellcheck disable=SC2317 # the EXIT trap
wire_cleanup() {
	sv_a stop >/dev/null 2>&1
	sv_b stop >/dev/null 2>&1
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	[ -n "${WIRE_KEEP:-}" ] || rm -rf "$WIRE_TMP"
}

wire_fail() {
	echo "FAIL: $*"
	echo "counters A: $(sv_a dev stats w0 2>&1 | grep -v ' 0$' | tr '\n' ' ')"
	echo "counters B: $(sv_b dev stats w0 2>&1 | grep -v ' 0$' | tr '\n' ' ')"
	for r in "$RUNA" "$RUNB"; do
		[ -f "$r/softverbsd.log" ] && tail -20 "$r/softverbsd.log"
	done
	exit 1
}

wire_setup() {
	BIN=$1
	trap wire_cleanup EXIT
	if ! ip netns add "$NSA" 2>/dev/null; then
		echo "SKIP: cannot create network namespaces (needs root)"
		exit 77
	fi
	ip netns add "$NSB" || wire_fail "ip netns add"
	ip link add "$VA" type veth peer name "$VB" || wire_fail "veth"
	ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB" ||
		wire_fail "veth into the namespaces"
	ip -n "$NSA" addr add "$IP4A/24" dev "$VA"
	ip -n "$NSB" addr add "$IP4B/24" dev "$VB"
	ip -n "$NSA" addr add "$IP6A/64" dev "$VA" nodad
	ip -n "$NSB" addr add "$IP6B/64" dev "$VB" nodad
	for ns in "$NSA" "$NSB"; do ip -n "$ns" link set lo up; done
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up ||
		wire_fail "links up"
	mkdir -p "$RUNA" "$RUNB"
	sv_a start >/dev/null && sv_b start >/dev/null ||
		wire_fail "daemons did not start"
	sv_a dev add w0 netdev "$VA" && sv_b dev add w0 netdev "$VB" ||
		wire_fail "dev add w0 netdev"
}

# ADDR (IPv4 or IPv6) as a GID the way the daemon's sysfs writes it: eight
# 4-digit groups, IPv4 mapped into ::ffff:0:0/96. Plain bash, so that the
# tests also run in a minimal guest (tests/wire_netem_guest.sh).
gid_of() {
	local a=$1 h t x n o1 o2 o3 o4 g=()
	if [[ $a != *:* ]]; then
		IFS=. read -r o1 o2 o3 o4 <<<"$a"
		printf '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x\n' \
			"$o1" "$o2" "$o3" "$o4"
		return
	fi
	h=$a t=
	[[ $a == *::* ]] && h=${a%%::*} t=${a#*::}
	IFS=: read -ra h <<<"$h"
	IFS=: read -ra t <<<"$t"
	for x in "${h[@]}"; do g+=("$(printf %04x $((16#$x)))"); done
	for ((n = 8 - ${#h[@]} - ${#t[@]}; n > 0; n--)); do g+=(0000); done
	for x in "${t[@]}"; do g+=("$(printf %04x $((16#$x)))"); done
	(IFS=:; echo "${g[*]}")
}

# The GID index of ADDR (an IPv4 or IPv6 address) in w0's table.
gid_index() {
	local run want i g
	run=$([ "$1" = A ] && echo "$RUNA" || echo "$RUNB")
	want=$(gid_of "$2")
	for i in $(seq 0 15); do
		g=$(cat "$run/devices/w0/ports/1/gids/$i" 2>/dev/null)
		[ "$g" = "$want" ] && { echo "$i"; return 0; }
	done
	return 1
}

# Seconds since T0 (a `date +%s.%N`), one decimal (awk: no bc needed).
wire_since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# Stop a program started in the background through sv_a/sv_b (its PID
# is a subshell's, whose child is the program's "timeout"): the child
# first, or it outlives the subshell, and a server left behind keeps its
# port and takes the next client's connection (wire_cm's pair() once ran
# a second perftest against the first one's QP: RETRY_EXC_ERR).
wire_kill() {
	pkill -P "$1" 2>/dev/null
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# The value of one counter of w0 in A or B.
wire_stat() {
	if [ "$1" = A ]; then sv_a dev stats w0; else sv_b dev stats w0; fi |
		awk -v k="$2" '$1 == k { print $2 }'
}
