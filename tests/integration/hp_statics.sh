#!/bin/sh
# SPDX-License-Identifier: MIT
# Same-named static functions stay apart, and a function is spelled the same with and
# without --lines. hp_statics (tests/helpers/hp_statics/, built here: it has three
# translation units) keeps 16 MiB through hash.c's static entry_new and 4 MiB through
# set.c's. Every allocation is sampled (lg_prof_sample 0), so the amounts are exact.
# top, collapsed, flame and pprof must show "entry_new (hash.c)" and "entry_new (set.c)"
# with their own bytes; the names `top` prints must be the names `top --lines` prints
# (with libc6-dbg installed, libc's __libc_start_main was __libc_start_main_impl there).
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_cmd cc

src=tests/helpers/hp_statics
bin="$TMP/hp_statics"
cc -std=c11 -O1 -g -fno-omit-frame-pointer -Wl,--build-id -o "$bin" \
    "$src/main.c" "$src/hash.c" "$src/set.c" || fail "cannot build hp_statics"
jemalloc_run "$TMP/je" 0 "$bin"
dump=$DUMP
fail=0

"$HP" top "$dump" -n 0 >"$TMP/top.txt" || fail "top exited $?"
check "top: hash.c's entry_new" 16777216 "$(flat_of "$TMP/top.txt" "(hash.c)")"
check "top: set.c's entry_new" 4194304 "$(flat_of "$TMP/top.txt" "(set.c)")"
check "top: two entry_new rows" 2 "$(grep -c ' entry_new (\(hash\|set\)\.c)$' "$TMP/top.txt")"
check "top: no bare entry_new" 0 "$(grep -c ' entry_new$' "$TMP/top.txt")"

"$HP" collapsed "$dump" >"$TMP/folded.txt" || fail "collapsed exited $?"
check "collapsed: hash.c" 1 "$(grep -c ';hash_fill;entry_new (hash.c) 16777216$' "$TMP/folded.txt")"
check "collapsed: set.c" 1 "$(grep -c ';set_fill;entry_new (set.c) 4194304$' "$TMP/folded.txt")"

"$HP" flame "$dump" -o "$TMP/flame.svg" || fail "flame exited $?"
for f in hash set; do
    check "flame: $f.c" yes "$(grep -q "entry_new ($f.c)" "$TMP/flame.svg" && echo yes)"
done

# One spelling: every function `top` names is named the same by `top --lines`.
names() { # file: the function column, without --lines' " file:line"
    awk 'NR > 2 && NF >= 8 { s = $8; for (i = 9; i <= NF; i++) s = s " " $i; print s }' "$1" |
        sed 's/ [^ ]*:[0-9][0-9]*$//' | sort -u
}
"$HP" top "$dump" -n 0 --lines >"$TMP/lines.txt" || fail "top --lines exited $?"
names "$TMP/top.txt" >"$TMP/plain.names"
names "$TMP/lines.txt" >"$TMP/lines.names"
missing=$(comm -23 "$TMP/plain.names" "$TMP/lines.names" | tr '\n' ',')
check "plain names all in --lines" "" "$missing"
check "--lines: hash.c" yes "$(grep -q '^ *16777216 .* entry_new (hash.c) /.*hash\.c:[0-9]*$' "$TMP/lines.txt" && echo yes)"

if command -v go >/dev/null 2>&1; then
    "$HP" pprof "$dump" -o "$TMP/p.pb.gz" || fail "pprof exited $?"
    HOME=$TMP GOFLAGS=-mod=mod GOPATH=$TMP/go GOCACHE=$TMP/gocache \
        go tool pprof -top -unit=B "$TMP/p.pb.gz" >"$TMP/gotop.txt" 2>"$TMP/gotop.err" ||
        fail "go tool pprof failed: $(cat "$TMP/gotop.err")"
    check "pprof: hash.c" 1 "$(grep -c '^ *16777216B .* entry_new (hash.c)$' "$TMP/gotop.txt")"
    check "pprof: set.c" 1 "$(grep -c '^ *4194304B .* entry_new (set.c)$' "$TMP/gotop.txt")"
else
    echo "go not installed: pprof not checked with go tool pprof"
fi
exit $fail
