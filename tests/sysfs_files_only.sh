#!/bin/bash
# Stand-in for sysfs_vs_devinfo.py where ibv_devinfo cannot run (sanitizer
# builds): the view's files exist and parse. Usage: ROOT DEV...
root=$1
shift
for d in "$@"; do
	for f in node_guid fw_ver device/vendor ports/1/state ports/1/lid \
		ports/1/link_layer ports/1/gids/0 ports/1/gid_attrs/types/0; do
		[ -s "$root/$d/$f" ] || { echo "MISSING $d/$f"; exit 1; }
	done
	grep -Eqx '[0-9a-f]{4}(:[0-9a-f]{4}){3}' "$root/$d/node_guid" || exit 1
	echo "$d: files present"
done
