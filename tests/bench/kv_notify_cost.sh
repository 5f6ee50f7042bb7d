#!/bin/sh
# SPDX-License-Identifier: MIT
# What keyspace notifications cost SET and GET, on two kvcore-servers side by side:
#   base/now   KV_BASE_BIN (a kvcore-server built from an earlier commit, e.g. before
#              the notification calls went in) against this build, notifications off
#   off/on     this build with notify-keyspace-events "" against "AKE" with nobody
#              subscribed (every event formatted and offered to pub/sub)
#  1. redis-benchmark -P 16 -c 50, rounds interleaved (ABBA: the order swaps every round,
#     so a drift in machine load hits both alike): median req/s of each and the median
#     and range of the per-round ratios.
#  2. User-space instructions per request under callgrind (KV_BENCH_NIR requests per
#     case from one client, -P 16, busy polling off, so every wake-up reads the same
#     batch; counters zeroed before and dumped after): they do not depend on other load.
# usage: [KV_BASE_BIN=path] BUILD=build sh tests/bench/kv_notify_cost.sh
#   KV_BENCH_ROUNDS (6)  KV_BENCH_N (1000000)  KV_BENCH_NIR (200000)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-benchmark python3
need_built "$KV_BIN"
ROUNDS=${KV_BENCH_ROUNDS:-6}
N=${KV_BENCH_N:-1000000}
NIR=${KV_BENCH_NIR:-200000}
PIN=""
SRV_PIN=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN="taskset -c 0"
    SRV_PIN="taskset -c 1"
fi

start() { # [WRAPPER...] -- BIN EVENTS [ARGS...]: sets $port $pid (EVENTS "": not passed)
    wrap=""
    while [ "$1" != -- ]; do
        wrap="$wrap $1"
        shift
    done
    shift
    port=$(free_port)
    bin=$1
    events=$2
    shift 2
    set -- ${events:+--notify-keyspace-events "$events"} "$@"
    # shellcheck disable=SC2086
    $wrap "$bin" "$@" --bind 127.0.0.1 --port "$port" --save '' >"$TMP/kv.$port.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    kv_wait_ready "$port" "$pid" || { cat "$TMP/kv.$port.log"; exit 1; }
}

bench() { # PORT TEST REQUESTS [CLIENTS]: prints requests/s
    $PIN redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -P 16 -c "${4:-50}" -n "$3" --csv 2>/dev/null |
        tail -1 | cut -d, -f2 | tr -d '"'
}

timed() { # LABEL_A BIN_A EVENTS_A LABEL_B BIN_B EVENTS_B
    start $SRV_PIN -- "$2" "$3"
    pa=$port ida=$pid
    start $SRV_PIN -- "$5" "$6"
    pb=$port idb=$pid
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        for t in set get; do
            if [ $((r % 2)) -eq 0 ]; then
                echo "$1 $t $(bench "$pa" $t "$N")" >>"$TMP/rows"
                echo "$4 $t $(bench "$pb" $t "$N")" >>"$TMP/rows"
            else
                echo "$4 $t $(bench "$pb" $t "$N")" >>"$TMP/rows"
                echo "$1 $t $(bench "$pa" $t "$N")" >>"$TMP/rows"
            fi
        done
        r=$((r + 1))
    done
    stop_pid "$ida"
    stop_pid "$idb"
}

ir() { # LABEL BIN EVENTS: instructions per request of SET and GET
    command -v callgrind_control >/dev/null 2>&1 || return 0
    start valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.$1" -- \
        "$2" "$3" --busy-poll-us 0
    callgrind_control -i on "$pid" >/dev/null 2>&1
    d=0
    for t in set get; do
        callgrind_control -z "$pid" >/dev/null 2>&1
        bench "$port" $t "$NIR" 1 >/dev/null
        callgrind_control -d "$pid" >/dev/null 2>&1
        d=$((d + 1))
        tot=$(awk '/^totals:/ {print $2}' "$TMP/cg.$1.$d")
        echo "$1 $t $((tot / NIR))" >>"$TMP/ir"
    done
    stop_pid "$pid"
}

: >"$TMP/rows"
: >"$TMP/ir"
echo "kv_notify_cost: redis-benchmark -P 16 -c 50 -n $N, $ROUNDS interleaved rounds;" \
    "callgrind instructions per request over $NIR requests (-P 16 -c 1)"
if [ -n "${KV_BASE_BIN:-}" ]; then
    timed base "$KV_BASE_BIN" "" now "$KV_BIN" ""
    ir base "$KV_BASE_BIN" ""
    ir now "$KV_BIN" ""
    pairs="base:now"
fi
timed off "$KV_BIN" "" on "$KV_BIN" AKE
ir off "$KV_BIN" ""
ir on "$KV_BIN" AKE
python3 - "$TMP/rows" "$TMP/ir" ${pairs:-} off:on <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
irs = {(l.split()[0], l.split()[1]): int(l.split()[2]) for l in open(sys.argv[2]) if l.strip()}
for pair in sys.argv[3:]:
    a, b = pair.split(":")
    for test in ("set", "get"):
        ra = [float(r[2]) for r in rows if r[0] == a and r[1] == test]
        rb = [float(r[2]) for r in rows if r[0] == b and r[1] == test]
        q = [y / x for x, y in zip(ra, rb)]
        line = "%s %-4s %8.0f / %8.0f req/s, ratio %.3f (%.3f-%.3f)" % (
            test.upper(), "%s/%s" % (b, a), statistics.median(rb), statistics.median(ra),
            statistics.median(q), min(q), max(q))
        if (a, test) in irs and (b, test) in irs:
            line += ", instructions/req %d / %d = %.3f" % (
                irs[(b, test)], irs[(a, test)], irs[(b, test)] / irs[(a, test)])
        print(line)
PY
