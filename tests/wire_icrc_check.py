#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Check every RoCEv2 IPv4 packet of a pcap (tshark/dumpcap, Ethernet or
# raw IP) by kernel rxe's rule: the ICRC over the packet's REAL IP header
# (its IP ID included), computed here with Python's zlib, independently
# of softverbs' code. Prints "checked N ids K bad B"; exit 1 if any is bad
# or none was found.
#   usage: wire_icrc_check.py FILE.pcap [MIN_PACKETS]
import struct, sys, zlib


def icrc(b):
    b = bytearray(b)
    ihl = (b[0] & 0xf) * 4
    b[1] = 0xff; b[8] = 0xff; b[10:12] = b'\xff\xff'   # TOS, TTL, checksum
    b[ihl + 6:ihl + 8] = b'\xff\xff'                    # UDP checksum
    b[ihl + 8 + 4] = 0xff                               # BTH FECN/BECN/resv
    return struct.pack('<I', zlib.crc32(b'\xff' * 8 + bytes(b)) & 0xffffffff)


def frames(path):
    data = open(path, 'rb').read()
    if data[:4] == b'\x0a\x0d\x0d\x0a':  # pcapng: enhanced packet blocks
        off = 0
        while off + 12 <= len(data):
            typ, ln = struct.unpack_from('<II', data, off)
            if typ == 6:
                cap = struct.unpack_from('<I', data, off + 20)[0]
                yield data[off + 28:off + 28 + cap]
            off += ln
        return
    off = 24  # classic pcap: Ethernet or raw IP, told apart below
    while off + 16 <= len(data):
        cap = struct.unpack_from('<I', data, off + 8)[0]
        yield data[off + 16:off + 16 + cap]
        off += 16 + cap


def main():
    n = bad = 0
    ids = set()
    for f in frames(sys.argv[1]):
        if len(f) > 14 and f[12:14] == b'\x08\x00':
            f = f[14:]  # Ethernet
        if len(f) < 20 or f[0] >> 4 != 4 or f[9] != 17:
            continue
        ihl = (f[0] & 0xf) * 4
        tot = struct.unpack_from('>H', f, 2)[0]
        if struct.unpack_from('>H', f, ihl + 2)[0] != 4791 or len(f) < tot:
            continue
        f = f[:tot]
        n += 1
        ids.add(struct.unpack_from('>H', f, 4)[0])
        if icrc(f[:-4]) != f[-4:]:
            bad += 1
    print("checked %d ids %d bad %d" % (n, len(ids), bad))
    need = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    sys.exit(0 if n >= need and not bad else 1)


main()
