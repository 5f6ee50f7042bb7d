#!/bin/sh
# SPDX-License-Identifier: MIT
# A dump from a program that is not ours: Debian's redis-server (PIE, stripped, linked
# against Debian's libjemalloc) started with MALLOC_CONF=prof:true and filled with 200000
# keys, dumping at exit. heapprof must read it, name redis' own functions from its dynamic
# symbol table through the PIE load bias, and agree with jeprof on the top entry and total.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_cmd redis-server
need_cmd redis-cli
need_cmd python3

port=$(free_port)
env MALLOC_CONF="prof:true,prof_final:true,lg_prof_sample:16,prof_prefix:$TMP/redis" \
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --enable-debug-command yes --dir "$TMP" --logfile "$TMP/redis.log" &
pid=$!
track_pid "$pid"
i=0
until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "redis-server did not start: $(cat "$TMP/redis.log")"
    kill -0 "$pid" 2>/dev/null || fail "redis-server exited: $(cat "$TMP/redis.log")"
    sleep 0.05
done
redis-cli -p "$port" debug populate 200000 key 32 >/dev/null || fail "debug populate"
[ "$(redis-cli -p "$port" dbsize)" = 200000 ] || fail "dbsize is not 200000"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
wait "$pid"
untrack_pid "$pid"
set -- "$TMP"/redis.*.f.heap
[ -f "$1" ] || fail "redis-server left no final dump (is its jemalloc built with prof?): $(ls "$TMP")"
dump=$1
grep -q 'r-xp.* /usr/bin/redis' "$dump" || fail "the dump does not map redis' executable"

"$HP" top "$dump" >"$TMP/top.txt" 2>"$TMP/top.err" || fail "heapprof top exited $?: $(cat "$TMP/top.err")"
# redis' allocation wrappers and callers come from its .dynsym (the binary is stripped).
for f in zmalloc main; do
    grep -q " $f\$" "$TMP/top.txt" || fail "'$f' not named:
$(head -n 12 "$TMP/top.txt")"
done
"$HP" top "$dump" -n 5
if command -v jeprof >/dev/null 2>&1; then
    jeprof --text --show_bytes /usr/bin/redis-server "$dump" >"$TMP/jeprof.txt" 2>/dev/null || fail "jeprof failed"
    jfirst=$(awk 'NR == 2 { print $6 }' "$TMP/jeprof.txt")
    hfirst=$(awk 'NR == 3 { print $NF }' "$TMP/top.txt")
    [ "$jfirst" = "$hfirst" ] || fail "top entry: jeprof '$jfirst', heapprof '$hfirst'"
    jt=$(sed -n 's/^Total: \([0-9]*\) B$/\1/p' "$TMP/jeprof.txt")
    ht=$(sed -n 's/^Total: \([0-9]*\) B in use.*/\1/p' "$TMP/top.txt")
    within "$ht" "$jt" 0.001 || fail "total: heapprof $ht B, jeprof $jt B"
    echo "jeprof agrees: top entry $jfirst, total $jt B"
fi
echo "ok"
