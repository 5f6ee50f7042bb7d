#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim run`: CMD runs under the shim and its exit status comes back (128+N for a
# signal, 127 for a missing command, 2 for a usage error); --report prints the summary
# at exit; --fail-after makes the program see failures; --no-inherit keeps children off
# the shim; a statically linked program gets a warning.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_probe
need_helper shim_plain
need_built "$MS"

"$MS" run -- sh -c 'exit 42'
[ $? -eq 42 ] || fail "exit status not passed through"
"$MS" run sh -c 'kill -TERM $$'
[ $? -eq 143 ] || fail "death by SIGTERM is not 128+15"
"$MS" run -- /nonexistent/prog 2>"$TMP/err"
[ $? -eq 127 ] || fail "a missing command is not 127"
grep -q 'cannot run /nonexistent/prog' "$TMP/err" || fail "no message for a missing command"
"$MS" run --fail-rate 3 -- true 2>"$TMP/err"
[ $? -eq 2 ] || fail "a bad option value is not a usage error"
grep -q "bad value '3' for --fail-rate" "$TMP/err" || fail "no message for a bad value"
"$MS" run 2>/dev/null
[ $? -eq 2 ] || fail "no command is not a usage error"
echo "ok: exit statuses"

"$MS" run -- "$HELPERS/shim_probe" >"$TMP/probe" || fail "probe under memshim run"
grep -qx 'memshim: active' "$TMP/probe" || fail "CMD does not run under the shim"
grep -qx 'prof.active: false' "$TMP/probe" || fail "profiling should be ready but inactive"

"$MS" run --report -- "$HELPERS/shim_plain" >"$TMP/out" 2>"$TMP/report" || fail "--report run failed"
cat "$TMP/report"
for key in 'report for shim_plain' 'allocated  peak' 'active     peak' 'resident   peak' \
    'fragmentation' 'failures injected  0 of 0'; do
    grep -q "$key" "$TMP/report" || fail "report lacks '$key'"
done
[ "$(grep -c 'report for' "$TMP/report")" -eq 1 ] || fail "more than one report"
# Children of a reported program do not report.
"$MS" run --report -- /usr/bin/env sh -c '"$1" >/dev/null; "$1" >/dev/null' sh "$HELPERS/shim_plain" \
    2>"$TMP/report2"
[ "$(grep -c 'report for' "$TMP/report2")" -le 1 ] || fail "children printed reports too"

# --fail-after: the 51st allocation of at least 1 MiB fails; shim_plain exits 1 on NULL.
"$MS" run --fail-after 50 --fail-min-size 1m --report -- "$HELPERS/shim_plain" >/dev/null 2>"$TMP/fa"
rc=$?
[ $rc -eq 1 ] || { cat "$TMP/fa"; fail "--fail-after: program exit $rc, expected 1 (malloc returned NULL)"; }
grep -q 'failures injected  1 of 51 counted allocations' "$TMP/fa" || { cat "$TMP/fa"; fail "--fail-after count"; }
"$MS" run --fail-after 100 --fail-min-size 1m -- "$HELPERS/shim_plain" >/dev/null ||
    fail "--fail-after 100 should let 64 allocations of 1 MiB through"
# Reproducible random failures.
"$MS" run --fail-rate 0.5 --seed 7 --fail-min-size 1m --report -- "$HELPERS/shim_plain" >/dev/null 2>"$TMP/r1"
"$MS" run --fail-rate 0.5 --seed 7 --fail-min-size 1m --report -- "$HELPERS/shim_plain" >/dev/null 2>"$TMP/r2"
grep 'failures injected' "$TMP/r1" | sed 's/.*failures/failures/' >"$TMP/f1"
grep 'failures injected' "$TMP/r2" | sed 's/.*failures/failures/' >"$TMP/f2"
cmp -s "$TMP/f1" "$TMP/f2" || fail "same seed, different failures: $(cat "$TMP/f1") vs $(cat "$TMP/f2")"
echo "ok: failure injection ($(cat "$TMP/f1"))"

"$MS" run --no-inherit -- sh -c '"$1"' sh "$HELPERS/shim_probe" | grep -qx 'memshim: absent' ||
    fail "--no-inherit: the child still runs under the shim"
"$MS" run -- sh -c '"$1"' sh "$HELPERS/shim_probe" | grep -qx 'memshim: active' ||
    fail "default: the child lost the shim"
"$MS" run --conf inject.fail_after:0 --conf log.level:1 -- true || fail "--conf"

printf 'int main(void){return 3;}\n' >"$TMP/st.c"
if ${CC:-cc} -static -o "$TMP/st" "$TMP/st.c" 2>/dev/null; then
    "$MS" run -- "$TMP/st" 2>"$TMP/st.err"
    [ $? -eq 3 ] || fail "static program exit status"
    grep -q 'statically linked' "$TMP/st.err" || fail "no warning for a static program"
    cat "$TMP/st.err"
fi
echo "ok: memshim run"
