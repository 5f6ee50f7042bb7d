#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions (callgrind, deterministic apart from the server's timers) that kvcore-server
# spends on a fixed list workload: RPUSH 100 000 elements in batches of 100, 2000 LINDEX,
# 300 LSET, 200 LINSERT (each a scan), one LRANGE 0 -1, LPOS of a missing value, 100 LPOP
# and RPOP of 100. Run at list-compress-depth 0 and 1; with a second binary (an older
# build) also that one at depth 0, for the cost of the compression code when it is off.
# usage: BUILD=build sh tests/bench/kv_list_callgrind.sh [other-kvcore-server]
. "$(dirname "$0")/../lib.sh"
need_cmd valgrind python3 redis-cli
need_built "$KV_BIN"
cat >"$TMP/work.py" <<'PY'
import random, sys
sys.path.insert(0, "tests/kv")
from resp_conn import Conn
c = Conn(int(sys.argv[1]), timeout=600)
rng = random.Random(7)
c.call(["CONFIG", "SET", "list-compress-depth", sys.argv[2]])
for i in range(0, 100000, 100):
    c.call(["RPUSH", "l"] + ["event:%d:status=ok source=web" % j for j in range(i, i + 100)])
for _ in range(2000):
    c.call(["LINDEX", "l", str(rng.randint(0, 99999))])
for _ in range(300):
    c.call(["LSET", "l", str(rng.randint(0, 99999)), "x%d" % rng.randint(0, 9)])
for _ in range(200):
    c.call(["LINSERT", "l", "BEFORE", "event:%d:status=ok source=web" % rng.randint(0, 99999), "i"])
c.call(["LRANGE", "l", "0", "-1"])
c.call(["LPOS", "l", "nope"])
for _ in range(100):
    c.call(["LPOP", "l", "100"])
    c.call(["RPOP", "l", "100"])
c.send(["SHUTDOWN", "NOSAVE"])
PY
n=0
run() { # title binary depth
    n=$((n + 1))
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$n" "$2" --port "$port" --save '' \
        >"$TMP/log.$n" 2>&1 &
    pid=$!
    track_pid "$pid"
    kv_wait_ready "$port" "$pid" || { cat "$TMP/log.$n"; exit 1; }
    python3 "$TMP/work.py" "$port" "$3"
    wait "$pid"
    printf '%-40s %s\n' "$1" "$(sed -n 's/^summary: //p' "$TMP/cg.$n")"
}
run "this build, depth 0" "$KV_BIN" 0
run "this build, depth 1" "$KV_BIN" 1
[ -n "${1:-}" ] && run "$1, depth 0" "$1" 0
exit 0
