# SPDX-License-Identifier: MIT
"""RDB checks between kvcore-server and redis-server (standard library only).

  rdb_compare.py fill PORT            writes a dataset with every type and encoding
                                      (several databases, TTLs, big and small values)
  rdb_compare.py same PORT_A PORT_B   the two servers hold the same data: the same keys
                                      in every database, each with the same type, value
                                      digest (DEBUG DIGEST-VALUE) and TTL (within 10 s)
  rdb_compare.py dumps PORT_A PORT_B  DUMP payloads are byte-identical for the keys whose
                                      encoding both servers share (strings, listpack
                                      hashes and sorted sets, skiplists, intsets, lists)
Exit status 0 when the check holds, 1 with the first difference on stderr.
"""
import sys

from resp_conn import PlainConn

DBS = (0, 1, 9)


def fill(port):
    c = PlainConn(port)
    big = "x" * 300
    for db in DBS:
        c.cmd("SELECT", db)
        p = "d%d:" % db
        c.cmd("SET", p + "int", "12345")
        c.cmd("SET", p + "neg", "-2147483649")
        c.cmd("SET", p + "emb", "hello world")
        c.cmd("SET", p + "raw", big)
        c.cmd("SET", p + "rnd", "".join(chr(33 + (i * 7919) % 90) for i in range(500)))
        c.cmd("SET", p + "ttl", "v", "PX", 500000)
        c.cmd("RPUSH", p + "list:small", "a", "1", "-7", "b" * 40)
        for i in range(0, 3000, 100):
            c.cmd("RPUSH", p + "list:big", *[str(j) + "-elem" for j in range(i, i + 100)])
        c.cmd("SADD", p + "set:int", 1, 2, 3, -70000, 5000000000)
        c.cmd("SADD", p + "set:small", "a", "b", "c")
        c.cmd("SADD", p + "set:big", *["m%d" % i for i in range(600)])
        c.cmd("SADD", p + "set:longint", *range(1000))
        c.cmd("HSET", p + "hash:small", "f", "v", "n", 17, "long", big[:60])
        c.cmd("HSET", p + "hash:big", *sum((["f%d" % i, "v%d" % i] for i in range(300)), []))
        c.cmd("HSET", p + "hash:longval", "f", big)
        # Small hashes kvcore keeps in its own pack and writes as a listpack: integers of
        # every listpack width, near-integers, strings at the 63/64 header boundary,
        # then edits (a longer and a shorter value, a delete in the middle, a counter).
        c.cmd("HSET", p + "hash:ints", "a", -1, "b", -129, 1, 4095, 4096, -4097, "c",
              8388608, "d", 9223372036854775807, "e", -9223372036854775808, "f", "042",
              "g", "-0", "h", big[:63], "i", big[:64], -5, "")
        c.cmd("HSET", p + "hash:ints", "b", big[:50], "h", "x", 1, 7)
        c.cmd("HDEL", p + "hash:ints", "c")
        c.cmd("HINCRBY", p + "hash:ints", "ctr", 100000)
        c.cmd("PEXPIRE", p + "hash:ints", 900000)
        c.cmd("ZADD", p + "zset:small", 1, "a", 2.5, "b", "-inf", "c", 1e300, "d")
        c.cmd("ZADD", p + "zset:big", *sum(([i * 0.5, "z%d" % i] for i in range(300)), []))
        c.cmd("ZADD", p + "zset:longmember", 3, big)
        c.cmd("PEXPIRE", p + "hash:big", 800000)
    c.cmd("SELECT", 0)


def keys_of(c, db):
    c.cmd("SELECT", db)
    return sorted(c.cmd("KEYS", "*"))


def same(pa, pb):
    a, b = PlainConn(pa), PlainConn(pb)
    total = 0
    for db in range(16):
        ka, kb = keys_of(a, db), keys_of(b, db)
        if ka != kb:
            return "db %d: keys differ: %s vs %s" % (db, ka[:10], kb[:10])
        for k in ka:
            for q in (("TYPE", k), ("DEBUG", "DIGEST-VALUE", k)):
                ra, rb = a.cmd(*q), b.cmd(*q)
                if ra != rb:
                    return "db %d key %r: %s: %r vs %r" % (db, k, q[0], ra, rb)
            ta, tb = a.cmd("PTTL", k), b.cmd("PTTL", k)
            if (ta < 0) != (tb < 0) or abs(ta - tb) > 10000:
                return "db %d key %r: PTTL %d vs %d" % (db, k, ta, tb)
            total += 1
    if total == 0:
        return "no keys"
    print("same: %d keys compared" % total)
    return None


# Encodings both servers have for these keys, so DUMP must give the same bytes (a small
# set of strings is a listpack in kvcore and a hash table in Redis 7.0: not compared).
SAME_ENCODING = ("int", "neg", "emb", "raw", "rnd", "ttl", "list:small", "list:big",
                 "set:int", "hash:small", "hash:ints", "zset:small", "zset:big")


def dumps(pa, pb):
    a, b = PlainConn(pa), PlainConn(pb)
    n = 0
    for db in DBS:
        a.cmd("SELECT", db)
        b.cmd("SELECT", db)
        for s in SAME_ENCODING:
            k = "d%d:%s" % (db, s)
            da, db_ = a.cmd("DUMP", k), b.cmd("DUMP", k)
            if da is None or da != db_:
                return "DUMP %s differs:\n  %r\n  %r" % (k, da, db_)
            n += 1
    print("dumps: %d payloads byte-identical" % n)
    return None


def main():
    what = sys.argv[1]
    if what == "fill":
        fill(int(sys.argv[2]))
        return 0
    err = (same if what == "same" else dumps)(int(sys.argv[2]), int(sys.argv[3]))
    if err:
        sys.stderr.write(err + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
