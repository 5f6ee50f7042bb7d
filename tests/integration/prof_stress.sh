#!/bin/sh
# SPDX-License-Identifier: MIT
# The heap-profile controls under load (tests/helpers/prof_stress): worker threads allocate
# and throw C++ exceptions through deep stacks while sampling is dense, and the main thread
# dumps, resets with new rates, switches walkers and forks children that dump. Passes when
# it finishes in time (no deadlock), every dump and child succeeded, exceptions were caught
# (libgcc_s, not libunwind's _Unwind_* copies, unwinds them), and every dump is readable.
set -u
. "$(dirname "$0")/../lib.sh"
need_preload
bin="$HELPERS/prof_stress"
need_built "$SHIM" "$bin"


timeout 60 env LD_PRELOAD="$SHIM" "$bin" "$TMP" 4 3 >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 124 ] && fail "prof_stress did not finish within 60 s (deadlock?)"
[ $rc -eq 0 ] || fail "prof_stress exited $rc: $(cat "$TMP/out" "$TMP/err")"
[ -s "$TMP/err" ] && fail "unexpected stderr: $(cat "$TMP/err")"
cat "$TMP/out"

n=0
for f in "$TMP"/memshim.*.heap; do
    head -n 1 "$f" | grep -q '^heap_v2/[0-9]*$' || fail "$f: bad header"
    grep -q '^MAPPED_LIBRARIES:$' "$f" || fail "$f: truncated"
    n=$((n + 1))
done
[ $n -gt 10 ] || fail "only $n dumps"
echo "ok: $n dumps, all complete"

# The process-wide binding that makes exceptions safe: _Unwind_RaiseException from libgcc_s.
mkdir "$TMP/b"
LD_DEBUG=bindings LD_PRELOAD="$SHIM" "$bin" "$TMP/b" 1 1 2>"$TMP/bind" >/dev/null ||
    fail "prof_stress (bindings run) failed"
grep '_Unwind_RaiseException' "$TMP/bind" | grep -q 'to /[^ ]*libgcc_s' ||
    fail "_Unwind_RaiseException not bound to libgcc_s: $(grep _Unwind_RaiseException "$TMP/bind")"
echo "ok: C++ exceptions unwind through libgcc_s"
exit 0
