#!/bin/sh
# SPDX-License-Identifier: MIT
# `heapprof pprof` writes a gzipped profile.proto that Go's pprof reads: `go tool pprof
# -top` must report the same in-use total (bytes and objects) as `heapprof top`, name the
# same top allocation site, and show the main binary's GNU build-id. A dump written with
# jemalloc's prof_accum off (the default) has no allocation totals: its profile lists only
# inuse_objects and inuse_space (go tool pprof refuses -sample_index=alloc_space); one
# written with prof_accum:true keeps alloc_objects and alloc_space, whose totals agree with
# `heapprof top --alloc`.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites
need_cmd go
export HOME="${HOME:-$TMP}" GOCACHE="$TMP/gocache" PPROF_TMPDIR="$TMP"

jemalloc_run "$TMP/je" 12 "$HELPERS/hp_sites"
"$HP" pprof "$DUMP" -o "$TMP/p.pb.gz" || fail "heapprof pprof exited $?"
gzip -t "$TMP/p.pb.gz" || fail "not gzip"
"$HP" top "$DUMP" >"$TMP/top.txt" || fail "heapprof top exited $?"
go tool pprof -top -unit=B -symbolize=none "$TMP/p.pb.gz" >"$TMP/go.txt" 2>"$TMP/go.err" ||
    fail "go tool pprof failed: $(cat "$TMP/go.err")"
# "Showing nodes accounting for 12478285B, 100% of 12478285B total"
gt=$(sed -n 's/.* of \([0-9]*\)B total$/\1/p' "$TMP/go.txt")
ht=$(sed -n 's/^Total: \([0-9]*\) B in use in \([0-9]*\) objects.*/\1/p' "$TMP/top.txt")
ho=$(sed -n 's/^Total: \([0-9]*\) B in use in \([0-9]*\) objects.*/\2/p' "$TMP/top.txt")
# pprof sums per-stack values rounded to integers; heapprof rounds the sum: a few bytes apart
within "$gt" "$ht" 0.001 || fail "total: pprof $gt B, heapprof $ht B
$(head -n 6 "$TMP/go.txt")"
go tool pprof -top -sample_index=inuse_objects -symbolize=none "$TMP/p.pb.gz" >"$TMP/go_obj.txt" 2>/dev/null ||
    fail "go tool pprof (objects) failed"
go_obj=$(sed -n 's/.* of \([0-9]*\) total$/\1/p' "$TMP/go_obj.txt")
within "$go_obj" "$ho" 0.01 || fail "objects: pprof $go_obj, heapprof $ho"
first=$(awk '/flat%/ { getline; print $NF; exit }' "$TMP/go.txt")
[ "$first" = alloc_a ] || fail "pprof's top entry is '$first'"
grep -q '^Type: inuse_space$' "$TMP/go.txt" || fail "default sample type is not inuse_space"
bid=$(readelf -n "$HELPERS/hp_sites" 2>/dev/null | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
if [ -n "$bid" ]; then
    grep -q "^Build ID: $bid\$" "$TMP/go.txt" || fail "pprof does not show build-id $bid:
$(head -n 3 "$TMP/go.txt")"
fi

# prof_accum off: only the in-use sample types
types() { # profile: its sample types as go tool pprof -raw lists them
    go tool pprof -raw -symbolize=none "$1" 2>/dev/null | sed -n '/^Samples:$/{n;p;q}'
}
t=$(types "$TMP/p.pb.gz")
[ "$t" = "inuse_objects/count inuse_space/bytes[dflt]" ] ||
    fail "sample types of a dump without allocation totals: '$t'"
go tool pprof -top -sample_index=alloc_space -symbolize=none "$TMP/p.pb.gz" >/dev/null 2>&1 &&
    fail "go tool pprof accepted -sample_index=alloc_space without alloc_* types"

# prof_accum:true: all four, and the alloc totals agree with heapprof's
mkdir -p "$TMP/acc"
env LD_PRELOAD="$JEMALLOC" \
    MALLOC_CONF="prof:true,prof_accum:true,prof_final:true,lg_prof_sample:12,prof_prefix:$TMP/acc/jeprof" \
    "$HELPERS/hp_sites" >"$TMP/acc/stdout" 2>"$TMP/acc/stderr" ||
    fail "hp_sites exited $? under jemalloc with prof_accum: $(cat "$TMP/acc/stderr")"
set -- "$TMP"/acc/jeprof.*.f.heap
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one final dump in $TMP/acc, found: $(ls "$TMP/acc")"
acc=$1
"$HP" pprof "$acc" -o "$TMP/acc.pb.gz" || fail "heapprof pprof (prof_accum) exited $?"
t=$(types "$TMP/acc.pb.gz")
[ "$t" = "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]" ] ||
    fail "sample types of a dump with allocation totals: '$t'"
go tool pprof -top -unit=B -sample_index=alloc_space -symbolize=none "$TMP/acc.pb.gz" \
    >"$TMP/go_alloc.txt" 2>"$TMP/go.err" || fail "go tool pprof (alloc_space) failed: $(cat "$TMP/go.err")"
ga=$(sed -n 's/.* of \([0-9]*\)B total$/\1/p' "$TMP/go_alloc.txt")
"$HP" top "$acc" --alloc >"$TMP/top_alloc.txt" || fail "heapprof top --alloc exited $?"
ha=$(sed -n 's/^Total: \([0-9]*\) B allocated in .*/\1/p' "$TMP/top_alloc.txt")
within "$ga" "$ha" 0.001 || fail "alloc total: pprof $ga B, heapprof $ha B"
grep -q nan "$TMP/top_alloc.txt" && fail "top --alloc printed nan: $(cat "$TMP/top_alloc.txt")"
echo "pprof total $gt B, $go_obj objects; heapprof $ht B, $ho objects; allocated (prof_accum) $ga B"
echo "ok"
