#!/bin/sh
# SPDX-License-Identifier: MIT
# `make install DESTDIR=... PREFIX=/usr/local` installs exactly the expected files; each
# installed header compiles alone (C11 and C++17, -Wall -Wextra -Werror -pedantic),
# leaks none of the shim's internal macros; and small programs build against the
# installed tree with `pkg-config --cflags --libs memshim` / `heapprof` and run.
# In sanitizer builds (MEMSHIM_SAN=1) the libraries are instrumented, so only the file
# list and the headers are checked.
. "$(dirname "$0")/../lib.sh"
need_cmd cc g++ pkg-config nm
need_built "$SHIM" "$MS" "$HP" "$KV_BIN"
tmp=$TMP
dest=$tmp/root
prefix=/usr/local

# What the tree was built as is installed as it is (run.sh checked it is up to date):
# -o all keeps make from rebuilding anything here.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" -o all BUILD="$BUILD_ABS" \
    NOSHIM="${NOSHIM:-0}" DESTDIR="$dest" PREFIX=$prefix install >"$tmp/install.log" 2>&1 ||
    {
        cat "$tmp/install.log"
        fail "make install"
    }

expected="bin/heapprof
bin/kvcore-server
bin/memshim
include/memshim/heapprof.h
include/memshim/memshim.h
lib/libheapprof.a
lib/libmemshim.a
lib/libmemshim.so
lib/pkgconfig/heapprof.pc
lib/pkgconfig/memshim.pc"
got=$(cd "$dest$prefix" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort)
[ -z "$(cd "$dest" && find . ! -type d | grep -v "^\.$prefix/")" ] || fail "files outside $prefix"
if [ "$got" != "$expected" ]; then
    echo "expected:"
    echo "$expected"
    echo "installed:"
    echo "$got"
    fail "make install installed another list of files"
fi
for b in memshim heapprof kvcore-server; do
    [ -x "$dest$prefix/bin/$b" ] || fail "bin/$b is not executable"
done
echo "ok: make install installs the 10 expected files"

# Each public header alone, in C and C++, twice (include guards), and nothing of ms_defs.h.
inc=$dest$prefix/include/memshim
for h in "$inc"/*.h; do
    n=$(basename "$h")
    cat >"$tmp/alone.c" <<EOF
#include <$n>
#include <$n>
#if defined(MS_LIKELY) || defined(MS_EXPORT) || defined(ms_assert) || defined(MS_DEFS_H)
#error "$n leaks the shim's internal macros"
#endif
int main(void) { return 0; }
EOF
    cp "$tmp/alone.c" "$tmp/alone.cc"
    cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$inc" -c "$tmp/alone.c" -o "$tmp/alone_c.o" ||
        fail "$n does not compile alone as C11"
    g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I"$inc" -c "$tmp/alone.cc" \
        -o "$tmp/alone_cc.o" || fail "$n does not compile alone as C++17"
    # Nothing defined (a static const per includer, a function body) in the object.
    [ -z "$(nm "$tmp/alone_c.o" | grep -v ' T main$')" ] ||
        fail "$n defines something in every file that includes it"
done
echo "ok: every installed header compiles alone in C11 and C++17, and leaks no internal macro"

[ "${MEMSHIM_SAN:-}" = 1 ] && {
    echo "ok: (sanitizer build: the installed libraries are not linked into a test program)"
    exit 0
}

# pkg-config against the staging tree: the sysroot prefixes -I and -L with $dest.
export PKG_CONFIG_PATH="$dest$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_LIBDIR="$dest$prefix/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
flags=$(pkg-config --cflags --libs memshim) || fail "pkg-config memshim"
case "$flags" in *"-I$dest$prefix/include/memshim"*"-lmemshim"*) ;; *)
    fail "pkg-config memshim gave '$flags'"
    ;;
esac
cat >"$tmp/use_memshim.c" <<'EOF'
#include <memshim.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    memshim_stats_t st;
    memshim_prof_status_t ps;
    void *p = malloc(1000);
    if (p == NULL || memshim_stats_get(&st) != 0 || memshim_prof_status(&ps) != 0) return 1;
    free(p);
    printf("active=%d allocated>0=%d prof=%d\n", memshim_is_active(), st.allocated > 0,
           ps.available);
    return 0;
}
EOF
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror "$tmp/use_memshim.c" -o "$tmp/use_memshim" $flags ||
    fail "a program does not build with pkg-config --cflags --libs memshim"
out=$(LD_LIBRARY_PATH="$dest$prefix/lib" "$tmp/use_memshim") || fail "use_memshim failed: $out"
[ "$out" = "active=1 allocated>0=1 prof=1" ] || fail "use_memshim printed '$out'"
echo "ok: a program built with pkg-config memshim links the installed libmemshim.so ($out)"

flags=$(pkg-config --cflags --libs heapprof) || fail "pkg-config heapprof"
cat >"$tmp/use_heapprof.c" <<'EOF'
#include <heapprof.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    static const char dump[] = "heap_v2/524288\n"
                               "  t*: 1: 4096 [0: 0]\n"
                               "@ 0x1000 0x2000\n"
                               "  t*: 1: 4096 [0: 0]\n"
                               "\nMAPPED_LIBRARIES:\n";
    hp_dump_t *d = hp_dump_new();
    if (d == NULL) return 1;
    int rc = hp_dump_parse(d, dump, strlen(dump));
    printf("rc=%d stacks=%zu period=%llu\n", rc, hp_dump_stack_count(d),
           (unsigned long long)hp_dump_period(d));
    hp_dump_free(d);
    return rc == 0 ? 0 : 1;
}
EOF
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror "$tmp/use_heapprof.c" -o "$tmp/use_heapprof" $flags ||
    fail "a program does not build with pkg-config --cflags --libs heapprof"
out=$("$tmp/use_heapprof") || fail "use_heapprof failed: $out"
[ "$out" = "rc=0 stacks=1 period=524288" ] || fail "use_heapprof printed '$out'"
echo "ok: a program built with pkg-config heapprof reads a dump ($out)"

# The README's own example: install into a prefix (no DESTDIR, no ldconfig), build with
# pkg-config, run with no LD_LIBRARY_PATH: memshim.pc carries the rpath of its libdir.
pfx=$tmp/pfx
unset PKG_CONFIG_SYSROOT_DIR
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" -o all BUILD="$BUILD_ABS" \
    NOSHIM="${NOSHIM:-0}" PREFIX="$pfx" install >"$tmp/install2.log" 2>&1 ||
    fail "make install PREFIX=$pfx"
export PKG_CONFIG_PATH="$pfx/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$pfx/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 "$tmp/use_memshim.c" -o "$tmp/use_memshim2" $(pkg-config --cflags --libs memshim) ||
    fail "the README's pkg-config example does not build"
out=$(env -u LD_LIBRARY_PATH "$tmp/use_memshim2") || fail "the README's example does not run: $out"
[ "$out" = "active=1 allocated>0=1 prof=1" ] || fail "use_memshim2 printed '$out'"
echo "ok: make install PREFIX=DIR + pkg-config builds a program that runs without LD_LIBRARY_PATH"
