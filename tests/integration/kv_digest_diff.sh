#!/bin/sh
# SPDX-License-Identifier: MIT
# DEBUG DIGEST and DEBUG DIGEST-VALUE against Debian's redis-server: the same seeded
# keyspace (every type in its compact and big encodings, integer and binary elements,
# edge-case scores, TTLs, three databases) must digest byte-identically on both servers,
# key by key and as a whole, before and after every key changed in place
# (tests/kv/digest_diff.py).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
kv_start_kvcore --enable-debug-command yes --save ''
kv_start_redis --enable-debug-command yes
rc=0
for seed in 1 2 3; do
    python3 tests/kv/digest_diff.py "$KV_PORT" "$REDIS_PORT" "$seed" || rc=1
done
exit $rc
