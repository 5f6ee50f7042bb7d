#!/bin/sh
# SPDX-License-Identifier: MIT
# Symbols for stripped binaries: a copy of hp_sites stripped of every symbol (its GNU
# build-id note kept) is run under jemalloc. heapprof names its sites only when its debug
# file sits in a debug store as .build-id/xx/rest.debug (--debug-dir), and shows
# "object+offset" without it. A binary moved after the run is found again with --binary,
# and a missing one gets one warning. When Debian's libc6-dbg is installed, libc's local
# functions (__libc_start_call_main, not in libc's .dynsym) are named from
# /usr/lib/debug/.build-id.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites
need_cmd objcopy
need_cmd readelf

mkdir -p "$TMP/bin"
bin="$TMP/bin/hp_stripped"
cp "$HELPERS/hp_sites" "$bin"
bid=$(readelf -n "$bin" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$bid" ] || skip "hp_sites has no build-id note"
dbg="$TMP/debug/.build-id/$(echo "$bid" | cut -c1-2)/$(echo "$bid" | cut -c3-).debug"
mkdir -p "$(dirname "$dbg")"
objcopy --only-keep-debug "$bin" "$dbg" || fail "objcopy --only-keep-debug"
objcopy --strip-all "$bin" || fail "objcopy --strip-all"
readelf -S "$bin" | grep -q '\.symtab' && fail "the copy still has a .symtab"
readelf -S "$bin" | grep -q '\.debug_info' && fail "the copy still has DWARF"

jemalloc_run "$TMP/je" 12 "$bin"
dump=$DUMP

"$HP" top "$dump" --debug-dir "$TMP/debug" >"$TMP/with.txt" 2>&1 || fail "top --debug-dir exited $?"
names=$(awk 'NR > 2 && NF >= 8 { print $NF }' "$TMP/with.txt" | head -n 3 | tr '\n' ' ')
[ "$names" = "alloc_a alloc_b leak_c " ] || fail "with the debug store: top three are '$names'"
"$HP" top "$dump" --debug-dir "$TMP/debug" --lines -n 1 | grep -q 'alloc_a /.*hp_sites.c:[0-9]' ||
    fail "no file:line from the separate debug file"

"$HP" top "$dump" --debug-dir "$TMP/nodebug" >"$TMP/without.txt" 2>&1 || fail "top exited $?"
first=$(awk 'NR > 2 && NF >= 8 { print $NF; exit }' "$TMP/without.txt")
case "$first" in hp_stripped+0x*) ;; *) fail "without debug info the top entry is '$first'" ;; esac
echo "stripped: '$first' without, '$names' with the debug store"

# pprof carries the build-id of the stripped binary.
if command -v python3 >/dev/null 2>&1; then
    "$HP" pprof "$dump" -o "$TMP/p.pb.gz" --debug-dir "$TMP/debug" || fail "pprof exited $?"
    python3 - "$TMP/p.pb.gz" "$bid" <<'PY' || fail "build-id not in the pprof file"
import gzip, sys
data = gzip.open(sys.argv[1]).read()
sys.exit(0 if sys.argv[2].encode() in data else 1)
PY
fi

# The binary moved after the run: a warning, then --binary finds it.
mv "$bin" "$TMP/bin/moved"
"$HP" top "$dump" --debug-dir "$TMP/nodebug" >"$TMP/moved.txt" 2>"$TMP/moved.err" || fail "top exited $?"
grep -q "warning: $bin: No such file or directory" "$TMP/moved.err" || fail "no warning for the missing binary: $(cat "$TMP/moved.err")"
[ "$(wc -l <"$TMP/moved.err")" -eq 1 ] || fail "more than one warning: $(cat "$TMP/moved.err")"
"$HP" top "$dump" --binary "$TMP/bin/moved" --debug-dir "$TMP/debug" -n 1 2>&1 | grep -q ' alloc_a$' ||
    fail "--binary did not find the moved binary"

# libc's debug file from the system store.
libc=$(awk '$6 ~ /\/libc\.so\.6$/ { print $6; exit }' "$dump")
lbid=$(readelf -n "$libc" 2>/dev/null | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
if [ -n "$lbid" ] && [ -f "/usr/lib/debug/.build-id/$(echo "$lbid" | cut -c1-2)/$(echo "$lbid" | cut -c3-).debug" ]; then
    "$HP" top "$dump" -q >"$TMP/libc.txt" || fail "top exited $?"
    grep -q ' __libc_start_call_main$' "$TMP/libc.txt" ||
        fail "libc's __libc_start_call_main not named from /usr/lib/debug/.build-id"
    echo "libc named from its debug file"
else
    echo "libc6-dbg not installed: system debug store not checked"
fi
echo "ok"
