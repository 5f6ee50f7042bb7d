#!/bin/sh
# SPDX-License-Identifier: MIT
# The child-process policy: with MEMSHIM_INHERIT=1 (the default) children of a program
# run under the shim; with MEMSHIM_INHERIT=0 the shim takes itself out of LD_PRELOAD at
# start-up, so an `sh -c` child runs without it while other preloads stay.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_probe
probe="$HELPERS/shim_probe"
for v in unset 1 0; do
    if [ "$v" = unset ]; then
        LD_PRELOAD="$SHIM" sh -c '"$1"; echo "LD_PRELOAD=$LD_PRELOAD"' sh "$probe" >"$TMP/inh.$v"
    else
        MEMSHIM_INHERIT=$v LD_PRELOAD="$SHIM" sh -c '"$1"; echo "LD_PRELOAD=$LD_PRELOAD"' sh \
            "$probe" >"$TMP/inh.$v"
    fi
    echo "MEMSHIM_INHERIT=$v: $(grep '^memshim:' "$TMP/inh.$v"), $(grep '^LD_PRELOAD' "$TMP/inh.$v")"
done
grep -qx 'memshim: active' "$TMP/inh.unset" || fail "default: the child lost the shim"
grep -qx 'memshim: active' "$TMP/inh.1" || fail "MEMSHIM_INHERIT=1: the child lost the shim"
grep -qx 'memshim: absent' "$TMP/inh.0" || fail "MEMSHIM_INHERIT=0: the child still has the shim"
grep -qx 'LD_PRELOAD=' "$TMP/inh.0" || fail "MEMSHIM_INHERIT=0: LD_PRELOAD not emptied"
# Another preloaded library stays in place; only libmemshim leaves.
cat >"$TMP/other.c" <<'C'
int memshim_test_other;
C
${CC:-cc} -shared -fPIC -o "$TMP/libother.so" "$TMP/other.c" || fail "cannot build libother.so"
MEMSHIM_INHERIT=0 LD_PRELOAD="$TMP/libother.so:$SHIM" sh -c 'echo "$LD_PRELOAD"' >"$TMP/keep"
[ "$(cat "$TMP/keep")" = "$TMP/libother.so" ] || fail "other preloads should stay: $(cat "$TMP/keep")"
# The program itself keeps the shim: only its children lose it.
MEMSHIM_INHERIT=0 LD_PRELOAD="$SHIM" "$probe" | grep -qx 'memshim: active' ||
    fail "MEMSHIM_INHERIT=0 removed the shim from the program itself"
