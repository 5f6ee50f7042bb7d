#!/bin/sh
# SPDX-License-Identifier: MIT
# The folded-stack and flame-graph outputs of a real dump: `heapprof collapsed` writes one
# "root;...;leaf bytes" line per stack whose bytes add up to top's total, with hp_sites'
# sites as leaves under main; `heapprof flame` writes a well-formed SVG whose frames
# include the sites, with the zoom/search script inside. No progress line when piped.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites

jemalloc_run "$TMP/je" 12 "$HELPERS/hp_sites"
"$HP" top "$DUMP" >"$TMP/top.txt" || fail "top exited $?"
total=$(sed -n 's/^Total: \([0-9]*\) B in use.*/\1/p' "$TMP/top.txt")

"$HP" collapsed "$DUMP" >"$TMP/folded.txt" 2>"$TMP/folded.err" || fail "collapsed exited $?"
[ -s "$TMP/folded.err" ] && fail "collapsed wrote to stderr: $(cat "$TMP/folded.err")"
# alloc_a's 64 blocks of 128 KiB are all sampled except with probability 8.1e-13 (hp_sites.c)
grep -q ';main;alloc_a 838860[0-9]$' "$TMP/folded.txt" || fail "no '...;main;alloc_a 8388608' line:
$(cat "$TMP/folded.txt")"
grep -q ';main;leak_c [0-9]*$' "$TMP/folded.txt" || fail "no leak_c stack"
sum=$(awk '{ s += $NF } END { printf "%.0f", s }' "$TMP/folded.txt")
within "$sum" "$total" 0.001 || fail "folded bytes add up to $sum, top's total is $total"
awk '$NF !~ /^[0-9]+$/ || NF < 2 { exit 1 }' "$TMP/folded.txt" || fail "malformed folded line"
"$HP" collapsed "$DUMP" -o "$TMP/folded2.txt" || fail "collapsed -o exited $?"
cmp -s "$TMP/folded.txt" "$TMP/folded2.txt" || fail "collapsed -o differs from stdout"

"$HP" flame "$DUMP" -o "$TMP/f.svg" --title "hp_sites heap" 2>"$TMP/flame.err" || fail "flame exited $?"
[ -s "$TMP/flame.err" ] && fail "flame wrote to stderr: $(cat "$TMP/flame.err")"
head -n 1 "$TMP/f.svg" | grep -q '^<?xml' || fail "not an SVG"
for s in '<title>alloc_a (' '<title>leak_c (' '<title>main (' 'function zoom(node)' \
    'function search(re)' '>hp_sites heap</text>'; do
    grep -qF "$s" "$TMP/f.svg" || fail "flame graph lacks '$s'"
done
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$TMP/f.svg" || fail "flame graph is not well-formed XML"
fi
echo "folded: $(wc -l <"$TMP/folded.txt") stacks, $sum B; flame: $(wc -c <"$TMP/f.svg") bytes"
echo "ok"
