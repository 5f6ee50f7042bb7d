#!/bin/sh
# SPDX-License-Identifier: MIT
# Publish/subscribe under load through real sockets (tests/kv/pubsub_load.py): a client
# subscribed to 100k patterns (exact counts, delivery to the one matching pattern, the
# PUNSUBSCRIBE replies, a disconnect that leaves nothing), and a subscriber that never
# reads while another client publishes 200 MB: a third client is answered throughout, the
# slow one is dropped by client-output-buffer-limit pubsub (logged and counted) and used
# memory comes back. redis-cli SUBSCRIBE receives a PUBLISH. Under valgrind the volumes
# are smaller; under a sanitizer or valgrind the used_memory checks are left out (jemalloc
# does not own malloc there).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
patterns=100000
megabytes=200
if [ -n "${KV_SERVER_WRAPPER:-}" ]; then
    patterns=10000
    megabytes=64
fi
if [ -n "${KV_SERVER_WRAPPER:-}" ] || [ "${MEMSHIM_SAN:-}" = 1 ]; then
    export PUBSUB_LOAD_NO_MEMORY=1
fi
kv_start_kvcore --save ''
fail=0

python3 tests/kv/pubsub_load.py "$KV_PORT" patterns "$patterns" || fail=1
python3 tests/kv/pubsub_load.py "$KV_PORT" slow "$megabytes" || fail=1
grep -q "scheduled to be closed ASAP for overcoming of output buffer limits" \
    "$TMP/kvcore.$KV_PORT.log" || { echo "FAIL no output-limit log line"; fail=1; }

# redis-cli in subscribed mode gets what another client publishes.
redis-cli -p "$KV_PORT" subscribe cli.chan >"$TMP/sub.out" 2>&1 &
sub_pid=$!
track_pid "$sub_pid"
subscribed() { [ "$(redis-cli -p "$KV_PORT" pubsub numsub cli.chan | tail -1)" = 1 ]; }
wait_for 100 0.1 subscribed || { echo "FAIL redis-cli did not subscribe"; fail=1; }
check "PUBLISH to redis-cli" 1 "$(redis-cli -p "$KV_PORT" publish cli.chan hello-cli)"
got_message() { grep -q '^hello-cli$' "$TMP/sub.out"; }
wait_for 100 0.1 got_message || { echo "FAIL redis-cli did not print the message"; fail=1; }
stop_pid "$sub_pid"
gone() { [ "$(redis-cli -p "$KV_PORT" pubsub numsub cli.chan | tail -1)" = 0 ]; }
wait_for 100 0.1 gone || { echo "FAIL the closed subscriber's channel stayed"; fail=1; }
check "server alive" PONG "$(redis-cli -p "$KV_PORT" ping)"
exit $fail
