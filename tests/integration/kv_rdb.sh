#!/bin/sh
# SPDX-License-Identifier: MIT
# RDB snapshots between kvcore-server and Debian's redis-server 7.0, both directions:
# kvcore saves a dataset with every type and encoding (three databases, TTLs), the dump
# passes redis-check-rdb and redis-server loads it holding the same data key by key;
# DUMP payloads are byte-identical for the encodings both servers share; redis-server
# saves the same dataset and kvcore loads it. Then BGSAVE (INFO, LASTSAVE, the child's
# copy-on-write line), DEBUG RELOAD (same DEBUG DIGEST), SHUTDOWN SAVE and SIGTERM with
# save points (the data comes back after a restart), and a dump holding a stream: the
# server refuses to start and names the key and its type.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-check-rdb python3
need_built "$KV_BIN"
PY="python3 tests/kv/rdb_compare.py"
cli() { redis-cli -p "$@"; }

# --- kvcore -> redis-server ---
mkdir -p "$TMP/a" "$TMP/b" "$TMP/c" "$TMP/d"
kv_start_kvcore --enable-debug-command yes --dir "$TMP/a"
KA=$KV_PORT
$PY fill "$KA" || fail "fill kvcore"
[ "$(cli "$KA" save)" = OK ] || fail "SAVE"
redis-check-rdb "$TMP/a/dump.rdb" >"$TMP/check.out" 2>&1
grep -q "RDB looks OK" "$TMP/check.out" || fail "redis-check-rdb: $(cat "$TMP/check.out")"
kv_start_redis --enable-debug-command yes --dir "$TMP/a"
RA=$REDIS_PORT
$PY same "$KA" "$RA" || fail "redis-server holds other data than kvcore saved"
$PY dumps "$KA" "$RA" || fail "DUMP payloads differ"
[ "$(cli "$KA" debug digest)" = "$(cli "$RA" debug digest)" ] || fail "DEBUG DIGEST differs"
echo "ok: kvcore -> redis-server"

# --- redis-server -> kvcore ---
kv_start_redis --enable-debug-command yes --dir "$TMP/b"
RB=$REDIS_PORT
$PY fill "$RB" || fail "fill redis"
[ "$(cli "$RB" save)" = OK ] || fail "redis SAVE"
kv_start_kvcore --enable-debug-command yes --dir "$TMP/b"
KB=$KV_PORT
grep -q "Done loading RDB, keys loaded: " "$TMP/kvcore.$KB.log" || fail "no load line"
$PY same "$RB" "$KB" || fail "kvcore holds other data than redis-server saved"
[ "$(kv_info "$KB" rdb_last_load_keys_loaded)" -gt 0 ] || fail "rdb_last_load_keys_loaded"
echo "ok: redis-server -> kvcore"

# --- BGSAVE, LASTSAVE, INFO ---
# Not under valgrind (KV_SERVER_WRAPPER): the child exits without freeing the dataset, and
# memcheck counts every raw string as lost (objects hold their pointers unaligned).
if [ -z "${KV_SERVER_WRAPPER:-}" ]; then
before=$(cli "$KA" lastsave)
[ "$(cli "$KA" bgsave)" = "Background saving started" ] || fail "BGSAVE reply"
bg_done() { [ "$(kv_info "$KA" rdb_bgsave_in_progress)" = 0 ]; }
wait_for 300 0.1 bg_done || fail "BGSAVE never finished"
[ "$(kv_info "$KA" rdb_last_bgsave_status)" = ok ] || fail "bgsave status"
[ "$(kv_info "$KA" rdb_saves)" -ge 2 ] || fail "rdb_saves"
[ "$(cli "$KA" lastsave)" -ge "$before" ] || fail "LASTSAVE"
grep -q "Background saving terminated with success" "$TMP/kvcore.$KA.log" || fail "bg log"
grep -q "Fork CoW for RDB: current" "$TMP/kvcore.$KA.log" || fail "CoW log line"
kv_info "$KA" rdb_last_cow_size | grep -Eq '^[0-9]+$' || fail "rdb_last_cow_size"
[ "$(kv_info "$KA" rdb_last_bgsave_time_sec)" -ge 0 ] || fail "rdb_last_bgsave_time_sec"
out=$(cli "$KA" bgsave nosuch)
[ "$out" = "ERR syntax error" ] || fail "BGSAVE nosuch: $out"
ls "$TMP/a"/temp-*.rdb >/dev/null 2>&1 && fail "a temp file was left behind"
echo "ok: BGSAVE"
fi

# --- DEBUG RELOAD keeps the digest ---
d1=$(cli "$KA" debug digest)
[ "$(cli "$KA" debug reload)" = OK ] || fail "DEBUG RELOAD"
[ "$(cli "$KA" debug digest)" = "$d1" ] || fail "DEBUG RELOAD changed the digest"
echo "ok: DEBUG RELOAD"

# --- SHUTDOWN SAVE, SIGTERM with save points ---
kv_start_kvcore --enable-debug-command yes --dir "$TMP/c"
$PY fill "$KV_PORT" || fail "fill"
d1=$(cli "$KV_PORT" debug digest)
cli "$KV_PORT" shutdown save >/dev/null 2>&1
wait "$KV_PID" 2>/dev/null
untrack_pid "$KV_PID"
kv_start_kvcore --enable-debug-command yes --dir "$TMP/c"
[ "$(cli "$KV_PORT" debug digest)" = "$d1" ] || fail "SHUTDOWN SAVE lost data"
stop_pid "$KV_PID"
kv_start_kvcore --dir "$TMP/d" --save "3600 1"
cli "$KV_PORT" set survivor yes >/dev/null
kill -TERM "$KV_PID"
wait "$KV_PID" 2>/dev/null
untrack_pid "$KV_PID"
grep -q "Saving the final RDB snapshot before exiting." "$TMP/kvcore.$KV_PORT.log" ||
    fail "SIGTERM did not save"
kv_start_kvcore --dir "$TMP/d"
[ "$(cli "$KV_PORT" get survivor)" = yes ] || fail "SIGTERM save lost the key"
stop_pid "$KV_PID"
echo "ok: SHUTDOWN SAVE and SIGTERM"

# --- a type kvcore cannot hold stops the start ---
mkdir -p "$TMP/e"
kv_start_redis --dir "$TMP/e"
cli "$REDIS_PORT" set plain 1 >/dev/null
cli "$REDIS_PORT" xadd events '*' f v >/dev/null
[ "$(cli "$REDIS_PORT" save)" = OK ] || fail "redis SAVE"
port=$(free_port)
"$KV_BIN" --port "$port" --dir "$TMP/e" >"$TMP/stream.log" 2>&1 &
pid=$!
track_pid "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 100 0.1 gone || fail "kvcore started with a stream in its dump"
wait "$pid"
rc=$?
untrack_pid "$pid"
[ "$rc" -ne 0 ] || fail "exit status 0 after a failed load"
grep -q "Can't load key 'events' of type stream" "$TMP/stream.log" ||
    fail "load error does not name the key: $(tail -3 "$TMP/stream.log")"
echo "ok: a stream is refused by name"

# --- a big file's load logs its progress at each tenth (by bytes, so always the same) ---
mkdir -p "$TMP/f"
kv_start_kvcore --enable-debug-command yes --dir "$TMP/f" --rdbcompression no
[ "$(cli "$KV_PORT" debug populate 300000 key 64)" = OK ] || fail "POPULATE"
[ "$(cli "$KV_PORT" save)" = OK ] || fail "SAVE of 300000 keys"
stop_pid "$KV_PID"
size=$(stat -c %s "$TMP/f/dump.rdb")
[ "$size" -ge 16777216 ] || fail "dump of $size bytes: too small for progress lines"
kv_start_kvcore --dir "$TMP/f"
log="$TMP/kvcore.$KV_PORT.log"
[ "$(grep -c 'Loading RDB: [0-9]* keys loaded, [0-9]*% of the file read' "$log")" -eq 9 ] ||
    fail "progress lines: $(grep 'Loading RDB:' "$log")"
pcts=$(sed -n 's/.*Loading RDB: [0-9]* keys loaded, \([0-9]*\)% of the file read/\1/p' "$log" |
    tr '\n' ' ')
[ "$pcts" = "10 20 30 40 50 60 70 80 90 " ] || fail "progress steps: $pcts"
[ "$(cli "$KV_PORT" dbsize)" = 300000 ] || fail "keys after the load"
stop_pid "$KV_PID"
echo "ok: load progress lines"
# --- FLUSHALL with save points saves the empty dataset and clears the change count ---
mkdir -p "$TMP/g"
kv_start_kvcore --dir "$TMP/g" --save "900 1"
cli "$KV_PORT" set a 1 >/dev/null
cli "$KV_PORT" set b 2 >/dev/null
[ "$(kv_info "$KV_PORT" rdb_changes_since_last_save persistence)" = 2 ] ||
    fail "changes before FLUSHALL"
[ "$(cli "$KV_PORT" flushall)" = OK ] || fail "FLUSHALL"
[ "$(kv_info "$KV_PORT" rdb_changes_since_last_save persistence)" = 0 ] ||
    fail "rdb_changes_since_last_save after FLUSHALL with save points:" \
        "$(kv_info "$KV_PORT" rdb_changes_since_last_save persistence) (redis-server: 0)"
[ -s "$TMP/g/dump.rdb" ] || fail "FLUSHALL with save points wrote no dump"
stop_pid "$KV_PID"
echo "ok: FLUSHALL with save points"
echo "RDB checks ok"
