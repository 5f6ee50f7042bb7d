#!/bin/sh
# SPDX-License-Identifier: MIT
# 10,000-command pipelines on kvcore-server: 16 clients at once, each writing 10,000
# SETs, then 10,000 GETs, then 10,000 DELs as single pipelines (every reply checked),
# then one client with a 100,000-command pipeline; a checker client verifies its own
# keys throughout. Afterwards the query and reply buffers are given back (used_memory
# returns to its level before, within 8 MB) and the load's keys are all gone.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
stress_need_load
kv_start_kvcore --enable-debug-command yes
checker_start
sleep 1
used0=$(kv_info "$KV_PORT" used_memory)
fail=0
out=$("$KV_LOAD" "$KV_PORT" pipeline 16 10000) || fail=1
echo "16 clients x 10,000-command pipelines: $out"
out=$("$KV_LOAD" "$KV_PORT" pipeline 1 100000) || fail=1
echo "1 client x 100,000-command pipelines: $out"
checker_stop || fail=1
sleep 3 # the cron gives back idle query buffers after 2 s
keys=$(redis-cli -p "$KV_PORT" dbsize)
used1=$(kv_info "$KV_PORT" used_memory)
echo "db0 keys after: $keys; used_memory before $used0, after $used1"
[ "$keys" = 0 ] || { echo "FAIL: load keys left"; fail=1; }
[ $((used1 - used0)) -lt $((8 * 1024 * 1024)) ] || { echo "FAIL: memory not given back"; fail=1; }
kv_alive "$KV_PORT" || { echo "FAIL: server gone"; fail=1; }
exit $fail
