#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""UDP round trip between two hosts (bench/wire.sh's latency reference):
"udp_rtt.py serve ADDR" echoes; "udp_rtt.py ping ADDR N" prints the median
round trip of N 64-byte datagrams in microseconds."""
import socket
import sys
import time

mode, addr = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == 'serve':
    s.bind((addr, 18600))
    s.settimeout(30)
    try:
        while True:
            d, a = s.recvfrom(2048)
            if d == b'quit':
                break
            s.sendto(d, a)
    except socket.timeout:
        pass
else:
    s.settimeout(1)
    rtts = []
    for _ in range(int(sys.argv[3])):
        t = time.perf_counter()
        s.sendto(b'x' * 64, (addr, 18600))
        try:
            s.recvfrom(2048)
        except socket.timeout:
            continue
        rtts.append((time.perf_counter() - t) * 1e6)
    s.sendto(b'quit', (addr, 18600))
    rtts.sort()
    print('%.1f' % rtts[len(rtts) // 2] if rtts else '')
