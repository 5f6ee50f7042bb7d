#!/bin/sh
# SPDX-License-Identifier: MIT
# The append-only file's cost and promise, kvcore-server beside Debian's redis-server.
#  1. redis-benchmark SET (-c 50, -d 64, random keys) with AOF off and with appendfsync
#     no, everysec and always, per server, alternating kvcore/redis within each round;
#     the median requests/s per case over the rounds.
#  2. tests/kv/aof_durability.py: kill -9 under a 4-connection SET load, restart from the
#     AOF, count the acknowledged writes missing, for always and everysec.
# Reports only. Files go to the scratch directory (the disk /tmp is on).
# usage: BUILD=build sh tests/bench/kv_aof.sh
#   KV_BENCH_ROUNDS (3)  KV_BENCH_N (200000)  KV_BENCH_N_ALWAYS (20000: requests with always)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-benchmark
need_sys_python
ROUNDS=${KV_BENCH_ROUNDS:-3}
N=${KV_BENCH_N:-200000}
N_ALWAYS=${KV_BENCH_N_ALWAYS:-20000}

one() { # server policy round: prints requests/s
    dir=$TMP/$1-$2-$3
    mkdir -p "$dir"
    n=$N
    [ "$2" != always ] || n=$N_ALWAYS
    if [ "$2" = off ]; then
        set -- "$1" "$2" --appendonly no
    else
        set -- "$1" "$2" --appendonly yes --appendfsync "$2"
    fi
    srv=$1
    shift 2
    if [ "$srv" = kvcore ]; then
        kv_start_kvcore --dir "$dir" --save '' "$@"
        port=$KV_PORT pid=$KV_PID
    else
        kv_start_redis --dir "$dir" "$@"
        port=$REDIS_PORT pid=$REDIS_PID
    fi
    redis-benchmark -p "$port" -t set -n "$n" -c 50 -r 100000 -d 64 -q 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1
    stop_pid "$pid"
    rm -rf "$dir"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "SET requests/s, median of $ROUNDS rounds (redis-benchmark -c 50 -d 64 -n $N, $N_ALWAYS for always)"
printf '%-10s %12s %12s\n' policy kvcore redis
for pol in off no everysec always; do
    : >"$TMP/k" && : >"$TMP/r"
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        if [ $((r % 2)) = 0 ]; then
            one kvcore $pol $r >>"$TMP/k"
            one redis $pol $r >>"$TMP/r"
        else
            one redis $pol $r >>"$TMP/r"
            one kvcore $pol $r >>"$TMP/k"
        fi
        r=$((r + 1))
    done
    printf '%-10s %12s %12s\n' $pol "$(median <"$TMP/k")" "$(median <"$TMP/r")"
done

for pol in always everysec; do
    mkdir -p "$TMP/d-$pol"
    kv_start_kvcore --dir "$TMP/d-$pol" --appendonly yes --appendfsync $pol --save ''
    pid=$KV_PID
    $py tests/kv/aof_durability.py load "$KV_PORT" "$pid" "$TMP/$pol.json"
    wait_for 100 0.1 sh -c "! kill -0 $pid 2>/dev/null"
    untrack_pid "$pid"
    kv_start_kvcore --dir "$TMP/d-$pol" --appendonly yes --save ''
    echo "kill -9, appendfsync $pol:"
    $py tests/kv/aof_durability.py verify "$KV_PORT" "$TMP/$pol.json"
    stop_pid "$KV_PID"
done
