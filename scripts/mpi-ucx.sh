#!/bin/bash
# UCX and Open MPI through "softverbs run" (what CI runs):
#  - ucx_info -d lists softverbs0:1 and ib0:1 under rc_verbs and ud_verbs;
#  - ibstat shows the devices and their ports;
#  - Open MPI over UCX over softverbs: "mpirun --mca pml ucx" under
# "softverbs run", a 2-rank ping-pong that checks its data (tests/
# mpi_pingpong.c), on the RoCE device over rc_verbs and ud_verbs and on an
# InfiniBand device over rc_verbs. UCX_TLS leaves out shared memory and TCP,
# so a rank that cannot use softverbs fails instead of falling back.
# Usage: scripts/mpi-ucx.sh. Exit 0 pass, 1 fail, 77 without mpicc/mpirun.
set -uo pipefail
cd "$(dirname "$0")/.."
CLI=${SOFTVERBS_CLI:-$PWD/build/bin/softverbs}
export SOFTVERBS_RUNDIR=${SOFTVERBS_RUNDIR:-$PWD/build/run-mpi}
if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
	echo "SKIP: no mpicc/mpirun (apt-get install openmpi-bin libopenmpi-dev)"
	exit 77
fi
mpicc -O2 -Wall -o build/mpi_pingpong tests/mpi_pingpong.c || exit 1

# shellcheck source=scripts/ib0-daemon.sh
. scripts/ib0-daemon.sh

rc=0
info=$("$CLI" run -- ucx_info -d 2>&1)
for tl in rc_verbs ud_verbs; do
	for dev in softverbs0:1 ib0:1; do
		grep -A1 "Transport: $tl\$" <<<"$info" | grep -q "Device: $dev\$" ||
			{ echo "FAIL: ucx_info -d lists no $dev under $tl"; rc=1; }
	done
done
if command -v ibstat >/dev/null; then
	"$CLI" run -- ibstat ib0 | grep -E "CA '|State|lid|Link layer" ||
		rc=1
fi
for case in softverbs0:1,rc_v softverbs0:1,ud_v ib0:1,rc_v; do
	dev=${case%,*} tls=${case#*,}
	echo "--- mpirun -np 2 --mca pml ucx, UCX_NET_DEVICES=$dev UCX_TLS=$tls,self"
	if ! timeout 180 "$CLI" run -- mpirun --allow-run-as-root \
		--oversubscribe -np 2 --mca pml ucx --mca btl self \
		--mca osc ^ucx -x UCX_NET_DEVICES="$dev" \
		-x UCX_TLS="$tls,self" -x SOFTVERBS_RUNDIR \
		build/mpi_pingpong 100; then
		echo "FAIL: $case"
		rc=1
	fi
done
exit $rc
