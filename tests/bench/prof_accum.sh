#!/bin/sh
# SPDX-License-Identifier: MIT
# What jemalloc's prof_accum (allocation totals in heap dumps: heapprof's --alloc and
# pprof's alloc_* sample types) costs under libmemshim with profiling active: the
# allocation-heavy loop of tests/helpers/prof_bench (malloc+free pairs of 16 B..4 KiB at a
# 24-frame-deep stack), prof_accum:false and prof_accum:true run in interleaved rounds (so
# a drift of the machine hits both alike), at the default sample rate (lg 19, one sample
# per 512 KiB) and a dense one (lg 12, per 4 KiB). Prints the median ns per malloc+free
# pair and peak RSS of each, and the ratio true/false.
# usage: BUILD=build sh tests/bench/prof_accum.sh [OPS] [ROUNDS] [THREADS]
set -u
OPS=${1:-4000000}
ROUNDS=${2:-7}
THREADS=${3:-1}
. "$(dirname "$0")/../lib.sh"
bin="$HELPERS/prof_bench"
need_built "$SHIM" "$bin"
need_preload

# one run: "ns_per_op maxrss_kib"
one() { # accum lg
    env LD_PRELOAD="$SHIM" MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE="$2" MALLOC_CONF="prof_accum:$1" \
        /usr/bin/time -f 'maxrss=%M' "$bin" "$OPS" 24 "$THREADS" >"$TMP/out" 2>"$TMP/err" || {
        echo "run failed (prof_accum:$1, lg $2): $(cat "$TMP/err")" >&2
        exit 1
    }
    ns=$(sed -n 's/.*ns_per_op=//p' "$TMP/out")
    rss=$(sed -n 's/^maxrss=//p' "$TMP/err")
    [ -n "$ns" ] && [ -n "$rss" ] || { echo "no figures: $(cat "$TMP/out" "$TMP/err")" >&2; exit 1; }
    echo "$ns $rss"
}

median() { # column file
    awk -v c="$1" '{print $c}' "$2" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

[ -x /usr/bin/time ] || skip "/usr/bin/time is not installed"
echo "prof_bench: $OPS malloc+free pairs x $THREADS thread(s), 24-frame stack," \
    "median of $ROUNDS interleaved rounds"
printf '%-4s %14s %14s %8s %16s %16s\n' lg "ns/op accum=0" "ns/op accum=1" ratio \
    "maxrss KiB acc=0" "maxrss KiB acc=1"
for lg in 19 12; do
    : >"$TMP/false"
    : >"$TMP/true"
    r=0
    while [ $r -lt "$ROUNDS" ]; do
        # alternate which goes first, so neither always runs on a warmer machine
        if [ $((r % 2)) = 0 ]; then order="false true"; else order="true false"; fi
        for acc in $order; do
            one "$acc" "$lg" >>"$TMP/$acc"
        done
        r=$((r + 1))
    done
    f=$(median 1 "$TMP/false")
    t=$(median 1 "$TMP/true")
    printf '%-4s %14s %14s %8s %16s %16s\n' "$lg" "$f" "$t" \
        "$(awk -v a="$t" -v b="$f" 'BEGIN {printf "%.3f", a / b}')" \
        "$(median 2 "$TMP/false")" "$(median 2 "$TMP/true")"
done
