#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""blocking.py - blocking commands with several clients (BLPOP BRPOP BLMOVE BRPOPLPUSH
BLMPOP BZPOPMIN BZPOPMAX BZMPOP, CLIENT UNBLOCK).

usage: blocking.py PORT [REF_PORT]
       blocking.py --aof-workload PORT   served and immediate pops for an AOF round trip

Each scenario drives a few connections and returns its transcript: the raw replies it
read, in order. Scenarios assert what they must (who was served, with what, and who is
still blocked); with REF_PORT (Debian's redis-server) every transcript must also be
byte-identical to the reference's. No outcome depends on timing: a client counts as
blocked once INFO says so (polled, 10 s bound), a client counts as still blocked when
INFO's blocked_clients says so after the writer's reply came back (the server serves
blocked clients before it reads the next command), and timeouts are checked with
generous bounds (a 0.1 s timeout must answer within 10 s).
"""
import socket
import sys
import time

from resp_conn import Conn

BOUND = 10.0


def info_field(admin, name):
    raw, _ = admin.call(["INFO", "clients"])
    for line in raw.decode().split("\r\n"):
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("INFO has no %s" % name)


def wait_blocked(admin, n):
    """Polls INFO until exactly n clients are blocked (bounded)."""
    end = time.time() + BOUND
    while time.time() < end:
        if info_field(admin, "blocked_clients") == n:
            return
        time.sleep(0.005)
    raise AssertionError("blocked_clients never became %d" % n)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def cmdstat(admin, name):
    """(calls, failed_calls) of a command in INFO commandstats."""
    raw, _ = admin.call(["INFO", "commandstats"])
    for line in raw.decode().split("\r\n"):
        if line.startswith("cmdstat_%s:" % name):
            f = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            return int(f["calls"]), int(f["failed_calls"])
    return 0, 0


def blocked_now(admin, n, what):
    got = info_field(admin, "blocked_clients")
    check(got == n, "%s: blocked_clients %d, want %d" % (what, got, n))


class Scenario:
    def __init__(self, port):
        self.port = port
        self.conns = []
        self.log = []
        self.admin = self.conn()
        self.admin.cmd("FLUSHALL")

    def conn(self):
        c = Conn(self.port, timeout=BOUND)
        self.conns.append(c)
        return c

    def read(self, c):
        raw, val = c.read()
        self.log.append(raw)
        return raw

    def cmd(self, c, *args):
        c.send(list(args))
        return self.read(c)

    def block(self, c, *args):
        """Sends a blocking command and waits until the server counts one more blocked."""
        n = info_field(self.admin, "blocked_clients")
        c.send(list(args))
        wait_blocked(self.admin, n + 1)

    def close(self):
        for c in self.conns:
            c.close()


def bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s)


def pair(key, val):
    return b"*2\r\n" + bulk(key) + bulk(val)


def fifo(s):
    a, b, c = s.conn(), s.conn(), s.conn()
    for x in (a, b, c):
        s.block(x, "BRPOP", "f", "0")
    s.cmd(s.admin, "RPUSH", "f", "1", "2")
    check(s.read(a) == pair(b"f", b"2"), "first blocked client gets the first pop")
    check(s.read(b) == pair(b"f", b"1"), "second blocked client gets the second pop")
    blocked_now(s.admin, 1, "third client still blocked")
    s.cmd(s.admin, "RPUSH", "f", "3")
    check(s.read(c) == pair(b"f", b"3"), "third client served by the next push")
    check(s.cmd(s.admin, "EXISTS", "f") == b":0\r\n", "served list deleted")


def keys_in_order(s):
    a = s.conn()
    s.block(a, "BLPOP", "x1", "x2", "x1", "0")
    s.cmd(s.admin, "RPUSH", "x2", "v")
    check(s.read(a) == pair(b"x2", b"v"), "served from the key that became ready")
    s.cmd(s.admin, "RPUSH", "x1", "a")
    s.cmd(s.admin, "RPUSH", "x2", "b")
    check(s.cmd(a, "BLPOP", "x2", "x1", "0") == pair(b"x2", b"b"), "first non-empty key")


def wrongtype_stays_blocked(s):
    a = s.conn()
    s.block(a, "BLPOP", "k", "0")
    s.cmd(s.admin, "SET", "k", "v")
    blocked_now(s.admin, 1, "a string under the key does not wake BLPOP")
    s.cmd(s.admin, "ZADD", "k2", "1", "m")
    s.cmd(s.admin, "RENAME", "k2", "k")
    blocked_now(s.admin, 1, "a sorted set under the key does not wake BLPOP")
    s.cmd(s.admin, "DEL", "k")
    s.cmd(s.admin, "LPUSH", "k", "x")
    check(s.read(a) == pair(b"k", b"x"), "served once a list is there")


def blmove_chain(s):
    a, b = s.conn(), s.conn()
    s.block(a, "BLMOVE", "f", "g", "RIGHT", "LEFT", "0")
    s.block(b, "BLPOP", "g", "0")
    s.cmd(s.admin, "RPUSH", "f", "m")
    check(s.read(a) == bulk(b"m"), "BLMOVE served")
    check(s.read(b) == pair(b"g", b"m"), "the moved element wakes the BLPOP on g")
    check(s.cmd(s.admin, "EXISTS", "f", "g") == b":0\r\n", "both lists consumed")
    s.block(a, "BRPOPLPUSH", "f", "f", "0")
    s.cmd(s.admin, "RPUSH", "f", "x", "y")
    check(s.read(a) == bulk(b"y"), "self-referential BRPOPLPUSH")
    s.cmd(s.admin, "LRANGE", "f", "0", "-1")


def blmove_wrong_destination(s):
    a = s.conn()
    s.admin.cmd("CONFIG", "RESETSTAT")
    s.cmd(s.admin, "SET", "dst", "v")
    s.block(a, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    s.cmd(s.admin, "RPUSH", "src", "e1")
    check(s.read(a).startswith(b"-WRONGTYPE"), "WRONGTYPE for the destination")
    got = cmdstat(s.admin, "blmove")
    check(got == (1, 1), "BLMOVE counted once, as failed: %r" % (got,))
    check(s.cmd(s.admin, "LRANGE", "src", "0", "-1") == b"*1\r\n" + bulk(b"e1"), "kept")


def mpop_forms(s):
    a, b = s.conn(), s.conn()
    s.block(a, "BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2")
    s.block(b, "BLMPOP", "0", "2", "l2", "l1", "LEFT")
    s.cmd(s.admin, "RPUSH", "l2", "a", "b", "c")
    s.read(a)
    s.read(b)
    s.block(a, "BZMPOP", "0", "2", "z1", "z2", "MAX", "COUNT", "2")
    s.block(b, "BZPOPMIN", "z2", "0")
    s.cmd(s.admin, "ZADD", "z2", "1", "a", "2.5", "b", "3", "c")
    check(s.read(a).startswith(b"*2\r\n$2\r\nz2\r\n*2\r\n"), "BZMPOP nested reply")
    check(s.read(b) == b"*3\r\n$2\r\nz2\r\n$1\r\na\r\n$1\r\n1\r\n", "BZPOPMIN reply")
    s.block(a, "BZPOPMAX", "z3", "0")
    s.block(b, "BLPOP", "z3", "0")
    s.cmd(s.admin, "ZADD", "z3", "7", "m")
    check(s.read(a) == b"*3\r\n$2\r\nz3\r\n$1\r\nm\r\n$1\r\n7\r\n", "BZPOPMAX reply")
    blocked_now(s.admin, 1, "BLPOP on a sorted-set key stays blocked")
    s.cmd(s.admin, "DEL", "z3")
    s.cmd(s.admin, "RPUSH", "z3", "l")
    s.read(b)


def timeouts(s):
    a = s.conn()
    for args in (["BLPOP", "nx", "0.1"], ["BLMOVE", "nx", "d", "LEFT", "LEFT", "0.1"],
                 ["BZMPOP", "0.1", "1", "nx", "MIN"], ["BRPOPLPUSH", "nx", "d", "0.1"]):
        t = time.time()
        check(s.cmd(a, *args) == b"*-1\r\n", "%s times out with a null array" % args[0])
        check(time.time() - t < BOUND, "%s answered within %d s" % (args[0], BOUND))
    s.block(a, "BLPOP", "nx", "100")
    check(info_field(s.admin, "clients_in_timeout_table") == 1, "in the timeout table")
    s.cmd(s.admin, "RPUSH", "nx", "v")
    s.read(a)
    check(info_field(s.admin, "clients_in_timeout_table") == 0, "left the timeout table")


def forever(s):
    a = s.conn()
    s.block(a, "BLPOP", "fk", "0")
    s.cmd(s.admin, "RPUSH", "other", "v")
    blocked_now(s.admin, 1, "a push to another key does not wake a forever block")
    s.cmd(s.admin, "RPUSH", "fk", "v")
    check(s.read(a) == pair(b"fk", b"v"), "served by the push")


def unblock(s):
    a, b = s.conn(), s.conn()
    ida = int(a.cmd("CLIENT", "ID")[1][1])
    idb = int(b.cmd("CLIENT", "ID")[1][1])
    s.admin.cmd("CONFIG", "RESETSTAT")
    s.block(a, "BLPOP", "u", "0")
    s.block(b, "BZPOPMIN", "u", "0")
    check(b"flags=b " in s.admin.cmd("CLIENT", "LIST")[0], "CLIENT LIST shows flags=b")
    check(s.cmd(s.admin, "CLIENT", "UNBLOCK", ida, "TIMEOUT") == b":1\r\n", "unblocked")
    check(s.read(a) == b"*-1\r\n", "TIMEOUT answers null")
    check(s.cmd(s.admin, "CLIENT", "UNBLOCK", idb, "ERROR") == b":1\r\n", "unblocked")
    check(s.read(b) == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", "ERROR text")
    check(cmdstat(s.admin, "bzpopmin")[1] == 1, "an ERROR unblock is a failed call")
    check(s.cmd(s.admin, "CLIENT", "UNBLOCK", idb) == b":0\r\n", "not blocked any more")
    check(s.cmd(a, "PING") == b"+PONG\r\n", "the client works again")


def disconnect(s):
    a = s.conn()
    s.block(a, "BLPOP", "dk", "0")
    a.sock.shutdown(socket.SHUT_RDWR)
    a.close()
    wait_blocked(s.admin, 0)
    s.cmd(s.admin, "RPUSH", "dk", "v")
    check(s.cmd(s.admin, "LLEN", "dk") == b":1\r\n", "nobody popped for the closed client")


def pipelined(s):
    a = s.conn()
    a.sock.sendall(Conn.encode(["BLPOP", "q", "0"]) + Conn.encode(["PING"]) +
                   Conn.encode(["LPOP", "q"]))
    wait_blocked(s.admin, 1)
    s.cmd(s.admin, "RPUSH", "q", "v1", "v2")
    check(s.read(a) == pair(b"q", b"v1"), "served")
    check(s.read(a) == b"+PONG\r\n", "the command behind it runs after")
    check(s.read(a) == bulk(b"v2"), "and the next")


def databases(s):
    """SELECT, SWAPDB, FLUSHALL, and keys made by RENAME, COPY and RESTORE."""
    a = s.conn()
    s.block(a, "BLPOP", "sk", "0")
    s.cmd(s.admin, "SELECT", "1")
    s.cmd(s.admin, "RPUSH", "sk", "v")
    blocked_now(s.admin, 1, "a push in another database does not wake it")
    s.cmd(s.admin, "SWAPDB", "0", "1")
    check(s.read(a) == pair(b"sk", b"v"), "SWAPDB brings the list in")
    s.block(a, "BLPOP", "sk2", "0")
    s.cmd(s.admin, "FLUSHALL")
    blocked_now(s.admin, 1, "FLUSHALL leaves it blocked")
    s.cmd(s.admin, "SELECT", "0")
    s.cmd(s.admin, "RPUSH", "tmp", "w")
    s.cmd(s.admin, "RENAME", "tmp", "sk2")
    check(s.read(a) == pair(b"sk2", b"w"), "RENAME into place wakes it")
    s.block(a, "BLPOP", "sk3", "0")
    s.cmd(s.admin, "RPUSH", "src3", "c")
    s.cmd(s.admin, "COPY", "src3", "sk3")
    check(s.read(a) == pair(b"sk3", b"c"), "COPY into place wakes it")
    s.cmd(s.admin, "RPUSH", "src4", "d")
    payload = s.admin.cmd("DUMP", "src4")[1][1]  # each server's own encoding: not logged
    s.block(a, "BLPOP", "sk4", "0")
    s.cmd(s.admin, "RESTORE", "sk4", "0", payload)
    check(s.read(a) == pair(b"sk4", b"d"), "RESTORE into place wakes it")


class Skip(Exception):
    pass


def transaction(s):
    a = s.conn()
    if not s.cmd(a, "MULTI").startswith(b"+OK"):
        raise Skip("no MULTI")
    s.cmd(a, "BLPOP", "nx", "0")
    s.cmd(a, "BLMOVE", "nx", "d", "LEFT", "LEFT", "0")
    check(s.cmd(a, "EXEC") == b"*2\r\n*-1\r\n$-1\r\n", "blocking pops do not block in EXEC")
    b = s.conn()
    s.block(b, "BLPOP", "t1", "t2", "0")
    s.cmd(a, "MULTI")
    s.cmd(a, "RPUSH", "t2", "v2")
    s.cmd(a, "RPUSH", "t1", "v1")
    s.cmd(a, "EXEC")
    check(s.read(b) == pair(b"t2", b"v2"), "served after EXEC from the first ready key")


def expired_when_served(s):
    a = s.conn()
    s.block(a, "BLPOP", "ek", "0")
    s.cmd(s.admin, "MULTI")
    s.cmd(s.admin, "RPUSH", "ek", "a")
    s.cmd(s.admin, "PEXPIRE", "ek", "100")
    s.cmd(s.admin, "DEBUG", "SLEEP", "0.2")
    ex = s.cmd(s.admin, "EXEC")
    check(ex.startswith(b"*3") and b"\r\n-" not in ex, "EXEC ran (DEBUG enabled): %r" % ex)
    blocked_now(s.admin, 1, "a key expired by the time it is served wakes nobody")
    check(s.cmd(s.admin, "EXISTS", "ek") == b":0\r\n", "and is gone")
    s.cmd(s.admin, "RPUSH", "ek", "b")
    check(s.read(a) == pair(b"ek", b"b"), "served by the next push")


def resp3(s):
    a = s.conn()
    a.cmd("HELLO", "3")  # the server's own description: not logged
    s.block(a, "BZPOPMIN", "r3", "0")
    s.cmd(s.admin, "ZADD", "r3", "1.5", "m")
    check(s.read(a) == b"*3\r\n$2\r\nr3\r\n$1\r\nm\r\n,1.5\r\n", "RESP3 double score")
    check(s.cmd(a, "BLMOVE", "nx", "d", "LEFT", "LEFT", "0.05") == b"_\r\n", "RESP3 null")
    s.block(a, "BZMPOP", "0", "1", "r3", "MIN", "COUNT", "3")
    s.cmd(s.admin, "ZADD", "r3", "2", "x", "3", "y")
    s.read(a)
    s.block(a, "BLMPOP", "0", "1", "r4", "RIGHT", "COUNT", "3")
    s.cmd(s.admin, "RPUSH", "r4", "p", "q")
    s.read(a)


def many_keys(s):
    a = s.conn()
    keys = ["mk%d" % i for i in range(10000)]
    s.block(a, "BLPOP", *keys, "0")
    s.cmd(s.admin, "RPUSH", "mk9999", "v")
    check(s.read(a) == pair(b"mk9999", b"v"), "served from the last of 10000 keys")


def many_clients(s):
    n = 300
    cs = [s.conn() for _ in range(n)]
    for c in cs:
        c.send(["BLPOP", "common", "0"])
    wait_blocked(s.admin, n)
    s.cmd(s.admin, "RPUSH", "common", *range(n))
    got = [s.read(c) for c in cs]
    check(all(g.endswith(bulk(str(i).encode())) for i, g in enumerate(got)), "FIFO order")


SCENARIOS = [fifo, keys_in_order, wrongtype_stays_blocked, blmove_chain,
             blmove_wrong_destination, mpop_forms, timeouts, forever, unblock, disconnect,
             pipelined, databases, transaction, expired_when_served, resp3, many_keys, many_clients]


def run(port):
    out = {}
    for fn in SCENARIOS:
        s = Scenario(port)
        try:
            fn(s)
            wait_blocked(s.admin, 0)
        except Skip as e:
            print("%s: skipped on port %d (%s)" % (fn.__name__, port, e))
            s.log = None
        except AssertionError as e:
            raise AssertionError("port %d, %s: %s" % (port, fn.__name__, e))
        finally:
            s.close()
        out[fn.__name__] = s.log
    return out


def aof_workload(port):
    """Pops served to blocked clients (after another client's command or EXEC) and served
    at once, of every kind, leaving data behind: what the AOF must replay to the same
    dataset (kv_blocking.sh compares DEBUG DIGEST across a restart)."""
    s = Scenario(port)
    a, b = s.conn(), s.conn()
    s.block(a, "BLPOP", "w1", "w2", "0")
    s.block(b, "BLMOVE", "w2", "w3", "RIGHT", "LEFT", "0")
    s.cmd(s.admin, "RPUSH", "w2", "x", "y", "z")
    s.read(a)
    s.read(b)
    s.block(a, "BZMPOP", "0", "1", "zw", "MAX", "COUNT", "2")
    s.block(b, "BZPOPMIN", "zw", "0")
    s.cmd(s.admin, "ZADD", "zw", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    s.read(a)
    s.read(b)
    s.block(a, "BLMPOP", "0", "1", "w4", "LEFT", "COUNT", "2")
    s.cmd(s.admin, "MULTI")
    s.cmd(s.admin, "RPUSH", "w4", "1", "2", "3")
    s.cmd(s.admin, "EXEC")
    s.read(a)
    for args in (["BRPOP", "w3", "0"], ["BRPOPLPUSH", "w4", "w5", "0"],
                 ["LMPOP", "1", "w2", "RIGHT"], ["ZMPOP", "1", "zw", "MIN"]):
        s.cmd(a, *args)
    s.close()
    check(s.log.count(b"*-1\r\n") == 0, "every pop found something")


def main():
    if sys.argv[1:2] == ["--aof-workload"]:
        aof_workload(int(sys.argv[2]))
        return 0
    ports = [int(p) for p in sys.argv[1:]]
    results = [run(p) for p in ports]
    bad = 0
    if len(results) == 2:
        for name in results[0]:
            if None in (results[0][name], results[1][name]):
                continue
            if results[0][name] != results[1][name]:
                bad += 1
                print("%s: transcripts differ\n  ours: %r\n  ref:  %r" %
                      (name, results[0][name], results[1][name]))
    print("blocking: %d scenarios, %d differences" % (len(SCENARIOS), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
