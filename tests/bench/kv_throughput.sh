#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore throughput, side by side with Debian's redis-server in one run:
# redis-benchmark -t set,get with -P 1 and -P 16, 50 clients, runs interleaved
# (kvcore, redis, kvcore, redis...) so both see the same machine state; the median of
# KV_BENCH_ROUNDS rounds (default 3) is reported with the kvcore/redis ratio.
# Target (issue): at least Redis 7.0's requests/s in each case; aim 1.2x at -P 16.
# usage: BUILD=build sh tests/bench/kv_throughput.sh
. "$(dirname "$0")/../kv/lib.sh"
kv_require_tools redis-cli redis-server redis-benchmark python3
ROUNDS=${KV_BENCH_ROUNDS:-3}
N1=${KV_BENCH_N1:-300000}
N16=${KV_BENCH_N16:-3000000}

kv_start_kvcore --save ''
kv_start_redis
# Two or more CPUs: servers on CPU 1, the client on CPU 0, so neither server shares a
# core with redis-benchmark (the same placement for both).
PIN=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    taskset -pc 1 "$KV_PID" >/dev/null && taskset -apc 1 "$REDIS_PID" >/dev/null && PIN="taskset -c 0"
fi

run() { # port pipeline requests -> "set_rps get_rps"
    $PIN redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -P "$2" -c 50 -n "$3" --csv 2>/dev/null |
        tr -d '"' | awk -F, '$1=="SET"{s=$2} $1=="GET"{g=$2} END{printf "%s %s\n", s, g}'
}

: >"$KV_TMP/results"
r=1
while [ $r -le "$ROUNDS" ]; do
    for p in 1 16; do
        n=$N1
        [ $p = 16 ] && n=$N16
        echo "kvcore P$p $(run "$KV_PORT" $p $n)" >>"$KV_TMP/results"
        echo "redis P$p $(run "$REDIS_PORT" $p $n)" >>"$KV_TMP/results"
    done
    r=$((r + 1))
done

echo "kv_throughput: redis-benchmark -t set,get -c 50, $ROUNDS interleaved rounds, median rps${PIN:+ (servers on CPU 1, client on CPU 0)}"
python3 - "$KV_TMP/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(server, p, col):
    v = [float(r[col]) for r in rows if r[0] == server and r[1] == p and len(r) > col]
    return statistics.median(v) if v else 0.0
print("%-6s %-4s %12s %12s %7s" % ("test", "pipe", "kvcore_rps", "redis_rps", "ratio"))
for p in ("P1", "P16"):
    for name, col in (("SET", 2), ("GET", 3)):
        k, r = med("kvcore", p, col), med("redis", p, col)
        print("%-6s %-4s %12.0f %12.0f %7.2f" % (name, p, k, r, k / r if r else 0))
PY
