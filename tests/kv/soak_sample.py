#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""soak_sample.py - samples a server's INFO once a second into a CSV until a stop file
appears (tests/integration/soak_kv.sh).

usage: soak_sample.py PORT OUT.csv STOP_FILE

Columns: t (seconds since start), rss, used_memory, maxmemory, allocator_frag_ratio,
evicted_keys, expired_keys, active_defrag_hits, active_defrag_running,
total_commands_processed, connected_clients, keys (all databases).
"""
import os
import socket
import sys
import time

PORT, OUT, STOP = int(sys.argv[1]), sys.argv[2], sys.argv[3]
COLS = ["rss", "used_memory", "maxmemory", "allocator_frag_ratio", "evicted_keys",
        "expired_keys", "active_defrag_hits", "active_defrag_running",
        "total_commands_processed", "connected_clients"]


def info(s, buf):
    s.sendall(b"*1\r\n$4\r\nINFO\r\n")
    while b"\r\n" not in buf:
        buf += s.recv(1 << 16)
    i = buf.index(b"\r\n")
    n = int(buf[1:i])
    while len(buf) < i + 2 + n + 2:
        buf += s.recv(1 << 16)
    text = buf[i + 2:i + 2 + n].decode()
    out = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    out["used_memory_rss"] = out.get("used_memory_rss", "0")
    keys = 0
    for k, v in out.items():
        if k.startswith("db") and v.startswith("keys="):
            keys += int(v.split(",")[0][5:])
    out["keys"] = keys
    return out


def main():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    t0 = time.time()
    with open(OUT, "w") as f:
        f.write("t," + ",".join(COLS) + ",keys\n")
        while not os.path.exists(STOP):
            i = info(s, b"")
            vals = [i.get("used_memory_rss" if c == "rss" else c, "0") for c in COLS]
            f.write("%.1f,%s,%d\n" % (time.time() - t0, ",".join(vals), i["keys"]))
            f.flush()
            time.sleep(1)


if __name__ == "__main__":
    main()
