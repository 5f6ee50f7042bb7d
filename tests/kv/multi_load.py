#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""multi_load.py - transactions under load against kvcore-server (tests/integration/kv_multi.sh).

usage: multi_load.py PORT queue N | limit | disconnect CLIENTS | mem N

  queue N        MULTI, then N pipelined INCRs (each must answer +QUEUED; another client
                 sees multi=N in CLIENT LIST and the counter untouched), then EXEC: the
                 reply must be exactly the array :1 .. :N; afterwards multi-mem=0.
  limit          client-query-buffer-limit 1mb: a client queuing 100-byte SETs without end
                 is disconnected before it queued 4 MB of them, nothing it queued ran, and
                 client_query_buffer_limit_disconnections counted it.
  disconnect C   C clients each WATCH 10 keys (some shared with an observer), open MULTI
                 and queue 100 commands; half close their socket, half send QUIT. Then
                 (polled, bounded) only the observer's watches remain: watching_clients 1,
                 total_watched_keys as the observer's, and a write to a shared key still
                 fails the observer's EXEC.
  mem N          (a measurement, never fails) INFO used_memory's growth while N INCRs
                 are queued, then DISCARD; works on redis-server too (docs/benchmarks.md).
Every read is bounded by a socket timeout; prints one line per check, exits 1 on a failure.
"""
import socket
import sys
import time

from resp_conn import Conn, enc

PORT = int(sys.argv[1])
failures = 0


def check(name, ok, detail=""):
    global failures
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if not ok else ""))
    if not ok:
        failures += 1


def recv_exact(sock, n):
    parts, got = [], 0
    while got < n:
        d = sock.recv(min(1 << 20, n - got))
        if not d:
            raise EOFError("closed after %d of %d bytes" % (got, n))
        parts.append(d)
        got += len(d)
    return b"".join(parts)


def client_field(conn, cid, field):
    _, (_, text) = conn.cmd("CLIENT", "LIST", "ID", str(cid))
    for kv in text.decode().split():
        k, _, v = kv.partition("=")
        if k == field:
            return v
    return None


def info_field(conn, name):
    _, (_, text) = conn.cmd("INFO", "everything")
    for line in text.decode().split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def queue(n):
    obs = Conn(PORT, timeout=60)
    obs.cmd("DEL", "ctr")
    c = Conn(PORT, timeout=60)
    _, (_, cid) = c.cmd("CLIENT", "ID")
    check("MULTI", c.cmd("MULTI")[0] == b"+OK\r\n")
    chunk = 10000
    incr = enc("INCR", "ctr")
    queued_ok = True
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        c.sock.sendall(incr * k)
        got = recv_exact(c.sock, 9 * k)
        if got != b"+QUEUED\r\n" * k:
            queued_ok = False
            break
    check("%d commands answered +QUEUED" % n, queued_ok)
    check("CLIENT LIST multi=%d" % n, client_field(obs, int(cid), "multi") == str(n),
          client_field(obs, int(cid), "multi"))
    mem = int(client_field(obs, int(cid), "multi-mem") or 0)
    check("multi-mem holds the queue (%d bytes)" % mem, mem >= n * len(b"INCRctr"))
    check("nothing ran before EXEC", obs.cmd("GET", "ctr")[0] == b"$-1\r\n")
    c.sock.sendall(enc("EXEC"))
    want = b"*%d\r\n" % n + b"".join(b":%d\r\n" % i for i in range(1, n + 1))
    got = recv_exact(c.sock, len(want))
    check("EXEC replied :1 .. :%d" % n, got == want, repr(got[:64]))
    check("the counter is %d" % n, obs.cmd("GET", "ctr")[0] == b"$%d\r\n%d\r\n" % (len(str(n)), n))
    check("multi=-1 multi-mem=0 after EXEC",
          client_field(obs, int(cid), "multi") == "-1" and
          client_field(obs, int(cid), "multi-mem") == "0")
    c.close()
    obs.close()


def limit():
    obs = Conn(PORT, timeout=20)
    obs.cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb")
    before = int(info_field(obs, "client_query_buffer_limit_disconnections"))
    c = Conn(PORT, timeout=20)
    c.cmd("MULTI")
    cmd = enc("SET", "lim", "v" * 100)
    sent, closed = 0, False
    try:
        while sent < 4 * 1024 * 1024:  # 4 MB of SETs: four times the limit
            c.sock.sendall(cmd * 1000)
            recv_exact(c.sock, 9 * 1000)
            sent += len(cmd) * 1000
    except (EOFError, ConnectionResetError, BrokenPipeError):
        closed = True
    check("the queuing client was disconnected (after %d bytes)" % sent, closed)
    after = int(info_field(obs, "client_query_buffer_limit_disconnections"))
    check("client_query_buffer_limit_disconnections counted it", after == before + 1,
          "%d -> %d" % (before, after))
    check("nothing it queued ran", obs.cmd("EXISTS", "lim")[0] == b":0\r\n")
    obs.cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb")
    obs.close()


def disconnect(nclients):
    obs = Conn(PORT, timeout=20)
    obs.cmd("FLUSHALL")
    obs.cmd("SET", "shared0", "x")
    check("observer WATCH", obs.cmd("WATCH", "shared0", "shared1", "own")[0] == b"+OK\r\n")
    conns = []
    for i in range(nclients):
        c = Conn(PORT, timeout=20)
        keys = ["shared0", "shared1"] + ["k%d_%d" % (i, j) for j in range(8)]
        c.cmd("WATCH", *keys)
        c.cmd("MULTI")
        c.sock.sendall(enc("SET", "k%d" % i, "v" * 50) * 100)
        recv_exact(c.sock, 9 * 100)
        conns.append(c)
    want_keys = 3 + 8 * nclients
    check("total_watched_keys %d" % want_keys,
          info_field(obs, "total_watched_keys") == str(want_keys))
    for i, c in enumerate(conns):
        if i % 2:
            c.sock.sendall(enc("QUIT"))
            c.read()
        c.close()
    state = None
    for _ in range(200):  # up to 20 s: the server notices each close on its next read
        state = (info_field(obs, "connected_clients"), info_field(obs, "watching_clients"),
                 info_field(obs, "total_watched_keys"))
        if state == ("1", "1", "3"):
            break
        time.sleep(0.1)
    check("only the observer is left watching its 3 keys", state == ("1", "1", "3"), repr(state))
    for i in range(nclients):
        if obs.cmd("EXISTS", "k%d" % i)[0] != b":0\r\n":
            check("no queued command of a closed client ran", False, "k%d" % i)
            break
    other = Conn(PORT, timeout=20)
    other.cmd("SET", "shared1", "y")
    obs.cmd("MULTI")
    obs.cmd("PING")
    check("a write to a shared key still fails the observer's EXEC",
          obs.cmd("EXEC")[0] == b"*-1\r\n")
    check("no watch left", info_field(obs, "total_watched_keys") == "0")
    other.close()
    obs.close()


def mem(n):
    obs = Conn(PORT, timeout=60)
    base = int(info_field(obs, "used_memory"))
    c = Conn(PORT, timeout=60)
    c.cmd("MULTI")
    for start in range(0, n, 10000):
        k = min(10000, n - start)
        c.sock.sendall(enc("INCR", "ctr") * k)
        recv_exact(c.sock, 9 * k)
    peak = int(info_field(obs, "used_memory"))
    c.cmd("DISCARD")
    print("used_memory +%.1f MB with %d queued INCRs (%.0f bytes each)"
          % ((peak - base) / 1e6, n, (peak - base) / n))
    c.close()
    obs.close()


def main():
    mode = sys.argv[2]
    try:
        if mode == "queue":
            queue(int(sys.argv[3]))
        elif mode == "limit":
            limit()
        elif mode == "mem":
            mem(int(sys.argv[3]))
        else:
            disconnect(int(sys.argv[3]))
    except (OSError, EOFError) as e:
        check("%s ran to the end" % mode, False, repr(e))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
