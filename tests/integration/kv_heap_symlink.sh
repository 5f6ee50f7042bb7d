#!/bin/sh
# SPDX-License-Identifier: MIT
# MEMORY HEAP DUMP never follows a link planted at the next automatic dump name in
# heap-dump-dir: a link to a victim file outside and a dangling link are skipped, both
# stay as they were, the victim is unchanged, and the dump lands at the next free name.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli
[ -z "${MEMSHIM_SAN:-}" ] || skip "heap profiling needs jemalloc's malloc (sanitizer build)"

dir="$TMP/dumps"
mkdir -p "$dir"
victim="$TMP/victim"
ghost="$TMP/ghost"
printf 'precious\n' >"$victim"
kv_start_kvcore --heap-dump-dir "$dir"
R="redis-cli -p $KV_PORT"
[ "$($R memory heap enable)" = OK ] || fail "enable"

first=$($R memory heap dump)
case "$first" in "$dir"/memshim.*.0.heap) ;; *) fail "first dump: $first" ;; esac
pid=$(basename "$first" | cut -d. -f2)
ln -s "$victim" "$dir/memshim.$pid.1.heap"
ln -s "$ghost" "$dir/memshim.$pid.2.heap"
p=$($R memory heap dump)
[ "$p" = "$dir/memshim.$pid.3.heap" ] || fail "dump past the links: $p"
[ -f "$p" ] && [ ! -L "$p" ] || fail "$p is not a regular file"
head -n 1 "$p" | grep -q '^heap_v2/' || fail "$p is not a heap dump"
[ "$(cat "$victim")" = precious ] || fail "the victim file was rewritten"
[ ! -e "$ghost" ] || fail "the dangling link's target was created"
[ -L "$dir/memshim.$pid.1.heap" ] && [ -L "$dir/memshim.$pid.2.heap" ] || fail "links replaced"
p=$($R memory heap dump)
[ "$p" = "$dir/memshim.$pid.4.heap" ] || fail "the sequence did not move on: $p"
[ "$($R ping)" = PONG ] || fail "server after the dumps"
echo "heap dumps skip planted links"
