#!/bin/sh
# SPDX-License-Identifier: MIT
# What heap-profile sampling costs a malloc-heavy program: tests/helpers/prof_bench
# (malloc+free pairs of 16 B..4 KiB at a 24-frame-deep stack) under `memshim run`
# without profiling, with `--prof` at the default rate (lg_sample 19, a sample per
# 512 KiB on average), and with `--prof --peak` (the peak watcher polling every 10 ms).
# The three run in interleaved rounds (off, prof, peak, off, ...), so drift of the machine
# hits all alike; prints each configuration's median ns per malloc+free pair over ROUNDS
# rounds and the median of the per-round ratios to `off`. A report, not a pass/fail test.
# usage: BUILD=build sh tests/bench/prof_cost.sh [OPS] [ROUNDS] [THREADS]
set -u
OPS=${1:-4000000}
ROUNDS=${2:-9}
THREADS=${3:-1}
. "$(dirname "$0")/../lib.sh"
bin="$HELPERS/prof_bench"
need_built "$MS" "$SHIM" "$bin"

one() { # memshim run options...: ns per op of one run
    v=$("$MS" run "$@" -- "$bin" "$OPS" 24 "$THREADS" 2>/dev/null | sed -n 's/.*ns_per_op=//p')
    [ -n "$v" ] || { echo "run failed: memshim run $*" >&2; exit 1; }
    echo "$v"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
least() { sort -n | head -n 1; }

echo "prof_bench: $OPS malloc+free pairs x $THREADS thread(s), 24-frame stack, $ROUNDS interleaved rounds"
: >"$TMP/off" && : >"$TMP/prof" && : >"$TMP/peak" && : >"$TMP/r_prof" && : >"$TMP/r_peak"
r=0
while [ $r -lt "$ROUNDS" ]; do
    a=$(one) || exit 1
    b=$(one --prof) || exit 1
    c=$(one --prof --peak --dump-dir "$TMP") || exit 1
    echo "$a" >>"$TMP/off"
    echo "$b" >>"$TMP/prof"
    echo "$c" >>"$TMP/peak"
    awk -v x="$b" -v y="$a" 'BEGIN { print x / y }' >>"$TMP/r_prof"
    awk -v x="$c" -v y="$a" 'BEGIN { print x / y }' >>"$TMP/r_peak"
    r=$((r + 1))
done
echo "ns/op per round (off, prof, prof+peak):"
paste "$TMP/off" "$TMP/prof" "$TMP/peak" | sed "s/^/  /"
# The fastest run of each is the least disturbed by other load on the machine.
printf '%-22s %10s %10s %14s %12s\n' configuration "ns/op med" "ns/op min" "ratio med" "ratio min"
row() { # label file ratios
    printf '%-22s %10s %10s %14s %12s\n' "$1" "$(median <"$2")" "$(least <"$2")" \
        "$(median <"$3" | awk '{ printf "%.3f", $1 }')" \
        "$(awk -v a="$(least <"$2")" -v b="$(least <"$TMP/off")" 'BEGIN { printf "%.3f", a / b }')"
}
echo 1 >"$TMP/r_off"
row "memshim run" "$TMP/off" "$TMP/r_off"
row "memshim run --prof" "$TMP/prof" "$TMP/r_prof"
row "  --prof --peak" "$TMP/peak" "$TMP/r_peak"
