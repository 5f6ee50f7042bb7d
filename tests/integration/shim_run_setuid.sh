#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim run` warns that a set-user-ID program "runs without the shim" exactly when the
# loader runs it in secure mode (AT_SECURE) and so ignores LD_PRELOAD: when the exec
# changes the effective ID away from the real one. Root running a set-user-ID-root
# program is not secure mode: no warning, and the program runs under the shim (with
# --report, its summary); nobody running it is: the warning, and the shim is absent.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM" "$MS"
need_helper shim_probe
need_root "set-user-ID-root programs owned by root"

prog="$TMP/suid_probe"
cp "$HELPERS/shim_probe" "$prog"
chown 0:0 "$prog"
chmod 4755 "$prog"

# check_run WHO OUT ERR: the warning is printed exactly when the shim is absent.
check_run() {
    if grep -q 'memshim: active' "$2"; then
        grep -q 'runs without the shim' "$3" && fail "$1: warned, but the shim was active: $(cat "$3")"
    else
        grep -qx 'memshim: absent' "$2" || fail "$1: probe output: $(cat "$2" "$3")"
        grep -q "warning: $prog runs without the shim: .*secure mode" "$3" ||
            fail "$1: the shim was absent, no warning: $(cat "$3")"
    fi
}

"$MS" run -- "$prog" >"$TMP/out" 2>"$TMP/err" || fail "root: exit $?: $(cat "$TMP/err")"
grep -qx 'memshim: active' "$TMP/out" || fail "root: a set-user-ID-root program lost the shim"
check_run root "$TMP/out" "$TMP/err"
if [ -u /usr/bin/passwd ]; then
    "$MS" run --report -- /usr/bin/passwd --help >/dev/null 2>"$TMP/err"
    grep -q 'runs without the shim' "$TMP/err" && fail "root: passwd warned: $(cat "$TMP/err")"
    grep -q 'report for passwd' "$TMP/err" || fail "root: no report for passwd: $(cat "$TMP/err")"
fi
echo "ok: root runs a set-user-ID-root program under the shim, without a warning"

need_cmd runuser
runuser -u nobody -- true 2>/dev/null || skip "cannot switch to nobody here"
chmod 711 "$TMP"
runuser -u nobody -- test -x "$MS" || skip "nobody cannot execute $MS"
runuser -u nobody -- test -r "$SHIM" || skip "nobody cannot read $SHIM"
runuser -u nobody -- "$MS" run -- "$prog" >"$TMP/out" 2>"$TMP/err" ||
    fail "nobody: exit $?: $(cat "$TMP/err")"
check_run nobody "$TMP/out" "$TMP/err"
if grep -qx 'memshim: absent' "$TMP/out"; then
    grep -q "set-user-ID (runs as uid 0, you are uid $(id -u nobody))" "$TMP/err" ||
        fail "nobody: warning text: $(cat "$TMP/err")"
    echo "ok: nobody gets the warning: $(cat "$TMP/err")"
else
    echo "ok: $TMP is mounted nosuid: the program runs under the shim, no warning"
fi
exit 0
