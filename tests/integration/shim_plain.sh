#!/bin/sh
# SPDX-License-Identifier: MIT
# A program that never heard of jemalloc is served by it under the shim: it keeps
# 64 MiB allocated at exit, and the exit report, read from jemalloc's own
# stats.allocated, shows at least that much; jemalloc is mapped into the process; and
# jemalloc's heap profiler is ready but inactive without any MALLOC_CONF, while a
# user's MALLOC_CONF still wins.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_plain
need_helper shim_probe
same_output plain "$HELPERS/shim_plain"
MEMSHIM_REPORT=1 LD_PRELOAD="$SHIM" "$HELPERS/shim_plain" >/dev/null 2>"$TMP/report" ||
    fail "shim_plain failed under the shim"
cat "$TMP/report"
final=$(awk '/allocated  peak/ { print $(NF-1), $NF }' "$TMP/report")
case "$final" in
*MiB) mib=${final%% *}; mib=${mib%%.*}; [ "$mib" -ge 64 ] || fail "final allocated $final < 64 MiB" ;;
*GiB) ;;
*) fail "no allocated figure in the report: '$final'" ;;
esac
LD_PRELOAD="$SHIM" sh -c 'grep -c libjemalloc /proc/$$/maps' >"$TMP/maps"
[ "$(cat "$TMP/maps")" -ge 1 ] || fail "libjemalloc is not mapped under the shim"

LD_PRELOAD="$SHIM" "$HELPERS/shim_probe" >"$TMP/probe"
cat "$TMP/probe"
grep -qx 'memshim: active' "$TMP/probe" || fail "memshim_is_active is false under preload"
grep -qx 'opt.prof: true' "$TMP/probe" || fail "profiling is not ready (opt.prof)"
grep -qx 'prof.active: false' "$TMP/probe" || fail "profiling should be inactive"
MALLOC_CONF=prof_active:true LD_PRELOAD="$SHIM" "$HELPERS/shim_probe" >"$TMP/probe2"
grep -qx 'prof.active: true' "$TMP/probe2" || fail "the user's MALLOC_CONF did not win"
MALLOC_CONF=prof:false LD_PRELOAD="$SHIM" "$HELPERS/shim_probe" >"$TMP/probe3"
grep -qx 'opt.prof: false' "$TMP/probe3" || fail "MALLOC_CONF=prof:false did not win"
"$HELPERS/shim_probe" | grep -qx 'mallctl: no' || fail "the probe sees jemalloc without the shim"
