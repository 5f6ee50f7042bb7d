#!/bin/sh
# SPDX-License-Identifier: MIT
# Blocking commands with several clients (tests/kv/blocking.py): FIFO wake-up, the key
# that became ready, keys of another type, BLMOVE chains and a wrong destination, the
# BLMPOP/BZMPOP/BZPOPMIN reply shapes, timeouts (bounded), CLIENT UNBLOCK, disconnecting
# while blocked, input pipelined behind a blocked command, SELECT/SWAPDB/FLUSHALL and keys
# made by RENAME/COPY/RESTORE, MULTI, a key expired by the time it is served, RESP3
# replies (served and timed out), 10000 keys, 300 clients. Every scenario runs on
# kvcore-server and on redis-server and their transcripts must be byte-identical; then
# kvcore's INFO must show no blocked client left. Last, pops served to blocked clients go
# to the append-only file as Redis 7.0 writes them (LPOP, LMOVE, ZPOPMAX ... never the
# blocking form) and a restart from it gives the same DEBUG DIGEST.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-server redis-cli python3
kv_start_kvcore --save '' --enable-debug-command yes
kv_start_redis --enable-debug-command yes
python3 tests/kv/blocking.py "$KV_PORT" "$REDIS_PORT" || fail "blocking scenarios"
[ "$(kv_info "$KV_PORT" blocked_clients clients)" = 0 ] || fail "blocked clients left"
[ "$(kv_info "$KV_PORT" clients_in_timeout_table clients)" = 0 ] || fail "timeouts left"

d=$TMP/aof
mkdir -p "$d"
kv_start_kvcore --dir "$d" --appendonly yes --save '' --enable-debug-command yes
python3 tests/kv/blocking.py --aof-workload "$KV_PORT" || fail "AOF workload"
want=$(redis-cli -p "$KV_PORT" debug digest)
incr=$d/appendonlydir/appendonly.aof.1.incr.aof
for w in LPOP LMOVE ZPOPMAX ZPOPMIN RPOP; do
    grep -q "^$w" "$incr" || fail "no $w in the AOF"
done
if grep -Eq '^(BLPOP|BRPOP|BLMOVE|BRPOPLPUSH|BLMPOP|BZPOPMIN|BZPOPMAX|BZMPOP|LMPOP|ZMPOP)' "$incr"; then
    fail "a blocking or MPOP form in the AOF"
fi
stop_pid "$KV_PID"
kv_start_kvcore --dir "$d" --appendonly yes --save '' --enable-debug-command yes
[ "$(redis-cli -p "$KV_PORT" debug digest)" = "$want" ] || fail "digest after restart"
