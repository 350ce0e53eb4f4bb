#!/usr/bin/env bash
# Regenerate the seed corpora in fuzz/corpus/ from real traffic: the C
# tests run with fuzz/record_preload.c preloaded, every command message a
# client sends is saved, and a few distinct messages per method become
# seeds. fuzz_cmd: each recorded client session (its first MAX_SESSION
# commands) as one sequence of [flag byte, u16 length, body]; fuzz_frame:
# single messages as [cmsg byte, 8 bytes of creds, whole message].
# Usage: fuzz/make-corpus.sh [BUILD_DIR]   (a normal build, tests built)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
gcc -shared -fPIC -O1 -Iinclude -o "$TMP/record.so" fuzz/record_preload.c -ldl
mkdir -p "$TMP/rec"
for t in test_traffic_rc test_traffic_ud test_cq_basic test_cq_ex \
	 test_cq_channel test_qp_state test_mr_validate test_dm \
	 test_device_query test_device_write test_device_async test_pd_basic \
	 test_reclaim; do
	[ -x "$BUILD/bin/$t" ] || continue
	SV_RECORD_DIR=$TMP/rec LD_PRELOAD=$TMP/record.so \
		timeout 120 "$BUILD/bin/$t" >/dev/null 2>&1 || true
done
python3 - "$TMP/rec" fuzz/corpus <<'PY'
import hashlib, os, struct, sys
rec, out = sys.argv[1], sys.argv[2]
PER_KEY = 6
keys = {}
for name in sorted(os.listdir(rec)):
    data = open(os.path.join(rec, name), 'rb').read()
    typ, ln, seq, nfds = struct.unpack_from('<IIQI', data)
    body = data[24:]
    if typ == 1:  # SV_MSG_IOCTL: ib_uverbs_ioctl_hdr
        key = ('ioctl',) + struct.unpack_from('<HH', body, 4)
    else:         # write: ib_uverbs_cmd_hdr.command
        key = ('write', struct.unpack_from('<I', body, 0)[0])
    keys.setdefault(key, {})[hashlib.sha1(body).hexdigest()] = (typ, nfds, data)
for tgt in ('fuzz_cmd', 'fuzz_frame'):
    os.makedirs(os.path.join(out, tgt), exist_ok=True)
def save(tgt, blob):
    name = hashlib.sha1(blob).hexdigest()[:16]
    open(os.path.join(out, tgt, name), 'wb').write(blob)
n = 0
for key, variants in keys.items():
    for h, (typ, nfds, data) in list(variants.items())[:PER_KEY]:
        save('fuzz_frame', bytes([min(nfds, 7) | 8]) + bytes(8) + data)
        n += 1
MAX_SESSION = 160
VA_BASE, VA_LEN = 0x5e0000000000, 64 << 20   # fuzz_util.h
va_map = {}
def relocate(body):
    # write REG_MR (9) / REREG_MR (10 is not relocated): hdr, response,
    # start, length, hca_va: the harness maps VA_BASE..; keep page offsets.
    cmd, = struct.unpack_from('<I', body, 0)
    if cmd != 9 or len(body) < 40:
        return body
    start, length = struct.unpack_from('<QQ', body, 16)
    if length > VA_LEN // 4:
        return body
    page = start & ~0xfff
    if page not in va_map:
        va_map[page] = VA_BASE + (len(va_map) * (VA_LEN // 4)) % VA_LEN
    b = bytearray(body)
    struct.pack_into('<Q', b, 16, va_map[page] + (start & 0xfff))
    return bytes(b)
sessions = {}
for name in os.listdir(rec):
    pid, seq = name.split('-')[:2]
    sessions.setdefault(pid, []).append((int(seq), name))
for pid, recs in sessions.items():
    blob = b''
    for seq, name in sorted(recs)[:MAX_SESSION]:
        data = open(os.path.join(rec, name), 'rb').read()
        typ, ln, sq, nfds = struct.unpack_from('<IIQI', data)
        body = relocate(data[24:]) if typ == 2 else data[24:]
        flags = (1 if typ == 2 else 0) | min(max(nfds - 1, 0), 3) << 1
        blob += bytes([flags]) + struct.pack('<H', len(body)) + body
    save('fuzz_cmd', blob)
print(f'{len(keys)} methods, {n} frame seeds, {len(sessions)} sessions')
PY

# fuzz_engine: WQE images in the harness's relocatable form (fuzz_engine.c):
# mode byte, then WQEs whose small addresses and keys the harness relocates.
python3 - fuzz/corpus/fuzz_engine <<'PY'
import hashlib, os, struct, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
SIG, INL = 2, 8
def sge(addr, ln, key): return struct.pack('<QII', addr, ln, key)
def send(op, flags=SIG, sges=(), imm=0, union=b'', inline=b''):
    wflags, n = (1, len(inline)) if inline else (0, len(sges))
    hdr = struct.pack('<QIIIIII', 0x1000 + op, op, flags, n, wflags, imm, 0)
    body = union.ljust(32, b'\0') + (inline if inline else b''.join(sges))
    return hdr + body
rdma = lambda off, key: struct.pack('<QII', off, key, 0)
atomic = lambda off, cmp, swp, key: struct.pack('<QQQII', off, cmp, swp, key, 0)
ud = lambda ah, qpn, qkey: struct.pack('<III', ah, qpn, qkey)
recv = lambda sges: struct.pack('<QII', 0x2000, len(sges), 0) + b''.join(sges)
s1 = [sge(0, 64, 0)]
seeds = [
    (0, [send(2, sges=s1)]),                                   # SEND
    (0, [send(3, sges=s1, imm=0x12345678)]),                   # SEND_WITH_IMM
    (0, [send(2, SIG | INL, inline=b'hello inline data!')]),   # inline
    (0, [send(2, sges=[])]),                                   # zero length
    (0, [send(2, sges=[sge(0, 32, 0), sge(4096, 32, 0), sge(8192, 16, 0)])]),
    (0, [send(0, sges=s1, union=rdma(128, 1))]),               # RDMA WRITE
    (0, [send(1, sges=s1, imm=7, union=rdma(256, 1))]),        # WRITE_WITH_IMM
    (0, [send(4, sges=s1, union=rdma(512, 1))]),               # RDMA READ
    (0, [send(5, sges=[sge(0, 8, 0)], union=atomic(64, 0, 5, 1))]),  # CAS
    (0, [send(6, sges=[sge(0, 8, 0)], union=atomic(72, 3, 0, 1))]),  # FAA
    (0, [send(0, sges=s1, union=rdma(128, 2))]),               # bad rkey
    (0, [send(4, sges=[sge(65000, 4096, 0)], union=rdma(0, 1))]),  # overrun
    (0, [send(7, imm=1)]),                                     # LOCAL_INV
    (0, [send(9, sges=s1, imm=1)]),                            # SEND_WITH_INV
    (0, [send(0, sges=s1, union=rdma(0, 1)), send(4, sges=s1, union=rdma(0, 1)),
         send(2, sges=s1)]),
    (1, [recv([sge(0, 256, 0)])]),
    (1, [recv([sge(0, 16, 0), sge(1024, 16, 0), sge(2048, 64, 0)])]),
    (1, [recv([sge(0, 16, 3)])]),                              # bad lkey
    (2, [send(2, sges=s1, union=ud(0, 2, 0x11111111))]),       # UD to C
    (2, [send(3, sges=s1, imm=9, union=ud(0, 0, 0x11111111))]),
    (2, [send(2, SIG | INL, inline=b'ud inline', union=ud(0, 3, 0x80010000))]),
    (3, [send(2, sges=[sge(0xdeadbeef000, 64, 0x1234501)])]),  # raw
]
for mode, wqes in seeds:
    blob = bytes([mode]) + b''.join(bytes([len(w)]) + w for w in wqes)
    open(os.path.join(out, hashlib.sha1(blob).hexdigest()[:16]), 'wb').write(blob)
print(f'{len(seeds)} engine seeds')
PY
