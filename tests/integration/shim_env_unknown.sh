#!/bin/sh
# SPDX-License-Identifier: MIT
# A misspelt MEMSHIM_* variable is not ignored silently: one line names it and the
# closest setting, once for a whole process tree; the program runs unchanged. The
# names that are not settings (the shim's own MEMSHIM_WARNED and MEMSHIM_REPORT_PID,
# the test harness's) get no line.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_plain
"$HELPERS/shim_plain" >"$TMP/want"
MEMSHIM_FAIL_RAT=0.1 LD_PRELOAD="$SHIM" "$HELPERS/shim_plain" >"$TMP/out" 2>"$TMP/err" ||
    fail "shim_plain failed with a misspelt variable"
cmp -s "$TMP/want" "$TMP/out" || fail "the output changed"
cat "$TMP/err"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "not exactly one line on stderr"
grep -q '^memshim\[[0-9]*\]: unknown variable MEMSHIM_FAIL_RAT ignored (did you mean MEMSHIM_FAIL_RATE?)$' "$TMP/err" ||
    fail "the line does not name the variable and MEMSHIM_FAIL_RATE"
# Once per process tree: sh and its two children share the environment.
MEMSHIM_FAIL_RAT=0.1 LD_PRELOAD="$SHIM" sh -c '"$1" >/dev/null; "$1" >/dev/null' sh "$HELPERS/shim_plain" 2>"$TMP/tree"
[ "$(grep -c 'unknown variable' "$TMP/tree")" -eq 1 ] || { cat "$TMP/tree"; fail "the tree repeated the warning"; }
# Not settings, never warned about.
MEMSHIM_REPORT_PID=1 MEMSHIM_TEST_STALE=run MEMSHIM_SAN= MEMSHIM_DEBUG=1 \
    LD_PRELOAD="$SHIM" "$HELPERS/shim_plain" >/dev/null 2>"$TMP/quiet"
[ ! -s "$TMP/quiet" ] || { cat "$TMP/quiet"; fail "a name that is not a setting was warned about"; }
echo "ok   misspelt variable named once, with the closest setting"
