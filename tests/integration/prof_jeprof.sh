#!/bin/sh
# SPDX-License-Identifier: MIT
# Heap profiling from the environment alone (no `memshim run`): prof_sites runs under
# LD_PRELOAD=libmemshim.so with MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=12 MEMSHIM_DUMP_AT_EXIT=1
# MEMSHIM_DUMP_DIR=D, once per backtrace walker, and `jeprof --text` on the dump it left
# must name alloc_a (8 MiB live), alloc_b (2 MiB) and leak_c (1 MiB), in that order and
# within sampling error (+-15%, +-15%, +-45%: wide enough that luck fails a run with
# probability < 2e-11; prof_sites.c has the arithmetic). With libunwind the user functions are the leaves (flat column);
# jemalloc's own libgcc walker leaves the shim's frames on top, so there the cumulative
# column is checked. When build/heapprof exists, `heapprof top` must rank them the same.
set -u
. "$(dirname "$0")/../lib.sh"
need_preload
need_cmd jeprof
bin="$HELPERS/prof_sites"
need_built "$SHIM" "$bin"


# check_amounts FILE COLUMN: the three sites, in bytes from `jeprof --text --show_bytes`
check_amounts() {
    awk -v col="$2" '
        $6 == "alloc_a" { a = $col } $6 == "alloc_b" { b = $col } $6 == "leak_c" { c = $col }
        END {
            mib = 1048576
            printf "alloc_a=%.2f MiB alloc_b=%.2f MiB leak_c=%.2f MiB\n", a / mib, b / mib, c / mib
            if (a < 8 * mib * 0.85 || a > 8 * mib * 1.15) { print "alloc_a out of range"; exit 1 }
            if (b < 2 * mib * 0.85 || b > 2 * mib * 1.15) { print "alloc_b out of range"; exit 1 }
            if (c < 1 * mib * 0.55 || c > 1 * mib * 1.45) { print "leak_c out of range"; exit 1 }
            if (!(a > b && b > c)) { print "wrong order"; exit 1 }
        }' "$1"
}

for unwinder in libunwind libgcc; do
    dir="$TMP/$unwinder"
    mkdir "$dir"
    env LD_PRELOAD="$SHIM" MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=12 MEMSHIM_DUMP_AT_EXIT=1 \
        MEMSHIM_DUMP_DIR="$dir" MEMSHIM_PROF_UNWINDER="$unwinder" "$bin" status \
        >"$TMP/out" 2>"$TMP/err" || fail "$unwinder: prof_sites exited $?"
    grep -q "active=true lg_sample=12 unwinder=$unwinder" "$TMP/out" ||
        fail "$unwinder: controls not applied: $(cat "$TMP/out")"
    [ -s "$TMP/err" ] && fail "$unwinder: unexpected stderr: $(cat "$TMP/err")"
    set -- "$dir"/memshim.*.0.heap
    [ $# -eq 1 ] && [ -f "$1" ] || fail "$unwinder: expected one dump at exit, found: $(ls "$dir")"
    dump=$1
    head -n 1 "$dump" | grep -qx 'heap_v2/4096' || fail "$unwinder: bad header $(head -n 1 "$dump")"
    jeprof --text --show_bytes "$bin" "$dump" >"$TMP/jeprof.txt" 2>"$TMP/jeprof.err" ||
        fail "$unwinder: jeprof failed: $(cat "$TMP/jeprof.err")"
    if [ "$unwinder" = libunwind ]; then
        # The three sites are the top three leaves.
        awk 'NR > 1 && NF >= 6 { print $6 }' "$TMP/jeprof.txt" | head -n 3 | tr '\n' ' ' |
            grep -qx 'alloc_a alloc_b leak_c ' ||
            fail "libunwind: top leaves are not alloc_a alloc_b leak_c:
$(head -n 6 "$TMP/jeprof.txt")"
        col=1
    else
        col=4
    fi
    res=$(check_amounts "$TMP/jeprof.txt" $col) ||
        fail "$unwinder: $res
$(head -n 12 "$TMP/jeprof.txt")"
    echo "$unwinder (jeprof column $col): $res"

    # The analyser, when it is built, agrees on the ranking.
    hp="$HP"
    if [ -f "$hp" ] && [ -x "$hp" ]; then
        "$hp" top "$dump" --binary "$bin" -n 20 >"$TMP/top.txt" 2>"$TMP/top.err" ||
            fail "$unwinder: heapprof top failed: $(cat "$TMP/top.err")"
        order=$(grep -o -w -E 'alloc_a|alloc_b|leak_c' "$TMP/top.txt" | awk '!seen[$0]++' |
            tr '\n' ' ')
        [ "$order" = "alloc_a alloc_b leak_c " ] ||
            fail "$unwinder: heapprof top ranks '$order':
$(head -n 12 "$TMP/top.txt")"
        echo "$unwinder: heapprof top agrees"
    else
        echo "$unwinder: $hp not built; analyser check skipped"
    fi
done
exit 0
