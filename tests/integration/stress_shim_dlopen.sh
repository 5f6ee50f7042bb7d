#!/bin/sh
# SPDX-License-Identifier: MIT
# Stress: dlopen/dlclose, 2000 times in one thread (each really unloading it) and 4 x 2000
# times from concurrent threads, of a library that allocates in its constructor, its
# destructor, its functions and its thread-local storage; pointers cross the boundary both
# ways and outlive the library (tests/helpers/stress_dlopen.c). Same output without and
# with the shim; then with the heap profiler sampling every allocation site it meets.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper stress_dlopen
bin="$HELPERS/stress_dlopen"

cat >"$TMP/alloclib.c" <<'C'
#include <stdlib.h>
#include <string.h>
size_t lib_tls_touch(size_t n);
void *lib_alloc(size_t n, int fill);
void lib_free(void *p);
char *lib_dup(const char *s);
void *lib_grow(void *p, size_t n);
void lib_tls_release(void);
static char *ctor_block;
static __thread char *tls_block; /* dynamic TLS: __tls_get_addr allocates it */
__attribute__((constructor)) static void lib_init(void) {
    ctor_block = malloc(4096);
    if (ctor_block != NULL) memset(ctor_block, 0x5a, 4096);
}
__attribute__((destructor)) static void lib_fini(void) {
    free(ctor_block);
}
void *lib_alloc(size_t n, int fill) {
    void *p = malloc(n);
    if (p != NULL) memset(p, fill, n);
    return p;
}
void lib_free(void *p) {
    free(p);
}
char *lib_dup(const char *s) {
    return strdup(s);
}
void *lib_grow(void *p, size_t n) {
    return realloc(p, n);
}
size_t lib_tls_touch(size_t n) {
    char *b = realloc(tls_block, n);
    if (b == NULL || ctor_block == NULL || ctor_block[4095] != 0x5a) return 0;
    memset(b, 1, n);
    tls_block = b;
    return n;
}
void lib_tls_release(void) {
    free(tls_block);
    tls_block = NULL;
}
C
${CC:-cc} -shared -fPIC -O1 -Wall -Werror -o "$TMP/liballoc.so" "$TMP/alloclib.c" ||
    fail "cannot build the test library"

same_output dlopen timeout 60 "$bin" "$TMP/liballoc.so" 2000 4
grep -q ' unloads 2000 .* failures 0$' "$TMP/dlopen.shim" || fail "$(cat "$TMP/dlopen.shim")"
echo "ok: dlopen under the shim: $(cat "$TMP/dlopen.shim")"

MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=10 LD_PRELOAD="$SHIM" timeout 60 "$bin" "$TMP/liballoc.so" \
    1000 4 >"$TMP/prof.out" 2>"$TMP/prof.err"
rc=$?
[ $rc -eq 0 ] || fail "with profiling: exit $rc: $(tail -n 3 "$TMP/prof.err")"
grep -q ' unloads 1000 .* failures 0$' "$TMP/prof.out" || fail "$(cat "$TMP/prof.out")"
echo "ok: dlopen with profiling: $(cat "$TMP/prof.out")"
