#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad MEMSHIM_* values never crash the host: each gets one line on stderr and the
# default, the program's own output is unchanged, and children that inherit the same
# environment do not repeat the warning.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_plain
"$HELPERS/shim_plain" >"$TMP/want"
check() { # expected-lines var=value...
    lines=$1
    shift
    env "$@" LD_PRELOAD="$SHIM" "$HELPERS/shim_plain" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 0 ] || fail "$*: exit $rc"
    cmp -s "$TMP/want" "$TMP/out" || fail "$*: output changed"
    n=$(wc -l <"$TMP/err")
    [ "$n" -eq "$lines" ] || { cat "$TMP/err"; fail "$*: $n stderr lines, expected $lines"; }
    [ "$lines" -eq 0 ] || sed 's/^/  /' "$TMP/err"
}
check 1 MEMSHIM_FAIL_RATE=lots
check 1 MEMSHIM_FAIL_AFTER=-5
check 1 MEMSHIM_FAIL_MIN_SIZE=12q
check 1 MEMSHIM_FAIL_SEED=99999999999999999999999
check 1 MEMSHIM_INHERIT=perhaps
check 1 MEMSHIM_LOG_LEVEL=77
check 1 MEMSHIM_REPORT=
check 2 'MEMSHIM_CONF=bogus,inject.fail_rate:7'
check 3 MEMSHIM_FAIL_RATE=2 MEMSHIM_FAIL_AFTER=x 'MEMSHIM_CONF=no.such:1'
long=$(awk 'BEGIN { while (i++ < 5000) printf "x" }')
check 1 "MEMSHIM_CONF=$long"
grep -q 'ignored' "$TMP/err" || fail "the warning does not say the value was ignored"
check 0 MEMSHIM_FAIL_AFTER=0 MEMSHIM_FAIL_RATE=0 MEMSHIM_INHERIT=1
# One warning for a whole process tree.
MEMSHIM_FAIL_RATE=bad LD_PRELOAD="$SHIM" sh -c 'ls / >/dev/null; ls / >/dev/null' 2>"$TMP/tree"
[ "$(wc -l <"$TMP/tree")" -eq 1 ] || { cat "$TMP/tree"; fail "children repeated the warning"; }
