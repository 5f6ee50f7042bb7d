#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad input gets one clear line on stderr naming the problem (and the line), exit status 2,
# never a crash: a truncated dump, a corrupt stack address, a corrupt counts line, a file
# that is not a heap dump, an empty file, a missing file. Usage errors exit 1.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites

jemalloc_run "$TMP/je" 12 "$HELPERS/hp_sites"
good=$DUMP

# expect_input_error FILE PATTERN: every command fails with status 2 and one stderr line
expect_input_error() {
    for cmd in top collapsed; do
        "$HP" $cmd "$1" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ $rc -eq 2 ] || fail "$cmd $1: exit $rc, want 2"
        [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$cmd $1: stderr is not one line: $(cat "$TMP/err")"
        grep -q "$2" "$TMP/err" || fail "$cmd $1: '$(cat "$TMP/err")' does not match '$2'"
    done
    "$HP" pprof "$1" -o "$TMP/x.pb.gz" 2>/dev/null
    [ $? -eq 2 ] || fail "pprof $1: want exit 2"
    "$HP" diff "$good" "$1" >/dev/null 2>&1
    [ $? -eq 2 ] || fail "diff with $1: want exit 2"
    echo "$(basename "$1"): $(cat "$TMP/err")"
}

lines=$(wc -l <"$good")
head -n 5 "$good" >"$TMP/truncated.heap"
expect_input_error "$TMP/truncated.heap" 'dump line 5: truncated (no MAPPED_LIBRARIES section)$'
head -c 200 "$good" >"$TMP/cut.heap"
expect_input_error "$TMP/cut.heap" 'dump line [0-9]*: truncated'
sed '4s/^@ 0x/@ 0xzz/' "$good" >"$TMP/badaddr.heap"
expect_input_error "$TMP/badaddr.heap" 'dump line 4: bad stack address$'
sed '5s/\[0: 0\]/[0: x]/' "$good" >"$TMP/badcounts.heap"
expect_input_error "$TMP/badcounts.heap" 'dump line 5: bad counts line$'
expect_input_error "$HELPERS/hp_sites" 'dump line 1: not a jemalloc heap profile'
: >"$TMP/empty.heap"
expect_input_error "$TMP/empty.heap" 'dump line 1: empty file'
expect_input_error "$TMP/missing.heap" 'missing.heap: No such file or directory$'
head -c 100000 /dev/urandom >"$TMP/random.heap"
"$HP" top "$TMP/random.heap" >/dev/null 2>&1
[ $? -eq 2 ] || fail "random bytes: want exit 2"

"$HP" top >/dev/null 2>&1
[ $? -eq 1 ] || fail "no dump: want exit 1"
"$HP" top "$good" --bogus >/dev/null 2>&1
[ $? -eq 1 ] || fail "unknown option: want exit 1"
"$HP" frobnicate >/dev/null 2>&1
[ $? -eq 1 ] || fail "unknown command: want exit 1"
"$HP" pprof "$good" >/dev/null 2>&1
[ $? -eq 1 ] || fail "pprof without -o: want exit 1"
"$HP" top "$good" -n x >/dev/null 2>&1
[ $? -eq 1 ] || fail "-n x: want exit 1"
[ "$lines" -gt 5 ] || fail "the good dump is too short to truncate"
echo "ok"
