#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""robust.py - hostile clients against a running kvcore-server (or any RESP server).

usage: robust.py PORT

Each case misbehaves on its own connection (malformed protocol, huge bulk lengths,
half-sent commands, vanishing mid-reply, buffer limits, maxclients) and then checks that
a well-behaved client is still served and that the keyspace is unchanged (or changed
exactly as intended). Exit 0 when every case passes.
"""
import socket
import sys
import time

from resp_conn import PlainConn, connect, enc

PORT = int(sys.argv[1])
failures = []


def conn(timeout=5):
    return connect(PORT, timeout)


def Client():
    return PlainConn(PORT, timeout=5)


def snapshot():
    c = Client()
    keys = sorted(c.cmd("KEYS", "*"))
    vals = [c.cmd("GET", k) for k in keys]
    c.close()
    return list(zip(keys, vals))


def served():
    c = Client()
    ok = c.cmd("PING") == "PONG" and c.cmd("ECHO", "x") == b"x"
    c.close()
    return ok


def recv_all(s, wait=1.0):
    s.settimeout(wait)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return got, True
            got += d
    except socket.timeout:
        return got, False
    except ConnectionResetError:
        return got, True


def case(name):
    def deco(fn):
        before = snapshot()
        try:
            expect_change = fn()
        except Exception as e:  # noqa: BLE001 - any failure of a case is reported
            failures.append("%s: %r" % (name, e))
            return fn
        if not served():
            failures.append("%s: server no longer serves other clients" % name)
        elif not expect_change and snapshot() != before:
            failures.append("%s: keyspace changed" % name)
        else:
            print("ok  %s" % name)
        return fn
    return deco


def setup():
    c = Client()
    c.cmd("FLUSHALL")
    for i in range(50):
        c.cmd("SET", "k%d" % i, "v%d" % i)
    c.cmd("SET", "big", b"x" * 200000)
    c.close()


setup()


@case("malformed protocol gets an error and a close")
def _():
    for bad in (b"*1\r\n$x\r\n", b"*abc\r\n", b"*1\r\n+PING\r\n", b"*2\r\n$3\r\nSET\r\n$-5\r\n",
                b"ECHO \"open\r\n"):
        s = conn()
        s.sendall(bad)
        got, closed = recv_all(s)
        s.close()
        assert got.startswith(b"-ERR Protocol error"), got
        assert closed, "connection left open after %r" % bad


@case("huge bulk length is refused, no allocation kept")
def _():
    s = conn()
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nhug\r\n$99999999999\r\n")
    got, closed = recv_all(s)
    s.close()
    assert got == b"-ERR Protocol error: invalid bulk length\r\n" and closed, got


@case("announced 512 MB bulk with no payload costs little and changes nothing")
def _():
    c = Client()
    c.cmd("INFO", "memory")
    socks = []
    for _ in range(8):
        s = conn()
        s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nhug\r\n$536870912\r\n" + b"y" * 1000)
        socks.append(s)
    time.sleep(0.3)
    info = c.cmd("INFO", "memory").decode()
    used = int([l for l in info.split("\r\n") if l.startswith("used_memory:")][0].split(":")[1])
    for s in socks:
        s.close()
    c.close()
    assert used < 256 << 20, "used_memory %d after 8 announced 512 MB bulks" % used


@case("half-sent command then vanish")
def _():
    for cut in (5, 14, 23, 30):
        s = conn()
        s.sendall(enc("SET", "half", "value")[:cut])
        time.sleep(0.05)
        s.close()
    s = conn()
    s.sendall(enc("SET", "half2", "value")[:20])
    assert served(), "a half-sent command blocked other clients"
    s.close()


@case("client vanishes mid-reply")
def _():
    for _ in range(5):
        s = conn()
        s.sendall(enc("GET", "big") * 200)  # 40 MB of replies, never read
        time.sleep(0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    s = conn()
    s.sendall(enc("KEYS", "*") * 50)
    s.close()


@case("pipelined burst is answered in order")
def _():
    c = Client()
    n = 5000
    c.sock.sendall(b"".join(enc("INCR", "ctr") for _ in range(n)))
    last = None
    for _ in range(n):
        last = c.value()
    assert last == n, last
    assert c.cmd("GET", "ctr") == str(n).encode()
    c.cmd("DEL", "ctr")
    c.close()


@case("query buffer limit closes the client")
def _():
    c = Client()
    assert c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb") == "OK"
    s = conn()
    try:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$3000000\r\n" + b"z" * 1500000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, closed = recv_all(s)
    s.close()
    assert closed, "not closed"
    info = c.cmd("INFO", "stats").decode()
    assert "client_query_buffer_limit_disconnections:0" not in info
    assert c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb") == "OK"
    c.close()


@case("output buffer limit closes a client that never reads")
def _():
    c = Client()
    assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 2mb 1mb 1") == "OK"
    s = conn()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for _ in range(10):
            s.sendall(enc("GET", "big") * 20)
    except (BrokenPipeError, ConnectionResetError):
        pass
    time.sleep(0.5)
    info = c.cmd("INFO", "stats").decode()
    s.close()
    assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0") == "OK"
    c.close()
    assert "client_output_buffer_limit_disconnections:0" not in info, info


@case("maxclients refuses the extra connection")
def _():
    c = Client()
    assert c.cmd("CONFIG", "SET", "maxclients", "4") == "OK"
    extra = [Client() for _ in range(3)]
    s = conn()
    got, closed = recv_all(s)
    s.close()
    for e in extra:
        e.close()
    time.sleep(0.1)
    assert c.cmd("CONFIG", "SET", "maxclients", "10000") == "OK"
    c.close()
    assert got == b"-ERR max number of clients reached\r\n" and closed, got


@case("many short connections")
def _():
    for _ in range(300):
        s = conn()
        s.sendall(enc("PING"))
        s.recv(16)
        s.close()


if failures:
    print("\n".join("FAIL " + f for f in failures))
    sys.exit(1)
print("all robustness cases passed")
