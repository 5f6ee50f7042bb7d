#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore memory benchmark, side by side with Debian's redis-server in one run:
# used_memory per key for N string keys key:<n> with 16-byte values, without and with a
# TTL, plus RSS. Both servers get the same pipelined SET stream (redis-cli --pipe) and
# are measured once incremental rehashing has finished (MEMORY STATS for kvcore, DEBUG
# HTSTATS for redis) and used_memory is stable.
# Reference (2-core Debian 12): Redis 7.0.15 104.5 B/key, 144.9 with TTL.
# Floor: kvcore <= 0.75x Redis in both cases. Aim: 64 and 84 B/key.
# usage: BUILD=build sh tests/bench/kv_memory.sh   (KV_BENCH_KEYS=N to change N)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
N=${KV_BENCH_KEYS:-1000000}

gen() { # file ttl
    python3 - "$N" "$2" >"$1" <<'PY'
import sys
n, ttl = int(sys.argv[1]), sys.argv[2] == "ttl"
out = sys.stdout.buffer
tail = b"$2\r\nEX\r\n$6\r\n100000\r\n" if ttl else b""
head = b"*5\r\n$3\r\nSET\r\n" if ttl else b"*3\r\n$3\r\nSET\r\n"
for i in range(n):
    k = b"key:%d" % i
    out.write(head + b"$%d\r\n%s\r\n$16\r\nv%015d\r\n" % (len(k), k, i) + tail)
PY
}

measure() { # port file -> "bytes_per_key rss_mb"
    redis-cli -p "$1" flushall >/dev/null
    kv_settle "$1"
    before=$(kv_info "$1" used_memory memory)
    redis-cli -p "$1" --pipe <"$2" >/dev/null
    [ "$(redis-cli -p "$1" dbsize)" = "$N" ] || { echo "load failed on port $1" >&2; exit 1; }
    kv_settle "$1"
    after=$(kv_info "$1" used_memory memory)
    rss=$(kv_info "$1" used_memory_rss memory)
    echo "$before $after $rss" | awk -v n="$N" '{printf "%.1f %.1f", ($2-$1)/n, $3/1048576}'
}

kv_start_kvcore --save ''
kv_start_redis --enable-debug-command yes
gen "$TMP/plain.resp" plain
gen "$TMP/ttl.resp" ttl
echo "kv_memory: $N keys key:<n>, 16-byte values; used_memory delta per key, RSS after load"
printf '%-9s %12s %12s %7s %11s %11s\n' variant kvcore_B/key redis_B/key ratio kvcore_RSS redis_RSS
for v in plain ttl; do
    k=$(measure "$KV_PORT" "$TMP/$v.resp")
    r=$(measure "$REDIS_PORT" "$TMP/$v.resp")
    echo "$v $k $r" | awk '{printf "%-9s %12.1f %12.1f %7.2f %9.1fMB %9.1fMB\n",
        ($1=="ttl"?"with_ttl":"no_ttl"), $2, $4, $2/$4, $3, $5}'
done
