# SPDX-License-Identifier: MIT
# Sourced: sv_gid CLI PATTERN prints the index of softverbs0's first RoCE v2
# GID whose line matches PATTERN (an awk regex, e.g. '::ffff:127\.0\.0\.1'),
# or nothing. ibv_devinfo -v prints "GID[  1]:  ::ffff:127.0.0.1, RoCE v2":
# the index is inside the brackets.
sv_gid() {
	"$1" run -- ibv_devinfo -d softverbs0 -v 2>/dev/null |
		awk -v pat="$2" '/GID\[/ && /RoCE v2/ && $0 ~ pat {
			sub(/.*GID\[ */, ""); sub(/\].*/, ""); print; exit }'
}
