#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl` on kvcore-server, which links libmemshim.so (no LD_PRELOAD): started with
# MEMSHIM_CTL=1, it is profiled from outside while clients write 20000 keys, the dump
# names kvcore's own allocation sites, stats/frag/purge answer while it serves, `memshim
# ps` lists it, and after a SIGTERM shutdown its socket is gone.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
[ -n "${MEMSHIM_SAN:-}" ] && skip "kvcore-server links libmemshim.a under a sanitizer"
need_built "$MS"
ctl_xdg
MEMSHIM_CTL=1
export MEMSHIM_CTL
kv_start_kvcore --save ''
unset MEMSHIM_CTL
sock="$XDG_RUNTIME_DIR/memshim/$KV_PID.sock"
[ -S "$sock" ] || fail "kvcore-server has no control socket"

"$MS" ctl "$KV_PID" heap reset 12 >/dev/null || fail "heap reset"
"$MS" ctl "$KV_PID" heap enable >/dev/null || fail "heap enable"
seq 1 20000 | awk '{ print "SET key:" $1 " value-" $1 "-xxxxxxxxxxxxxxxxxxxxxxxx" }' |
    redis-cli -p "$KV_PORT" >/dev/null || fail "loading keys"
[ "$(redis-cli -p "$KV_PORT" dbsize)" = 20000 ] || fail "dbsize"
"$MS" ctl "$KV_PID" heap dump "$TMP/kv.heap" >/dev/null || fail "heap dump"
"$MS" ctl "$KV_PID" heap disable >/dev/null || fail "heap disable"
if [ -x "$HP" ]; then
    # Every entry: which static helpers the compiler keeps as frames varies, but the
    # server's own entry points (kv_cmd_call, kv_client_process_input) are on each stack.
    "$HP" top -q "$TMP/kv.heap" -n 0 >"$TMP/top" 2>&1 || fail "heapprof top: $(cat "$TMP/top")"
else
    jeprof --text "$KV_BIN" "$TMP/kv.heap" >"$TMP/top" 2>&1 || fail "jeprof: $(cat "$TMP/top")"
fi
grep -q 'kv_cmd_call\|kv_client_process_input' "$TMP/top" || fail "no kvcore allocation site in the profile:
$(cat "$TMP/top")"

"$MS" ctl --json "$KV_PID" stats >"$TMP/stats.json" || fail "stats"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["allocated"] > 20000 * 48, d' \
    "$TMP/stats.json" || fail "allocated: $(cat "$TMP/stats.json")"
"$MS" ctl "$KV_PID" frag >"$TMP/frag" || fail "frag"
[ "$(wc -l <"$TMP/frag")" -ge 3 ] || fail "frag: $(cat "$TMP/frag")"
redis-cli -p "$KV_PORT" flushall >/dev/null
"$MS" ctl "$KV_PID" purge >/dev/null || fail "purge"
[ "$(redis-cli -p "$KV_PORT" ping)" = PONG ] || fail "server stopped serving"
"$MS" ps | grep -Eq "^ *$KV_PID .*kvcore-server" || fail "ps: $("$MS" ps)"

kill -TERM "$KV_PID"
i=0
while kill -0 "$KV_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -e "$sock" ] && fail "socket left after SIGTERM shutdown"
echo "ok: ctl on kvcore-server"
exit 0
