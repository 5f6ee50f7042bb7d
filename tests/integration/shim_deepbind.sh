#!/bin/sh
# SPDX-License-Identifier: MIT
# A library dlopen'ed with RTLD_DEEPBIND allocates from jemalloc under the shim (its
# 16 MiB block moves jemalloc's stats.allocated), and pointers cross the boundary in
# both directions. Plain libjemalloc preload crashes here: the library binds to glibc.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_deepbind
cat >"$TMP/lib.c" <<'C'
#include <stdlib.h>
void *lib_alloc(size_t n) { return malloc(n); }
void lib_free(void *p) { free(p); }
C
${CC:-cc} -shared -fPIC -o "$TMP/libdeep.so" "$TMP/lib.c" || fail "cannot build the test library"
LD_PRELOAD="$SHIM" "$HELPERS/shim_deepbind" "$TMP/libdeep.so" >"$TMP/out" 2>&1 ||
    { cat "$TMP/out"; fail "RTLD_DEEPBIND library under the shim"; }
cat "$TMP/out"
grep -qx 'library block in jemalloc: yes' "$TMP/out" || fail "the library's block is not jemalloc's"
je=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [ -f "$je" ]; then
    LD_PRELOAD="$je" "$HELPERS/shim_deepbind" "$TMP/libdeep.so" >/dev/null 2>&1
    echo "note: plain libjemalloc preload with RTLD_DEEPBIND: exit $?"
fi
