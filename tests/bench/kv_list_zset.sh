#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore lists and sorted sets, side by side with Debian's redis-server in one run:
#  1. memory: used_memory delta per key and per element for N lists of 10 items
#     ("item:<j>") and N sorted sets of 10 members ("member:<j>", integer scores), loaded
#     with one pipelined RPUSH / ZADD per key; both stay in their compact encodings;
#  2. throughput: redis-benchmark -t lpush,rpush,lpop,rpop,zadd,lrange_100 -c 50, rounds
#     interleaved (kvcore, redis, kvcore, ...), median req/s per test and the ratio.
# Target: at most Redis 7.0's bytes; throughput ratio reported, not judged.
# usage: BUILD=build sh tests/bench/kv_list_zset.sh   (KV_BENCH_KEYS=N, KV_BENCH_REQS=R,
#        KV_BENCH_ROUNDS=3)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-benchmark python3
N=${KV_BENCH_KEYS:-100000}
REQS=${KV_BENCH_REQS:-100000}
ROUNDS=${KV_BENCH_ROUNDS:-3}

gen() { # kind file
    python3 - "$1" "$N" >"$2" <<'PY'
import sys
kind, n = sys.argv[1], int(sys.argv[2])
out = sys.stdout.buffer
def cmd(args):
    s = b"*%d\r\n" % len(args)
    for x in args:
        s += b"$%d\r\n%s\r\n" % (len(x), x)
    return s
for i in range(n):
    if kind == "list":
        out.write(cmd([b"RPUSH", b"list:%d" % i] + [b"item:%d" % j for j in range(10)]))
    else:
        a = [b"ZADD", b"zset:%d" % i]
        for j in range(10):
            a += [b"%d" % (j * 10), b"member:%d" % j]
        out.write(cmd(a))
PY
}

measure() { # port file -> "bytes_per_key encoding"
    redis-cli -p "$1" flushall >/dev/null
    kv_settle "$1"
    before=$(kv_info "$1" used_memory memory)
    redis-cli -p "$1" --pipe <"$2" >/dev/null
    [ "$(redis-cli -p "$1" dbsize)" = "$N" ] || { echo "load failed on port $1" >&2; exit 1; }
    kv_settle "$1"
    after=$(kv_info "$1" used_memory memory)
    key=$(redis-cli -p "$1" randomkey)
    enc=$(redis-cli -p "$1" object encoding "$key")
    echo "$before $after" | awk -v n="$N" -v e="$enc" '{printf "%.1f %s", ($2-$1)/n, e}'
}

kv_start_kvcore --save ''
kv_start_redis
gen list "$TMP/list.resp"
gen zset "$TMP/zset.resp"
echo "kv_list_zset memory: $N keys of 10 elements each; used_memory delta"
printf '%-6s %12s %13s %12s %13s %7s\n' type kvcore_B/key kvcore_B/elem redis_B/key redis_B/elem ratio
for t in list zset; do
    k=$(measure "$KV_PORT" "$TMP/$t.resp")
    r=$(measure "$REDIS_PORT" "$TMP/$t.resp")
    echo "$t $k $r" | awk '{printf "%-6s %12.1f %13.1f %12.1f %13.1f %7.2f   (%s / %s)\n",
        $1, $2, $2/10, $4, $4/10, $2/$4, $3, $5}'
done

TESTS=lpush,rpush,lpop,rpop,zadd,lrange_100
bench() { # port round
    redis-cli -p "$1" flushall >/dev/null
    redis-benchmark -p "$1" -t "$TESTS" -n "$REQS" -c 50 --csv 2>/dev/null |
        tr -d '"' | awk -F, -v r="$2" 'NR > 1 { print r, $1, $2 }'
}
: >"$TMP/kv.tp"
: >"$TMP/redis.tp"
r=1
while [ $r -le "$ROUNDS" ]; do
    bench "$KV_PORT" $r >>"$TMP/kv.tp"
    bench "$REDIS_PORT" $r >>"$TMP/redis.tp"
    r=$((r + 1))
done
echo
echo "kv_list_zset throughput: redis-benchmark -n $REQS -c 50, median of $ROUNDS interleaved rounds"
python3 - "$TMP/kv.tp" "$TMP/redis.tp" <<'PY'
import statistics, sys
def load(p):
    d = {}
    for line in open(p):
        parts = line.split()
        if len(parts) < 3:
            continue
        name = " ".join(parts[1:-1])
        d.setdefault(name, []).append(float(parts[-1]))
    return d
k, r = load(sys.argv[1]), load(sys.argv[2])
print("%-42s %12s %12s %7s" % ("test", "kvcore_rps", "redis_rps", "ratio"))
for name in k:
    if name in r:
        a, b = statistics.median(k[name]), statistics.median(r[name])
        print("%-42s %12.0f %12.0f %7.2f" % (name, a, b, a / b))
PY
