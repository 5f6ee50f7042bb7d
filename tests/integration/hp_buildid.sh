#!/bin/sh
# SPDX-License-Identifier: MIT
# heapprof refuses a main program that is not the build that wrote the dump. A heap_v2
# dump records no build-id, only /proc/<pid>/maps (path, inode, offsets), so heapprof
# compares --binary's GNU build-id with the file at the dump's path while that file still
# has the dump's inode, and distrusts a file that replaced it. hp_statics is built twice
# (the second with more code: another build-id) and the first runs under jemalloc:
#   --binary <the other build>   exit 3, both build-ids named, nothing on stdout
#   ... --force                  a WARNING, the report, and pprof stamps the build-id
#                                that ran, not --binary's
#   --binary <the right build>   no warning
#   the program rebuilt in place (a new file at its path): refused without --binary,
#   fine with --binary naming the original (moved away, so its inode is the dump's).
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_cmd cc
need_cmd readelf

src=tests/helpers/hp_statics
build() { # out [cflags]
    out=$1
    shift
    cc -std=c11 -O1 -g -fno-omit-frame-pointer -Wl,--build-id "$@" -o "$out" \
        "$src/main.c" "$src/hash.c" "$src/set.c" || fail "cannot build $out"
}
bid() { readelf -n "$1" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p'; }
mkdir -p "$TMP/bin"
v1="$TMP/bin/prog"
v2="$TMP/bin/prog2"
build "$v1"
build "$v2" -DHP_VARIANT=2
b1=$(bid "$v1")
b2=$(bid "$v2")
[ -n "$b1" ] && [ -n "$b2" ] || skip "the linker wrote no build-id"
[ "$b1" != "$b2" ] || fail "the two builds have one build-id: $b1"
jemalloc_run "$TMP/je" 0 "$v1"
dump=$DUMP
fail=0

"$HP" top "$dump" --binary "$v2" >"$TMP/wrong.out" 2>"$TMP/wrong.err"
check "other build: exit status" 3 "$?"
check "other build: no report" 0 "$(wc -c <"$TMP/wrong.out")"
check "other build: names both build-ids" yes \
    "$(grep "$b2" "$TMP/wrong.err" | grep -q "$b1" && echo yes)"
check "other build: one line" 1 "$(wc -l <"$TMP/wrong.err")"
"$HP" pprof "$dump" --binary "$v2" -o "$TMP/wrong.pb.gz" 2>/dev/null
check "other build: pprof refused" 3 "$?"

"$HP" top "$dump" --binary "$v2" --force >"$TMP/force.out" 2>"$TMP/force.err"
check "--force: exit status" 0 "$?"
check "--force: warning" yes "$(grep -q "WARNING: .*$b2" "$TMP/force.err" && echo yes)"
check "--force: report" yes "$(grep -q '^Total: ' "$TMP/force.out" && echo yes)"
if command -v python3 >/dev/null 2>&1; then
    "$HP" pprof "$dump" --binary "$v2" --force -o "$TMP/force.pb.gz" 2>/dev/null ||
        fail "pprof --force exited $?"
    stamped=$(python3 - "$TMP/force.pb.gz" "$b1" "$b2" <<'PY'
import gzip, sys
data = gzip.open(sys.argv[1]).read()
print(("ran " if sys.argv[2].encode() in data else "") + ("binary" if sys.argv[3].encode() in data else ""))
PY
)
    check "--force: pprof stamps the build-id that ran" "ran " "$stamped"
fi

"$HP" top "$dump" --binary "$v1" >"$TMP/right.out" 2>"$TMP/right.err"
check "right build: exit status" 0 "$?"
check "right build: no warning" "" "$(cat "$TMP/right.err")"
"$HP" top "$dump" >/dev/null 2>"$TMP/plain.err"
check "no --binary: exit status" 0 "$?"
check "no --binary: no warning" "" "$(cat "$TMP/plain.err")"

# Rebuilt in place: the old file moved away, a new one at the dump's path.
mv "$v1" "$TMP/bin/prog.orig"
build "$v1" -DHP_VARIANT=2
"$HP" top "$dump" >/dev/null 2>"$TMP/rebuilt.err"
check "rebuilt: exit status" 3 "$?"
check "rebuilt: says replaced" yes "$(grep -q "$v1 was replaced after the dump" "$TMP/rebuilt.err" && echo yes)"
"$HP" top "$dump" --binary "$TMP/bin/prog.orig" >/dev/null 2>"$TMP/orig.err"
check "rebuilt, --binary the original: exit status" 0 "$?"
check "rebuilt, --binary the original: no warning" "" "$(cat "$TMP/orig.err")"
"$HP" top "$dump" --binary "$v1" >/dev/null 2>"$TMP/unverified.err"
check "rebuilt, --binary the new file: runs" 0 "$?"
check "rebuilt, --binary the new file: says unverified" yes \
    "$(grep -q "warning: .*cannot check that $v1" "$TMP/unverified.err" && echo yes)"
exit $fail
