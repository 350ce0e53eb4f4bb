#!/usr/bin/env bash
# Install what softverbs needs to build and test on Debian 12.
set -euo pipefail
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential cmake clang libclang-rt-14-dev pkg-config git \
	libibverbs-dev linux-libc-dev ibverbs-utils perftest python3-pyverbs \
	ucx-utils libfabric-bin iproute2 procps >/dev/null
