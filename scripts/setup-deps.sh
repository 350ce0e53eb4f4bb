#!/bin/bash
# Install what softverbs needs to build and test on Debian 12.
set -euo pipefail

BUILD_DEPS=(build-essential cmake clang libclang-rt-14-dev pkg-config
	    libibverbs-dev librdmacm-dev linux-libc-dev)
# Unmodified rdma-core consumers that the test suite runs on softverbs.
TEST_DEPS=(ibverbs-utils rdmacm-utils perftest python3-pyverbs ucx-utils
	   libfabric-bin iproute2 infiniband-diags openmpi-bin libopenmpi-dev
	   tshark kmod)
# kmod: scripts/test.sh loads udmabuf (test_dmabuf's kernel dma-buf case).
# tests/wire*.sh decode captures with tshark; bench/wire.sh compares with
# iperf3 over the same veth.
# bench/run.sh's plot.
BENCH_DEPS=(gnuplot-nox iperf3)
# The kernel's Soft-RoCE in a QEMU guest as a wire peer (tests/wire_rxe.sh,
# tests/wire_netem_guest.sh, where ../shared/tools/rxe-vm exists).
PEER_DEPS=(qemu-system-x86 debootstrap)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
# env, not export: sudo would drop an exported variable.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	--no-install-recommends \
	"${BUILD_DEPS[@]}" "${TEST_DEPS[@]}" "${BENCH_DEPS[@]}" "${PEER_DEPS[@]}"
