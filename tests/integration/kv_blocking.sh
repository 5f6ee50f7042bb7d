#!/bin/sh
# SPDX-License-Identifier: MIT
# Blocking commands with several clients (tests/kv/blocking.py): FIFO wake-up, the key
# that became ready, keys of another type, BLMOVE chains and a wrong destination, the
# BLMPOP/BZMPOP/BZPOPMIN reply shapes, timeouts (bounded), CLIENT UNBLOCK, disconnecting
# while blocked, input pipelined behind a blocked command, SELECT/SWAPDB/FLUSHALL/RENAME/
# COPY, MULTI (when kvcore has it), 10000 keys, 300 clients. Every scenario runs on
# kvcore-server and on redis-server and their transcripts must be byte-identical; then
# kvcore's INFO must show no blocked client left.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-server redis-cli python3
kv_start_kvcore --save ''
kv_start_redis
python3 tests/kv/blocking.py "$KV_PORT" "$REDIS_PORT" || fail "blocking scenarios"
[ "$(kv_info "$KV_PORT" blocked_clients clients)" = 0 ] || fail "blocked clients left"
[ "$(kv_info "$KV_PORT" clients_in_timeout_table clients)" = 0 ] || fail "timeouts left"
