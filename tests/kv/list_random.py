#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""list_random.py - random differential walk over list commands on compressed lists.

usage: list_random.py PORT_A PORT_B [ops] [seed] [depth] [fill]

Sets list-compress-depth DEPTH (default 1) and list-max-listpack-size FILL (default 4) on
both servers, then sends the same seeded stream of list commands (pushes and pops at both
ends with and without counts, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LRANGE, LMOVE,
RPOPLPUSH, LMPOP, BLPOP/BRPOP with data, SORT ... ALPHA, LLEN) to two servers and compares
every reply exactly. Values are long and repetitive, so interior quicklist nodes are
compressed on both sides and the walk reads and changes them there. Every 500 commands
DEBUG DIGEST-VALUE of each key must match; at the end every key's LRANGE, and after
DEBUG RELOAD (the lists saved and loaded back compressed) the digests again.
Exit 0 when all match.
"""
import random
import sys

from resp_conn import Conn

KEYS = ["l%d" % i for i in range(3)]


def value(rng):
    r = rng.random()
    if r < 0.2:
        return str(rng.randint(-50, 50))
    if r < 0.8:
        word = rng.choice(["alpha", "beta", "gamma", "delta"])
        return "%s-%d-%s" % (word, rng.randint(0, 30), word * rng.randint(2, 12))
    if r < 0.95:
        return "v%d" % rng.randint(0, 9)
    return "".join(chr(rng.randint(33, 126)) for _ in range(rng.randint(40, 300)))


def gen(rng):
    k, k2 = rng.choice(KEYS), rng.choice(KEYS)
    c = rng.randrange(30)
    if c < 8:
        return [rng.choice(["RPUSH", "LPUSH"]), k] + [value(rng) for _ in range(rng.randint(1, 8))]
    if c < 10:
        return [rng.choice(["LPOP", "RPOP"]), k] + rng.choice([[], ["1"], ["3"], ["0"]])
    if c == 10:
        return ["LINDEX", k, str(rng.randint(-40, 40))]
    if c == 11:
        return ["LSET", k, str(rng.randint(-40, 40)), value(rng)]
    if c == 12:
        return ["LINSERT", k, rng.choice(["BEFORE", "AFTER"]), value(rng), value(rng)]
    if c == 13:
        return ["LREM", k, str(rng.randint(-3, 3)), value(rng)]
    if c == 14:
        return ["LTRIM", k, str(rng.randint(-5, 5)), str(rng.randint(-5, 80))]
    if c == 15:
        args = ["LPOS", k, value(rng)]
        if rng.random() < 0.5:
            args += ["RANK", str(rng.choice([1, 2, -1, -2]))]
        if rng.random() < 0.5:
            args += ["COUNT", str(rng.randint(0, 4))]
        if rng.random() < 0.3:
            args += ["MAXLEN", str(rng.randint(0, 50))]
        return args
    if c < 18:
        return ["LRANGE", k, str(rng.randint(-60, 60)), str(rng.randint(-60, 60))]
    if c == 18:
        return ["LMOVE", k, k2, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])]
    if c == 19:
        return ["RPOPLPUSH", k, k2]
    if c == 20:
        return ["LMPOP", "2", k, k2, rng.choice(["LEFT", "RIGHT"]), "COUNT", str(rng.randint(1, 5))]
    if c == 21:
        # Only keys that exist: a blocking pop on an empty key would wait for the timeout.
        return [rng.choice(["BLPOP", "BRPOP"]), k, "0.01"]
    if c == 22:
        args = ["SORT", k, "ALPHA"]
        if rng.random() < 0.5:
            args += ["LIMIT", str(rng.randint(0, 20)), str(rng.randint(0, 20))]
        if rng.random() < 0.3:
            args += ["DESC"]
        return args
    if c == 23:
        return ["SORT", k, "ALPHA", "STORE", k2]
    if c == 24:
        return ["LLEN", k]
    if c == 25:
        return ["LRANGE", k, "0", "-1"]
    # Long runs of pushes at one end, so lists grow past many nodes.
    return ["RPUSH", k] + [value(rng) for _ in range(rng.randint(10, 40))]


def digests(conn):
    return [conn.call(["DEBUG", "DIGEST-VALUE", k]) for k in KEYS]


def main():
    pa, pb = int(sys.argv[1]), int(sys.argv[2])
    ops = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    depth = sys.argv[5] if len(sys.argv) > 5 else "1"
    fill = sys.argv[6] if len(sys.argv) > 6 else "4"
    rng = random.Random(seed)
    a, b = Conn(pa), Conn(pb)
    for c in (a, b):
        c.call(["FLUSHALL"])
        c.call(["CONFIG", "SET", "list-compress-depth", depth])
        c.call(["CONFIG", "SET", "list-max-listpack-size", fill])
    failures = 0
    compressed_seen = 0
    for i in range(ops):
        args = gen(rng)
        if args[0] in ("BLPOP", "BRPOP") and a.call(["LLEN", args[1]])[1][1] == 0:
            args = ["LLEN", args[1]]
        ra, _ = a.call(args)
        rb, _ = b.call(args)
        if ra != rb:
            failures += 1
            print("MISMATCH op %d: %r\n  A: %r\n  B: %r" % (i, args[:8], ra[:300], rb[:300]))
            if failures > 10:
                break
        if i % 500 == 499:
            if digests(a) != digests(b):
                failures += 1
                print("DIGEST MISMATCH after op %d" % i)
            for k in KEYS:
                info = a.call(["DEBUG", "OBJECT", k])[0]
                if b"ql_compressed:1" in info:
                    compressed_seen += 1
    for k in KEYS:
        if a.call(["LRANGE", k, "0", "-1"]) != b.call(["LRANGE", k, "0", "-1"]):
            failures += 1
            print("FINAL MISMATCH %s" % k)
    before = digests(a)
    for c in (a, b):
        if c.call(["DEBUG", "RELOAD"])[0] != b"+OK\r\n":
            failures += 1
            print("DEBUG RELOAD failed")
    if digests(a) != before or digests(b) != before:
        failures += 1
        print("DIGEST MISMATCH after DEBUG RELOAD")
    if depth != "0" and compressed_seen == 0:
        failures += 1
        print("no compressed quicklist seen: the walk did not test compression")
    print("%d random list commands (depth %s, fill %s), %d mismatches" % (ops, depth, fill, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
