#!/bin/sh
# SPDX-License-Identifier: MIT
# Random differential walk over hash and set commands (tests/kv/agg_random.py): the same
# seeded stream of valid and invalid HSET..HSCAN / SADD..SSCAN commands, under small
# conversion limits so keys cross encodings often, goes to kvcore-server and Debian's
# redis-server; replies must match (as multisets where the order is the encoding's, by
# shape where they are random), and so must every key's content at the end.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
kv_start_kvcore --save ''
kv_start_redis
rc=0
for seed in 1 2 3; do
    python3 tests/kv/agg_random.py "$KV_PORT" "$REDIS_PORT" 15000 "$seed" || rc=1
done
exit $rc
