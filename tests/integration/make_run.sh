#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run` shows the main job working: kvcore-server starts under libmemshim with the
# control socket on and heap-dump-dir set to $BUILD/run-dumps, prints how to take a heap
# profile, passes ARGS to the server; a heap dump taken through MEMORY HEAP ENABLE/DUMP and
# one through `memshim ctl PID heap dump` both land there and heapprof reads them. A port
# already in use fails at once, naming RUN_PORT. `make run` runs `make deps` (nothing to
# install when the packages are there) and `make all` (nothing to build when run.sh runs
# the tests: it refuses stale binaries).
. "$(dirname "$0")/../lib.sh"
need_preload
need_cmd make redis-cli setsid
need_built "$SHIM" "$MS" "$KV_BIN" "$HP"
[ -z "${KV_SERVER_WRAPPER:-}" ] || skip "make run starts its own server, not under the wrapper"
ctl_xdg # the server's control socket goes to $TMP/xdg, inherited through make

port=$(free_port)
# A session of its own: the process group (make, sh, memshim run, kvcore-server) is
# stopped as one.
setsid make --no-print-directory run BUILD="$BUILD" RUN_PORT="$port" \
    ARGS="--maxmemory 64mb --maxmemory-policy allkeys-lru" >"$TMP/run.out" 2>&1 &
mpid=$!
track_pid "$mpid"

stop_run() {
    kill -TERM -"$mpid" 2>/dev/null
    i=0
    while kill -0 "$mpid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL -"$mpid" 2>/dev/null
    untrack_pid "$mpid"
}
run_fail() {
    stop_run
    fail "$*
make run printed:
$(cat "$TMP/run.out")"
}

kv_wait_ready "$port" "$mpid" || run_fail "make run: no server"
R="redis-cli -p $port"
kpid=$($R info server | tr -d '\r' | sed -n 's/^process_id://p')
[ -n "$kpid" ] || run_fail "no process_id in INFO"
track_pid "$kpid"

dumps="$BUILD_ABS/run-dumps"
grep -q "redis-cli -p $port MEMORY HEAP ENABLE" "$TMP/run.out" || run_fail "no profiling hint"
grep -q "heapprof top" "$TMP/run.out" || run_fail "no heapprof hint"
grep -q "memshim ctl PID heap dump" "$TMP/run.out" || run_fail "no memshim ctl hint"
grep -q "heap dumps go to $dumps" "$TMP/run.out" || run_fail "no dump directory line"
[ "$($R config get maxmemory | sed -n 2p)" = 67108864 ] || run_fail "ARGS not passed: maxmemory"
[ "$($R config get maxmemory-policy | sed -n 2p)" = allkeys-lru ] || run_fail "ARGS: policy"
[ "$($R config get heap-dump-dir | sed -n 2p)" = "$dumps" ] || run_fail "heap-dump-dir not set"

# The README's first profile, over the protocol.
$R debug populate 2000 key 64 >/dev/null
[ "$($R memory heap enable)" = OK ] || run_fail "MEMORY HEAP ENABLE"
$R debug populate 2000 more 128 >/dev/null
p1=$($R memory heap dump)
case "$p1" in "$dumps"/*.heap) ;; *) run_fail "MEMORY HEAP DUMP: $p1" ;; esac
"$HP" top "$p1" >"$TMP/top1" 2>&1 || run_fail "heapprof top $p1: $(cat "$TMP/top1")"

# The same through the control socket of the server's pid.
"$MS" ctl "$kpid" heap dump >"$TMP/ctl" 2>&1 || run_fail "memshim ctl heap dump: $(cat "$TMP/ctl")"
p2=$(awk '$1 == "path" { print $2 }' "$TMP/ctl")
case "$p2" in "$dumps"/*.heap) ;; *) run_fail "memshim ctl dump path: $(cat "$TMP/ctl")" ;; esac
"$HP" top "$p2" >"$TMP/top2" 2>&1 || run_fail "heapprof top $p2: $(cat "$TMP/top2")"
rm -f "$p1" "$p2"

stop_run
# The server exits on its own after the group's SIGTERM (or SIGKILL); give it time, and
# count a zombie waiting for its reaper as gone.
gone() {
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
    [ -z "$st" ] || [ "$st" = Z ]
}
wait_for 1500 0.02 gone "$kpid" || fail "kvcore-server $kpid still runs after its group was stopped"
untrack_pid "$kpid"
echo "ok: make run: profiled through MEMORY HEAP and memshim ctl"

# A port in use: refused before anything starts, naming RUN_PORT.
if command -v ss >/dev/null 2>&1; then
    kv_start_kvcore
    timeout 120 make --no-print-directory run BUILD="$BUILD" RUN_PORT="$KV_PORT" \
        >"$TMP/busy.out" 2>&1
    rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "make run on a busy port: exit $rc: $(cat "$TMP/busy.out")"
    grep -q "port $KV_PORT is already in use" "$TMP/busy.out" || fail "busy port: $(cat "$TMP/busy.out")"
    grep -q "RUN_PORT=" "$TMP/busy.out" || fail "busy port: no RUN_PORT hint"
    grep -q "under libmemshim" "$TMP/busy.out" && fail "busy port: the server was started"
    echo "ok: make run on a busy port fails at once"
else
    echo "ss not installed: the busy-port check of make run not tested"
fi
exit 0
