#!/bin/sh
# SPDX-License-Identifier: MIT
# HyperLogLog between kvcore-server and Debian's redis-server (tests/kv/hll_exchange.py):
# values made by one server (sparse and dense) work on the other through GET/SET and
# DUMP/RESTORE with the same counts, replies and bytes; DEBUG DIGEST-VALUE agrees; PFADD
# and PFMERGE publish "pfadd"; a PFCOUNT that refreshes the cache fails a WATCH. The
# command-by-command comparison is tests/kv_corpus/hll.txt (kv_differential).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
kv_start_kvcore --enable-debug-command yes --save ''
kv_start_redis --enable-debug-command yes
python3 tests/kv/hll_exchange.py "$KV_PORT" "$REDIS_PORT"
