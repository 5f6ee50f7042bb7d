#!/bin/sh
# SPDX-License-Identifier: MIT
# Heap profiling through the launcher:
#   memshim run --prof --sample 12 --dump-at-exit --dump-dir D [--unwinder U] -- prof_sites
# leaves D/memshim.<pid>.0.heap, which `jeprof --text` ranks alloc_a (8 MiB) > alloc_b
# (2 MiB) > leak_c (1 MiB), with both walkers; and
#   memshim run --prof --sample 12 --report -- prof_sites
# prints the top live sites at exit (via build/heapprof) and leaves no temporary files.
set -u
. "$(dirname "$0")/../lib.sh"
need_preload
bin="$HELPERS/prof_sites"
need_built "$MS" "$SHIM" "$bin"


# The ranking, from the flat (libunwind) or cumulative (libgcc: the shim's frames stay on
# top of jemalloc's own stacks) bytes of `jeprof --text --show_bytes`, each site within a
# window that sampling luck leaves with probability < 6e-12 (prof_sites.c has the arithmetic).
ranked() {
    awk -v col="$2" '
        $6 == "alloc_a" { a = $col } $6 == "alloc_b" { b = $col } $6 == "leak_c" { c = $col }
        END {
            mib = 1048576
            printf "alloc_a=%.2f alloc_b=%.2f leak_c=%.2f MiB", a / mib, b / mib, c / mib
            ok = a > 8 * mib * 0.85 && a < 8 * mib * 1.15 && b > 2 * mib * 0.85 &&
                 b < 2 * mib * 1.15 && c > mib * 0.55 && c < mib * 1.45 && a > b && b > c
            exit ok ? 0 : 1
        }' "$1"
}

if command -v jeprof >/dev/null 2>&1; then
    for unwinder in libunwind libgcc; do
        d="$TMP/$unwinder"
        mkdir "$d"
        "$MS" run --prof --sample 12 --dump-at-exit --dump-dir "$d" --unwinder "$unwinder" \
            -- "$bin" status >"$TMP/out" 2>"$TMP/err" || fail "$unwinder: memshim run exited $?"
        grep -q "active=true lg_sample=12 unwinder=$unwinder dump_dir=$d dump_at_exit=true" \
            "$TMP/out" || fail "$unwinder: options not applied: $(cat "$TMP/out" "$TMP/err")"
        set -- "$d"/memshim.*.0.heap
        [ -f "$1" ] || fail "$unwinder: no dump at exit in $d: $(ls "$d")"
        jeprof --text --show_bytes "$bin" "$1" >"$TMP/j.txt" 2>/dev/null ||
            fail "$unwinder: jeprof failed"
        col=1
        [ "$unwinder" = libgcc ] && col=4
        res=$(ranked "$TMP/j.txt" $col) || fail "$unwinder: $res
$(head -n 8 "$TMP/j.txt")"
        echo "ok: memshim run --unwinder $unwinder: jeprof $res"
    done
else
    echo "jeprof not installed: dump checks with jeprof not run"
fi

# The leak report in one command; TMPDIR is private so leftovers would show.
mkdir "$TMP/t"
TMPDIR="$TMP/t" "$MS" run --prof --sample 12 --report -- "$bin" >"$TMP/out" 2>"$TMP/err" ||
    fail "--report: memshim run exited $?: $(cat "$TMP/err")"
[ -z "$(ls -A "$TMP/t")" ] || fail "--report left files behind: $(ls -R "$TMP/t")"
if [ -f "$HP" ] && [ -x "$HP" ]; then
    grep -q "memshim run: heap still live when $bin (pid [0-9]*) exited, top sites:" "$TMP/err" ||
        fail "--report: no leak report header: $(cat "$TMP/err")"
    order=$(sed -n '/heap still live when/,$p' "$TMP/err" |
        grep -o -w -E 'alloc_a|alloc_b|leak_c' | awk '!seen[$0]++' | tr '\n' ' ')
    [ "$order" = "alloc_a alloc_b leak_c " ] || fail "--report ranks '$order': $(cat "$TMP/err")"
    echo "ok: memshim run --prof --report ranks alloc_a alloc_b leak_c"
else
    grep -q "could not summarise" "$TMP/err" || fail "--report without heapprof: $(cat "$TMP/err")"
    echo "ok: memshim run --prof --report without build/heapprof says so and keeps the dump"
fi

# --report without --prof is the shim's memory summary only: no dump, no leak report.
TMPDIR="$TMP/t" "$MS" run --report -- "$bin" >"$TMP/out" 2>"$TMP/err" || fail "report only: $?"
grep -q "heap still live" "$TMP/err" && fail "leak report without --prof"
[ -z "$(ls -A "$TMP/t")" ] || fail "--report without --prof left files"
echo "ok: --report without --prof writes no dump"
exit 0
