#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""hostile.py - the abusive clients of tests/integration/stress_kv_hostile.sh, each at a
scale a single robustness case does not reach, with memory watched through INFO.

usage: hostile.py PORT bulk|slowreader|vanish

bulk        50 connections announce a bulk of 500 MB (under proto-max-bulk-len) and send
            256 KB of it, then wait: used_memory and RSS must grow by far less than what
            was announced. Then proto-max-bulk-len is lowered to 1 MB and 200 connections
            announce 2 MB: each gets "Protocol error: invalid bulk length" and is closed,
            and nothing was allocated for them.
slowreader  client-output-buffer-limit "normal 4mb 0 0": 8 clients pipeline 400 GETs of
            a 256 KB value and never read (100 MB of replies each). Each must be dropped
            (the socket ends) while a ninth client keeps getting answers in under 0.5 s;
            used_memory never holds more than the limits allow; the drops are counted
            in INFO. With "normal 64mb 8mb 2", a client reading slowly above the soft
            limit for longer than 2 s is dropped too.
vanish      2,000 connections that close mid-command (in the header, in a bulk, in a
            pipeline), 500 that pipeline 10 GETs of a 256 KB value and close without
            reading, 500 that read part of a reply and reset the connection (SO_LINGER 0):
            afterwards connected_clients is back to where it was and used_memory returns
            to its level before (within 4 MB).
Prints one summary line per case; exit 0 when every check held.
"""
import socket
import struct
import sys
import time

from resp_conn import PlainConn, connect, enc

PORT = int(sys.argv[1])
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)


def conn(timeout=10):
    return connect(PORT, timeout)


def Client():
    return PlainConn(PORT)


ctl = Client()


def info():
    text = ctl.cmd("INFO", "all").decode()
    out = {}
    for l in text.split("\r\n"):
        if ":" in l and not l.startswith("#"):
            k, v = l.split(":", 1)
            out[k] = v
    return out


def mem():
    i = info()
    return int(i["used_memory"]), int(i["used_memory_rss"])


def wait_clients(n, secs=10):
    deadline = time.time() + secs
    while time.time() < deadline:
        c = int(info()["connected_clients"])
        if c <= n:
            return c
        time.sleep(0.05)
    return int(info()["connected_clients"])


def recv_until_closed(s, secs):
    """Reads and discards until EOF; returns (closed, bytes)."""
    s.settimeout(secs)
    got = 0
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                return True, got
            got += len(d)
    except (socket.timeout, ConnectionResetError):
        return False, got


def case_bulk():
    base_clients = int(info()["connected_clients"])
    used0, rss0 = mem()
    announced, socks = 500 * 1024 * 1024, []
    chunk = b"x" * (256 * 1024)
    for _ in range(50):
        s = conn()
        s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nbulk\r\n$%d\r\n" % announced + chunk)
        socks.append(s)
    time.sleep(0.5)
    ping = ctl.cmd("PING")
    used1, rss1 = mem()
    check(ping == "PONG", "server answers while 50 clients announce 500 MB each")
    grow_used, grow_rss = used1 - used0, rss1 - rss0
    # 50 x 256 KB arrived; the announced 25 GB must not be reserved.
    check(grow_used < 64 << 20, "used_memory grew by %d bytes for 50 announced 500 MB bulks"
          % grow_used)
    check(grow_rss < 96 << 20, "RSS grew by %d bytes" % grow_rss)
    for s in socks:
        s.close()
    wait_clients(base_clients)
    check(ctl.cmd("EXISTS", "bulk") == 0, "a half-sent bulk created a key")
    # Beyond proto-max-bulk-len: a protocol error at the header, nothing allocated.
    ctl.cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb")
    used2, _ = mem()
    errs = 0
    for _ in range(200):
        s = conn()
        s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nbulk\r\n$%d\r\n" % (2 * 1024 * 1024))
        data = b""
        s.settimeout(5)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except socket.timeout:
            pass
        errs += data == b"-ERR Protocol error: invalid bulk length\r\n"
        s.close()
    used3, _ = mem()
    check(errs == 200, "%d of 200 oversized bulks got the protocol error and a close" % errs)
    check(used3 - used2 < 4 << 20, "oversized bulk headers allocated %d bytes" % (used3 - used2))
    ctl.cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb")
    print("bulk: 50 x 500 MB announced with 256 KB sent: used_memory +%.1f MB, RSS +%.1f MB; "
          "200 x 2 MB over a 1 MB proto-max-bulk-len: %d refused, used_memory %+.1f MB"
          % (grow_used / 2**20, grow_rss / 2**20, errs, (used3 - used2) / 2**20), flush=True)


def case_slowreader():
    big = b"v" * (256 * 1024)
    ctl.cmd("SET", "bigval", big)
    ctl.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 4mb 0 0")
    base = info()
    drops0 = int(base["client_output_buffer_limit_disconnections"])
    used0, _ = mem()
    slow = []
    for _ in range(8):
        s = conn()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(enc("GET", "bigval") * 400)
        slow.append(s)
    # Meanwhile another client is served quickly, and memory stays bounded.
    worst, peak = 0.0, used0
    other = Client()
    t_end = time.time() + 3
    while time.time() < t_end:
        t = time.time()
        check(other.cmd("GET", "bigval") == big, "the well-behaved client got a wrong value")
        worst = max(worst, time.time() - t)
        peak = max(peak, mem()[0])
    dropped = 0
    for s in slow:
        closed, _ = recv_until_closed(s, 10)
        dropped += closed
        s.close()
    drops = int(info()["client_output_buffer_limit_disconnections"]) - drops0
    check(dropped == 8, "%d of 8 slow readers were disconnected" % dropped)
    check(drops >= 8, "client_output_buffer_limit_disconnections grew by %d" % drops)
    check(worst < 0.5, "the well-behaved client waited %.3f s" % worst)
    # 8 clients, each held to the 4 MB hard limit plus at most one reply in flight.
    check(peak - used0 < 8 * (4 << 20) + (32 << 20), "used_memory peaked %d bytes above the start"
          % (peak - used0))
    # The soft limit: a client reading a little at a time stays above 8 MB for > 2 s
    # (24 MB of replies: whatever the kernel's socket buffers take, more than 8 MB and
    # less than the 64 MB hard limit wait in the server).
    ctl.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 64mb 8mb 2")
    drops1 = int(info()["client_output_buffer_limit_disconnections"])
    s = conn()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(enc("GET", "bigval") * 96)
    t0 = time.time()
    closed = False
    s.settimeout(0.05)
    while time.time() - t0 < 10:  # reads 20 KB/s; the kernel still holds what was sent
        try:
            s.recv(4096)
        except (socket.timeout, ConnectionResetError):
            pass
        if int(info()["client_output_buffer_limit_disconnections"]) > drops1:
            closed = True
            break
        time.sleep(0.15)
    soft_secs = time.time() - t0
    s.close()
    check(closed and soft_secs >= 2, "a slow reader above the soft limit: closed=%s after %.1f s"
          % (closed, soft_secs))
    ctl.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
    ctl.cmd("DEL", "bigval")
    print("slowreader: 8 of 8 slow readers dropped (hard limit 4 MB), INFO counted %d; "
          "other client's slowest GET %.1f ms; used_memory peak +%.1f MB; soft-limit reader "
          "dropped after %.1f s" % (drops, worst * 1000, (peak - used0) / 2**20, soft_secs),
          flush=True)


def case_vanish():
    big = b"w" * (256 * 1024)
    ctl.cmd("SET", "bigval", big)
    base_clients = int(info()["connected_clients"])
    time.sleep(0.2)
    used0, _ = mem()
    partial = [b"*3\r\n$3\r\nSET\r\n$3\r\nab", b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$100000\r\nxx",
               b"*2\r\n$3\r\nGET\r\n", b"*", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3"]
    for i in range(2000):
        s = conn()
        s.sendall(partial[i % len(partial)])
        s.close()
    for i in range(500):  # pipeline big replies and vanish without reading
        s = conn()
        s.sendall(enc("GET", "bigval") * 10)
        s.close()
    for i in range(500):  # read part of a reply, then reset the connection
        s = conn(60)
        s.sendall(enc("GET", "bigval") * 4)
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    left = wait_clients(base_clients, 20)
    check(left == base_clients, "connected_clients %d after vanishing clients (was %d)"
          % (left, base_clients))
    check(ctl.cmd("GET", "bigval") == big, "bigval changed")
    check(ctl.cmd("EXISTS", "k", "ab", "key") == 1,
          "only the one complete SET of the partial pipelines may exist")
    ctl.cmd("DEL", "bigval", "k")
    time.sleep(0.3)
    used1, _ = mem()
    check(used1 - used0 < 4 << 20, "used_memory is %d bytes above its level before"
          % (used1 - used0))
    print("vanish: 3,000 connections gone mid-command or mid-reply; connected_clients back to "
          "%d; used_memory %+.1f MB" % (left, (used1 - used0) / 2**20), flush=True)


{"bulk": case_bulk, "slowreader": case_slowreader, "vanish": case_vanish}[sys.argv[2]]()
sys.exit(1 if failures else 0)
