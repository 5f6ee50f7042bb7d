#!/bin/sh
# SPDX-License-Identifier: MIT
# The shim's defrag hints and move primitive on a program's own malloc/free pointers,
# under LD_PRELOAD=libmemshim.so (the unit tests cover libmemshim.a only):
#   - with the shim preloaded the hints are live: moving every hinted block of a
#     70%-freed population gives back more than half of the active bytes, the wasted
#     small-bin bytes fall by more than three quarters, and every block is intact;
#   - without the shim the helper finds no memshim_* symbols (it never links them).
set -u
. "$(dirname "$0")/../lib.sh"
need_preload
bin="$HELPERS/defrag_hint_probe"
need_built "$SHIM" "$bin"
val() { sed -n "s/^$1: //p" "$TMP/out"; }

"$bin" >"$TMP/out" 2>&1
rc=$?
[ $rc -eq 3 ] || fail "without the shim: expected exit 3 (symbols absent), got $rc: $(cat "$TMP/out")"

LD_PRELOAD="$SHIM" "$bin" >"$TMP/out" 2>&1 || fail "under the shim: exit $?: $(cat "$TMP/out")"
cat "$TMP/out"
[ "$(val supported)" = yes ] || fail "hints unsupported under the shim"
[ "$(val intact)" = yes ] || fail "a moved block lost its contents"
moved=$(val moved); a0=$(val active_before); a1=$(val active_after)
f0=$(val frag_before); f1=$(val frag_after)
[ "$moved" -gt 20000 ] || fail "only $moved blocks moved"
[ $((a1 * 2)) -lt "$a0" ] || fail "active bytes $a0 -> $a1: less than half given back"
[ $((f1 * 4)) -lt "$f0" ] || fail "wasted slab bytes $f0 -> $f1: fell by less than 3/4"
echo "ok: active $a0 -> $a1 bytes, wasted $f0 -> $f1 bytes, $moved moved"
