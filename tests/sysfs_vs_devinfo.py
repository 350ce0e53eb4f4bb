#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare a sysfs view of RDMA devices with what `ibv_devinfo -v` reports.

Usage: sysfs_vs_devinfo.py SYSFS_CLASS_INFINIBAND DEV...
Exit 0 if every compared fact agrees, 1 otherwise (each mismatch printed).
ibv_devinfo gets its facts from the daemon (query_device/port/gid), the
view from the daemon's fact files: two paths that must agree.
"""
import ipaddress
import re
import subprocess
import sys

SPEED_GBPS = {1: 2.5, 2: 5, 4: 10, 8: 10, 16: 14, 32: 25, 64: 50, 128: 100}
WIDTH_LANES = {1: 1, 2: 4, 4: 8, 8: 12, 16: 2}


def read(root, dev, rel):
    with open(f"{root}/{dev}/{rel}") as f:
        return f.read().strip()


def num(s):
    """The number a sysfs value or devinfo field starts with (or holds)."""
    m = re.search(r"\((\d+)\)", s)  # "PORT_ACTIVE (4)"
    if m:
        return int(m.group(1))
    return int(s.split(":")[0].split()[0], 0)


def devinfo(dev):
    out = subprocess.run(["ibv_devinfo", "-v", "-d", dev], check=True,
                         capture_output=True, text=True).stdout
    f, gids = {}, {}
    for line in out.splitlines():
        m = re.match(r"\s*GID\[\s*(\d+)\]:\s*([0-9a-f:.]+)(?:, (.*))?$", line)
        if m:
            gids[int(m.group(1))] = (m.group(2), m.group(3))
            continue
        m = re.match(r"\s*(\w+):\s+(.*)$", line)
        if m and m.group(1) not in f:
            f[m.group(1)] = m.group(2).strip()
    return f, gids


def full_gid(s):
    return ":".join(ipaddress.IPv6Address(s).exploded.split(":"))


def compare(root, dev):
    f, gids = devinfo(dev)
    checks = [
        ("node_guid", f["node_guid"], read(root, dev, "node_guid")),
        ("sys_image_guid", f["sys_image_guid"],
         read(root, dev, "sys_image_guid")),
        ("fw_ver", f["fw_ver"], read(root, dev, "fw_ver")),
        ("board_id", f.get("board_id"), read(root, dev, "board_id")),
        ("hw_rev", num(f["hw_ver"]), num(read(root, dev, "hw_rev"))),
        ("vendor", num(f["vendor_id"]), num(read(root, dev, "device/vendor"))),
        ("device", num(f["vendor_part_id"]),
         num(read(root, dev, "device/device"))),
        ("state", num(f["state"]), num(read(root, dev, "ports/1/state"))),
        ("phys_state", num(f["phys_state"]),
         num(read(root, dev, "ports/1/phys_state"))),
        ("link_layer", f["link_layer"],
         read(root, dev, "ports/1/link_layer")),
        ("lid", num(f["port_lid"]), num(read(root, dev, "ports/1/lid"))),
        ("sm_lid", num(f["sm_lid"]), num(read(root, dev, "ports/1/sm_lid"))),
        ("lmc", num(f["port_lmc"]),
         num(read(root, dev, "ports/1/lid_mask_count"))),
        ("sm_sl", num(f["sm_sl"]), num(read(root, dev, "ports/1/sm_sl"))),
        ("cap_mask", num(f["port_cap_flags"]),
         num(read(root, dev, "ports/1/cap_mask"))),
    ]
    lanes = WIDTH_LANES[num(f["active_width"])]
    gbps = SPEED_GBPS[num(f["active_speed"])] * lanes
    rate = read(root, dev, "ports/1/rate")
    checks.append(("rate", f"{gbps:g} Gb/sec ({lanes}X",
                   rate[:len(f"{gbps:g} Gb/sec ({lanes}X")]))
    for i, (gid, gtype) in sorted(gids.items()):
        checks.append((f"gids/{i}", full_gid(gid),
                       read(root, dev, f"ports/1/gids/{i}")))
        want = gtype or "IB/RoCE v1"  # devinfo names only RoCE types
        checks.append((f"gid_attrs/types/{i}", want,
                       read(root, dev, f"ports/1/gid_attrs/types/{i}")))
    bad = [c for c in checks if c[1] != c[2]]
    for name, a, b in bad:
        print(f"MISMATCH {dev} {name}: ibv_devinfo {a!r} vs view {b!r}")
    print(f"{dev}: {len(checks) - len(bad)}/{len(checks)} facts agree "
          f"({len(gids)} GIDs)")
    return not bad and gids


def main():
    root, devs = sys.argv[1], sys.argv[2:]
    ok = all([compare(root, d) for d in devs])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
