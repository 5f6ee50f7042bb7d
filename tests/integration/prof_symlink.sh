#!/bin/sh
# SPDX-License-Identifier: MIT
# Heap dumps never follow a link planted at their name. ctl_holder runs under the shim
# with MEMSHIM_DUMP_DIR=$TMP/dumps; `memshim ctl PID heap dump` (automatic names
# memshim.<pid>.<seq>.heap) must skip a link to a victim file outside the directory and
# a dangling link at the next names, leave both links and the victim as they were and
# land at the next free name; an explicit path that is a link is refused with an error.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup

dumps="$TMP/dumps"
mkdir "$dumps"
victim="$TMP/victim"
ghost="$TMP/ghost"
printf 'precious\n' >"$victim"
holder_start MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$dumps"

dump_path() { # the path of one automatic dump, from the reply
    "$MS" ctl "$hpid" heap dump >"$TMP/reply" 2>&1 || fail "heap dump: $(cat "$TMP/reply")"
    sed -n 's/^path  *//p' "$TMP/reply"
}
victim_intact() {
    [ "$(cat "$victim")" = precious ] || fail "$1: the victim file was rewritten"
    [ ! -e "$ghost" ] || fail "$1: the dangling link's target was created"
}

first=$(dump_path)
[ "$first" = "$dumps/memshim.$hpid.0.heap" ] || fail "first dump at $first"
ln -s "$victim" "$dumps/memshim.$hpid.1.heap"
ln -s "$ghost" "$dumps/memshim.$hpid.2.heap"
p=$(dump_path)
[ "$p" = "$dumps/memshim.$hpid.3.heap" ] || fail "dump past the links landed at '$p'"
[ -f "$p" ] && [ ! -L "$p" ] || fail "$p is not a regular file"
head -n 1 "$p" | grep -q '^heap_v2/' || fail "$p is not a heap dump"
victim_intact "automatic dump"
[ -L "$dumps/memshim.$hpid.1.heap" ] && [ -L "$dumps/memshim.$hpid.2.heap" ] ||
    fail "the planted links were replaced"
p=$(dump_path)
[ "$p" = "$dumps/memshim.$hpid.4.heap" ] || fail "the sequence did not move on: '$p'"
echo "ok: automatic dumps skip a link and a dangling link"

# An explicit path that is a link (to the victim, or dangling): an error, nothing written.
for l in "$dumps/memshim.$hpid.1.heap" "$dumps/memshim.$hpid.2.heap"; do
    "$MS" ctl "$hpid" heap dump "$l" >"$TMP/out" 2>"$TMP/err"
    [ $? -eq 1 ] || fail "explicit link $l: not refused: $(cat "$TMP/out" "$TMP/err")"
    grep -q 'is a symbolic link: refused' "$TMP/err" || fail "explicit link $l: $(cat "$TMP/err")"
done
"$MS" ctl "$hpid" set prof.dump "$dumps/memshim.$hpid.1.heap" >"$TMP/out" 2>"$TMP/err" &&
    fail "prof.dump through a link answered OK: $(cat "$TMP/out")"
victim_intact "explicit dump"
"$MS" ctl "$hpid" heap status >"$TMP/st" || fail "heap status"
grep -Eq '^dumps +3$' "$TMP/st" || fail "dump count: $(cat "$TMP/st")"
echo "ok: an explicit link is refused"

# The dump at exit goes past a planted link too.
ln -s "$victim" "$dumps/memshim.$hpid.5.heap"
"$MS" ctl "$hpid" set prof.dump_at_exit true >/dev/null || fail "dump_at_exit"
echo quit >&3
wait "$hpid" || fail "holder exit status $?"
[ -f "$dumps/memshim.$hpid.6.heap" ] || fail "no dump at exit: $(ls "$dumps"; cat "$TMP/err")"
pid=$hpid
hpid=
victim_intact "dump at exit"
echo "ok: dump at exit -> memshim.$pid.6.heap"
exit 0
