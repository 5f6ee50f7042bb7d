#!/bin/sh
# SPDX-License-Identifier: MIT
# kv_aof_truncated: start-up on a damaged append-only file. A command torn at the end of
# the last file is dropped with a log line and the file cut back (aof-load-truncated yes,
# the default), after which redis-check-aof accepts it; with aof-load-truncated no the
# server refuses to start and says why. Garbage in the middle of a file and a manifest
# line of an unknown type stop the start-up with a clear error whatever the setting.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli
fail=0
d=$TMP/aof
mkdir -p "$d"
incr=$d/appendonlydir/appendonly.aof.1.incr.aof
manifest=$d/appendonlydir/appendonly.aof.manifest

# start_fails LOG ARGS...: the server must exit non-zero during start-up (bounded wait).
start_fails() {
    log=$1
    shift
    "$KV_BIN" --bind 127.0.0.1 --port "$(free_port)" --dir "$d" --appendonly yes --save '' \
        "$@" >"$log" 2>&1 &
    p=$!
    track_pid "$p"
    wait_for 200 0.1 sh -c "! kill -0 $p 2>/dev/null" || { echo "FAIL server still running"; fail=1; }
    untrack_pid "$p"
    wait "$p"
    rc=$?
    [ "$rc" -ne 0 ] || { echo "FAIL server exited 0"; fail=1; }
}

kv_start_kvcore --dir "$d" --appendonly yes --save ''
for k in k1 k2 k3; do redis-cli -p "$KV_PORT" set "$k" "v$k" >/dev/null; done
stop_pid "$KV_PID"
good_size=$(wc -c <"$incr")

# A torn last command, aof-load-truncated yes: dropped, logged, file cut back.
printf '*3\r\n$3\r\nSET\r\n$2\r\nk4\r\n$3\r\nvk' >>"$incr"
kv_start_kvcore --dir "$d" --appendonly yes --save ''
check "keys before the torn command" "vk1 vk2 vk3" \
    "$(redis-cli -p "$KV_PORT" mget k1 k2 k3 | tr '\n' ' ' | sed 's/ $//')"
check "torn command dropped" 0 "$(redis-cli -p "$KV_PORT" exists k4)"
check "log says loaded anyway" 1 \
    "$(grep -c 'loaded anyway because aof-load-truncated is enabled' "$TMP/kvcore.$KV_PORT.log")"
check "file cut to the last command" "$good_size" "$(wc -c <"$incr")"
redis-cli -p "$KV_PORT" set k5 v5 >/dev/null
stop_pid "$KV_PID"
if command -v redis-check-aof >/dev/null 2>&1; then
    check "redis-check-aof after the cut" 1 \
        "$(redis-check-aof "$manifest" 2>&1 | grep -c 'All AOF files and manifest are valid')"
fi

# aof-load-truncated no: refused, with the reason.
printf '*2\r\n$3\r\nDEL\r\n$2\r\nk' >>"$incr"
start_fails "$TMP/notrunc.log" --aof-load-truncated no
check "refused torn end" 1 "$(grep -c 'Unexpected end of file reading the append only file' "$TMP/notrunc.log")"
kv_start_kvcore --dir "$d" --appendonly yes --save ''
check "k5 kept" v5 "$(redis-cli -p "$KV_PORT" get k5)"
stop_pid "$KV_PID"

# Garbage in the middle: never loaded.
cp "$incr" "$TMP/incr.bak"
{
    printf 'garbage\r\n'
    printf '*3\r\n$3\r\nSET\r\n$2\r\nk6\r\n$2\r\nv6\r\n'
} >>"$incr"
start_fails "$TMP/corrupt.log"
check "corruption reported" 1 "$(grep -c 'Bad file format reading the append only file' "$TMP/corrupt.log")"
cp "$TMP/incr.bak" "$incr"

# A manifest line of an unknown type.
cp "$manifest" "$TMP/manifest.bak"
echo "file appendonly.aof.9.incr.aof seq 9 type z" >>"$manifest"
start_fails "$TMP/manifest.log"
check "bad manifest reported" 1 "$(grep -c 'Unknown AOF file type in the manifest' "$TMP/manifest.log")"
cp "$TMP/manifest.bak" "$manifest"
kv_start_kvcore --dir "$d" --appendonly yes --save ''
check "restored files load" "vk1 v5" "$(redis-cli -p "$KV_PORT" mget k1 k5 | tr '\n' ' ' | sed 's/ $//')"
exit $fail
