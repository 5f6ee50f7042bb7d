#!/bin/sh
# SPDX-License-Identifier: MIT
# maxmemory: for each maxmemory-policy, a fresh kvcore-server with a 3 MB limit is filled
# with 2.5 times that in strings, hashes and sets (tests/kv/maxmemory_fill.py). With
# noeviction every key written before the limit keeps its exact value, writes then get
# exactly the OOM error while reads and DEL still work; eviction policies stay under the
# limit, count evicted_keys, and evict the right kind of keys (volatile-* never a key
# without a TTL). Also: the limit is also accepted with a unit and shown by INFO.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
[ -z "${MEMSHIM_SAN:-}" ] || skip "used memory is jemalloc's, and a sanitizer owns malloc"

rc=0
for policy in noeviction allkeys-lru volatile-lru allkeys-lfu volatile-lfu allkeys-random \
    volatile-random volatile-ttl; do
    kv_start_kvcore --save '' --maxmemory 3mb --maxmemory-policy "$policy"
    python3 tests/kv/maxmemory_fill.py "$KV_PORT" "$policy" 3145728 || rc=1
    kill "$KV_PID"
done

# CONFIG SET with units, INFO fields, and lowering the limit under a full keyspace.
kv_start_kvcore --save '' --enable-debug-command yes
redis-cli -p "$KV_PORT" config set maxmemory 2gb >/dev/null
got=$(redis-cli -p "$KV_PORT" config get maxmemory | tail -1)
[ "$got" = 2147483648 ] || { echo "FAIL config get maxmemory: $got"; rc=1; }
redis-cli -p "$KV_PORT" info memory | grep -q '^maxmemory_human:2.00G' ||
    { echo "FAIL maxmemory_human"; rc=1; }
redis-cli -p "$KV_PORT" debug populate 50000 k 100 >/dev/null
redis-cli -p "$KV_PORT" config set maxmemory-policy allkeys-random >/dev/null
redis-cli -p "$KV_PORT" config set maxmemory 2mb >/dev/null
redis-cli -p "$KV_PORT" ping >/dev/null
sleep 0.5 # the eviction timer finishes in the background
used=$(redis-cli -p "$KV_PORT" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
if [ -z "$used" ] || [ "$used" -gt $((2097152 + 65536)) ]; then
    echo "FAIL after lowering maxmemory to 2mb: used_memory $used"
    rc=1
fi
exit $rc
