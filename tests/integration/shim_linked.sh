#!/bin/sh
# SPDX-License-Identifier: MIT
# Linked mode: a program built with -lmemshim (no LD_PRELOAD) allocates through the shim,
# reads stats and controls through memshim.h, and pvalloc + free works.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
cat >"$TMP/linked.c" <<'C'
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "memshim.h"
int main(void)
{
    if (!memshim_is_active()) { puts("shim not active"); return 1; }
    memshim_stats_t a, b;
    if (memshim_stats_get(&a) != 0) return 2;
    char *p = malloc(32 << 20);
    if (p == NULL) return 3;
    memset(p, 1, 32 << 20);
    if (memshim_stats_get(&b) != 0) return 4;
    if (b.allocated < a.allocated + (32 << 20)) { puts("malloc is not jemalloc's"); return 5; }
    free(p);
    char *q = pvalloc(100);
    free(q);
    char v[64];
    if (memshim_ctl_get_str("version", v, sizeof(v)) != 0) return 6;
    uint64_t n = 3;
    if (memshim_ctl("inject.fail_after", NULL, NULL, &n, sizeof(n)) != 0) return 7;
    void *ok[3];
    for (int i = 0; i < 3; i++) ok[i] = malloc(10);
    void *failed = malloc(10);
    for (int i = 0; i < 3; i++) free(ok[i]);
    if (failed != NULL || ok[2] == NULL) { puts("failure injection"); return 8; }
    printf("linked memshim %s ok\n", v);
    return 0;
}
C
${CC:-cc} -D_GNU_SOURCE -I"$top/shim" -o "$TMP/linked" "$TMP/linked.c" -L"$BUILD_ABS" -lmemshim \
    -Wl,-rpath,"$BUILD_ABS" || fail "cannot link against -lmemshim"
readelf -d "$TMP/linked" | grep -q 'NEEDED.*libmemshim.so' || fail "libmemshim.so is not NEEDED"
env -u LD_PRELOAD "$TMP/linked" >"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "linked program failed"; }
cat "$TMP/out"
grep -q '^linked memshim .* ok$' "$TMP/out" || fail "unexpected output"
