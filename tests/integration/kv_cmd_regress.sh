#!/bin/sh
# SPDX-License-Identifier: MIT
# Commands that once crashed kvcore-server or put a connection out of step (COMMAND,
# MEMORY STATS, DEBUG POPULATE/SLEEP with absurd input, CONFIG SET of protected and path
# configs), each checked by tests/kv/cmd_regress.py's strict RESP parser with a pipelined
# PING behind it, and compared byte for byte with redis-server 7 where it is installed.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3

# An address-space limit, so that a server which regressed into allocating without
# bound for DEBUG POPULATE fails with an error instead of exhausting the machine.
# Sanitizer and valgrind runs (MEMSHIM_SAN) reserve huge shadow mappings: no limit there.
[ -n "${MEMSHIM_SAN:-}" ] || ulimit -v 8388608
kv_start_kvcore --enable-debug-command yes
rport=
if command -v redis-server >/dev/null 2>&1; then
    kv_start_redis --enable-debug-command yes
    rport=$REDIS_PORT
fi
py="$(dirname "$0")/../kv/cmd_regress.py"
python3 "$py" "$KV_PORT" "$rport" || rc=1

# enable-protected-configs yes: CONFIG SET dir/dbfilename allowed, with Redis's checks.
mkdir -p "$TMP/kvdir/sub" "$TMP/rdir/sub"
kv_start_kvcore --enable-protected-configs yes --dir "$TMP/kvdir"
rport=
if command -v redis-server >/dev/null 2>&1; then
    kv_start_redis --enable-protected-configs yes --dir "$TMP/rdir"
    rport=$REDIS_PORT
fi
python3 "$py" "$KV_PORT" "$rport" config_open || rc=1
exit ${rc:-0}
