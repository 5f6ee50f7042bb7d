#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""digest_diff.py - DEBUG DIGEST and DEBUG DIGEST-VALUE compared with redis-server.

usage: digest_diff.py KVCORE_PORT REDIS_PORT [seed]

Both servers get the same seeded keyspace: strings (integers, short, long, binary,
empty), lists, sets, hashes and sorted sets in each of their encodings (small/compact
ones and ones past every listpack/intset limit by count and by element size), integers
and strings as members/fields/values, scores at the edges of "%.17g" (-0, inf, -inf,
1e-300, 0.1, 1/3, 2^53+1, 1e22), some keys with a TTL, over databases 0, 3 and 9. Then
each key's DEBUG DIGEST-VALUE, DIGEST-VALUE of several keys at once and of a missing
key, and DEBUG DIGEST must be byte-identical on both servers; again after every key was
changed in place (an element added, one removed, a TTL set or cleared); and with keys
whose TTL passed while active expiry was off (DEBUG digests them, as Redis). Exit 0 when
everything matched.
"""
import random
import sys
import time

from resp_conn import Conn

KV_PORT, REDIS_PORT = int(sys.argv[1]), int(sys.argv[2])
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 1
DBS = [0, 3, 9]
SCORES = ["0", "-0", "1", "-1", "0.1", "1.5", "inf", "-inf", "+inf", "1e-300", "1e22",
          "9007199254740993", "0.3333333333333333", "-2.5e-7", "123456789012345678"]


def element(rng, small=False):
    r = rng.random() * (0.8 if small else 1)
    if r < 0.3:
        return str(rng.randint(-1000, 1000))
    if r < 0.4:
        return str(rng.choice([2**31, -2**63, 2**63 - 1, 2**64, 10**12, -1]))
    if r < 0.8:
        return rng.choice("abcdefgh") + str(rng.randint(0, 99999))
    if r < 0.95 and not small:
        return "long-" + "x" * rng.randint(60, 90)  # past the 64-byte listpack value limit
    return rng.choice(["", "007", " 1", "1.5", "\x00z\xff", "-0"])


def build(rng, db):
    """The commands building db's keys: [(key, [commands])]."""
    out = []
    p = "d%d:" % db
    for kind, n in (("small", 5), ("big", 600)):
        small = kind == "small"
        lo = 1 if small else n  # big ones: past every count limit whatever the draw
        def count():
            return rng.randint(lo, 2 * n)

        for i in range(3):
            k = "%slist:%s:%d" % (p, kind, i)
            out.append((k, [["RPUSH", k] + [element(rng, small) for _ in range(count())]]))
            k = "%sset:%s:%d" % (p, kind, i)
            out.append((k, [["SADD", k] + [element(rng, small) for _ in range(count())]]))
            k = "%siset:%s:%d" % (p, kind, i)
            m = [str(rng.randint(-10**6, 10**6)) for _ in range(count())]
            out.append((k, [["SADD", k] + m]))
            k = "%shash:%s:%d" % (p, kind, i)
            fv = []
            for _ in range(count()):
                fv += [element(rng, small), element(rng, small)]
            out.append((k, [["HSET", k] + fv]))
            k = "%szset:%s:%d" % (p, kind, i)
            sm = []
            for _ in range(count()):
                s = rng.choice(SCORES) if rng.random() < 0.5 else repr(rng.uniform(-1e6, 1e6))
                sm += [s, element(rng, small)]
            out.append((k, [["ZADD", k] + sm]))
    for i, v in enumerate(["12345", "-9223372036854775808", "hello", "", "r" * 100,
                           "\x00\x01\xfe", "3.14", "007"]):
        k = "%sstr:%d" % (p, i)
        out.append((k, [["SET", k, v]]))
    # TTLs on some of each type (far in the future: nothing expires during the test).
    for k, cmds in out:
        if rng.random() < 0.25:
            cmds.append(["PEXPIRE", k, str(10**9 + rng.randint(0, 10**6))])
    return out


def change(rng, key):
    """One in-place change of key (type from its name)."""
    t = key.split(":")[1]
    e = element(rng)
    if rng.random() < 0.2:
        return ["PERSIST", key] if rng.random() < 0.5 else ["PEXPIRE", key, "900000000"]
    return {"list": ["LPUSH", key, e], "set": ["SADD", key, e], "iset": ["SREM", key, "1"],
            "hash": ["HSET", key, e, "v" + e], "zset": ["ZINCRBY", key, "0.5", e],
            "str": ["APPEND", key, e]}[t]


def main():
    rng = random.Random(SEED)
    kv, rd = Conn(KV_PORT), Conn(REDIS_PORT)
    bad = 0

    def both(cmds):
        a = kv.send_many(cmds)
        b = rd.send_many(cmds)
        return a, b

    def check(what, cmds):
        nonlocal bad
        a, b = both(cmds)
        for c, x, y in zip(cmds, a, b):
            if x[1][0] == b"-" or x[0] != y[0]:
                bad += 1
                if bad <= 20:
                    print("%s: %s\n    kvcore: %r\n    redis:  %r" % (what, c[:4], x[0][:200],
                                                                    y[0][:200]))

    both([["FLUSHALL"]])
    keys = {}
    for db in DBS:
        keys[db] = build(rng, db)
        cmds = [["SELECT", str(db)]] + [c for _, cs in keys[db] for c in cs]
        a, b = both(cmds)
        errs = [x[0] for x in a + b if x[1][0] == b"-"]
        if errs:
            print("building db %d failed: %r" % (db, errs[:3]))
            return 1
    for rnd in range(2):
        for db in DBS:
            names = [k for k, _ in keys[db]]
            check("round %d db %d" % (rnd, db), [["SELECT", str(db)]] +
                  [["DEBUG", "DIGEST-VALUE", k] for k in names] +
                  [["DEBUG", "DIGEST-VALUE"] + names[:7] + ["no-such-key"]])
        check("round %d dataset" % rnd, [["DEBUG", "DIGEST"]])
        for db in DBS:
            both([["SELECT", str(db)]] + [change(rng, k) for k, _ in keys[db]])
    # A logically expired key (active expiry off, not read since): DEBUG still sees it,
    # as Redis (which looks it up without expiring it), in DIGEST-VALUE and DIGEST.
    for db in DBS:
        both([["SELECT", str(db)], ["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
              ["SET", "gone", "v", "PX", "1"], ["HSET", "gone:h", "f", "v"],
              ["PEXPIRE", "gone:h", "1"]])
    time.sleep(0.05)  # the 1 ms TTLs have passed; nothing else expires
    for db in DBS:
        check("expired db %d" % db, [["SELECT", str(db)],
                                     ["DEBUG", "DIGEST-VALUE", "gone", "gone:h"]])
    check("expired dataset", [["DEBUG", "DIGEST"]])
    both([["DEBUG", "SET-ACTIVE-EXPIRE", "1"]])
    print("digest_diff: seed %d, %d keys in %d dbs, %d mismatches" % (
        SEED, sum(len(v) for v in keys.values()), len(DBS), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
