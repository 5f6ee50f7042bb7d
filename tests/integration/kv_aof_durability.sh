#!/bin/sh
# SPDX-License-Identifier: MIT
# kv_aof_durability: kvcore-server killed with SIGKILL under a write load (4 connections,
# each SET one key at a time and records what was acknowledged), then restarted from its
# append-only file. appendfsync always: every acknowledged write must be there (0 lost).
# appendfsync everysec: the loss is reported and must stay under 3 s of writes (the
# promise is about one second; the bound leaves room for a slow fsync on a loaded host).
# The kill happens once the load ran 3 s and at least 1000 writes were acknowledged.
. "$(dirname "$0")/../lib.sh"
need_sys_python
fail=0

run_policy() { # policy
    dir=$TMP/$1
    mkdir -p "$dir"
    kv_start_kvcore --dir "$dir" --appendonly yes --appendfsync "$1" --save ''
    pid=$KV_PID
    $py tests/kv/aof_durability.py load "$KV_PORT" "$pid" "$TMP/$1.json" ||
        fail "$1: the load failed"
    wait_for 100 0.1 sh -c "! kill -0 $pid 2>/dev/null" || fail "$1: server survived SIGKILL"
    untrack_pid "$pid"
    kv_start_kvcore --dir "$dir" --appendonly yes --appendfsync "$1" --save ''
    out=$($py tests/kv/aof_durability.py verify "$KV_PORT" "$TMP/$1.json") ||
        fail "$1: verify failed"
    echo "$out"
    stop_pid "$KV_PID"
    lost=$(echo "$out" | sed -n 's/^lost=\([0-9]*\) lost_ms=[0-9]*$/\1/p')
    lost_ms=$(echo "$out" | sed -n 's/^lost=[0-9]* lost_ms=\([0-9]*\)$/\1/p')
    [ -n "$lost" ] && [ -n "$lost_ms" ] || fail "$1: no summary line"
}

run_policy always
check "always: acknowledged writes lost" 0 "$lost"

run_policy everysec
echo "everysec: $lost acknowledged writes lost, $lost_ms ms of writes"
[ "$lost_ms" -lt 3000 ] || { echo "FAIL everysec lost $lost_ms ms of writes (bound 3000)"; fail=1; }
exit $fail
