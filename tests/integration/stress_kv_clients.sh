#!/bin/sh
# SPDX-License-Identifier: MIT
# 1,000 concurrent clients on kvcore-server: all connected at the same time (INFO
# connected_clients counts them while they are held), then 200 rounds each of pipelined
# SET/GET/INCR/DEL with every reply checked (tests/helpers/kv_load), twice; a checker
# client verifies its own keys throughout (tests/kv/checker.py). Loopback only.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
stress_need_load
N=${STRESS_CLIENTS:-1000}
# Each client is a descriptor in this shell's children and in the server.
ulimit -n $((N * 2 + 256)) 2>/dev/null || [ "$(ulimit -n)" -gt $((N + 100)) ] ||
    skip "cannot raise the open-file limit to $((N * 2 + 256))"
kv_start_kvcore --maxclients $((N + 100)) --tcp-backlog 1024 --enable-debug-command yes
checker_start
fail=0
for run in 1 2; do
    out=$("$KV_LOAD" "$KV_PORT" clients "$N" 200) || fail=1
    echo "run $run: $out"
    held=$(echo "$out" | sed -n 's/.*server_connected_clients=\([0-9-]*\).*/\1/p')
    # The load's N, the checker and the INFO connection itself.
    [ "${held:-0}" -ge $((N + 1)) ] || { echo "FAIL: server counted ${held:-?} clients"; fail=1; }
done
checker_stop || fail=1
kv_alive "$KV_PORT" || { echo "FAIL: server gone"; fail=1; }
echo "rejected_connections=$(kv_info "$KV_PORT" rejected_connections)" \
    "connected_clients_after=$(kv_info "$KV_PORT" connected_clients)"
[ "$(kv_info "$KV_PORT" rejected_connections)" = 0 ] || fail=1
exit $fail
