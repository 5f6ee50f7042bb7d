#!/bin/sh
# SPDX-License-Identifier: MIT
# Heap-profile backtrace walkers side by side: jemalloc's own (libgcc's _Unwind_Backtrace)
# against libmemshim's libunwind hook, on an allocation-heavy loop (tests/helpers/prof_bench:
# malloc+free pairs of 16 B..4 KiB at a 24-frame-deep stack), profiling active, at the
# default rate (lg_sample 19, one sample per 512 KiB) and a dense one (12, per 4 KiB).
# Prints the median ns per malloc+free pair of RUNS runs and the cost over profiling off.
# usage: BUILD=build sh tests/bench/prof_unwind.sh [OPS] [RUNS] [THREADS]
set -u
OPS=${1:-4000000}
RUNS=${2:-5}
THREADS=${3:-1}
. "$(dirname "$0")/../lib.sh"
bin="$HELPERS/prof_bench"
need_built "$SHIM" "$bin"

# median of the ns_per_op of RUNS runs, with the given environment
median() {
    i=0
    vals=""
    while [ $i -lt "$RUNS" ]; do
        v=$(env LD_PRELOAD="$SHIM" "$@" "$bin" "$OPS" 24 "$THREADS" | sed -n 's/.*ns_per_op=//p')
        [ -n "$v" ] || { echo "run failed: $*" >&2; exit 1; }
        vals="$vals $v"
        i=$((i + 1))
    done
    printf '%s\n' $vals | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "prof_bench: $OPS malloc+free pairs x $THREADS thread(s), 24-frame stack, median of $RUNS runs"
base=$(median MEMSHIM_PROF=0)
printf '%-10s %-9s %12s %10s\n' unwinder lg_sample ns/op overhead
printf '%-10s %-9s %12s %10s\n' "(off)" - "$base" -
for lg in 19 12; do
    for u in libgcc libunwind; do
        v=$(median MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=$lg MEMSHIM_PROF_UNWINDER=$u)
        printf '%-10s %-9s %12s %10s\n' "$u" "$lg" "$v" \
            "$(awk -v a="$v" -v b="$base" 'BEGIN {printf "%+.1f ns", a - b}')"
    done
done
