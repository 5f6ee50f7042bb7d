#!/bin/sh
# SPDX-License-Identifier: MIT
# `heapprof top` against `jeprof --text` on the same large dumps, side by side (target: at
# least 20x faster, same top entries). Two dumps, both written by Debian's jemalloc:
#   synthetic  hp_many DEPTH FANOUT: FANOUT^DEPTH distinct call paths, one 16 KiB block each,
#              lg_prof_sample 12 -> about that many stacks (default 3 24: ~13800 stacks);
#   redis      Debian's redis-server (PIE, stripped) holding KEYS keys (DEBUG POPULATE),
#              lg_prof_sample 16, dumped at exit (skipped without redis-server).
# Times are hyperfine means (--shell=none, 1 warm-up) or, without hyperfine, the median of
# RUNS runs. Before timing, the top three entries (names and flat bytes) must be equal.
# usage: BUILD=build sh tests/bench/hp_vs_jeprof.sh [DEPTH] [FANOUT] [RUNS] [KEYS]
set -u
DEPTH=${1:-3}
FANOUT=${2:-24}
RUNS=${3:-5}
KEYS=${4:-1000000}
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_many
need_cmd jeprof

# same_top BINARY DUMP: heapprof and jeprof agree on the top three (name and flat bytes)
same_top() {
    "$HP" top "$2" -q -n 3 >"$TMP/h.txt" || fail "heapprof top exited $?"
    jeprof --text --show_bytes "$1" "$2" 2>/dev/null | head -n 4 >"$TMP/j.txt"
    h=$(awk 'NR > 2 && NR <= 5 { printf "%s=%s ", $NF, $1 }' "$TMP/h.txt")
    j=$(awk 'NR > 1 && NR <= 4 { printf "%s=%s ", $6, $1 }' "$TMP/j.txt")
    # jeprof truncates the bytes (%d), heapprof rounds: compare names and bytes +-1
    echo "$h" | tr ' =' '\n ' | grep . >"$TMP/h.cmp"
    echo "$j" | tr ' =' '\n ' | grep . >"$TMP/j.cmp"
    paste "$TMP/h.cmp" "$TMP/j.cmp" | awk '{ d = $2 - $4; if ($1 != $3 || d > 1 || d < -1) exit 1 }' ||
        fail "top entries differ:
  heapprof: $h
  jeprof:   $j"
    echo "  same top three: $h"
}

# seconds CMD...: mean wall time of CMD in seconds
seconds() {
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine --shell=none --warmup 1 --runs "$RUNS" --style none \
            --export-json "$TMP/hf.json" "$*" >/dev/null 2>&1 || fail "hyperfine: $*"
        python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$TMP/hf.json"
    else
        i=0
        : >"$TMP/times"
        while [ $i -lt "$RUNS" ]; do
            s=$(date +%s%N)
            "$@" >/dev/null 2>&1
            e=$(date +%s%N)
            echo "$(((e - s) / 1000))" >>"$TMP/times"
            i=$((i + 1))
        done
        sort -n "$TMP/times" | awk '{ v[NR] = $1 } END { printf "%.4f\n", v[int((NR + 1) / 2)] / 1e6 }'
    fi
}

# compare LABEL BINARY DUMP
compare() {
    stacks=$(grep -c '^@' "$3")
    echo "$1: $(basename "$3"), $stacks stacks, $(($(wc -c <"$3") / 1024)) KiB"
    same_top "$2" "$3"
    th=$(seconds "$HP" top "$3" -q)
    tj=$(seconds jeprof --text --show_bytes "$2" "$3")
    ratio=$(awk -v a="$tj" -v b="$th" 'BEGIN { printf "%.1f", a / b }')
    met=$(awk -v r="$ratio" 'BEGIN { print (r >= 20 ? "met" : "NOT met") }')
    printf '  heapprof top %8.3f s   jeprof --text %8.3f s   ratio %sx (target >= 20x: %s)\n' \
        "$th" "$tj" "$ratio" "$met"
    printf '%-10s %8s %10.3f %10.3f %8s\n' "$1" "$stacks" "$th" "$tj" "${ratio}x" >>"$TMP/summary"
}

: >"$TMP/summary"
jemalloc_run "$TMP/many" 12 "$HELPERS/hp_many" "$DEPTH" "$FANOUT"
compare synthetic "$HELPERS/hp_many" "$DUMP"

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    port=$(free_port)
    env MALLOC_CONF="prof:true,prof_final:true,lg_prof_sample:16,prof_prefix:$TMP/redis" \
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --enable-debug-command yes --dir "$TMP" --logfile "$TMP/redis.log" &
    pid=$!
    track_pid "$pid"
    i=0
    until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "redis-server did not start"
        sleep 0.05
    done
    redis-cli -p "$port" debug populate "$KEYS" key 32 >/dev/null
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
    wait "$pid"
    untrack_pid "$pid"
    set -- "$TMP"/redis.*.f.heap
    [ -f "$1" ] && compare "redis" /usr/bin/redis-server "$1"
fi

echo
printf '%-10s %8s %10s %10s %8s\n' dump stacks heapprof_s jeprof_s ratio
cat "$TMP/summary"
