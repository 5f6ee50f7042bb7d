#!/bin/sh
# SPDX-License-Identifier: MIT
# list-compress-depth against Debian's redis-server: seeded random walks of every list
# command on compressed lists at depths 1, 2 and 3 (tests/kv/list_random.py) must answer
# byte-identically, digest the same and survive DEBUG RELOAD; then RDB files cross over:
# kvcore's snapshot with compressed nodes passes redis-check-rdb and loads into
# redis-server with the same digests, and redis-server's loads into kvcore-server.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-check-rdb python3
kv_start_kvcore --enable-debug-command yes --save ''
kv_start_redis --enable-debug-command yes
fail=0
for run in "1 1 4" "2 2 4" "3 1 -1" "4 3 2"; do
    # shellcheck disable=SC2086
    python3 tests/kv/list_random.py "$KV_PORT" "$REDIS_PORT" 6000 $run || fail=1
done

digests() { # port: the digest of each list key
    for k in l0 l1 l2; do redis-cli -p "$1" debug digest-value "$k"; done | tr '\n' ' '
}

# kvcore's snapshot (compressed nodes written as LZF strings) read by Redis's tools.
# Both servers write $TMP/dump.rdb (dbfilename is a protected config): each SAVE is copied.
kv_digests=$(digests "$KV_PORT")
check "kvcore SAVE" OK "$(redis-cli -p "$KV_PORT" save)"
cp "$TMP/dump.rdb" "$TMP/kv.rdb"
check "redis-check-rdb accepts kvcore's compressed lists" 0 \
    "$(redis-check-rdb "$TMP/kv.rdb" >"$TMP/check.log" 2>&1; echo $?)"
R1=$REDIS_PORT
kv_start_redis --enable-debug-command yes --dbfilename kv.rdb
check "redis-server loads kvcore's compressed lists" "$kv_digests" "$(digests "$REDIS_PORT")"

# And back: redis-server's snapshot of compressed lists loaded by kvcore-server.
redis_digests=$(digests "$R1")
check "redis-server SAVE" OK "$(redis-cli -p "$R1" save)"
cp "$TMP/dump.rdb" "$TMP/redis.rdb"
kv_start_kvcore --enable-debug-command yes --list-compress-depth 1 --list-max-listpack-size 2 \
    --dbfilename redis.rdb
check "kvcore loads redis-server's compressed lists" "$redis_digests" "$(digests "$KV_PORT")"
compressed=0
for k in l0 l1 l2; do
    redis-cli -p "$KV_PORT" debug object "$k" | grep -q 'ql_compressed:1' && compressed=$((compressed + 1))
done
echo "lists loaded compressed: $compressed of 3"
check "the loaded lists are compressed" true "$([ "$compressed" -gt 0 ] && echo true)"
exit $fail
