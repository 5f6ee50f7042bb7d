#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fuzz/mkcorpus.py - writes the hand-made seed corpora into tests/fuzz/corpus/<parser>/
# (the corpus of tests/fuzz/fuzz_<parser>.c). Only the files named here are (re)written.
# Deterministic; rerun after changing a seed (`python3 tests/fuzz/mkcorpus.py`), then
# commit the files. Seeds are small on purpose: libFuzzer grows them, `make test` replays
# them (plus any regression seed added by hand as crash-<what>).
import os
import struct

TOP = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(TOP, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- heap_v2 dumps (heapprof/dump.c) ---

MAPS = ("MAPPED_LIBRARIES:\n"
        "55aa00000000-55aa00001000 r--p 00000000 fe:00 5308693                    /usr/bin/prog\n"
        "55aa00001000-55aa00004000 r-xp 00001000 fe:00 5308693                    /usr/bin/prog\n"
        "7f0000000000-7f0000100000 r-xp 00009000 fe:00 14884866                   /usr/lib/x.so.2 (deleted)\n"
        "7fdd4bf00000-7fdd4cc00000 rw-p 00000000 00:00 0 \n")
put("hp_dump", "full",
    "heap_v2/524288\n"
    "  t*: 3: 1600 [0: 0]\n"
    "  t0: 2: 1000 [0: 0]\n"
    "  t7: 1: 600 [0: 0] worker thread\n"
    "@ 0x7f0000001234 0x55aa00001000 0x55aa00002000\n"
    "  t*: 2: 1000 [5: 2500]\n"
    "  t0: 2: 1000 [5: 2500]\n"
    "@ 0x7f0000001234 0x55aa00003000\n"
    "  t*: 1: 600 [0: 0]\n"
    "  t7: 1: 600 [0: 0]\n"
    "\n" + MAPS)
put("hp_dump", "minimal", "heap_v2/1\n  t*: 0: 0 [0: 0]\n")
put("hp_dump", "crlf-maps", "heap_v2/4096 \r\n  t*: 1: 8 [0: 0]\r\n@ 0x1\r\n  t*: 1: 8 [0: 0]\r\n\r\n"
    "MAPPED_LIBRARIES:\r\n0-1000 r-xp 00000000 00:00 0 /a\r\n")
put("hp_dump", "no-maps", "heap_v2/256\n  t*: 2: 64 [0: 0]\n  t0: 2: 64 [0: 0] main\n"
    "@ 0xffffffffffffffff 0x0\n  t*: 2: 64 [0: 0]\n  t0: 2: 64 [0: 0]\n")
# UBSan found hp_dump_stack computing NULL + 0 for a stack without t<N> lines (fixed).
put("hp_dump", "regress-stack-without-thread-lines",
    "heap_v2/512\n  t*: 1: 16 [0: 0]\n@ 0x400000\n  t*: 1: 16 [0: 0]\n")
# A NUL among the mapping permissions passed strchr("rwxps-", c) (fixed in 6c69b53).
put("hp_dump", "regress-nul-in-perms", "heap_v2/1\n  t*: 1: 1 [0: 0]\n\nMAPPED_LIBRARIES:\n"
    "0-1000 r\0xp 00000000 00:00 0 /a\n")
put("hp_dump", "bad-counts", "heap_v2/4096\n  t*: 18446744073709551616: 2 [0: 0]\n")
put("hp_dump", "truncated-stack", "heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1 0x2")
put("hp_dump", "not-a-dump", "heap profile: 1: 2 [3: 4] @ heap_v2/524288\n")

# --- control protocol (shim/ctlproto.c): first byte = mode, see fuzz_ctlproto.c ---

put("ctlproto", "stream", b"\x00\x07heap enable\nheap dump /tmp/x.heap\r\nstats --json\n"
    b"get prof.active\nset prof.active true\nHELP\n\n  \t \nbogus\nheap\nheap frob\n")
put("ctlproto", "stream-tokens", b"\x00\x3f" + b" ".join([b"t"] * 17) + b"\nset a b c\n")
put("ctlproto", "stream-control-byte", b"\x00\x01heap\x01 enable\nheap\x7f\n")
put("ctlproto", "stream-long", b"\x00\x20" + b"x" * 4100 + b"\nstats\n")
put("ctlproto", "head-ok", b"\x01OK 1234 table\nbody")
put("ctlproto", "head-err", b"\x01ERR unknown command 'x', try 'help'\n")
put("ctlproto", "head-big", b"\x01OK 99999999999999999999 kv\n")
put("ctlproto", "json-text", b"\x02\x00\x00line one\n\"quoted\"\\ and \x01 tab\there\n")
put("ctlproto", "json-kv", b"\x02\x01\x00prof.active\ttrue\nlg_sample\t19\nname\t-\nratio\t-1.5e3\n"
    b"path\t/tmp/a b\nempty\t\n")
put("ctlproto", "json-table", b"\x02\x02\x00size\tutil\tname\n8\t0.5\t-\n16\t1\tx\ty\n")
put("ctlproto", "json-small", b"\x02\x02\x02a\tb\n1\t2\n3\t4\n5\t6\n")
put("ctlproto", "frame", b"\x03\x40\x10\x00\x02reason with\nnewline and \x7f")

# --- listpacks (kvcore/listpack.c) ---


def backlen(n):
    if n < 128:
        return bytes([n])
    out = []
    while n:
        out.append(n & 127)
        n >>= 7
    out.reverse()
    return bytes([out[0]] + [b | 128 for b in out[1:]])


def lp_str(s):
    n = len(s)
    if n < 64:
        e = bytes([0x80 | n]) + s
    elif n < 4096:
        e = bytes([0xE0 | n >> 8, n & 255]) + s
    else:
        e = b"\xF0" + struct.pack("<I", n) + s
    return e + backlen(len(e))


def lp_int(v):
    if 0 <= v < 128:
        e = bytes([v])
    elif -4096 <= v < 4096:
        u = v & 0x1FFF
        e = bytes([0xC0 | u >> 8, u & 255])
    elif -(1 << 15) <= v < 1 << 15:
        e = b"\xF1" + struct.pack("<h", v)
    elif -(1 << 23) <= v < 1 << 23:
        e = b"\xF2" + struct.pack("<i", v)[:3]
    elif -(1 << 31) <= v < 1 << 31:
        e = b"\xF3" + struct.pack("<i", v)
    else:
        e = b"\xF4" + struct.pack("<q", v)
    return e + backlen(len(e))


def lp(entries, count=None):
    body = b"".join(entries)
    total = 6 + len(body) + 1
    n = len(entries) if count is None else count
    return struct.pack("<IH", total, n) + body + b"\xff"


put("kv_listpack", "empty", lp([]))
put("kv_listpack", "ints", lp([lp_int(v) for v in
                                    (0, 127, 128, -1, 4095, -4096, 4096, 32767, -32768, 32768,
                                     (1 << 23) - 1, -(1 << 23), 1 << 23, (1 << 31) - 1, 1 << 31,
                                     -(1 << 63), (1 << 63) - 1)]))
put("kv_listpack", "strings", lp([lp_str(b""), lp_str(b"a"), lp_str(b"x" * 63),
                                       lp_str(b"y" * 64), lp_str(b"field"), lp_str(b"-0")]))
put("kv_listpack", "long-strings", lp([lp_str(b"z" * 4095), lp_str(b"w" * 4096)]))
put("kv_listpack", "hash-pairs", lp([lp_str(b"f1"), lp_int(1), lp_str(b"f2"),
                                          lp_str(b"v2"), lp_str(b"f3"), lp_int(-300)]))
put("kv_listpack", "count-unknown", lp([lp_int(5), lp_str(b"five")], count=65535))
put("kv_listpack", "string-spelling-int", lp([lp_str(b"42"), lp_int(42)]))
put("kv_listpack", "bad-count", lp([lp_int(1)], count=3))
put("kv_listpack", "bad-backlen", lp([lp_int(1)])[:-2] + b"\x05\xff")

# --- intsets (kvcore/intset.c) ---


def intset(width, values):
    fmt = {2: "<h", 4: "<i", 8: "<q"}[width]
    return struct.pack("<II", width, len(values)) + b"".join(struct.pack(fmt, v) for v in values)


put("kv_intset", "empty", intset(2, []))
put("kv_intset", "w2", intset(2, [-32768, -1, 0, 1, 7, 32767]))
put("kv_intset", "w4", intset(4, [-(1 << 31), -40000, 5, 40000, (1 << 31) - 1]))
put("kv_intset", "w8", intset(8, [-(1 << 63), -1, 0, 1 << 40, (1 << 63) - 1]))
put("kv_intset", "w8-small-values", intset(8, [1, 2, 3]))
put("kv_intset", "unsorted", intset(2, [3, 1, 2]))
put("kv_intset", "bad-width", struct.pack("<II", 3, 1) + b"\x01\x00\x00")
put("kv_intset", "short", intset(4, [1, 2])[:-1])

# --- RESP requests (kvcore/resp.c): data[0] = chunk size, data[1] bit 0 = small max bulk ---

put("kv_resp", "multibulk", b"\x05\x00*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
put("kv_resp", "inline", b"\x03\x00PING\r\nset k \"a b\\x41\\n\" 'it\\'s'\nGET k\n\r\n   \n")
put("kv_resp", "pipeline", b"\x20\x00" + b"*1\r\n$4\r\nPING\r\n" * 40 + b"*0\r\n*-1\r\n")
put("kv_resp", "empty-bulk", b"\x01\x00*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")
put("kv_resp", "binary-bulk", b"\x07\x00*2\r\n$4\r\nECHO\r\n$6\r\n\x00\r\n\xff\n\x01\r\n")
put("kv_resp", "bulk-too-long", b"\x09\x01*2\r\n$3\r\nSET\r\n$65\r\n" + b"x" * 65 + b"\r\n")
put("kv_resp", "bulk-huge-header", b"\x09\x00*1\r\n$536870913\r\n")
put("kv_resp", "bad-count", b"\x02\x00*x\r\n")
put("kv_resp", "bad-dollar", b"\x02\x00*1\r\n:1\r\n")
put("kv_resp", "negative-bulk", b"\x02\x00*1\r\n$-1\r\n")
put("kv_resp", "unbalanced-quotes", b"\x04\x00SET \"k v\r\n")
put("kv_resp", "incomplete", b"\x03\x00*2\r\n$3\r\nGET\r\n$10\r\nabc")

# --- config files (kvcore/config.c) ---

put("kv_config", "redis-conf", """# kvcore configuration
bind 127.0.0.1 -::1
port 6380
timeout 0
tcp-keepalive 300
databases 16
maxmemory 100mb
maxmemory-policy allkeys-lru
maxmemory-samples 5
hz 10
dynamic-hz yes
proto-max-bulk-len 512mb
client-query-buffer-limit 1gb
client-output-buffer-limit normal 0 0 0
client-output-buffer-limit replica 256mb 64mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
save 3600 1 300 100
save ""
loglevel notice
logfile ""
dbfilename dump.rdb
appendonly no
protected-mode yes
activedefrag yes
active-defrag-ignore-bytes 100mb
active-defrag-threshold-lower 10
active-defrag-cycle-min 1
active-defrag-cycle-max 25
hash-max-listpack-entries 128
list-max-listpack-size -2
latency-monitor-threshold 0
slowlog-log-slower-than -1
""")
put("kv_config", "quotes-crlf", "  maxmemory-policy \"volatile-ttl\"  \r\n\tlogfile 'a b'\r\n"
    "unixsocket \"/tmp/x\\x41y\"\n# comment\n\n")
put("kv_config", "hz-clamp", "hz 0\nhz 1000\nio-threads 4\n")
put("kv_config", "bad-directive", "port 6379\nnot-a-directive yes\n")
put("kv_config", "bad-range", "databases 0\n")
put("kv_config", "bad-quotes", "logfile \"unterminated\n")
put("kv_config", "bad-obuf", "client-output-buffer-limit normal 1 2\n")
put("kv_config", "bad-enum", "maxmemory-policy sometimes\n")
put("kv_config", "bad-bool", "appendonly maybe\n")
