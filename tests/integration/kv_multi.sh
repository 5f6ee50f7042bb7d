#!/bin/sh
# SPDX-License-Identifier: MIT
# Transactions through the real server (tests/kv/multi_load.py):
#  1. MULTI with 1,000,000 pipelined INCRs (100,000 under KV_SERVER_WRAPPER): every one
#     answers +QUEUED, CLIENT LIST shows multi=N, nothing runs before EXEC, EXEC replies
#     exactly :1 .. :N, and the queue's memory is given back (multi-mem=0, used_memory
#     back within 16 MB of where it started);
#  2. the queue counts against client-query-buffer-limit: at 1mb a client queuing without
#     end is disconnected (counted in client_query_buffer_limit_disconnections) and
#     nothing it queued ran;
#  3. 50 clients WATCH 10 keys each (two shared with an observer), open MULTI and queue
#     100 commands, then half close their sockets and half send QUIT: only the observer's
#     watches remain (INFO watching_clients, total_watched_keys, polled with a bound) and
#     still work.
# Under make valgrind / make asan the server's own leak and error checks (tests/lib.sh)
# cover what the disconnected clients left behind.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3

fail=0
n=1000000
[ -z "${KV_SERVER_WRAPPER:-}" ] || n=100000

kv_start_kvcore --save ''
base=$(kv_info "$KV_PORT" used_memory memory)
python3 tests/kv/multi_load.py "$KV_PORT" queue "$n" || fail=1
after=$(kv_info "$KV_PORT" used_memory memory)
echo "used_memory: $base before, $after after the $n-command transaction"
check "used_memory given back after EXEC" 1 "$([ "$after" -lt $((base + 16 * 1024 * 1024)) ] && echo 1 || echo 0)"
python3 tests/kv/multi_load.py "$KV_PORT" limit || fail=1
python3 tests/kv/multi_load.py "$KV_PORT" disconnect 50 || fail=1
kv_alive "$KV_PORT" || { echo "FAIL server not answering"; fail=1; }
exit $fail
