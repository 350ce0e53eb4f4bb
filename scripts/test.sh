#!/usr/bin/env bash
# The test command (README): build, run ctest, the sanitizer build, the
# fuzzer briefly, Debian's tools and rdma-core's test suite on softverbs.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
JOBS=$(nproc)
step() { printf '\n=== %s ===\n' "$*"; }

step "build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

step "ctest"
# test_dmabuf registers a kernel dma-buf when /dev/udmabuf exists: load the
# module as root where the kernel has it (CONFIG_UDMABUF=m). The hugepage
# tests reserve their pages themselves (tests/huge.cmake).
if [ "$(id -u)" = 0 ] && [ ! -e /dev/udmabuf ] && command -v modprobe >/dev/null; then
	modprobe udmabuf 2>/dev/null || echo "udmabuf: no such module here"
fi
(cd build && ctest --output-on-failure -j1)

step "ctest, direct path off (SOFTVERBS_DIRECT=0)"
# The same-host direct path is on by default (docs/direct-path.md): the
# daemon path must keep passing too. Left out: tests where no connection
# can go direct (wire: another daemon; loss: the lossy transport; sysfs
# views, ids, library loading, the harness and the fake daemon: no
# traffic). The direct-path tests set the switch themselves.
(cd build && SOFTVERBS_DIRECT=0 ctest --output-on-failure -j1 \
	-E '^(wire_|test_loss_|test_sysfs_|unit_|consumers_load|fake_daemon|bench_harness|test_direct_)')

step "sanitizer build (ASan+UBSan) + ctest"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSV_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
# The library is preloaded into uninstrumented Debian binaries by some
# tests; those skip under ASan (see tests), the rest must pass.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$REPO/tests/lsan.supp ctest --output-on-failure -j1 \
	-E 'consumers_load')

if command -v clang >/dev/null; then
	# Each target briefly, from its seed corpus (fuzz/README.md).
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
		-DSV_FUZZ=ON -DSV_SANITIZE=ON >/dev/null
	cmake --build build-fuzz -j"$JOBS" --target fuzz_cmd fuzz_frame fuzz_engine fuzz_cm fuzz_wire fuzz_ctl
	for t in fuzz_cmd fuzz_frame fuzz_engine fuzz_cm fuzz_wire fuzz_ctl; do
		step "fuzz $t (${SV_FUZZ_SECONDS:-30} s)"
		mkdir -p build-fuzz/corpus/$t
		build-fuzz/bin/$t -max_total_time="${SV_FUZZ_SECONDS:-30}" \
			-rss_limit_mb=4096 build-fuzz/corpus/$t fuzz/corpus/$t \
			2>&1 | tail -n 3
	done
fi

step "Debian tools through softverbs run"
export SOFTVERBS_RUNDIR=${SOFTVERBS_RUNDIR:-$REPO/build/run}
CLI=$REPO/build/bin/softverbs
# "softverbs run" starts a daemon here when none answers: stop it at the
# end (success or not), but never one that was running before.
if ! "$CLI" status >/dev/null 2>&1; then
	trap '"$CLI" stop >/dev/null 2>&1 || true' EXIT
fi
"$CLI" run -- ibv_devices
"$CLI" run -- ibv_devinfo -v | tee build/devinfo.txt
grep -q 'PORT_ACTIVE' build/devinfo.txt
grep -q 'RoCE v2' build/devinfo.txt

if [ -x scripts/pingpong.sh ]; then
	step "Debian pingpongs"
	scripts/pingpong.sh
	step "Debian pingpongs, direct path off"
	SOFTVERBS_DIRECT=0 scripts/pingpong.sh
fi

step "rdma_cm: rdmacm-utils and perftest -R"
scripts/rdmacm-utils.sh

step "Debian perftest (short runs)"
scripts/perftest.sh
step "Debian perftest, direct path off (shorter runs)"
SOFTVERBS_DIRECT=0 SV_PERF_ITERS=200 SV_PERF_ALL_ITERS=5 \
	SV_PERF_LOG=build/perftest-off scripts/perftest.sh

step "UCX, Open MPI (pml ucx) and ibstat through softverbs run"
scripts/mpi-ucx.sh || [ $? -eq 77 ]

step "rdma-core test suite"
# test_odp's hugepage variants need a few 2 MiB pages: as root, reserve 8
# (16 MiB) for the suite and give back the old count afterwards. Without
# them (not root, no hugetlb) those two tests skip.
huge_was=
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	huge_was=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$huge_was" -lt 8 ]; then
		echo 8 >/proc/sys/vm/nr_hugepages || true
	fi
fi
# Modules that must pass; the rest are run and counted (see README status).
# The suite's device is bound to the default route's interface (lo without
# one): test_rdmacm finds its IP through the sysfs view's device/net/, and
# every other module passes on such a device too. A private daemon.
rc_ifname=$(ip -o route show default 2>/dev/null | awk '{print $5; exit}')
rc_rundir=$(mktemp -d)
SV_REQUIRED_MODULES=${SV_REQUIRED_MODULES:-"test_device test_pd test_cq test_qp test_cq_events test_shared_pd test_addr test_qpex test_mr test_cqex test_atomic test_odp test_parent_domain test_flow test_rss_traffic test_rdmacm test_tag_matching"} \
	SV_MODULE_TIMEOUT=${SV_MODULE_TIMEOUT:-90} \
	SOFTVERBS_RUNDIR=$rc_rundir SOFTVERBS_NETDEV=${rc_ifname:-lo} \
	SOFTVERBS_CLI=$CLI scripts/run-rdma-core-tests.sh
step "rdma-core test suite, direct path off (the modules with traffic)"
off_modules="test_qp test_qpex test_cq_events test_cqex test_atomic test_mr test_odp test_parent_domain test_shared_pd test_tag_matching"
SOFTVERBS_DIRECT=0 SV_REQUIRED_MODULES="$off_modules" \
	SV_MODULE_TIMEOUT=${SV_MODULE_TIMEOUT:-90} \
	SOFTVERBS_RUNDIR=$rc_rundir SOFTVERBS_NETDEV=${rc_ifname:-lo} \
	SOFTVERBS_CLI=$CLI scripts/run-rdma-core-tests.sh $off_modules
SOFTVERBS_RUNDIR=$rc_rundir "$CLI" stop || true
rm -rf "$rc_rundir"
if [ -n "$huge_was" ]; then
	echo "$huge_was" >/proc/sys/vm/nr_hugepages || true
fi

step "interop with kernel Soft-RoCE (tests/wire_rxe.sh, where QEMU and ../shared/tools/rxe-vm exist)"
# Boots rdma_rxe in a TCG guest: about 5 minutes; 77 (skipped) without
# QEMU or the tool, as on a clean clone.
rxe_rc=0
bash tests/wire_rxe.sh build/bin || rxe_rc=$?
[ "$rxe_rc" = 0 ] || [ "$rxe_rc" = 77 ] || { echo "wire_rxe: FAIL"; exit 1; }

step "wire_netem on a kernel with netem (tests/wire_netem_guest.sh, where QEMU and ../shared/tools/rxe-vm exist)"
# ctest wire_netem in a Debian 12 TCG guest, for kernels without sch_netem
# (there ctest skips it): about 1-2 minutes; 77 without QEMU or the tool.
netem_rc=0
bash tests/wire_netem_guest.sh build/bin || netem_rc=$?
[ "$netem_rc" = 0 ] || [ "$netem_rc" = 77 ] || { echo "wire_netem_guest: FAIL"; exit 1; }

step "benchmark, quick, both paths (figures only: fails only if the tool breaks)"
# Both paths: issue 10's floors are printed for the daemon path
# (SOFTVERBS_DIRECT=0), issue 17's for the direct path, UCX in the same run.
bench/run.sh --quick --both-paths --out build/bench-quick
echo "ALL TESTS PASSED"
