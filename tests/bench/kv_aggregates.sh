#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore aggregates, side by side with Debian's redis-server in one run:
#  1. bytes per element (used_memory delta / elements) for N hashes of 10 small fields
#     ("field<j>" -> "value<j>"), N sets of 10 integers, N sorted sets of 10 members and
#     N lists of 10 items, each key loaded with one pipelined command; every one stays in
#     its compact encoding on both servers (listpack / intset);
#  2. the "bucket keys into hashes" pattern: M small values object:<n> -> "v<n>" stored as
#     plain keys, then as fields <n % 100> of hashes object:<n / 100> (100 fields each);
#     bytes per object and the saving factor (plain / bucketed) for each server;
#  3. redis-benchmark -t hset,lpush,rpop,sadd,zadd,lrange_100 -c 50, rounds interleaved
#     (kvcore, redis, kvcore, ...), median requests/s per test and the kvcore/redis ratio.
# A row whose commands kvcore does not (yet) know prints n/a. Both servers are measured
# after incremental rehashing finished and used_memory is stable, as kv_memory.sh does.
# Target: at most Redis 7.0's bytes in each row of 1.
# usage: BUILD=build sh tests/bench/kv_aggregates.sh
#        (KV_BENCH_KEYS=N default 100000, KV_BENCH_OBJECTS=M default 1000000,
#         KV_BENCH_REQS=R default 100000, KV_BENCH_ROUNDS default 3)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-benchmark python3
N=${KV_BENCH_KEYS:-100000}
M=${KV_BENCH_OBJECTS:-1000000}
REQS=${KV_BENCH_REQS:-100000}
ROUNDS=${KV_BENCH_ROUNDS:-3}

gen() { # kind file
    python3 - "$1" "$N" "$M" >"$2" <<'PY'
import sys
kind, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
def cmd(args):
    s = b"*%d\r\n" % len(args)
    for x in args:
        s += b"$%d\r\n%s\r\n" % (len(x), x)
    return s
buf = []
if kind == "hash":
    for i in range(n):
        a = [b"HSET", b"hash:%d" % i]
        for j in range(10):
            a += [b"field%d" % j, b"value%d" % j]
        buf.append(cmd(a))
elif kind == "set":
    for i in range(n):
        buf.append(cmd([b"SADD", b"set:%d" % i] + [b"%d" % (i * 10 + j) for j in range(10)]))
elif kind == "zset":
    for i in range(n):
        a = [b"ZADD", b"zset:%d" % i]
        for j in range(10):
            a += [b"%d" % j, b"member:%d" % j]
        buf.append(cmd(a))
elif kind == "list":
    for i in range(n):
        buf.append(cmd([b"RPUSH", b"list:%d" % i] + [b"item:%d" % j for j in range(10)]))
elif kind == "plain":
    for i in range(m):
        buf.append(cmd([b"SET", b"object:%d" % i, b"v%d" % i]))
elif kind == "bucket":
    for i in range(m):
        buf.append(cmd([b"HSET", b"object:%d" % (i // 100), b"%d" % (i % 100), b"v%d" % i]))
out.write(b"".join(buf))
PY
}

measure() { # port file keys -> used_memory delta in bytes, or n/a when the load failed
    redis-cli -p "$1" flushall >/dev/null
    kv_settle "$1"
    before=$(kv_info "$1" used_memory memory)
    errs=$(redis-cli -p "$1" --pipe <"$2" 2>&1 | sed -n 's/.*errors: \([0-9]*\).*/\1/p')
    if [ "${errs:-1}" != 0 ] || [ "$(redis-cli -p "$1" dbsize)" != "$3" ]; then
        echo n/a
        return
    fi
    kv_settle "$1"
    after=$(kv_info "$1" used_memory memory)
    echo $((after - before))
}

encoding() { # port key
    redis-cli -p "$1" object encoding "$2" 2>/dev/null
}

kv_start_kvcore --save ''
kv_start_redis --enable-debug-command yes

echo "kv_aggregates: $N keys of 10 elements each; used_memory delta per element (per key)"
printf '%-6s %-26s %16s %16s %7s\n' type elements kvcore_B/elem redis_B/elem ratio
for kind in hash set zset list; do
    gen $kind "$TMP/$kind.resp"
    k=$(measure "$KV_PORT" "$TMP/$kind.resp" "$N")
    ke=$(encoding "$KV_PORT" $kind:0)
    r=$(measure "$REDIS_PORT" "$TMP/$kind.resp" "$N")
    re=$(encoding "$REDIS_PORT" $kind:0)
    case $kind in
    hash) what="field<j> value<j>" ;;
    set) what="integers" ;;
    zset) what="member:<j>, int scores" ;;
    list) what="item:<j>" ;;
    esac
    echo "$kind|$what|$k|$r|$N|$ke|$re" | awk -F'|' '{
        n = $5 * 10
        ks = ($3 == "n/a") ? "n/a" : sprintf("%.1f (%.0f)", $3 / n, $3 / $5)
        rs = ($4 == "n/a") ? "n/a" : sprintf("%.1f (%.0f)", $4 / n, $4 / $5)
        ratio = ($3 == "n/a" || $4 == "n/a" || $4 == 0) ? "n/a" : sprintf("%.2f", $3 / $4)
        printf "%-6s %-26s %16s %16s %7s   [%s / %s]\n", $1, $2, ks, rs, ratio, $6, $7 }'
    rm -f "$TMP/$kind.resp"
done
echo

B=$(((M + 99) / 100))
gen plain "$TMP/plain.resp"
gen bucket "$TMP/bucket.resp"
echo "kv_aggregates: $M objects object:<n> -> v<n>, plain keys vs $B hashes of 100 fields"
printf '%-8s %14s %16s %8s\n' server plain_B/obj bucketed_B/obj saving
for who in kvcore redis; do
    port=$KV_PORT
    [ $who = redis ] && port=$REDIS_PORT
    p=$(measure "$port" "$TMP/plain.resp" "$M")
    b=$(measure "$port" "$TMP/bucket.resp" "$B")
    echo "$who $p $b $M" | awk '{
        if ($2 == "n/a" || $3 == "n/a") { printf "%-8s %14s %16s %8s\n", $1, $2, $3, "n/a"; next }
        printf "%-8s %14.1f %16.1f %7.1fx\n", $1, $2 / $4, $3 / $4, $2 / $3 }'
done
rm -f "$TMP/plain.resp" "$TMP/bucket.resp"
redis-cli -p "$KV_PORT" flushall >/dev/null
redis-cli -p "$REDIS_PORT" flushall >/dev/null
echo

TESTS=hset,lpush,rpop,sadd,zadd,lrange_100
run() { # port -> "TEST rps" lines
    redis-benchmark -h 127.0.0.1 -p "$1" -t $TESTS -c 50 -n "$REQS" --csv 2>/dev/null |
        tr -d '"' | awk -F, 'NR > 1 && $2 + 0 > 0 {print $1, $2}'
}
: >"$TMP/results"
r=1
while [ $r -le "$ROUNDS" ]; do
    run "$KV_PORT" | sed 's/^/kvcore /' >>"$TMP/results"
    run "$REDIS_PORT" | sed 's/^/redis /' >>"$TMP/results"
    redis-cli -p "$KV_PORT" flushall >/dev/null
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    r=$((r + 1))
done
echo "kv_aggregates: redis-benchmark -t $TESTS -c 50 -n $REQS, $ROUNDS interleaved rounds, median rps"
python3 - "$TMP/results" <<'PY'
import statistics, sys
rows = []
for l in open(sys.argv[1]):
    parts = l.split()
    if len(parts) >= 3:  # server, test name (may contain spaces), rps
        rows.append((parts[0], " ".join(parts[1:-1]), parts[-1]))
tests = []
for r in rows:
    if r[1] not in tests:
        tests.append(r[1])
def med(server, test):
    v = [float(r[2]) for r in rows if r[0] == server and r[1] == test]
    return statistics.median(v) if v else None
print("%-40s %12s %12s %7s" % ("test", "kvcore_rps", "redis_rps", "ratio"))
for t in tests:
    k, r = med("kvcore", t), med("redis", t)
    ks = "%.0f" % k if k else "n/a"
    rs = "%.0f" % r if r else "n/a"
    ratio = "%.2f" % (k / r) if k and r else "n/a"
    print("%-40s %12s %12s %7s" % (t, ks, rs, ratio))
PY
