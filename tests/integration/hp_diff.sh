#!/bin/sh
# SPDX-License-Identifier: MIT
# `heapprof diff` finds the leak: hp_sites writes an early dump (through jemalloc's
# prof.dump) after leak_c's first 10000 blocks, then leaks 30000 more and writes the final
# dump at exit. Between the two, leak_c must be the top grower (about 30000 x 48 B) while
# alloc_a and alloc_b, allocated once before the early dump, do not change; the JSON form
# must carry the same numbers. At lg_prof_sample 12 the 30000 later blocks report 1440000 B
# +-40% except with probability 5.8e-13 (tests/helpers/hp_sample_odds.py 30000 48 12 0.40),
# and nothing else grows between the dumps (the early samples are in both).
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites

jemalloc_run "$TMP/je" 12 "$HELPERS/hp_sites" "$TMP/early.heap"
final=$DUMP
[ -f "$TMP/early.heap" ] || fail "hp_sites wrote no early dump"

"$HP" diff "$TMP/early.heap" "$final" >"$TMP/diff.txt" 2>"$TMP/diff.err" ||
    fail "heapprof diff exited $?: $(cat "$TMP/diff.err")"
first=$(awk 'NR > 2 && NF >= 8 { print $NF; exit }' "$TMP/diff.txt")
[ "$first" = leak_c ] || fail "top grower is '$first', want leak_c:
$(head -n 6 "$TMP/diff.txt")"
grew=$(flat_of "$TMP/diff.txt" leak_c)
within "${grew#+}" 1440000 40 || fail "leak_c grew by $grew B, want 1440000 B +-40%"
for n in alloc_a alloc_b; do
    v=$(flat_of "$TMP/diff.txt" "$n")
    [ -z "$v" ] || fail "$n changed by $v B between the dumps"
done
head -n 1 "$TMP/diff.txt" | grep -q '^Total: +[0-9]* B in use' || fail "bad header: $(head -n 1 "$TMP/diff.txt")"
echo "leak_c grew by $grew B"

if command -v python3 >/dev/null 2>&1; then
    "$HP" diff "$TMP/early.heap" "$final" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["kind"] == "diff", d
e = d["entries"][0]
assert e["name"] == "leak_c" and abs(e["flat_bytes"] - 1440000) <= 1440000 * 0.40, e
assert abs(d["new_total_bytes"] - d["base_total_bytes"] - d["total_bytes"]) <= 1, d
' || fail "diff --json"
fi
echo "ok"
