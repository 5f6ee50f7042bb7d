#!/bin/sh
# SPDX-License-Identifier: MIT
# valgrind's memcheck on a program under the shim reports no error the plain run does
# not. memcheck replaces malloc, free, realloc, calloc, memalign, posix_memalign,
# aligned_alloc, valloc, malloc_usable_size, cfree and the C++ operators in every object,
# the shim's included, but not reallocarray, pvalloc, free_sized, free_aligned_sized or
# the __libc_* aliases: each of those must end in one of the names memcheck replaces, or
# it hands memcheck's blocks to jemalloc (a crash) and jemalloc's to memcheck (an
# "Invalid free()"). /bin/ls calls reallocarray; shim_entry_points calls every name.
. "$(dirname "$0")/../lib.sh"
need_preload
need_cmd valgrind
need_built "$SHIM"
need_helper shim_entry_points
vg() { # name command...: valgrind as a user runs it, with the shim set by env
    name=$1
    shift
    valgrind -q --error-exitcode=9 --trace-children=yes env LD_PRELOAD="$SHIM" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    if [ $rc -ne 0 ] || grep -q '^==[0-9]*==' "$TMP/$name.err"; then
        head -40 "$TMP/$name.err"
        fail "$name under valgrind and the shim: exit $rc, errors above"
    fi
    echo "ok   $name: exit 0, no memcheck error"
}
# Natively first: the helper itself is correct under the shim.
LD_PRELOAD="$SHIM" "$HELPERS/shim_entry_points" >"$TMP/native" 2>&1 ||
    { cat "$TMP/native"; fail "shim_entry_points failed under the shim without valgrind"; }
mkdir "$TMP/dir" && : >"$TMP/dir/a" && : >"$TMP/dir/b"
vg ls /bin/ls -la "$TMP/dir" /usr/lib
vg entry_points "$HELPERS/shim_entry_points"
grep -q '^ok [0-9]' "$TMP/entry_points.out" || fail "shim_entry_points printed no ok line"
cmp -s "$TMP/native" "$TMP/entry_points.out" || fail "shim_entry_points output differs under valgrind"
