#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Send hand-made RoCEv2 packets from an ordinary UDP socket (as a foreign
peer would) to a softverbs wire device, one of each kind the receiver must
drop, plus well-formed ones. The ICRC is computed here independently
(zlib's CRC-32 over the masked headers, as IBTA A17.3.3 and kernel rxe do).

usage: wire_inject.py SRC_IP DST_IP QPN    (IPv4 or IPv6 addresses)
Prints the kinds sent, one per line: "<kind> <count>".
"""
import socket
import struct
import sys
import zlib


def icrc(src, dst, sport, ib):
    udp_len = 8 + len(ib) + 4
    if ':' in dst:
        ip = struct.pack('!IHBB', 0x6fffffff, udp_len, 17, 0xff) + \
            socket.inet_pton(socket.AF_INET6, src) + \
            socket.inet_pton(socket.AF_INET6, dst)
    else:
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0xff, 20 + udp_len, 0,
                         0x4000, 0xff, 17, 0xffff, socket.inet_aton(src),
                         socket.inet_aton(dst))
    udp = struct.pack('!HHHH', sport, 4791, udp_len, 0xffff)
    b = bytearray(ib)
    b[4] = 0xff
    return struct.pack('<I', zlib.crc32(b'\xff' * 8 + ip + udp + bytes(b)))


def bth(op, qpn, psn, pkey=0xffff, tver=0, pad=0):
    return struct.pack('!BBHII', op, (pad << 4) | tver, pkey, qpn,
                       (1 << 31) | psn)


def main():
    src, dst, qpn = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
    fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER: DO (ID 0)
    s.bind((src, 0))
    sport = s.getsockname()[1]
    pay = b'x' * 64
    kinds = {
        'good': bth(0x04, qpn, 1) + pay,
        'icrc': None,
        'version': bth(0x04, qpn, 2, tver=1) + pay,
        'pkey': bth(0x04, qpn, 3, pkey=0x1234) + pay,
        'opcode': bth(0x1f, qpn, 4) + pay,
        'length': bth(0x11, qpn, 5) + pay,  # an ACK with a payload
        'qpn': bth(0x04, 0, 6) + pay,
        'short': b'abc',
    }
    for kind, ib in kinds.items():
        if kind == 'short':
            pkt = ib
        elif kind == 'icrc':
            ib = kinds['good']
            pkt = ib + b'\0\0\0\0'
        else:
            pkt = ib + icrc(src, dst, sport, ib)
        s.sendto(pkt, (dst, 4791))
        print(kind, 1)


if __name__ == '__main__':
    main()
