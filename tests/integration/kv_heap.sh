#!/bin/sh
# SPDX-License-Identifier: MIT
# MEMORY HEAP / KPROFILE MEMORY over the protocol: enable, status, dumps land in
# heap-dump-dir (or a directory inside it) and the reply is the file's path; "..",
# absolute paths outside, symlinks leading outside and a server without heap-dump-dir are
# refused with an error, never OK.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
[ -z "${MEMSHIM_SAN:-}" ] || skip "heap profiling needs jemalloc's malloc (sanitizer build)"

dir="$TMP/dumps"
mkdir -p "$dir/sub" "$TMP/outside"
ln -s "$TMP/outside" "$dir/escape"
kv_start_kvcore --heap-dump-dir "$dir"
R="redis-cli -p $KV_PORT"

out=$($R memory heap dump)
case "$out" in *"not active"*) ;; *) fail "dump while disabled: $out" ;; esac
[ "$($R memory heap enable)" = OK ] || fail "enable"
[ "$($R kprofile memory status)" = enabled ] || fail "kprofile status"
$R memory heap status | grep -qx enabled || fail "memory heap status"

p=$($R memory heap dump)
case "$p" in "$dir"/*.heap) ;; *) fail "dump path: $p" ;; esac
[ -s "$p" ] || fail "dump file $p missing"
head -1 "$p" | grep -q '^heap_v2/' || fail "not a jemalloc heap_v2 dump: $p"

p=$($R memory heap dump sub)
case "$p" in "$dir/sub/"*.heap) ;; *) fail "dump into sub: $p" ;; esac
[ -s "$p" ] || fail "dump file $p missing"
p=$($R kprofile memory dump "$dir/sub")
case "$p" in "$dir/sub/"*.heap) ;; *) fail "kprofile dump: $p" ;; esac

for bad in ../ "sub/../.." /etc "$TMP/outside" escape nosuch "$dir/../outside"; do
    out=$($R memory heap dump "$bad")
    case "$out" in ERR*) ;; *) fail "dump to '$bad' not refused: $out" ;; esac
done
[ -z "$(ls "$TMP/outside")" ] || fail "a dump escaped heap-dump-dir"
out=$($R memory heap dump nonexist)
[ "$out" = 'ERR dump directory "nonexist" does not exist' ] || fail "dump to a missing dir: $out"
out=$($R memory heap dump "$dir/nonexist")
[ "$out" = "ERR dump directory \"$dir/nonexist\" does not exist" ] || fail "missing abs dir: $out"
touch "$dir/afile"
out=$($R memory heap dump afile)
[ "$out" = 'ERR "afile" is not a directory' ] || fail "dump to a file: $out"

out=$($R kprofile memory dump)
case "$out" in *"wrong number of arguments"*) ;; *) fail "kprofile dump without dir: $out" ;; esac
out=$($R kprofile memory enable /tmp)
case "$out" in *"wrong number of arguments"*) ;; *) fail "kprofile enable extra: $out" ;; esac
[ "$($R memory heap disable)" = OK ] || fail "disable"
[ "$($R kprofile memory status)" = disabled ] || fail "status after disable"
out=$($R config set heap-dump-dir /tmp)
case "$out" in *"immutable"*) ;; *) fail "heap-dump-dir settable at run time: $out" ;; esac

# Without heap-dump-dir no dump is written anywhere.
kv_start_kvcore
R="redis-cli -p $KV_PORT"
$R memory heap enable >/dev/null
out=$($R memory heap dump)
case "$out" in *"heap dumps are disabled"*) ;; *) fail "dump without heap-dump-dir: $out" ;; esac
echo "heap profiling commands ok"
