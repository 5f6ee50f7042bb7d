#!/bin/sh
# SPDX-License-Identifier: MIT
# What one request costs kvcore-server's command path: user-space instructions per
# request under callgrind for pipelined commands, this build against up to two others
# (e.g. an older commit and the one before a change), servers run one after the other.
#   Each server runs under valgrind --tool=callgrind (instrumentation on once it answers,
#   busy polling off so every wake-up reads the same batch); per test the counters are
#   zeroed, redis-benchmark -P 16 -c 1 sends KV_BENCH_NIR requests, and the counters are
#   dumped. Two figures per test: all instructions / requests, and the same without the
#   server cron's (server.c:cron, run 10 times a second: what it adds per request depends
#   on how long the run took under valgrind, i.e. on the machine's load, not on the
#   command path). Both are deterministic otherwise.
#   Besides redis-benchmark's own tests (-t), hget, hgetall and hincrby read or count in a
#   10-field hash h10 (field<j> -> value<j>, made before the first test), and hset10
#   writes 10-field hashes hash:<random> (-r 1000000: mostly new keys, some rewritten).
# usage: [KV_BASE_BIN=path] [KV_BEFORE_BIN=path] BUILD=build sh tests/bench/kv_request_cost.sh
#   KV_BENCH_TESTS (set,get,incr,hset,lpush,zadd)  KV_BENCH_NIR (100000)
# Prints one line per test and binary, then each ratio to KV_BASE_BIN's figures.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-benchmark valgrind callgrind_control callgrind_annotate
need_built "$KV_BIN"
TESTS=$(echo "${KV_BENCH_TESTS:-set,get,incr,hset,lpush,zadd}" | tr ',' ' ')
NIR=${KV_BENCH_NIR:-100000}
H10="field0 value0 field1 value1 field2 value2 field3 value3 field4 value4 field5 value5"
H10="$H10 field6 value6 field7 value7 field8 value8 field9 value9"

cost() { # LABEL BIN: appends "LABEL test all nocron" rows to $TMP/ir
    label=$1
    port=$(free_port)
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.$1" \
        "$2" --bind 127.0.0.1 --port "$port" --save '' --busy-poll-us 0 \
        >"$TMP/cg-$1.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    kv_wait_ready "$port" "$pid" || { cat "$TMP/cg-$1.log"; exit 1; }
    callgrind_control -i on "$pid" >/dev/null 2>&1
    redis-cli -p "$port" HSET h10 $H10 >/dev/null
    d=0
    for t in $TESTS; do
        callgrind_control -z "$pid" >/dev/null 2>&1
        case $t in
        hget) set -- HGET h10 field5 ;;
        hgetall) set -- HGETALL h10 ;;
        hincrby) set -- HINCRBY h10 counter 1 ;;
        hset10) set -- -r 1000000 HSET hash:__rand_int__ $H10 ;;
        *) set -- -t "$t" ;;
        esac
        redis-benchmark -h 127.0.0.1 -p "$port" -P 16 -c 1 -n "$NIR" --csv "$@" >/dev/null 2>&1
        callgrind_control -d "$pid" >/dev/null 2>&1
        d=$((d + 1))
        f=$TMP/cg.$label.$d
        tot=$(awk '/^totals:/ {print $2}' "$f")
        cron=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
            awk '/server\.c:cron / {gsub(",", "", $1); print $1; exit}')
        echo "$label $t $tot ${cron:-0}" >>"$TMP/ir"
    done
    stop_pid "$pid"
}

: >"$TMP/ir"
labels=""
if [ -n "${KV_BASE_BIN:-}" ]; then
    cost base "$KV_BASE_BIN"
    labels="base"
fi
if [ -n "${KV_BEFORE_BIN:-}" ]; then
    cost before "$KV_BEFORE_BIN"
    labels="$labels before"
fi
cost now "$KV_BIN"
labels="$labels now"
echo "kv_request_cost: callgrind instructions per request, redis-benchmark -P 16 -c 1" \
    "-n $NIR per test (all / without the cron's)"
python3 - "$TMP/ir" "$NIR" $labels <<'PY'
import sys
n = int(sys.argv[2])
labels = sys.argv[3:]
ir = {}
for line in open(sys.argv[1]):
    p = line.split()
    ir[(p[0], p[1])] = (int(p[2]) / n, (int(p[2]) - int(p[3])) / n)
tests = []
for line in open(sys.argv[1]):
    t = line.split()[1]
    if t not in tests:
        tests.append(t)
for t in tests:
    row = "%-7s" % t.upper()
    for l in labels:
        if (l, t) in ir:
            a, b = ir[(l, t)]
            row += "  %s %6.0f / %6.0f" % (l, a, b)
    if ("base", t) in ir:
        ba, bb = ir[("base", t)]
        for l in labels:
            if l != "base" and (l, t) in ir:
                a, b = ir[(l, t)]
                row += "  %s/base %.3f / %.3f" % (l, a / ba, b / bb)
    print(row)
PY
