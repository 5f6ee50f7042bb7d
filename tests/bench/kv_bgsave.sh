#!/bin/sh
# SPDX-License-Identifier: MIT
# BGSAVE of N keys ("key:%012d" -> 100-byte values, loaded with redis-cli --pipe) under a
# write load, kvcore-server side by side with Debian's redis-server 7.0, same settings
# (rdbcompression yes, rdbchecksum yes), the dataset reloaded before each round. While
# redis-benchmark overwrites random keys of the same names (SET -r N, 50 clients,
# pipeline 16), BGSAVE runs; reported per server: the save's wall time (BGSAVE until
# rdb_bgsave_in_progress is 0, polled every 10 ms), the dump's size and MB per second,
# rdb_last_cow_size (the child's Private_Dirty at its end: what the writes made it copy),
# the writes done meanwhile and used_memory. Rounds alternate servers; the round with the
# median time is shown. Reports, never fails.
# usage: BUILD=build sh tests/bench/kv_bgsave.sh
#        (KV_BENCH_KEYS=N default 1000000, KV_BENCH_ROUNDS default 3)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-benchmark python3
need_built "$KV_BIN"
N=${KV_BENCH_KEYS:-1000000}
ROUNDS=${KV_BENCH_ROUNDS:-3}

now_ms() { date +%s%3N; }

round() { # name port dir -> one line: secs bytes cow writes
    port=$2
    rm -f "$3/dump.rdb"
    redis-cli -p "$port" --pipe <"$TMP/load.resp" >/dev/null # the same dataset every round
    redis-benchmark -p "$port" -t set -r "$N" -d 100 -c 50 -P 16 -n 100000000 -q \
        >/dev/null 2>&1 &
    bpid=$!
    track_pid "$bpid"
    sleep 1 # the load is running before the fork
    cmds0=$(kv_info "$port" total_commands_processed)
    t0=$(now_ms)
    redis-cli -p "$port" bgsave >/dev/null
    while [ "$(kv_info "$port" rdb_bgsave_in_progress)" != 0 ]; do sleep 0.01; done
    t1=$(now_ms)
    cmds1=$(kv_info "$port" total_commands_processed)
    stop_pid "$bpid" >/dev/null 2>&1
    size=$(stat -c %s "$3/dump.rdb")
    cow=$(kv_info "$port" rdb_last_cow_size)
    echo "$((t1 - t0)) $size $cow $((cmds1 - cmds0))"
}

start() { # name -> port (servers stay up for all rounds)
    if [ "$1" = kvcore ]; then
        kv_start_kvcore --enable-debug-command yes --dir "$TMP/kvcore"
        echo "$KV_PORT" >"$TMP/kvcore.port"
    else
        kv_start_redis --enable-debug-command yes --dir "$TMP/redis"
        echo "$REDIS_PORT" >"$TMP/redis.port"
    fi
}

mkdir -p "$TMP/kvcore" "$TMP/redis"
python3 - "$N" >"$TMP/load.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"key:%012d" % i
    v = (b"%d-" % (i * 2654435761 % 1000003)) * 20
    v = v[:100]
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
PY
for s in kvcore redis; do
    start "$s"
    redis-cli -p "$(cat "$TMP/$s.port")" --pipe <"$TMP/load.resp" >/dev/null
done
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for s in kvcore redis; do
        round "$s" "$(cat "$TMP/$s.port")" "$TMP/$s" >>"$TMP/$s.rounds"
    done
    r=$((r + 1))
done
echo "BGSAVE of $N keys (100-byte values) under redis-benchmark SET -c 50 -P 16, median of $ROUNDS"
printf '%-8s %9s %12s %10s %12s %12s %12s\n' server "time ms" "dump bytes" "MB/s" \
    "COW bytes" "writes" "used_memory"
for s in kvcore redis; do
    port=$(cat "$TMP/$s.port")
    mem=$(kv_info "$port" used_memory)
    sort -n "$TMP/$s.rounds" | sed -n "$(((ROUNDS + 1) / 2))p" | while read -r ms size cow w; do
        mbs=$(awk -v b="$size" -v ms="$ms" 'BEGIN { printf "%.1f", ms ? b / 1048576 / (ms / 1000) : 0 }')
        printf '%-8s %9s %12s %10s %12s %12s %12s\n' "$s" "$ms" "$size" "$mbs" "$cow" "$w" "$mem"
    done
done
