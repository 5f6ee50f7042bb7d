#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore's per-key memory through the process: key:<n> with a 16-byte value is one 32-byte
# object (MEMORY USAGE), 48 with a TTL; the TTL index costs 8 bytes a key (MEMORY STATS
# overhead.hashtable.expires, at most one spare 1024-slot chunk and the directory more);
# used_memory per key for 100 000 such keys, one in ten with a TTL, stays below 52 B and TTLs still expire, persist and survive DEBUG RELOAD. A hash of 10 fields
# field<j> -> value<j> under hash:12345 is one 160-byte block (its pack inside the object,
# OBJECT ENCODING listpack) that shrinks with HDEL and moves as it grows, keeping its TTL
# (it still expires) and its contents across DEBUG RELOAD. Numbers are jemalloc's size
# classes: skipped when a sanitizer owns malloc.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
[ -z "${MEMSHIM_SAN:-}" ] || skip "size classes are jemalloc's, and a sanitizer owns malloc"
N=100000
fail=0
kv_start_kvcore --enable-debug-command yes --save ''
cli() { redis-cli -p "$KV_PORT" "$@"; }

python3 - "$N" >"$TMP/load.resp" <<'PY'
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"key:%d" % i
    if i % 10 == 0:
        out.write(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\nv%015d\r\n$2\r\nEX\r\n$6\r\n100000\r\n"
                  % (len(k), k, i))
    else:
        out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\nv%015d\r\n" % (len(k), k, i))
PY
kv_settle "$KV_PORT"
before=$(kv_info "$KV_PORT" used_memory memory)
cli --pipe <"$TMP/load.resp" >/dev/null
kv_settle "$KV_PORT"
after=$(kv_info "$KV_PORT" used_memory memory)
check "dbsize" "$N" "$(cli dbsize)"
check "keys with a TTL" "db0:keys=$N,expires=$((N / 10))" \
    "$(kv_info "$KV_PORT" db0 keyspace | sed 's/^/db0:/; s/,avg_ttl=.*//')"
check "no TTL: one 32-byte object" 32 "$(cli memory usage key:12345)"
check "TTL: one 48-byte object" 48 "$(cli memory usage key:12340)"
expires=$(cli memory stats | grep -A1 -x 'overhead.hashtable.expires' | tail -1)
check "TTL index: 8 B a key, one spare chunk at most" ok \
    "$(awk -v b="$expires" -v n=$((N / 10)) 'BEGIN {
        print (b >= n * 8 && b <= n * 8 + 1024 * 8 + 64 * 8 + 64) ? "ok" : b }')"
per_key=$(echo "$before $after" | awk -v n="$N" '{ printf "%.1f", ($2 - $1) / n }')
echo "used_memory per key: $per_key B"
check "used_memory per key below 52 B" ok "$(awk -v v="$per_key" 'BEGIN {print v < 52 ? "ok" : v}')"

# TTLs behave: EXPIRE on a key without a TTL section moves it into the index, PERSIST
# takes it out, a short TTL expires, DEBUG RELOAD keeps them.
check "expire" 1 "$(cli expire key:12345 1000)"
check "ttl" 1000 "$(cli ttl key:12345)"
check "persist" 1 "$(cli persist key:12340)"
check "ttl after persist" -1 "$(cli ttl key:12340)"
check "pexpire" 1 "$(cli pexpire key:1 50)"
sleep 0.2
check "expired" 0 "$(cli exists key:1)"
check "reload" OK "$(cli debug reload)"
check "keys with a TTL after reload" "db0:keys=$((N - 1)),expires=$((N / 10))" \
    "$(kv_info "$KV_PORT" db0 keyspace | sed 's/^/db0:/; s/,avg_ttl=.*//')"
check "ttl after reload" 1 "$(cli ttl key:12345 | awk '{print ($1 > 990 && $1 <= 1000)}')"

# Small hashes: header 4, key 1 + 10, pair count 1, 10 x (1 + 6) x 2 = 156 -> 160.
h10=""
for j in 0 1 2 3 4 5 6 7 8 9; do h10="$h10 field$j value$j"; done
check "hset" 10 "$(cli hset hash:12345 $h10)"
check "small hash: one 160-byte block" 160 "$(cli memory usage hash:12345)"
check "small hash encoding" listpack "$(cli object encoding hash:12345)"
check "hdel" 3 "$(cli hdel hash:12345 field0 field5 field9)"
check "after HDEL: 114 bytes -> 128" 128 "$(cli memory usage hash:12345)"
check "hget after hdel" value6 "$(cli hget hash:12345 field6)"
check "expire on a small hash" 1 "$(cli expire hash:12345 1000)"
check "grow it: it moves" 5 "$(cli hset hash:12345 a 1 b 2 c 3 d 4 e 5)"
check "ttl after moving" 1 "$(cli ttl hash:12345 | awk '{print ($1 > 990 && $1 <= 1000)}')"
check "hincrby" 100003 "$(cli hincrby hash:12345 c 100000)"
check "reload" OK "$(cli debug reload)"
check "hgetall after reload" "field1 value1 field2 value2 field3 value3 field4 value4 field6 value6 field7 value7 field8 value8 a 1 b 2 c 100003 d 4 e 5" \
    "$(cli hgetall hash:12345 | tr '\n' ' ' | sed 's/ $//')"
check "pexpire on a small hash" 1 "$(cli pexpire hash:12345 50)"
check "and it moves again" 1 "$(cli hset hash:12345 longer-field a-longer-value-than-the-others)"
sleep 0.2
check "the moved hash expired" 0 "$(cli exists hash:12345)"
exit $fail
