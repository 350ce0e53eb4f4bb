# Sourced by scripts/ucx-perf.sh and scripts/mpi-ucx.sh (with CLI set):
# make sure a daemon runs with an InfiniBand device ib0 besides softverbs0,
# and on exit leave it as found (stop what we started, delete what we added).
started= added=
if ! "$CLI" status >/dev/null 2>&1; then
	"$CLI" start >/dev/null || exit 1
	started=1
fi
if ! "$CLI" dev list | grep -q '^ib0 '; then
	"$CLI" dev add ib0 type ib >/dev/null || exit 1
	added=1
fi
# shellcheck disable=SC2317 # called from the EXIT trap
ib0_daemon_cleanup() {
	[ -n "$added" ] && "$CLI" dev del ib0 >/dev/null 2>&1
	[ -n "$started" ] && "$CLI" stop >/dev/null 2>&1
}
trap ib0_daemon_cleanup EXIT
