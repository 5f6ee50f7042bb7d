#!/bin/sh
# SPDX-License-Identifier: MIT
# `heapprof top` on real dumps of hp_sites (alloc_a keeps 8 MiB live, alloc_b 4 MiB, leak_c
# 40000 x 48 B): written by Debian's jemalloc (LD_PRELOAD, MALLOC_CONF, lg_prof_sample 12)
# and, when build/memshim is there, by `memshim run --prof --sample 12 --dump-at-exit` with
# both backtrace walkers. The three sites must be the top three, in order, within sampling
# error; `jeprof --text` must agree on the same dump (same top three, same bytes, same total);
# --lines names hp_sites.c; --json parses.
# The windows are wide enough that sampling luck cannot fail the test: alloc_a is sampled
# whole, alloc_b and leak_c fall outside +-20% and +-35% with probabilities 7.1e-17 and
# 2.3e-13 per dump, and the windows do not overlap, so the order follows (hp_sites.c has the
# reasoning; tests/helpers/hp_sample_odds.py the arithmetic). Three dumps: < 4e-12 a run.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites
SITES="$HELPERS/hp_sites"

# check_sites TOPFILE LABEL: ranking and amounts
check_sites() {
    names=$(awk 'NR > 2 && NF >= 8 { print $NF }' "$1" | head -n 3 | tr '\n' ' ')
    [ "$names" = "alloc_a alloc_b leak_c " ] || fail "$2: top three are '$names':
$(head -n 8 "$1")"
    a=$(flat_of "$1" alloc_a)
    b=$(flat_of "$1" alloc_b)
    c=$(flat_of "$1" leak_c)
    within "$a" 8388608 1 || fail "$2: alloc_a $a B, want 8 MiB"
    within "$b" 4194304 20 || fail "$2: alloc_b $b B, want 4 MiB +-20%"
    within "$c" 1920000 35 || fail "$2: leak_c $c B, want 1920000 B +-35%"
    echo "$2: alloc_a=$a alloc_b=$b leak_c=$c"
}

jemalloc_run "$TMP/je" 12 "$SITES"
dump=$DUMP
"$HP" top "$dump" >"$TMP/top.txt" 2>"$TMP/top.err" || fail "heapprof top exited $?: $(cat "$TMP/top.err")"
[ -s "$TMP/top.err" ] && fail "heapprof top wrote to stderr: $(cat "$TMP/top.err")"
check_sites "$TMP/top.txt" jemalloc

# jeprof on the same dump: same top three with the same bytes, same total.
if command -v jeprof >/dev/null 2>&1; then
    jeprof --text --show_bytes "$SITES" "$dump" >"$TMP/jeprof.txt" 2>/dev/null || fail "jeprof failed"
    jn=$(awk 'NR > 1 && NF >= 6 { print $6 }' "$TMP/jeprof.txt" | head -n 3 | tr '\n' ' ')
    [ "$jn" = "alloc_a alloc_b leak_c " ] || fail "jeprof's top three are '$jn'"
    for n in alloc_a alloc_b leak_c; do
        j=$(awk -v n="$n" '$6 == n { print $1; exit }' "$TMP/jeprof.txt")
        h=$(flat_of "$TMP/top.txt" "$n")
        # jeprof truncates (%d), we round: at most one byte apart
        within "$h" "$j" 0.001 || fail "$n: heapprof $h B, jeprof $j B"
    done
    jt=$(sed -n 's/^Total: \([0-9]*\) B$/\1/p' "$TMP/jeprof.txt")
    ht=$(sed -n 's/^Total: \([0-9]*\) B in use.*/\1/p' "$TMP/top.txt")
    within "$ht" "$jt" 0.001 || fail "total: heapprof $ht B, jeprof $jt B"
    echo "jeprof agrees: total $jt B"
else
    echo "jeprof not installed: agreement not checked"
fi

# --lines: the sites with their file:line
"$HP" top "$dump" --lines -n 3 >"$TMP/lines.txt" || fail "top --lines exited $?"
grep -q 'alloc_a /.*tests/helpers/hp_sites.c:[0-9][0-9]*$' "$TMP/lines.txt" ||
    fail "--lines: no 'alloc_a .../hp_sites.c:N': $(cat "$TMP/lines.txt")"

# --json: valid, same ranking
if command -v python3 >/dev/null 2>&1; then
    "$HP" top "$dump" --json -n 3 | python3 -c '
import json, sys
t = json.load(sys.stdin)
names = [e["name"] for e in t["entries"]]
assert t["kind"] == "top" and t["sample"] == "inuse", t
assert names == ["alloc_a", "alloc_b", "leak_c"], names
assert t["entries"][0]["flat_objects"] == 64, t["entries"][0]
' || fail "--json output"
fi

# The same through memshim's own profiling controls, with both walkers.
if [ "$HP_SAN" = 1 ]; then
    echo "sanitizer build: libmemshim.so is not preloadable, memshim-written dumps not checked"
elif [ -x "$MS" ] && [ -f "$SHIM" ]; then
    for unwinder in libunwind libgcc; do
        d="$TMP/ms-$unwinder"
        mkdir -p "$d"
        "$MS" run --prof --sample 12 --dump-at-exit --dump-dir "$d" \
            --unwinder "$unwinder" -- "$SITES" >/dev/null 2>"$d/err" ||
            fail "memshim run ($unwinder) exited $?: $(cat "$d/err")"
        set -- "$d"/*.heap
        [ -f "$1" ] || fail "memshim run ($unwinder) left no dump"
        "$HP" top "$1" >"$d/top.txt" || fail "heapprof top on the $unwinder dump exited $?"
        check_sites "$d/top.txt" "memshim/$unwinder"
    done
else
    echo "no $BUILD/memshim: memshim-written dumps not checked"
fi
echo "ok"
