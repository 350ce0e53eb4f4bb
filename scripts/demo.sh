#!/usr/bin/env bash
# The main job (README): build, start softverbsd with the default device
# softverbs0, show it with Debian's unmodified ibv_devinfo, and run verbs
# traffic between two processes with Debian's ibv_rc_pingpong.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
CLI=$PWD/build/bin/softverbs
"$CLI" start
"$CLI" dev list
"$CLI" run -- ibv_devinfo -v
. scripts/gid.sh
GID=$(sv_gid "$CLI" '::ffff:127\.0\.0\.1')
echo "ibv_rc_pingpong on softverbs0, GID index ${GID:-?}"
"$CLI" run -- ibv_rc_pingpong -d softverbs0 -g "${GID:-1}" -c -n 1000 -s 4096 &
srv=$!
sleep 1
"$CLI" run -- ibv_rc_pingpong -d softverbs0 -g "${GID:-1}" -c -n 1000 -s 4096 localhost
wait "$srv"
