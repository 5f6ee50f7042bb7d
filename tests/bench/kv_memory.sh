#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore memory benchmark, side by side with Valkey (a build with the 8.1 hashtable; its
# row is skipped when the binary is absent) and Debian's redis-server in one run:
#   plain  N string keys key:<n> with 16-byte values v%015d
#   ttl    the same with EX 100000 on every SET
#   hash   H hashes hash:<n> of 10 fields field<j> -> value<j> (listpack everywhere)
# Each case loads into freshly started servers (same pipelined stream, redis-cli --pipe)
# and is measured once incremental rehashing has finished (MEMORY STATS for kvcore, DEBUG
# HTSTATS for the others) and used_memory is stable: used_memory and RSS deltas per key.
# Targets: plain <= 60, ttl <= 78, hash <= 240 B/key used_memory, each <= 0.85x Valkey's.
# usage: BUILD=build sh tests/bench/kv_memory.sh
#        (KV_BENCH_KEYS=N default 1000000, KV_BENCH_HASHES=H default 100000,
#         KV_BENCH_VALKEY=path default /tmp/vk/valkey-7699a3a94/src/valkey-server)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
N=${KV_BENCH_KEYS:-1000000}
H=${KV_BENCH_HASHES:-100000}
VALKEY=${KV_BENCH_VALKEY:-/tmp/vk/valkey-7699a3a94/src/valkey-server}

gen() { # kind file
    python3 - "$1" "$N" "$H" >"$2" <<'PY'
import sys
kind, n, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
if kind == "hash":
    for i in range(h):
        k = b"hash:%d" % i
        s = b"*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (len(k), k)
        for j in range(10):
            s += b"$6\r\nfield%d\r\n$6\r\nvalue%d\r\n" % (j, j)
        out.write(s)
    sys.exit(0)
ttl = kind == "ttl"
tail = b"$2\r\nEX\r\n$6\r\n100000\r\n" if ttl else b""
head = b"*5\r\n$3\r\nSET\r\n" if ttl else b"*3\r\n$3\r\nSET\r\n"
for i in range(n):
    k = b"key:%d" % i
    out.write(head + b"$%d\r\n%s\r\n$16\r\nv%015d\r\n" % (len(k), k, i) + tail)
PY
}

start_valkey() {
    VK_PORT=$(free_port)
    "$VALKEY" --bind 127.0.0.1 --port "$VK_PORT" --save '' --appendonly no --daemonize no \
        --dir "$TMP" --enable-debug-command yes >"$TMP/valkey.$VK_PORT.log" 2>&1 &
    VK_PID=$!
    track_pid "$VK_PID"
    kv_wait_ready "$VK_PORT" "$VK_PID" || { cat "$TMP/valkey.$VK_PORT.log"; exit 1; }
}

rss_kb() { # pid: resident set from /proc (used_memory_rss is the same number)
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

measure() { # port pid file keys -> "used_B/key rss_B/key"
    kv_settle "$1"
    before=$(kv_info "$1" used_memory memory)
    rss0=$(rss_kb "$2")
    redis-cli -p "$1" --pipe <"$3" >/dev/null
    [ "$(redis-cli -p "$1" dbsize)" = "$4" ] || { echo "load failed on port $1" >&2; exit 1; }
    kv_settle "$1"
    after=$(kv_info "$1" used_memory memory)
    rss1=$(rss_kb "$2")
    echo "$before $after $rss0 $rss1" |
        awk -v n="$4" '{printf "%.1f %.1f", ($2-$1)/n, ($4-$3)*1024/n}'
}

echo "kv_memory: used_memory and RSS deltas per key, fresh servers per case"
echo "  plain/ttl: $N keys key:<n>, 16-byte values; hash: $H hashes of 10 fields"
printf '%-6s %14s %14s %14s %9s %9s\n' case kvcore valkey redis kv/valkey kv/redis
printf '%-6s %14s %14s %14s\n' "" "used (rss)" "used (rss)" "used (rss)"
for v in plain ttl hash; do
    gen "$v" "$TMP/$v.resp"
    n=$N
    [ "$v" = hash ] && n=$H
    kv_start_kvcore --save ''
    k=$(measure "$KV_PORT" "$KV_PID" "$TMP/$v.resp" "$n")
    stop_pid "$KV_PID"
    vk="n/a n/a"
    if [ -x "$VALKEY" ]; then
        start_valkey
        vk=$(measure "$VK_PORT" "$VK_PID" "$TMP/$v.resp" "$n")
        stop_pid "$VK_PID"
    fi
    kv_start_redis --enable-debug-command yes
    r=$(measure "$REDIS_PORT" "$REDIS_PID" "$TMP/$v.resp" "$n")
    stop_pid "$REDIS_PID"
    rm -f "$TMP/$v.resp"
    echo "$v $k $vk $r" | awk '{
        vr = $4 == "n/a" ? "n/a" : sprintf("%.2f", $2 / $4)
        printf "%-6s %6.1f (%5.1f) %6s (%5s) %6.1f (%5.1f) %9s %9.2f\n",
            $1, $2, $3, $4, $5, $6, $7, vr, $2 / $6 }'
done
