#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""hll_exchange.py - HyperLogLog values move between kvcore-server and redis-server.

usage: hll_exchange.py KVCORE_PORT REDIS_PORT

A value one server made (sparse and dense), read with GET and written with SET on the
other, counts the same there and takes further PFADD/PFMERGE with the same replies and
the same bytes; DUMP/RESTORE carries it both ways; DEBUG DIGEST-VALUE agrees. PFADD and
PFMERGE publish the "pfadd" keyspace event (a PFADD that changes nothing publishes none),
and a PFCOUNT that refreshes the cached cardinality makes a WATCH fail, on both servers.
Standard library only; exit status 0 when everything matched."""
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from resp_conn import PlainConn  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def fill(c, key, n, prefix):
    for i in range(0, n, 1000):
        c.cmd("PFADD", key, *["%s%d" % (prefix, j) for j in range(i, min(n, i + 1000))])


def exchange(src, dst, name):
    for key, n in (("sparse", 100), ("dense", 50000)):
        src.cmd("DEL", key)
        fill(src, key, n, name)
        raw = src.cmd("GET", key)
        want_len = 12304 if key == "dense" else None
        if want_len:
            check(len(raw) == want_len, "%s %s is dense" % (name, key))
        dst.cmd("SET", key, raw)
        check(dst.cmd("PFCOUNT", key) == src.cmd("PFCOUNT", key), "%s %s PFCOUNT" % (name, key))
        check(dst.cmd("GET", key) == src.cmd("GET", key), "%s %s bytes after PFCOUNT" % (name, key))
        extra = ["x%d" % j for j in range(300)]
        check(dst.cmd("PFADD", key, *extra) == src.cmd("PFADD", key, *extra),
              "%s %s PFADD reply" % (name, key))
        check(dst.cmd("GET", key) == src.cmd("GET", key), "%s %s bytes after PFADD" % (name, key))
        for c in (src, dst):
            c.cmd("PFMERGE", "m", key, "other")
        check(dst.cmd("GET", "m") == src.cmd("GET", "m"), "%s %s PFMERGE bytes" % (name, key))
        dump = src.cmd("DUMP", key)
        dst.cmd("DEL", "restored")
        check(dst.cmd("RESTORE", "restored", 0, dump) == "OK", "%s %s RESTORE" % (name, key))
        check(dst.cmd("PFCOUNT", "restored") == src.cmd("PFCOUNT", key),
              "%s %s PFCOUNT after RESTORE" % (name, key))
        dst.cmd("PFCOUNT", key)  # both caches fresh (src's PFCOUNT just refreshed its own)
        check(dst.cmd("GET", key) == src.cmd("GET", key), "%s %s bytes" % (name, key))
        check(dst.cmd("DEBUG", "DIGEST-VALUE", key) == src.cmd("DEBUG", "DIGEST-VALUE", key),
              "%s %s DIGEST-VALUE" % (name, key))
        check(dst.cmd("OBJECT", "ENCODING", key) == b"raw", "%s %s encoding" % (name, key))


def events(port):
    c, sub = PlainConn(port), PlainConn(port)
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    sub.send(["SUBSCRIBE", "__keyevent@0__:pfadd"])
    sub.value()
    c.cmd("DEL", "ev1", "ev2", "ev3")
    c.cmd("PFADD", "ev1", "a")
    c.cmd("PFADD", "ev1", "a")  # no change: no event
    c.cmd("PFMERGE", "ev2", "ev1")
    c.cmd("PFADD", "ev3")
    got = [sub.value()[2] for _ in range(3)]
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
    return got


def watch_fails(port):
    c, other = PlainConn(port), PlainConn(port)
    c.cmd("DEL", "w")
    c.cmd("PFADD", "w", "a", "b")
    c.cmd("WATCH", "w")
    other.cmd("PFCOUNT", "w")  # refreshes the cache: the value changed
    c.cmd("MULTI")
    c.cmd("PING")
    first = c.cmd("EXEC")
    c.cmd("WATCH", "w")
    other.cmd("PFCOUNT", "w")  # cache valid now: nothing changes
    c.cmd("MULTI")
    c.cmd("PING")
    second = c.cmd("EXEC")
    return first, second


def main():
    kp, rp = int(sys.argv[1]), int(sys.argv[2])
    kv, rd = PlainConn(kp), PlainConn(rp)
    for c in (kv, rd):
        c.cmd("FLUSHALL")
        c.cmd("PFADD", "other", "o1", "o2", "o3")
    exchange(rd, kv, "redis-made")
    exchange(kv, rd, "kvcore-made")
    ek, er = events(kp), events(rp)
    check(ek == er == [b"ev1", b"ev2", b"ev3"], "pfadd events %r / %r" % (ek, er))
    wk, wr = watch_fails(kp), watch_fails(rp)
    check(wk == wr and wk[0] is None and wk[1] == ["PONG"], "WATCH %r / %r" % (wk, wr))
    print("hll_exchange: %d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
