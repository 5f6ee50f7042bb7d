#!/bin/sh
# SPDX-License-Identifier: MIT
# C++ new/delete in every variant (plain, array, nothrow, aligned, sized) ends in
# jemalloc under the shim: each 8 MiB allocation moves jemalloc's stats.allocated up
# and each delete moves it back. A program that replaces only operator new(size_t) and
# operator delete(void *) keeps working: the shim's other deletes route to its
# replacement (plain libjemalloc preload crashes on that program).
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_cxx
need_helper shim_cxx_replaced
same_output cxx "$HELPERS/shim_cxx"
LD_PRELOAD="$SHIM" "$HELPERS/shim_cxx" --require-jemalloc >"$TMP/cxx.je" ||
    { cat "$TMP/cxx.je"; fail "a C++ allocation did not end in jemalloc"; }
[ "$(grep -c '^[a-z].* ok$' "$TMP/cxx.je")" -eq 15 ] || fail "expected 14 variants and the small objects ok"
cat "$TMP/cxx.je"
same_output cxx_replaced "$HELPERS/shim_cxx_replaced"
je=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -f "$je" ]; then
    LD_PRELOAD="$je" "$HELPERS/shim_cxx_replaced" >/dev/null 2>&1
    echo "note: plain libjemalloc preload on the replaced-operator program: exit $?"
fi
