#!/bin/sh
# SPDX-License-Identifier: MIT
# MEMORY USAGE of compact string-backed types, kvcore-server beside Debian's redis-server
# in one run: a sparse HyperLogLog (100 elements), a dense HyperLogLog (100000 elements),
# a 100M-bit bitmap (SETBIT k 99999999 1) and a geo set of 1M members (GEOADD in batches
# of 1000). Prints bytes per server and the kvcore/redis ratio, plus the value length
# (STRLEN, or ZCARD for the geo set) to show both hold the same data.
# usage: BUILD=build sh tests/bench/kv_compact_types.sh   (KV_BENCH_GEO=N default 1000000)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
GEO=${KV_BENCH_GEO:-1000000}
kv_start_kvcore --save ''
kv_start_redis
python3 - "$KV_PORT" "$REDIS_PORT" "$GEO" <<'PY'
import sys
sys.path.insert(0, "tests/kv")
from resp_conn import PlainConn

kp, rp, geo = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
servers = {"kvcore": PlainConn(kp), "redis": PlainConn(rp)}


def load(c):
    c.cmd("FLUSHALL")
    c.cmd("PFADD", "hll:sparse", *["e%d" % i for i in range(100)])
    for i in range(0, 100000, 1000):
        c.cmd("PFADD", "hll:dense", *["e%d" % j for j in range(i, i + 1000)])
    c.cmd("SETBIT", "bitmap", 99999999, 1)
    for i in range(0, geo, 1000):
        args = []
        for j in range(i, min(geo, i + 1000)):
            args += ["%.6f" % (-180 + (j * 0.000359) % 360), "%.6f" % (-85 + (j * 0.00017) % 170),
                     "m%d" % j]
        c.cmd("GEOADD", "geo", *args)


rows = [("sparse HLL, 100 elements", "hll:sparse", "STRLEN"),
        ("dense HLL, 100000 elements", "hll:dense", "STRLEN"),
        ("bitmap, SETBIT 99999999", "bitmap", "STRLEN"),
        ("geo set, %d members" % geo, "geo", "ZCARD")]
for c in servers.values():
    load(c)
print("%-28s %14s %14s %8s %12s" % ("value", "kvcore bytes", "redis bytes", "ratio", "length"))
for title, key, lencmd in rows:
    k = servers["kvcore"].cmd("MEMORY", "USAGE", key, "SAMPLES", 0)
    r = servers["redis"].cmd("MEMORY", "USAGE", key, "SAMPLES", 0)
    lk = servers["kvcore"].cmd(lencmd, key)
    lr = servers["redis"].cmd(lencmd, key)
    same = "" if lk == lr else " (redis %s)" % lr
    print("%-28s %14d %14d %8.3f %12s%s" % (title, k, r, k / r, lk, same))
PY
