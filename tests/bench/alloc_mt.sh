#!/bin/sh
# SPDX-License-Identifier: MIT
# Multi-threaded allocation benchmark (tests/bench/alloc_bench.c: sizes 16 B..4 KiB,
# every 8th block freed by another thread), side by side in one invocation:
#   glibc               the system malloc
#   jemalloc            LD_PRELOAD=libjemalloc.so.2 (Debian's, bare)
#   jemalloc+prof-ready LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,prof_active:false
#   memshim             LD_PRELOAD=libmemshim.so (profiling ready but inactive)
#   memshim+free-raw    the same with MEMSHIM_FREE_KEEPS_ERRNO=0 (free is a tail jump to
#                       jemalloc's free; errno after free is whatever jemalloc leaves)
#   memshim+prof-active LD_PRELOAD=libmemshim.so MALLOC_CONF=prof_active:true
# Repetitions are interleaved (each round runs every variant, in a rotating order), and
# figures are the median and the best of the rounds. Two workloads: "churn" writes two
# bytes per block (allocator cost only), "touch" writes every byte (what a program that
# initialises its memory does). Target: memshim within 3% of bare jemalloc.
# Knobs: THREADS (default: the number of CPUs, at least 2), OPS (per thread), REPS.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
JE=$(ldd "$SHIM" | awk '/libjemalloc/ { print $3 }')
[ -f "$JE" ] || skip "libjemalloc.so.2 not found"
ncpu=$(nproc 2>/dev/null || echo 2)
THREADS=${THREADS:-$([ "$ncpu" -gt 2 ] && echo "$ncpu" || echo 2)}
OPS=${OPS:-3000000}
REPS=${REPS:-9}
bin="$BUILD/bench/alloc_bench"
mkdir -p "$BUILD/bench"
${CC:-cc} -D_GNU_SOURCE -std=c11 -O2 -g -Wall -Wextra -o "$bin" "$top/tests/bench/alloc_bench.c" \
    -lpthread || exit 1
out=$TMP/out

variants="glibc jemalloc jemalloc+prof-ready memshim memshim+free-raw memshim+prof-active"
nvariants=6
run_variant() { # variant touch
    case $1 in
    glibc) env -u LD_PRELOAD "$bin" "$THREADS" "$OPS" "$2" ;;
    jemalloc) env LD_PRELOAD="$JE" MALLOC_CONF= "$bin" "$THREADS" "$OPS" "$2" ;;
    jemalloc+prof-ready) env LD_PRELOAD="$JE" MALLOC_CONF=prof:true,prof_active:false "$bin" "$THREADS" "$OPS" "$2" ;;
    memshim) env LD_PRELOAD="$SHIM" MALLOC_CONF= "$bin" "$THREADS" "$OPS" "$2" ;;
    memshim+free-raw) env LD_PRELOAD="$SHIM" MALLOC_CONF= MEMSHIM_FREE_KEEPS_ERRNO=0 "$bin" "$THREADS" "$OPS" "$2" ;;
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
        while [ $k -lt $((r % nvariants)) ]; do
            first=$1
            shift
            set -- "$@" "$first"
            k=$((k + 1))
        done
        for v in "$@"; do
            line=$(run_variant "$v" $touch)
            set -- $line
            [ "$#" -ge 10 ] || { echo "alloc_bench failed for $v"; exit 1; }
            echo "$v $6 ${10}" >>"$out"
        done
        r=$((r + 1))
    done
    echo
    echo "workload $wl: $THREADS x $OPS operations; wall and CPU (user+sys) seconds, lower is better"
    awk -v ops="$((THREADS * OPS))" '
        function sort_(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
        { n[$1]++; w[$1, n[$1]] = $2; c[$1, n[$1]] = $3 }
        END {
            nv = split(vars, order, " ")
            for (i = 1; i <= nv; i++) {
                k = order[i]; m = n[k]
                for (j = 1; j <= m; j++) { ww[j] = w[k, j]; cc[j] = c[k, j] }
                sort_(ww, m); sort_(cc, m)
                wmed[k] = ww[int((m + 1) / 2)]; wbest[k] = ww[1]
                cmed[k] = cc[int((m + 1) / 2)]; cbest[k] = cc[1]
            }
            printf "  %-20s %9s %9s %9s %9s %8s %9s\n", "variant", "wall med", "wall best", "cpu med", "cpu best", "Mops/s", "cpu vs je"
            for (i = 1; i <= nv; i++) {
                k = order[i]
                printf "  %-20s %9.4f %9.4f %9.4f %9.4f %8.2f %8.3fx\n", k, wmed[k], wbest[k], cmed[k], cbest[k], ops / wmed[k] / 1e6, cmed[k] / cmed["jemalloc"]
            }
            printf "  memshim / jemalloc:          cpu %.3f median, %.3f best; wall %.3f median (target <= 1.03)\n", cmed["memshim"] / cmed["jemalloc"], cbest["memshim"] / cbest["jemalloc"], wmed["memshim"] / wmed["jemalloc"]
            printf "  memshim+free-raw / jemalloc: cpu %.3f median, %.3f best; wall %.3f median\n", cmed["memshim+free-raw"] / cmed["jemalloc"], cbest["memshim+free-raw"] / cbest["jemalloc"], wmed["memshim+free-raw"] / wmed["jemalloc"]
            printf "  prof ready (jemalloc):       cpu %+.1f%% median, %+.1f%% best\n", (cmed["jemalloc+prof-ready"] / cmed["jemalloc"] - 1) * 100, (cbest["jemalloc+prof-ready"] / cbest["jemalloc"] - 1) * 100
            printf "  prof active (memshim):       cpu %+.1f%% median, %+.1f%% best\n", (cmed["memshim+prof-active"] / cmed["memshim"] - 1) * 100, (cbest["memshim+prof-active"] / cbest["memshim"] - 1) * 100
            printf "  glibc / jemalloc:            cpu %.3f median\n", cmed["glibc"] / cmed["jemalloc"]
        }' vars="$variants" "$out"
done

# Instructions executed do not depend on the machine's load: count them per variant
# (callgrind, one thread), at two operation counts, so start-up costs cancel out and what
# remains is instructions per malloc+free pair.
if command -v valgrind >/dev/null 2>&1 && [ "${IR:-1}" = 1 ]; then
    echo
    echo "instructions per operation (callgrind, 1 thread, churn; (Ir(400k) - Ir(100k)) / 300k)"
    for v in jemalloc jemalloc+prof-ready memshim memshim+free-raw; do
        raw=1
        case $v in
        jemalloc) pre=$JE; conf= ;;
        jemalloc+prof-ready) pre=$JE; conf=prof:true,prof_active:false ;;
        memshim) pre=$SHIM; conf= ;;
        memshim+free-raw) pre=$SHIM; conf=; raw=0 ;;
        esac
        for n in 100000 400000; do
            LD_PRELOAD="$pre" MALLOC_CONF="$conf" MEMSHIM_FREE_KEEPS_ERRNO=$raw valgrind --tool=callgrind \
                --callgrind-out-file=/dev/null "$bin" 1 $n 0 2>&1 >/dev/null |
                awk '/Collected/ { printf "%s ", $4 }'
        done
        echo "$v"
    done | awk '{ per[$3] = ($2 - $1) / 300000; printf "  %-20s %8.1f\n", $3, per[$3] } END {
        printf "  memshim - jemalloc:          %+.1f instructions per malloc+free (%.3fx)\n", per["memshim"] - per["jemalloc"], per["memshim"] / per["jemalloc"]
        printf "  memshim+free-raw - jemalloc: %+.1f instructions per malloc+free (%.3fx)\n", per["memshim+free-raw"] - per["jemalloc"], per["memshim+free-raw"] / per["jemalloc"]
        printf "  prof ready - plain jemalloc: %+.1f instructions (%.3fx)\n", per["jemalloc+prof-ready"] - per["jemalloc"], per["jemalloc+prof-ready"] / per["jemalloc"] }'
fi
