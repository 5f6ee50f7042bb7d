#!/bin/sh
# SPDX-License-Identifier: MIT
# The names Debian's jemalloc does not export work under the shim: pvalloc + free
# (plain libjemalloc preload segfaults on it), valloc, memalign, reallocarray overflow,
# cfree and the __libc_* aliases; and glibc's mallinfo2/mallinfo, malloc_trim and
# malloc_stats answer from jemalloc.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_libc_api
LD_PRELOAD="$SHIM" "$HELPERS/shim_libc_api" pvalloc >"$TMP/pv" 2>&1 || { cat "$TMP/pv"; fail "pvalloc + free failed under the shim"; }
LD_PRELOAD="$SHIM" "$HELPERS/shim_libc_api" >"$TMP/api" 2>"$TMP/api.err" ||
    { cat "$TMP/api"; fail "libc API under the shim"; }
cat "$TMP/api"
grep -q '___ Begin jemalloc statistics ___' "$TMP/api.err" || fail "malloc_stats did not print jemalloc's report"
je=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -f "$je" ]; then
    LD_PRELOAD="$je" "$HELPERS/shim_libc_api" pvalloc >/dev/null 2>&1
    echo "note: plain libjemalloc preload, pvalloc + free: exit $? (139 = the crash the shim avoids)"
fi
