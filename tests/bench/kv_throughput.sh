#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore throughput, side by side with Debian's redis-server in one run, built to give a
# steady answer on a small machine shared with other work.
#
#  1. redis-benchmark -c 50 for SET and GET at -P 1 and -P 16 and for the
#     aggregate set hset,lpush,rpop,sadd,zadd,lrange_100 at -P 1, one test per invocation.
#     Runs alternate kvcore/redis within a round and swap the order every other round
#     (ABBA ABBA ...), so a drift in machine load hits both servers alike. Per case:
#     the median requests/s of each server and the median of the per-round ratios
#     (each ratio compares two runs adjacent in time), with its min-max as the spread,
#     and the best run of each server (other load only ever slows a run down).
#  2. Server CPU per request: on-CPU time of every thread of the server
#     (/proc/PID/task/*/schedstat, ns; /proc/PID/stat ticks as a fallback) over the run,
#     divided by the requests: lowest of each server and the median per-round ratio. Load
#     from other processes moves this far less than req/s.
#  3. User-space instructions per request of each server process: `perf stat -e
#     instructions:u -p PID` during the timed runs when the machine has hardware
#     counters; otherwise a separate pass with each server under valgrind's callgrind
#     (instrumentation on, counters zeroed before and dumped after KV_BENCH_NIR requests
#     of each case). Instruction counts do not depend on other load at all.
# Servers run on CPU 1 and redis-benchmark on CPU 0 when there are two CPUs (taskset).
# lrange_100 includes the LPUSH fill redis-benchmark sends before it (in CPU and
# instructions per request; its req/s is LRANGE's alone).
# Target: at least Redis 7.0's requests/s in each SET/GET case; aim 1.2x at -P 16.
# usage: BUILD=build sh tests/bench/kv_throughput.sh
#   KV_BENCH_ROUNDS (5)  KV_BENCH_N1 (200000)  KV_BENCH_N16 (2000000)  KV_BENCH_NAGG (100000)
#   KV_BENCH_AGG_TESTS (hset,lpush,rpop,sadd,zadd,lrange_100; empty = none)
#   KV_BENCH_IR (auto | perf | callgrind | none)  KV_BENCH_NIR (100000)
#   KV_BENCH_KEEP=file: keep the raw per-run rows (and file.ir)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-benchmark python3
ROUNDS=${KV_BENCH_ROUNDS:-5}
N1=${KV_BENCH_N1:-200000}
N16=${KV_BENCH_N16:-2000000}
NAGG=${KV_BENCH_NAGG:-100000}
NIR=${KV_BENCH_NIR:-100000}
AGG_TESTS=${KV_BENCH_AGG_TESTS-hset,lpush,rpop,sadd,zadd,lrange_100}
IR=${KV_BENCH_IR:-auto}

# Cases: "test pipeline requests", in run order (SET before GET so GET finds its key,
# LPUSH before RPOP so RPOP pops).
CASES="set:1:$N1 get:1:$N1 set:16:$N16 get:16:$N16"
for t in $(echo "$AGG_TESTS" | tr ',' ' '); do
    CASES="$CASES $t:1:$NAGG"
done

if [ "$IR" = auto ]; then
    IR=none
    if command -v perf >/dev/null 2>&1 &&
        perf stat -x, -e instructions:u true 2>&1 | grep -q '^[0-9][0-9]*,'; then
        IR=perf
    elif command -v valgrind >/dev/null 2>&1 && command -v callgrind_control >/dev/null 2>&1; then
        IR=callgrind
    fi
fi

PIN=""
SRV_CPU=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN="taskset -c 0"
    SRV_CPU=1
fi

cpu_ns() { # pid -> on-CPU ns of all its threads
    if [ -r "/proc/$1/schedstat" ]; then
        cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
    else
        awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f", ($14 + $15) * 1e9 / hz}' "/proc/$1/stat"
    fi
}

bench() { # port test pipeline requests -> CSV rows "name rps" (one per line)
    $PIN redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -P "$3" -c 50 -n "$4" --csv 2>/dev/null |
        tr -d '"' | awk -F, 'NR > 1 && $2 + 0 > 0 {print $1 "," $2}'
}

# One timed run: appends "server test pipeline rps cpu_us_per_req ir_per_req".
run() { # server port pid test pipeline requests
    c0=$(cpu_ns "$3")
    ppid=""
    if [ "$IR" = perf ]; then
        perf stat -x, -e instructions:u -p "$3" -o "$TMP/perf.out" 2>/dev/null &
        ppid=$!
        sleep 0.2
    fi
    bench "$2" "$4" "$5" "$6" >"$TMP/rows"
    c1=$(cpu_ns "$3")
    ir=-
    if [ -n "$ppid" ]; then
        kill -INT "$ppid" 2>/dev/null
        wait "$ppid" 2>/dev/null
        ir=$(awk -F, '$3 ~ /^instructions/ {print $1}' "$TMP/perf.out")
    fi
    rows=$(wc -l <"$TMP/rows")
    rps=$(tail -n 1 "$TMP/rows" | awk -F, '{print $2}')
    [ "$rows" -gt 0 ] || { echo "$1 $4 P$5: redis-benchmark gave no result" >&2; return; }
    echo "$1 $4 P$5 $rps $c0 $c1 $((rows * $6)) ${ir:--}" | awk '{
        cpu = ($6 - $5) / 1000 / $7
        ir = $8 == "-" ? "-" : sprintf("%.0f", $8 / $7)
        printf "%s %s %s %s %.3f %s\n", $1, $2, $3, $4, cpu, ir }' >>"$TMP/results"
}

kv_start_kvcore --save ''
kv_start_redis
if [ -n "$SRV_CPU" ]; then
    taskset -apc "$SRV_CPU" "$KV_PID" >/dev/null && taskset -apc "$SRV_CPU" "$REDIS_PID" >/dev/null
fi

: >"$TMP/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    redis-cli -p "$KV_PORT" flushall >/dev/null
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    for c in $CASES; do
        t=${c%%:*}
        rest=${c#*:}
        p=${rest%%:*}
        n=${rest#*:}
        if [ $((r % 2)) = 1 ]; then
            run kvcore "$KV_PORT" "$KV_PID" "$t" "$p" "$n"
            run redis "$REDIS_PORT" "$REDIS_PID" "$t" "$p" "$n"
        else
            run redis "$REDIS_PORT" "$REDIS_PID" "$t" "$p" "$n"
            run kvcore "$KV_PORT" "$KV_PID" "$t" "$p" "$n"
        fi
    done
    r=$((r + 1))
done

# Instructions under callgrind: deterministic up to how requests batch per wake-up.
: >"$TMP/ir"
if [ "$IR" = callgrind ]; then
    cg_server() { # name port command...
        name=$1
        port=$2
        shift 2
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.$name" \
            "$@" >"$TMP/cg-$name.log" 2>&1 &
        cg_pid=$!
        track_pid "$cg_pid"
        kv_wait_ready "$port" "$cg_pid" || { cat "$TMP/cg-$name.log"; exit 1; }
        [ -n "$SRV_CPU" ] && taskset -apc "$SRV_CPU" "$cg_pid" >/dev/null
        callgrind_control -i on "$cg_pid" >/dev/null 2>&1
        d=0
        for c in $CASES; do
            t=${c%%:*}
            rest=${c#*:}
            p=${rest%%:*}
            n=$NIR
            [ "$p" = 1 ] || n=$((NIR * 4))
            callgrind_control -z "$cg_pid" >/dev/null 2>&1
            bench "$port" "$t" "$p" "$n" >"$TMP/rows"
            callgrind_control -d "$cg_pid" >/dev/null 2>&1
            d=$((d + 1))
            rows=$(wc -l <"$TMP/rows")
            tot=$(awk '/^totals:/ {print $2}' "$TMP/cg.$name.$d" 2>/dev/null)
            [ -n "$tot" ] && [ "$rows" -gt 0 ] &&
                echo "$name $t P$p $(echo "$tot $rows $n" | awk '{printf "%.0f", $1 / ($2 * $3)}')" \
                    >>"$TMP/ir"
        done
        kill "$cg_pid" 2>/dev/null
        wait "$cg_pid" 2>/dev/null
    }
    port=$(free_port)
    cg_server kvcore "$port" "$KV_BIN" --bind 127.0.0.1 --port "$port" --save ''
    port=$(free_port)
    cg_server redis "$port" redis-server --bind 127.0.0.1 --port "$port" --save '' \
        --appendonly no --dir "$TMP"
fi

echo "kv_throughput: redis-benchmark -c 50 -n $N1 (P1) / $N16 (P16) / $NAGG (others, P1)," \
    "$ROUNDS rounds, kvcore and redis alternating (ABBA)${PIN:+, servers on CPU 1, client on CPU 0}"
case $IR in
perf) echo "instructions: perf stat -e instructions:u (user space) during the timed runs" ;;
callgrind) echo "instructions: callgrind, user space, $NIR requests per P1 case, $((NIR * 4)) per P16 case" ;;
*) echo "instructions: not measured (no hardware counters, no valgrind)" ;;
esac
[ -n "${KV_BENCH_KEEP:-}" ] && cp "$TMP/results" "$KV_BENCH_KEEP" && cp "$TMP/ir" "$KV_BENCH_KEEP.ir"
python3 - "$TMP/results" "$TMP/ir" "$IR" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
irs = {}
for l in open(sys.argv[2]):
    p = l.split()
    if len(p) == 4:
        irs[(p[0], p[1], p[2])] = float(p[3])
mode = sys.argv[3]
cases = []
for r in rows:
    if (r[1], r[2]) not in cases:
        cases.append((r[1], r[2]))

def series(server, case, col):
    return [float(r[col]) for r in rows if r[0] == server and (r[1], r[2]) == case]

def ratios(case, col):
    # Pair the i-th kvcore run with the i-th redis run: the two are adjacent in time.
    k, r = series("kvcore", case, col), series("redis", case, col)
    return [a / b for a, b in zip(k, r) if b > 0]

def med(v):
    return statistics.median(v) if v else 0.0

def spread(v):
    if not v:
        return "%17s" % "n/a"
    return "%5.2f (%4.2f-%4.2f)" % (statistics.median(v), min(v), max(v))

def div(a, b):
    return a / b if b else 0.0

# Load from other work only ever lowers req/s and raises CPU per request, so next to the
# medians the best run of each server is compared too (highest req/s, lowest CPU).
print("requests/s    median of each | kvcore/redis per round: median (min-max) | best of each, ratio")
for case in cases:
    k, r = series("kvcore", case, 3), series("redis", case, 3)
    print("%-11s %-4s %9.0f %9.0f | %s | %9.0f %9.0f %5.2f" % (
        case[0].upper(), case[1], med(k), med(r), spread(ratios(case, 3)),
        max(k, default=0), max(r, default=0), div(max(k, default=0), max(r, default=0))))
print()
print("server CPU us/request  lowest of each, ratio | kvcore/redis per round: median (min-max)"
      " | user instructions/request kvcore redis ratio")
for case in cases:
    k, r = series("kvcore", case, 4), series("redis", case, 4)
    line = "%-11s %-4s %7.3f %7.3f %5.2f | %s |" % (
        case[0].upper(), case[1], min(k, default=0), min(r, default=0),
        div(min(k, default=0), min(r, default=0)), spread(ratios(case, 4)))
    if mode == "perf":
        ki = [float(x[5]) for x in rows if x[0] == "kvcore" and (x[1], x[2]) == case and x[5] != "-"]
        ri = [float(x[5]) for x in rows if x[0] == "redis" and (x[1], x[2]) == case and x[5] != "-"]
        ki, ri = (med(ki) or None), (med(ri) or None)
    else:
        ki, ri = irs.get(("kvcore",) + case), irs.get(("redis",) + case)
    if ki and ri:
        line += " %7.0f %7.0f %5.2f" % (ki, ri, ki / ri)
    else:
        line += " %7s %7s %5s" % ("-", "-", "-")
    print(line)
PY
