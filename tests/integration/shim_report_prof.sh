#!/bin/sh
# SPDX-License-Identifier: MIT
# The exit report says what heap profiling costs: with profiling active a "profiler"
# line names the sampling rate and jemalloc's metadata (its profiling tables included),
# and below lg_sample 16 a second line says that dense sampling inflates memory. No
# such line without profiling, no hint at the default rate. Only presence and format
# are checked (figures vary with the run), and that the metadata is more than 0 B.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_plain
report() { # name var=value...: runs shim_plain with the report on, stderr to $TMP/name
    name=$1
    shift
    env "$@" MEMSHIM_REPORT=1 LD_PRELOAD="$SHIM" "$HELPERS/shim_plain" >/dev/null 2>"$TMP/$name" ||
        { cat "$TMP/$name"; fail "$name: shim_plain failed"; }
    grep -q 'report for shim_plain' "$TMP/$name" || { cat "$TMP/$name"; fail "$name: no report"; }
}
fig='[0-9][0-9.]* [KMGT]*i*B'
report dense MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=12
sed 's/^/  /' "$TMP/dense"
[ "$(grep -c '^memshim\[[0-9]*\]:   profiler ' "$TMP/dense")" -eq 2 ] || fail "dense: not two profiler lines"
grep -q "^memshim\[[0-9]*\]:   profiler   lg_sample 12 (a sample per 4.0 KiB); jemalloc metadata, its tables included: peak $fig, final $fig\$" "$TMP/dense" ||
    fail "dense: the first profiler line is malformed"
grep -q "^memshim\[[0-9]*\]:   profiler   sampling this dense inflates memory: each sampled small block takes a $fig run (runs of that size live: peak $fig, final $fig); the default lg_sample is 19\$" "$TMP/dense" ||
    fail "dense: the hint line is malformed"
grep 'lg_sample 12' "$TMP/dense" | grep -q 'final 0 B$' && fail "dense: metadata is 0 B"
report default MEMSHIM_PROF=1
grep -q 'profiler   lg_sample 19 (a sample per 512.0 KiB)' "$TMP/default" || { cat "$TMP/default"; fail "default: no profiler line"; }
grep -q 'inflates' "$TMP/default" && fail "default: the dense-sampling hint at the default rate"
report off
grep -q 'profiler' "$TMP/off" && { cat "$TMP/off"; fail "off: a profiler line without profiling"; }
echo "ok   profiler lines with dense sampling, at the default rate, and none without profiling"
