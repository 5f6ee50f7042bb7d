#!/bin/sh
# SPDX-License-Identifier: MIT
# list-compress-depth 0 against 1: a list of N compressible values (`event:<n>:status=ok
# source=web region=eu`, RPUSH in batches of 1000, default list-max-listpack-size -2) on
# kvcore-server and Debian's redis-server in one run. Prints MEMORY USAGE key SAMPLES 0
# and the used_memory growth per server and depth, and the depth 1 / depth 0 ratios.
# usage: BUILD=build sh tests/bench/kv_list_compress.sh   (KV_BENCH_LIST=N default 1000000)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
N=${KV_BENCH_LIST:-1000000}
kv_start_kvcore --save ''
kv_start_redis
python3 - "$KV_PORT" "$REDIS_PORT" "$N" <<'PY'
import sys
sys.path.insert(0, "tests/kv")
from resp_conn import PlainConn

kp, rp, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
servers = {"kvcore": PlainConn(kp), "redis": PlainConn(rp)}


def used(c):
    info = c.cmd("INFO", "memory").decode()
    return int(info.split("used_memory:")[1].split("\r\n")[0])


res = {}
for name, c in servers.items():
    for depth in (0, 1):
        c.cmd("FLUSHALL")
        c.cmd("CONFIG", "SET", "list-compress-depth", depth)
        before = used(c)
        for i in range(0, n, 1000):
            c.cmd("RPUSH", "l", *["event:%d:status=ok source=web region=eu" % j
                                  for j in range(i, min(n, i + 1000))])
        assert c.cmd("LLEN", "l") == n
        res[name, depth] = (c.cmd("MEMORY", "USAGE", "l", "SAMPLES", 0), used(c) - before)
print("%-8s %6s %14s %14s" % ("server", "depth", "MEMORY USAGE", "used_memory +"))
for (name, depth), (mu, um) in sorted(res.items()):
    print("%-8s %6d %14d %14d" % (name, depth, mu, um))
for name in servers:
    print("%s depth 1 / depth 0: MEMORY USAGE %.3f, used_memory %.3f" % (
        name, res[name, 1][0] / res[name, 0][0], res[name, 1][1] / res[name, 0][1]))
print("kvcore / redis at depth 1: MEMORY USAGE %.3f" % (res["kvcore", 1][0] / res["redis", 1][0]))
PY
