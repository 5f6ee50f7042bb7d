#!/bin/sh
# SPDX-License-Identifier: MIT
# Blocking commands at scale on kvcore-server and redis-server side by side
# (tests/bench/kv_blocking.py, three rounds each): N clients blocked on one key, served by
# one RPUSH; one BLPOP on 10000 keys; used_memory per blocked client and after they left.
# usage: BUILD=build sh tests/bench/kv_blocking.sh   KV_BENCH_CLIENTS (2000)
. "$(dirname "$0")/../lib.sh"
need_cmd python3
N=${KV_BENCH_CLIENTS:-2000}
ulimit -n 65536 2>/dev/null || true
kv_start_kvcore --save '' --maxclients 20000
command -v redis-server >/dev/null 2>&1 && kv_start_redis --maxclients 20000
for r in 1 2 3; do
    printf 'kvcore-server  '
    python3 tests/bench/kv_blocking.py "$KV_PORT" "$N"
    if [ -n "${REDIS_PORT:-}" ]; then
        printf 'redis-server   '
        python3 tests/bench/kv_blocking.py "$REDIS_PORT" "$N"
    fi
done
