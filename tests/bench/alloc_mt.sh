#!/bin/sh
# SPDX-License-Identifier: MIT
# Multi-threaded allocation benchmark (tests/bench/alloc_bench.c: sizes 16 B..4 KiB,
# every 8th block freed by another thread), side by side in one invocation:
#   glibc               the system malloc
#   jemalloc            LD_PRELOAD=libjemalloc.so.2 (Debian's, bare)
#   jemalloc+prof-ready LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,prof_active:false
#   memshim             LD_PRELOAD=libmemshim.so (profiling ready but inactive)
#   memshim+prof-active LD_PRELOAD=libmemshim.so MALLOC_CONF=prof_active:true
# Repetitions are interleaved (each round runs every variant, in a rotating order), and
# figures are the median and the best of the rounds. Two workloads: "churn" writes two
# bytes per block (allocator cost only), "touch" writes every byte (what a program that
# initialises its memory does). Target: memshim within 3% of bare jemalloc.
# Knobs: THREADS (default: the number of CPUs, at least 2), OPS (per thread), REPS.
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${MEMSHIM_SAN:-}" = 1 ]; then echo "sanitizer build: no preload benchmark"; exit 77; fi
SHIM=$(cd "$BUILD" 2>/dev/null && pwd)/libmemshim.so
[ -f "$SHIM" ] || { echo "missing $SHIM (run make)"; exit 1; }
JE=$(ldd "$SHIM" | awk '/libjemalloc/ { print $3 }')
[ -f "$JE" ] || { echo "libjemalloc.so.2 not found"; exit 77; }
ncpu=$(nproc 2>/dev/null || echo 2)
THREADS=${THREADS:-$([ "$ncpu" -gt 2 ] && echo "$ncpu" || echo 2)}
OPS=${OPS:-3000000}
REPS=${REPS:-9}
bin="$BUILD/bench/alloc_bench"
mkdir -p "$BUILD/bench"
${CC:-cc} -D_GNU_SOURCE -std=c11 -O2 -g -Wall -Wextra -o "$bin" "$top/tests/bench/alloc_bench.c" \
    -lpthread || exit 1
out=$(mktemp "${TMPDIR:-/tmp}/alloc_mt.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

variants="glibc jemalloc jemalloc+prof-ready memshim memshim+prof-active"
run_variant() { # variant touch
    case $1 in
    glibc) env -u LD_PRELOAD "$bin" "$THREADS" "$OPS" "$2" ;;
    jemalloc) env LD_PRELOAD="$JE" MALLOC_CONF= "$bin" "$THREADS" "$OPS" "$2" ;;
    jemalloc+prof-ready) env LD_PRELOAD="$JE" MALLOC_CONF=prof:true,prof_active:false "$bin" "$THREADS" "$OPS" "$2" ;;
    memshim) env LD_PRELOAD="$SHIM" MALLOC_CONF= "$bin" "$THREADS" "$OPS" "$2" ;;
    memshim+prof-active) env LD_PRELOAD="$SHIM" MALLOC_CONF=prof_active:true "$bin" "$THREADS" "$OPS" "$2" ;;
    esac
}

echo "alloc_mt: $THREADS threads x $OPS ops, $REPS interleaved rounds, $(nproc) CPUs, jemalloc $JE"
for touch in 0 1; do
    wl=$([ $touch = 0 ] && echo churn || echo touch)
    : >"$out"
    r=0
    while [ $r -lt "$REPS" ]; do
        # Rotate the order each round so no variant always runs first or last.
        set -- $variants
        k=0
        while [ $k -lt $((r % 5)) ]; do
            first=$1
            shift
            set -- "$@" "$first"
            k=$((k + 1))
        done
        for v in "$@"; do
            secs=$(run_variant "$v" $touch | awk '{ print $6 }')
            [ -n "$secs" ] || { echo "alloc_bench failed for $v"; exit 1; }
            echo "$v $secs" >>"$out"
        done
        r=$((r + 1))
    done
    echo
    echo "workload $wl (seconds for $THREADS x $OPS operations; lower is better)"
    sort -k1,1 -k2,2n "$out" | awk -v ops="$((THREADS * OPS))" '
        { n[$1]++; v[$1, n[$1]] = $2 }
        END {
            split("glibc jemalloc jemalloc+prof-ready memshim memshim+prof-active", order, " ")
            for (i = 1; i <= 5; i++) {
                k = order[i]
                med[k] = v[k, int((n[k] + 1) / 2)]
                best[k] = v[k, 1]
            }
            printf "  %-22s %9s %9s %9s %12s\n", "variant", "median s", "best s", "Mops/s", "vs jemalloc"
            for (i = 1; i <= 5; i++) {
                k = order[i]
                printf "  %-22s %9.4f %9.4f %9.2f %11.3fx\n", k, med[k], best[k], ops / med[k] / 1e6, med[k] / med["jemalloc"]
            }
            printf "  ratio memshim / jemalloc:             %.3f median, %.3f best (target <= 1.03)\n", med["memshim"] / med["jemalloc"], best["memshim"] / best["jemalloc"]
            printf "  cost of prof ready (jemalloc):        %+.1f%% median, %+.1f%% best\n", (med["jemalloc+prof-ready"] / med["jemalloc"] - 1) * 100, (best["jemalloc+prof-ready"] / best["jemalloc"] - 1) * 100
            printf "  cost of prof active (memshim):        %+.1f%% median, %+.1f%% best\n", (med["memshim+prof-active"] / med["memshim"] - 1) * 100, (best["memshim+prof-active"] / best["memshim"] - 1) * 100
            printf "  glibc / jemalloc:                     %.3f median\n", med["glibc"] / med["jemalloc"]
        }'
done
