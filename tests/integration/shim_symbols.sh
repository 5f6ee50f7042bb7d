#!/bin/sh
# SPDX-License-Identifier: MIT
# `make check-symbols` as a test, plus what the binary must show (docs/design.md#preloading-pitfalls):
# dlopen reaches the real one by a tail jump (glibc reads the caller's return address),
# no dynamic TLS (__tls_get_addr would allocate and recurse), and jemalloc as a DT_NEEDED
# dependency called by symbol (no dlsym of malloc at start-up).
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_cmd nm
need_cmd objdump
sh "$top/tests/check_symbols.sh" "$SHIM" "$top/tests/exported_symbols.txt" || fail "check-symbols"

objdump -d --no-show-raw-insn "$SHIM" | awk '/^[0-9a-f]+ <dlopen>:$/ { on = 1; next } on && /^$/ { exit } on' >"$TMP/dlopen.s"
[ -s "$TMP/dlopen.s" ] || fail "no dlopen in $SHIM"
grep -Eq 'jmp +\*%' "$TMP/dlopen.s" || { cat "$TMP/dlopen.s"; fail "dlopen does not tail-jump to the real dlopen"; }
if grep -Eq '(call +\*|[[:space:]]ret)' "$TMP/dlopen.s"; then
    cat "$TMP/dlopen.s"
    fail "dlopen calls the real dlopen and returns: glibc would see the shim as the caller"
fi
echo "ok: dlopen ends in $(grep -Ec 'jmp +\*%' "$TMP/dlopen.s") indirect tail jump(s), no call/ret"

if nm -D --undefined-only "$SHIM" | grep -q '__tls_get_addr'; then
    fail "libmemshim.so uses dynamic TLS (__tls_get_addr); every TLS variable must be initial-exec"
fi
readelf -d "$SHIM" | grep -q 'FLAGS.*STATIC_TLS' || echo "note: no STATIC_TLS flag (no TLS at all?)"
readelf -d "$SHIM" | grep -q 'NEEDED.*libjemalloc.so.2' || fail "libjemalloc.so.2 is not DT_NEEDED"
echo "ok: initial-exec TLS only, libjemalloc.so.2 linked as a dependency"
