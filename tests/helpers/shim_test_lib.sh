# SPDX-License-Identifier: MIT
# Sourced by tests/integration/shim_*.sh: the preload library, a scratch directory,
# and the helpers every shim integration test needs. Skips (77) in sanitizer builds,
# where libmemshim.so carries no overrides.
BUILD=${BUILD:-build}
if [ "${MEMSHIM_SAN:-}" = 1 ]; then
    echo "sanitizer build: the sanitizer owns malloc, libmemshim.so is not preloadable"
    exit 77
fi
BUILD_ABS=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD"; exit 1; }
SHIM="$BUILD_ABS/libmemshim.so"
HELPERS="$BUILD_ABS/tests/helpers"
[ -f "$SHIM" ] || { echo "missing $SHIM (run make)"; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/memshim-it.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

fail() {
    echo "FAIL: $*"
    exit 1
}

need_helper() { # name
    [ -x "$HELPERS/$1" ] || fail "missing helper $HELPERS/$1 (run make unit-bins)"
}

need_cmd() { # command
    command -v "$1" >/dev/null 2>&1 || { echo "$1 is not installed"; exit 77; }
}

# same_output NAME CMD...: runs CMD (stdin from $TMP/NAME.in when present) without and
# with the shim preloaded; stdout and the exit status must be identical.
same_output() {
    name=$1
    shift
    in=/dev/null
    [ -f "$TMP/$name.in" ] && in="$TMP/$name.in"
    "$@" <"$in" >"$TMP/$name.plain" 2>"$TMP/$name.plain.err"
    rc1=$?
    LD_PRELOAD="$SHIM" "$@" <"$in" >"$TMP/$name.shim" 2>"$TMP/$name.shim.err"
    rc2=$?
    [ "$rc1" = "$rc2" ] || fail "$name: exit status $rc1 without the shim, $rc2 with it"
    cmp -s "$TMP/$name.plain" "$TMP/$name.shim" ||
        fail "$name: output differs under the shim ($(wc -c <"$TMP/$name.plain") vs $(wc -c <"$TMP/$name.shim") bytes)"
    echo "ok: $name: $(wc -c <"$TMP/$name.plain") identical bytes, exit $rc1"
}
